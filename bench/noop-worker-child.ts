/**
 * The ceiling's worker as a process of its own, as the pipeline's step
 * workers are: a bare BullMQ worker whose processor does nothing. Prints
 * `{"ready":true}` once it runs, and stops (closing the worker) when stdin closes.
 *
 *   REDIS_URL, BENCH_NOOP_QUEUE, BENCH_NOOP_PREFIX, BENCH_NOOP_CONCURRENCY
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createInterface } from 'node:readline';

const env = process.env;
const connection = new Redis(env.REDIS_URL ?? '', { maxRetriesPerRequest: null });
const worker = new Worker(env.BENCH_NOOP_QUEUE ?? 'noop', async () => undefined, {
  connection,
  prefix: env.BENCH_NOOP_PREFIX ?? 'bench',
  concurrency: Number(env.BENCH_NOOP_CONCURRENCY ?? '100'),
});
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
};
createInterface({ input: process.stdin }).on('close', stop);
process.once('SIGTERM', stop);
