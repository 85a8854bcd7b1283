/**
 * BullMQ plumbing of the schedules layer: one `schedules` queue per shard for
 * subscription occurrences (Job Schedulers), retries after a decline,
 * instalments due, notices of settled scheduled payments and the janitor.
 * Nothing is timed in process memory: every timer is a delayed job or a job
 * scheduler in RedisClient, so a restart loses nothing.
 */
import { Queue, Worker, type Job, type RepeatOptions } from 'bullmq';
import { duplicateConnection, type RedisClient } from '../platform/redis.ts';
import { closeWorkers } from './close.ts';
import type { Keyspace } from '../payments/keys.ts';
import { backoffDelay } from './retry-policy.ts';
import type { Logger } from '../platform/logger.ts';
import { withLogContext } from '../platform/log-context.ts';
import { queueTelemetry } from '../platform/tracing.ts';

export type ScheduleJob =
  /** A scheduled payment (occurrence, instalment) reached a settled status. */
  | { task: 'settled'; paymentId: string }
  /** A subscription's period is due; `period` is given when not fired by its scheduler. */
  | { task: 'occurrence'; subscriptionId: string; period?: number }
  /** A declined occurrence is tried again. */
  | { task: 'retry'; subscriptionId: string; period: number; attempt: number }
  | { task: 'instalment'; planId: string; index: number }
  | { task: 'janitor'; shard: number };

export interface ScheduleQueues {
  queue(shard: number): Queue<ScheduleJob>;
  /** Idempotent: a job id that exists (waiting, delayed or recently completed) is not added again. */
  add(shard: number, job: ScheduleJob, options: { jobId: string; delayMs?: number }): Promise<void>;
  /** Removes a delayed job that is no longer wanted (a cancelled instalment). */
  remove(shard: number, jobId: string): Promise<void>;
  upsertScheduler(
    shard: number,
    schedulerId: string,
    repeat: Omit<RepeatOptions, 'key'>,
    job: ScheduleJob,
  ): Promise<void>;
  removeScheduler(shard: number, schedulerId: string): Promise<void>;
  /** When the scheduler fires next, if it exists. */
  nextRunOf(shard: number, schedulerId: string): Promise<number | undefined>;
  close(): Promise<void>;
}

const KEEP_COMPLETED_S = 24 * 3600;

export function createScheduleQueues(options: {
  connection: RedisClient;
  keyspace: Keyspace;
}): ScheduleQueues {
  const { keyspace } = options;
  const queues = keyspace.allShards.map(
    (shard) =>
      new Queue<ScheduleJob>(scheduleQueueName(shard), {
        connection: options.connection,
        prefix: keyspace.bullmqPrefix(shard),
        ...queueTelemetry(),
      }),
  );
  const queueOf = (shard: number): Queue<ScheduleJob> => {
    const queue = queues[shard];
    if (!queue) throw new Error(`no schedules queue for shard ${shard}`);
    return queue;
  };
  const jobOptions = {
    attempts: 8,
    backoff: { type: 'schedule' },
    removeOnComplete: { age: KEEP_COMPLETED_S, count: 100_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  return {
    queue: queueOf,
    async add(shard, job, { jobId, delayMs = 0 }) {
      await queueOf(shard).add(job.task, job, { ...jobOptions, jobId, delay: delayMs });
    },
    async remove(shard, jobId) {
      await queueOf(shard).remove(jobId);
    },
    async upsertScheduler(shard, schedulerId, repeat, job) {
      await queueOf(shard).upsertJobScheduler(schedulerId, repeat, {
        name: job.task,
        data: job,
        opts: jobOptions,
      });
    },
    async removeScheduler(shard, schedulerId) {
      await queueOf(shard).removeJobScheduler(schedulerId);
    },
    async nextRunOf(shard, schedulerId) {
      const scheduler = await queueOf(shard).getJobScheduler(schedulerId);
      return scheduler?.next ?? undefined;
    },
    async close() {
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}

export function scheduleQueueName(shard: number): string {
  return `schedules-s${shard}`;
}

/** The scheduled instant of a job fired by a Job Scheduler (its id is `repeat:<scheduler>:<ms>`). */
export function scheduledAtOf(job: Job): number | undefined {
  const match = /^repeat:.+:(\d+)$/.exec(job.id ?? '');
  return match ? Number(match[1]) : undefined;
}

export interface ScheduleWorkerOptions {
  connection: RedisClient;
  keyspace: Keyspace;
  logger: Logger;
  handle(job: ScheduleJob, context: { job: Job<ScheduleJob> }): Promise<void>;
  /** @defaultValue 20 */
  concurrency?: number;
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** How long a close waits for jobs in flight before it cuts the connections. */
  closeGraceMs?: number;
}

export function startScheduleWorkers(options: ScheduleWorkerOptions): { close(): Promise<void> } {
  const connections: RedisClient[] = [];
  const workers = options.keyspace.allShards.map((shard) => {
    const connection = duplicateConnection(options.connection, {
      maxRetriesPerRequest: null,
      autoPipelining: false,
    });
    connections.push(connection);
    const worker = new Worker<ScheduleJob>(
      scheduleQueueName(shard),
      async (job) => {
        try {
          const paymentId = job.data.task === 'settled' ? job.data.paymentId : undefined;
          await withLogContext({ jobId: job.id ?? '', ...(paymentId ? { paymentId } : {}) }, () =>
            options.handle(job.data, { job }),
          );
        } catch (error) {
          options.logger.warn(
            { err: error, jobId: job.id, task: job.data.task },
            'schedule job failed; it will be tried again',
          );
          throw error;
        }
      },
      {
        connection,
        ...queueTelemetry(),
        prefix: options.keyspace.bullmqPrefix(shard),
        concurrency: options.concurrency ?? 20,
        lockDuration: options.lockDurationMs ?? 30_000,
        stalledInterval: options.stalledIntervalMs ?? 30_000,
        maxStalledCount: 1_000,
        settings: {
          backoffStrategy: (attemptsMade: number) =>
            backoffDelay(attemptsMade, { baseMs: 1_000, capMs: 60_000 }),
        },
      },
    );
    worker.on('error', (error) =>
      options.logger.error({ err: error, shard }, 'schedule worker error'),
    );
    worker.on('failed', (job, error) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        options.logger.warn(
          { err: error, jobId: job.id, task: job.data.task, attempts: job.attemptsMade },
          'schedule job failed: retries exhausted',
        );
      }
    });
    return worker;
  });
  return {
    async close() {
      await closeWorkers(workers, connections, {
        logger: options.logger,
        what: 'schedule',
        ...(options.closeGraceMs === undefined ? {} : { graceMs: options.closeGraceMs }),
      });
    },
  };
}
