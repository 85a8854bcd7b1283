/**
 * BullMQ plumbing of the step protocol: one queue of step jobs per shard, the
 * job sink the engine enqueues into, and the workers that run the jobs.
 *
 * Retries (src/payments/retry-policy.ts): a job is tried again, with
 * exponential backoff and jitter (capped), only for a retry verdict (Sips
 * answered 90/99 and attempts remain, a write lost a race, a timer waits) or an
 * infrastructure error (RedisClient or the network failed); any other error fails
 * the job at once. Every other Sips answer is stored as the step's outcome and
 * the job completes. A burst of 90 (service unavailable) pauses the shard's
 * queue instead of spending attempts, since every job would meet the same
 * outage.
 */
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import { duplicateConnection, type RedisClient } from '../platform/redis.ts';
import { closeWorkers } from './close.ts';
import type { Keyspace } from '../payments/keys.ts';
import {
  createStepBackoffStrategy,
  createUnavailableBurst,
  isStepRetried,
  SIPS_BACKOFF_TYPE,
  type BackoffOptions,
} from './retry-policy.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { currentLogContext, withLogContext } from '../platform/log-context.ts';
import { queueTelemetry } from '../platform/tracing.ts';
import { StepRetryError, type JobSink, type PaymentEngine } from '../engine/engine.ts';
import type { ReauthorizeJob, StepJob, TimerJob } from '../engine/jobs.ts';

/**
 * A step job as queued: the job, and the id of the HTTP request whose work it
 * continues, for the log lines of the worker that runs it. Jobs queued
 * without `requestId` run the same.
 */
export type QueuedStepJob = StepJob & { requestId?: string };

export interface StepQueueOptions {
  connection: RedisClient;
  keyspace: Keyspace;
  /** Tries per call job, the first included; 90/99 are retried until they run out. @defaultValue 6 */
  attempts?: number;
  /** Completed jobs are kept this long so a late duplicate add is recognised. @defaultValue 1 h */
  keepCompletedMs?: number;
}

export interface StepQueues extends Omit<JobSink, 'enqueueSettled'> {
  queue(shard: number): Queue<QueuedStepJob>;
  close(): Promise<void>;
}

/** `job` with the request id of the code running now, when there is one. */
function withRequestId(job: StepJob): QueuedStepJob {
  const requestId = currentLogContext()?.requestId;
  return requestId === undefined ? job : { ...job, requestId };
}

