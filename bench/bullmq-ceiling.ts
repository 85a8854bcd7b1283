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
  seconds: number;
  jobsPerSecond: number;
}

export async function measureBullmqCeiling(
  redisUrl: string,
  options: { jobs: number; concurrency: number; prefix: string },
): Promise<CeilingResult> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queueName = 'noop';
  const queue = new Queue(queueName, { connection, prefix: options.prefix });
  const batch = 1000;
  for (let i = 0; i < options.jobs; i += batch) {
    const size = Math.min(batch, options.jobs - i);
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
  const workerConnection = connection.duplicate();
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker(queueName, async () => undefined, {
      connection: workerConnection,
      prefix: options.prefix,
      concurrency: options.concurrency,
    });
    worker.on('completed', () => {
      done += 1;
      if (done === options.jobs) {
        void worker.close().then(() => resolve());
      }
    });
  });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await queue.obliterate({ force: true });
  await queue.close();
  workerConnection.disconnect();
  connection.disconnect();
  return {
    jobs: options.jobs,
    concurrency: options.concurrency,
    seconds: Number(seconds.toFixed(3)),
    jobsPerSecond: Math.round(options.jobs / seconds),
  };
}
