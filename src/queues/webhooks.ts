/**
 * BullMQ plumbing of webhook delivery: one `webhooks-s<n>` queue per shard,
 * one job per message (event, endpoint) that needs one: a retry, a replay, a
 * first attempt the process had no room for or whose lease expired
 * (src/webhooks/first-attempts.ts). A job is retried on the delivery
 * schedule (src/webhooks/deliver.ts decides the delay; the job's backoff
 * only applies it). Completed jobs are removed: the delivery log is the record.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Keyspace } from '../payments/keys.ts';
import { duplicateConnection, type RedisClient } from '../platform/redis.ts';
import type { Logger } from '../platform/logger.ts';
import type { DeliveryJob, DeliveryJobSink } from '../webhooks/delivery-job.ts';
import type { AttemptVerdict } from '../webhooks/deliver.ts';
import { closeWorkers } from './close.ts';
import { queueTelemetry } from '../platform/tracing.ts';

export interface WebhookQueues extends DeliveryJobSink {
  queue(shard: number): Queue<DeliveryJob>;
  close(): Promise<void>;
}

/** Deliveries in flight per shard and process (WEBHOOK_CONCURRENCY). */
export const DEFAULT_WEBHOOK_CONCURRENCY = 50;

export function webhookQueueName(shard: number): string {
  return `webhooks-s${shard}`;
}

/** Attempts of one job, past any schedule: the schedule ends the message first. */
const MAX_JOB_ATTEMPTS = 1_000;

export function createWebhookQueues(options: {
  connection: RedisClient;
  keyspace: Keyspace;
}): WebhookQueues {
  const { keyspace } = options;
  const queues = keyspace.allShards.map(
    (shard) =>
      new Queue<DeliveryJob>(webhookQueueName(shard), {
        connection: options.connection,
        prefix: keyspace.bullmqPrefix(shard),
        ...queueTelemetry(),
      }),
  );
  const queueOf = (shard: number): Queue<DeliveryJob> => {
    const queue = queues[shard];
    if (!queue) throw new Error(`no webhooks queue for shard ${shard}`);
    return queue;
  };
  return {
    queue: queueOf,
    async enqueue(shard, jobs, enqueueOptions = {}) {
      if (jobs.length === 0) return;
      await queueOf(shard).addBulk(
        jobs.map(({ job, jobId }) => ({
          name: 'deliver',
          data: job,
          opts: {
            jobId,
            ...(enqueueOptions.delayMs ? { delay: enqueueOptions.delayMs } : {}),
            attempts: MAX_JOB_ATTEMPTS,
            backoff: { type: 'webhook' },
            removeOnComplete: true,
            removeOnFail: { age: 7 * 24 * 3600 },
          },
        })),
      );
    },
    async close() {
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}

/** Carries the delay the delivery decided to the job's backoff. */
class RetryLater extends Error {
  constructor(readonly delayMs: number) {
    super('webhook delivery will be tried again');
    this.name = 'RetryLater';
  }
}

/** A job failure of our own code (Redis away, ...): tried again soon, the schedule untouched. */
const INTERNAL_RETRY_MS = 5_000;

export interface WebhookWorkerOptions {
  connection: RedisClient;
  keyspace: Keyspace;
  logger: Logger;
  /** Runs the next attempt of the job's message (the message counts its attempts). */
  attempt(job: DeliveryJob): Promise<AttemptVerdict>;
  /** Deliveries in flight per shard. @defaultValue 50 */
  concurrency?: number;
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  closeGraceMs?: number;
}

export function startWebhookWorkers(options: WebhookWorkerOptions): { close(): Promise<void> } {
  const connections: RedisClient[] = [];
  // The attempt count lives in the message, not in the job: a job run that
  // failed on our side (Redis away) does not use up a place on the schedule.
  const runJob = async (job: Job<DeliveryJob>) => {
    const verdict = await options.attempt(job.data);
    if (verdict.outcome === 'retry') throw new RetryLater(verdict.delayMs);
    return verdict.outcome;
  };
  const workers = options.keyspace.allShards.map((shard) => {
    const connection = duplicateConnection(options.connection, {
      maxRetriesPerRequest: null,
      autoPipelining: false,
    });
    connections.push(connection);
    const worker = new Worker<DeliveryJob>(webhookQueueName(shard), runJob, {
      connection,
      ...queueTelemetry(),
      prefix: options.keyspace.bullmqPrefix(shard),
      concurrency: options.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: 1_000,
      settings: {
        backoffStrategy: (_attempts: number, _type?: string, error?: Error) =>
          error instanceof RetryLater ? error.delayMs : INTERNAL_RETRY_MS,
      },
    });
    worker.on('failed', (job, error) => {
      if (!(error instanceof RetryLater)) {
        options.logger.warn(
          { err: error, jobId: job?.id },
          'webhook job failed; it will run again',
        );
      }
    });
    worker.on('error', (error) =>
      options.logger.error({ err: error, shard }, 'webhook worker error'),
    );
    return worker;
  });
  return {
    async close() {
      await closeWorkers(workers, connections, {
        logger: options.logger,
        what: 'webhook',
        ...(options.closeGraceMs === undefined ? {} : { graceMs: options.closeGraceMs }),
      });
    },
  };
}
