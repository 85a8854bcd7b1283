/**
 * The simulator as a benchmark child process (like simulator-child.ts, its
 * own CPU), which also counts the Sips calls it received: a line
 * `ledger <seq>` on stdin is answered on stdout with
 * `{"ledger":{"total":…,"since":…,"byService":{…}}}`: every request received
 * so far (`total`, the ledger's sequence) and, per Sips function, those after
 * request number `seq` (the ring keeps BENCH_SIM_LEDGER_REQUESTS, 200 000 by
 * default, enough for a benchmark run).
 *
 * It prints `{"ready":true,"url":…}` once it listens and exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { startSimulator } from '../src/simulator/index.ts';

const env = process.env;

const simulator = await startSimulator({
  port: 0,
  faults: [],
  maxTransactions: Number(env.BENCH_SIM_MAX_TRANSACTIONS ?? '50000'),
  ledger: {
    maxRequests: Number(env.BENCH_SIM_LEDGER_REQUESTS ?? '200000'),
    maxMovements: Number(env.BENCH_SIM_LEDGER_MOVEMENTS ?? '200000'),
  },
});

process.stdout.write(`${JSON.stringify({ ready: true, url: simulator.url })}\n`);

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const match = /^ledger (\d+)$/.exec(line.trim());
  if (!match) return;
  const since = Number(match[1]);
  const byService: Record<string, number> = {};
  for (const request of simulator.ledger.requests()) {
    if (request.seq <= since) continue;
    const service = request.service ?? request.path;
    byService[service] = (byService[service] ?? 0) + 1;
  }
  const total = simulator.ledger.totalRequests();
  process.stdout.write(`${JSON.stringify({ ledger: { total, since, byService } })}\n`);
});
input.on('close', () => {
  void simulator.close().then(() => process.exit(0));
});
process.once('SIGTERM', () => process.exit(0));
