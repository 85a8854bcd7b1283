/**
 * The ceiling: a bare BullMQ worker whose processor does nothing. The full
 * payment pipeline is reported as a fraction of this, measured in the same
 * run against the same Redis, so the ratio means something on any machine.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface CeilingResult {
  jobs: number;
  concurrency: number;
  /** Jobs run before the measured ones, counted in nothing. */
  unmeasuredWarmupJobs?: number;
  seconds: number;
  jobsPerSecond: number;
}

export async function measureBullmqCeiling(
  redisUrl: string,
  options: {
    jobs: number;
    concurrency: number;
    prefix: string;
    /**
     * Unmeasured warm-up: this many jobs go through the same queue, added the
     * same way, before the measured ones are added. @defaultValue 0
     */
    unmeasuredWarmup?: number;
  },
): Promise<CeilingResult> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queueName = 'noop';
  const queue = new Queue(queueName, { connection, prefix: options.prefix });
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
          opts: { removeOnComplete: true, removeOnFail: true },
        })),
      );
    }
    let done = 0;
    const started = performance.now();
    const finished = new Promise<void>((resolve) => {
      const worker = new Worker(queueName, async () => undefined, {
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
    jobs: options.jobs,
    concurrency: options.concurrency,
    ...((options.unmeasuredWarmup ?? 0) > 0
      ? { unmeasuredWarmupJobs: options.unmeasuredWarmup }
      : {}),
    seconds: Number(seconds.toFixed(3)),
    jobsPerSecond: Math.round(options.jobs / seconds),
  };
}
