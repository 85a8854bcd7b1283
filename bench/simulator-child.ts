/**
 * The simulator as a benchmark child process: its own CPU, like a remote
 * gateway. Configured from the environment, it prints one JSON line
 * `{"ready":true,"url":…}` on stdout once it listens, and nothing else there.
 *
 *   BENCH_SIM_LATENCY_MS        added to every answer, with timers (default 0)
 *   BENCH_SIM_MAX_TRANSACTIONS  transactions kept in memory (default 20 000)
 *   BENCH_SIM_LEDGER_REQUESTS   request ring of the ledger (default 1 000)
 *   BENCH_SIM_LEDGER_MOVEMENTS  movement ring of the ledger (default 20 000)
 *
 * It answers `{"rssMb":…}` on stdout to a `rss` line on stdin, and exits when
 * stdin closes, so it never outlives the benchmark.
 */
import { createInterface } from 'node:readline';
import { startSimulator } from '../src/simulator/index.ts';

const env = process.env;
const latencyMs = Number(env.BENCH_SIM_LATENCY_MS ?? '0');

const simulator = await startSimulator({
  port: 0,
  faults: latencyMs > 0 ? [{ type: 'latency', ms: latencyMs }] : [],
  maxTransactions: Number(env.BENCH_SIM_MAX_TRANSACTIONS ?? '20000'),
  ledger: {
    maxRequests: Number(env.BENCH_SIM_LEDGER_REQUESTS ?? '1000'),
    maxMovements: Number(env.BENCH_SIM_LEDGER_MOVEMENTS ?? '20000'),
  },
});

process.stdout.write(`${JSON.stringify({ ready: true, url: simulator.url, latencyMs })}\n`);

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() === 'rss') {
    process.stdout.write(`${JSON.stringify({ rssMb: process.memoryUsage.rss() / 2 ** 20 })}\n`);
  }
});
input.on('close', () => {
  void simulator.close().then(() => process.exit(0));
});
// Exit through process.exit on SIGTERM, so that --cpu-prof writes its profile.
process.once('SIGTERM', () => process.exit(0));
