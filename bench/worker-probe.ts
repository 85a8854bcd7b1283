/**
 * Loaded into the worker process with `--import` (the worker entry point stays
 * as deployed). Answers one JSON line on stdout per `probe` line on stdin:
 * `{"probe":{"elu":…,"rssMb":…,"heapUsedMb":…,"heapTotalMb":…,"externalMb":…}}`, where `elu` is the event
 * loop utilisation since the previous probe (1 = the loop never waited).
 * With `--expose-gc`, a `gc` line runs a full collection first. When stdin
 * closes, the process sends itself SIGTERM.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

let last = performance.eventLoopUtilization();
const gc = (globalThis as { gc?: () => void }).gc;

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const command = line.trim();
    if (command !== 'probe' && command !== 'gc') return;
    if (command === 'gc') gc?.();
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    const memory = process.memoryUsage();
    const probe = {
      elu: Number(elu.toFixed(3)),
      rssMb: Number((memory.rss / 2 ** 20).toFixed(1)),
      heapUsedMb: Number((memory.heapUsed / 2 ** 20).toFixed(1)),
      heapTotalMb: Number((memory.heapTotal / 2 ** 20).toFixed(1)),
      externalMb: Number((memory.external / 2 ** 20).toFixed(1)),
      gc: command === 'gc' && gc !== undefined,
    };
    process.stdout.write(`${JSON.stringify({ probe })}\n`);
  })
  // stdin is the lifeline: when the benchmark goes away, even killed, the
  // worker stops the way it does in production, on SIGTERM.
  .on('close', () => process.kill(process.pid, 'SIGTERM'));
