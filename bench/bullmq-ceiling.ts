/**
 * The ceiling: a bare BullMQ worker whose processor does nothing. The full
 * payment pipeline is reported as a fraction of it, measured in the same run
 * against the same Redis, so the ratio means something on any machine.
 *
 * Two ways to feed it:
 *
 * - fed (`measureFedCeiling`), the pipeline's shape: the benchmark process
 *   adds one job at a time, N adds in flight through an auto-pipelined
 *   client (as `payments.create` adds its first step job), while the worker
 *   runs in a process of its own (as the step workers do); timed from the
 *   first add to the last job done. Both halves of BullMQ's work, adding and
 *   running, are inside the clock, as creating and running are for payments.
 * - preloaded (`measurePreloadedCeiling`): every job added beforehand in
 *   batches of 1 000 (untimed), then a fresh worker in the benchmark process
 *   runs them; timed from the worker's start to the last job done. Only the
 *   running half is timed.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { jsonLine, startTsChild } from './children.ts';
import { producerCpuSeconds, redisCpuSeconds } from './pipeline.ts';

export interface CeilingResult {
  feed: 'fed' | 'preloaded';
  jobs: number;
  concurrency: number;
  /** Fed: adds in flight in the producer. */
  addsInFlight?: number;
  /** Jobs run before the measured ones, counted in nothing. */
  unmeasuredWarmupJobs?: number;
  seconds: number;
  jobsPerSecond: number;
  /** Fed: CPU per job of the producer (benchmark process), the worker process and Redis, ms. */
  cpuMsPerJob?: { producer: number; worker: number; redis: number };
}

interface CeilingOptions {
  jobs: number;
  concurrency: number;
  prefix: string;
  /**
   * Unmeasured warm-up: this many jobs go through the same queue and worker,
   * fed the same way, before the measured ones. @defaultValue 0
   */
  unmeasuredWarmup?: number;
}

const QUEUE = 'noop';
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true } as const;

function warmupField(options: CeilingOptions): { unmeasuredWarmupJobs?: number } {
  const warmup = options.unmeasuredWarmup ?? 0;
  return warmup > 0 ? { unmeasuredWarmupJobs: warmup } : {};
}

export async function measureFedCeiling(
  redisUrl: string,
  options: CeilingOptions & { addsInFlight: number },
): Promise<CeilingResult> {
  const worker = startTsChild('noop-worker', 'bench/noop-worker-child.ts', {
    REDIS_URL: redisUrl,
    BENCH_NOOP_QUEUE: QUEUE,
    BENCH_NOOP_PREFIX: options.prefix,
    BENCH_NOOP_CONCURRENCY: String(options.concurrency),
  });
  const producerConnection = new Redis(redisUrl, {
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
  });
  const queue = new Queue(QUEUE, { connection: producerConnection, prefix: options.prefix });
  try {
    await worker.waitForLine((line) => (jsonLine(line)?.ready === true ? true : undefined));
    /** Adds `jobs` jobs while the worker runs them; the seconds until none is left. */
    const pass = async (jobs: number): Promise<number> => {
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(options.addsInFlight, jobs) }, async () => {
          while (next < jobs) {
            const n = next++;
            await queue.add('noop', { n }, JOB_OPTIONS);
          }
        }),
      );
      // Every job was added: done once none waits or runs (a job is removed as it completes).
      for (;;) {
        const counts = await queue.getJobCounts('wait', 'active', 'prioritized');
        if (Object.values(counts).every((count) => count === 0)) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      return (performance.now() - started) / 1000;
    };
    if ((options.unmeasuredWarmup ?? 0) > 0) await pass(options.unmeasuredWarmup ?? 0);
    const cpuAtStart = {
      producer: producerCpuSeconds(),
      worker: worker.cpuSeconds(),
      redis: await redisCpuSeconds(producerConnection),
    };
    const seconds = await pass(options.jobs);
    const perJob = (used: number) => Number(((used * 1000) / options.jobs).toFixed(3));
    const cpuMsPerJob = {
      producer: perJob(producerCpuSeconds() - cpuAtStart.producer),
      worker: perJob(worker.cpuSeconds() - cpuAtStart.worker),
      redis: perJob((await redisCpuSeconds(producerConnection)) - cpuAtStart.redis),
    };
    await queue.obliterate({ force: true });
    return {
      feed: 'fed',
      jobs: options.jobs,
      concurrency: options.concurrency,
      addsInFlight: options.addsInFlight,
      ...warmupField(options),
      seconds: Number(seconds.toFixed(3)),
      jobsPerSecond: Math.round(options.jobs / seconds),
      cpuMsPerJob,
    };
  } finally {
    await worker.stop();
    await queue.close();
    producerConnection.disconnect();
  }
}

export async function measurePreloadedCeiling(
  redisUrl: string,
  options: CeilingOptions,
): Promise<CeilingResult> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection, prefix: options.prefix });
  const workerConnection = connection.duplicate();

  /** Adds `jobs` no-op jobs, then runs them through a fresh worker; returns the seconds it took. */
  const pass = async (jobs: number): Promise<number> => {
    const batch = 1000;
    for (let i = 0; i < jobs; i += batch) {
      const size = Math.min(batch, jobs - i);
      await queue.addBulk(
        Array.from({ length: size }, (_, k) => ({
          name: 'noop',
          data: { n: i + k },
          opts: JOB_OPTIONS,
        })),
      );
    }
    let done = 0;
    const started = performance.now();
    const finished = new Promise<void>((resolve) => {
      const worker = new Worker(QUEUE, async () => undefined, {
        connection: workerConnection,
        prefix: options.prefix,
        concurrency: options.concurrency,
      });
      worker.on('completed', () => {
        done += 1;
        if (done === jobs) {
          void worker.close().then(() => resolve());
        }
      });
    });
    await finished;
    return (performance.now() - started) / 1000;
  };

  if ((options.unmeasuredWarmup ?? 0) > 0) await pass(options.unmeasuredWarmup ?? 0);
  const seconds = await pass(options.jobs);
  await queue.obliterate({ force: true });
  await queue.close();
  workerConnection.disconnect();
  connection.disconnect();
  return {
    feed: 'preloaded',
    jobs: options.jobs,
    concurrency: options.concurrency,
    ...warmupField(options),
    seconds: Number(seconds.toFixed(3)),
    jobsPerSecond: Math.round(options.jobs / seconds),
  };
}