export function createStepQueues(options: StepQueueOptions): StepQueues {
  const { keyspace } = options;
  const attempts = options.attempts ?? 6;
  const keepSeconds = Math.ceil((options.keepCompletedMs ?? 3_600_000) / 1000);
  const queues = keyspace.allShards.map(
    (shard) =>
      new Queue<QueuedStepJob>(keyspace.paymentsQueueName(shard), {
        connection: options.connection,
        prefix: keyspace.bullmqPrefix(shard),
        ...queueTelemetry(),
      }),
  );
  const queueOf = (paymentId: string): Queue<QueuedStepJob> =>
    queues[keyspace.shardOf(paymentId)] as Queue<QueuedStepJob>;
  const jobOptions = (jobId: string, delay: number, tries = attempts): JobsOptions => ({
    jobId,
    delay,
    attempts: tries,
    backoff: { type: SIPS_BACKOFF_TYPE },
    removeOnComplete: { age: keepSeconds, count: 100_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
  /** Adds `job` to its payment's queue, with the request id of the code running now. */
  const add = async (job: StepJob, jobId: string, delay: number, tries?: number) => {
    await queueOf(job.paymentId).add(job.task, withRequestId(job), jobOptions(jobId, delay, tries));
  };
  return {
    enqueueCall: (job, jobId) => add(job, jobId, 0),
    enqueueInquiry: (job, jobId, delayMs) => add(job, jobId, delayMs),
    enqueueAbandon: (job, jobId, delayMs) => add(job, jobId, delayMs),
    // A timer waits out a busy payment (an inquiry, a review) by retrying:
    // with the backoff cap, enough attempts to wait for days.
    enqueueTimer: (job, jobId, delayMs) => add(job, jobId, delayMs, 10_000),
    // Waits out a busy payment or a lost race like a timer does.
    enqueueReauthorize: (job, jobId) => add(job, jobId, 0, 10_000),
    queue: (shard) => queues[shard] as Queue<QueuedStepJob>,
    async close() {
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}

export interface StepWorkerOptions {
  /** A dedicated connection per worker is made from it (BullMQ blocks on it). */
  connection: RedisClient;
  keyspace: Keyspace;
  engine: PaymentEngine;
  queues: StepQueues;
  /**
   * Runs the capture-limit jobs (timers, the new authorisation of a
   * reauthorisation); without it they wait in the queue.
   */
  captureLimit?: {
    runTimer(job: TimerJob, context: { jobId: string }): Promise<void>;
    runReauthorize(job: ReauthorizeJob): Promise<void>;
  };
  clock: Clock;
  logger: Logger;
  /** Jobs in flight per shard worker: Sips calls are I/O bound. @defaultValue 200 */
  concurrency?: number;
  backoff?: BackoffOptions;
  /** 90s within the window that pause the queue. @defaultValue 5 in 10 s */
  burst?: { threshold?: number; windowMs?: number; pauseMs?: number };
  /**
   * How long a job's lock lasts (renewed while it runs) and how often stalled
   * jobs of dead workers are picked up again. @defaultValue 30 000 ms each
   */
  lockDurationMs?: number;
  /** How long a close waits for jobs in flight before it cuts the connections. */
  closeGraceMs?: number;
  stalledIntervalMs?: number;
}

export interface StepWorkers {
  /** Waits for the jobs in flight (no call is abandoned), then closes. */
  close(): Promise<void>;
  readonly workers: readonly Worker<QueuedStepJob>[];
}

export function startStepWorkers(options: StepWorkerOptions): StepWorkers {
  const { keyspace, engine, logger } = options;
  const burst = createUnavailableBurst({
    clock: options.clock,
    threshold: options.burst?.threshold ?? 5,
    windowMs: options.burst?.windowMs ?? 10_000,
  });
  const pauseMs = options.burst?.pauseMs ?? 5_000;
  const connections: RedisClient[] = [];
  const workers = keyspace.allShards.map((shard) => {
    const connection = duplicateConnection(options.connection, {
      maxRetriesPerRequest: null,
      autoPipelining: false,
    });
    connections.push(connection);
    const queue = options.queues.queue(shard);
    const run = async (job: Job<QueuedStepJob>): Promise<void> => {
      const jobId = job.id ?? '';
      const data: StepJob = job.data;
      try {
        if (data.task === 'call') {
          const attemptsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
          await engine.runCall(data, { jobId, attemptsLeft });
        } else if (data.task === 'inquire') {
          await engine.runInquiry(data, { jobId });
        } else if (data.task === 'abandon') {
          await engine.runAbandon(data, { jobId });
        } else if (!options.captureLimit) {
          throw new StepRetryError('no capture-limit runner in this process');
        } else if (data.task === 'timer') {
          await options.captureLimit.runTimer(data, { jobId });
        } else {
          await options.captureLimit.runReauthorize(data);
        }
      } catch (error) {
        if (error instanceof StepRetryError && error.responseCode === '90' && burst.record()) {
          // Sips is down for everyone: pause the queue rather than spend
          // every job's attempts on the same outage.
          logger.warn({ shard, pauseMs }, 'burst of responseCode 90: pausing the payment queue');
          await queue.rateLimit(pauseMs);
          throw Worker.RateLimitError();
        }
        if (!isStepRetried(error)) {
          // The backoff strategy fails the job now, attempts notwithstanding.
          logger.error(
            { err: error, jobId, paymentId: data.paymentId },
            'step job failed, not retried',
          );
        } else if (!(error instanceof StepRetryError)) {
          logger.warn(
            { err: error, jobId, paymentId: data.paymentId },
            'step job failed, retried while attempts remain',
          );
        }
        throw error;
      }
    };
    // Every line logged while the job runs names its job, payment and request.
    const processor = (job: Job<QueuedStepJob>): Promise<void> =>
      withLogContext(
        {
          jobId: job.id ?? '',
          paymentId: job.data.paymentId,
          ...(job.data.requestId === undefined ? {} : { requestId: job.data.requestId }),
        },
        () => run(job),
      );
    const worker = new Worker<QueuedStepJob>(keyspace.paymentsQueueName(shard), processor, {
      connection,
      ...queueTelemetry(),
      prefix: keyspace.bullmqPrefix(shard),
      concurrency: options.concurrency ?? 200,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      // A stalled job is one whose worker died: it must run again (and find
      // its intent), however many times workers die.
      maxStalledCount: 1_000,
      settings: { backoffStrategy: createStepBackoffStrategy(options.backoff ?? {}) },
    });
    worker.on('error', (error) => logger.error({ err: error, shard }, 'step worker error'));
    worker.on('failed', (job, error) => {
      if (job && isStepRetried(error) && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        logger.warn(
          { err: error, jobId: job.id, paymentId: job.data.paymentId, attempts: job.attemptsMade },
          'step job failed: retries exhausted',
        );
      }
    });
    return worker;
  });
  return {
    workers,
    async close() {
      await closeWorkers(workers, connections, {
        logger: options.logger,
        what: 'step',
        ...(options.closeGraceMs === undefined ? {} : { graceMs: options.closeGraceMs }),
      });
    },
  };
}
