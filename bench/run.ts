/**
 * `npm run bench`: measures the pipeline and prints one JSON document.
 * Starts a private redis-server (no persistence) unless REDIS_URL is set.
 * BENCH_SCALE (default 1) multiplies the job counts; BENCH_ONLY=a,b runs a subset.
 */
import { startRedisServer, type RedisServerHandle } from '../src/platform/redis-server.ts';
import { measureBullmqCeiling } from './bullmq-ceiling.ts';

const scale = Number(process.env.BENCH_SCALE ?? '1');
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const wanted = (name: string): boolean => only.size === 0 || only.has(name);

async function main(): Promise<void> {
  let server: RedisServerHandle | undefined;
  const redisUrl =
    process.env.REDIS_URL ?? (server = await startRedisServer({ persistence: 'none' })).url;
  const report: Record<string, unknown> = {
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    startedAt: new Date().toISOString(),
  };
  try {
    if (wanted('ceiling')) {
      report.bullmqNoopCeiling = await measureBullmqCeiling(redisUrl, {
        jobs: Math.round(20_000 * scale),
        concurrency: 100,
        prefix: `bench-${process.pid}`,
      });
    }
  } finally {
    await server?.stop();
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
