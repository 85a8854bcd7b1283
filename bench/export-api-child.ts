/**
 * The HTTP API alone (no workers) as a benchmark child process, for the
 * export section: its RSS is the exporting process's. Configured from the
 * environment (BENCH_REDIS_URL, BENCH_PREFIX, BENCH_SHARDS), it prints one
 * JSON line `{"ready":true,"url":…}` once it listens. A `rss` line on stdin
 * is answered, after a full GC (run with --expose-gc), with
 * `{"rssMb":…,"maxRssMb":…,"heapUsedMb":…}` (maxRssMb: the largest RSS of
 * the process's life, process.resourceUsage().maxRSS); it exits when stdin
 * closes.
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { buildApi, parseApiKeys } from '../src/api/app.ts';
import { createOrchestrator } from '../src/orchestrator.ts';
import { mb, seedShopAt } from './pipeline.ts';

const env = process.env;
const redis = new Redis(env.BENCH_REDIS_URL as string, {
  maxRetriesPerRequest: null,
  connectionName: `${env.BENCH_PREFIX}-export-api`,
});
const orchestrator = await createOrchestrator({
  redis,
  keyPrefix: env.BENCH_PREFIX as string,
  shards: Number(env.BENCH_SHARDS ?? '1'),
  workers: false,
  // No call is made: the export reads Redis only.
  sips: seedShopAt('http://127.0.0.1:9'),
  vault: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1' },
});
const app = buildApi({ orchestrator, apiKeys: parseApiKeys('bench:bench-secret:payments|ops') });
const url = await app.listen({ port: 0, host: '127.0.0.1' });

process.stdout.write(`${JSON.stringify({ ready: true, url })}\n`);

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() === 'rss') {
    // With --expose-gc: the heap in use after a full collection, what stays held.
    (globalThis as { gc?: () => void }).gc?.();
    process.stdout.write(
      `${JSON.stringify({
        rssMb: mb(process.memoryUsage.rss()),
        maxRssMb: mb(process.resourceUsage().maxRSS * 1024),
        heapUsedMb: mb(process.memoryUsage().heapUsed),
      })}\n`,
    );
  }
});
input.on('close', () => {
  void app
    .close()
    .then(() => orchestrator.close())
    .then(() => redis.quit())
    .then(() => process.exit(0));
});
process.once('SIGTERM', () => process.exit(0));
