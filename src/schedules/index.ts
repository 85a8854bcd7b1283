/**
 * The schedules layer in one place: subscriptions, instalment plans, the
 * timers of authorisations, ops alerts and the janitor, with the `schedules`
 * queues and their workers. Built by the orchestrator from the payments
 * layer's parts.
 */
import type { Job } from 'bullmq';
import type { RedisClient } from '../platform/redis.ts';
import type { PaymentEngine } from '../engine/engine.ts';
import type { LimitPolicy } from '../engine/engine-data.ts';
import type { ReauthorizeJob, TimerJob } from '../engine/jobs.ts';
import type { Keyspace } from '../payments/keys.ts';
import type { PaymentRecord, PaymentStore } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { IdGenerator } from '../platform/ids.ts';
import type { Logger } from '../platform/logger.ts';
import type { StepQueues } from '../queues/steps.ts';
import type { Alerts } from './alerts.ts';
import { createInstalmentPlans, type InstalmentPlan, type InstalmentPlans } from './instalments.ts';
import { keepEventStreams, type StreamRetentionOptions } from './stream-retention.ts';
import { createJanitor, type Janitor, type JanitorOptions, type JanitorReport } from './janitor.ts';
import { createPaymentTimers, type Reauthorization } from './payment-timers.ts';
import { createRecordStore, type WaitingCursor } from './records.ts';
import {
  scheduledAtOf,
  startScheduleWorkers,
  type ScheduleJob,
  type ScheduleQueues,
} from '../queues/schedules.ts';
import type { ScheduledPayments } from './scheduled-payments.ts';
import {
  handleLostNotices,
  onSettled,
  WAITING,
  type RedisCursor,
  type SettledNoticesDeps,
} from './settled-notices.ts';
import { createSubscriptions, type Subscription, type Subscriptions } from './subscriptions.ts';

export interface SchedulesOptions {
  redis: RedisClient;
  /** The `schedules` queues (src/queues/schedules.ts), shared with the engine's settled notices. */
  queues: ScheduleQueues;
  alerts: Alerts;
  keyspace: Keyspace;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  store: PaymentStore;
  engine: PaymentEngine;
  stepQueues: StepQueues;
  payments: ScheduledPayments & { referenceOf(paymentId: string): string };
  reauthorization: Reauthorization;
  eventSource?: string;
  /** Policy at the capture limit for payments that chose none. @defaultValue `none` */
  captureLimitPolicy?: LimitPolicy;
  /** See CaptureLimitOptions.maxReauthorizations. @defaultValue 6 */
  maxReauthorizations?: number;
  janitor?: JanitorOptions & { intervalMs?: number };
  /** How the janitor keeps the event streams bounded. */
  streamRetention?: StreamRetentionOptions;
  /** The length of a "day" in retry-on-decline and instalment schedules (shorter in tests). */
  dayMs?: number;
}

export interface Schedules {
  subscriptions: Subscriptions;
  plans: InstalmentPlans;
  alerts: Alerts;
  janitor: Janitor;
  queues: ScheduleQueues;
  /** One janitor pass, then the scheduled payments whose settled notice was lost. */
  runJanitor(): Promise<JanitorReport>;
  /**
   * For an authorisation being replaced at its capture limit whose new
   * authorisation settled with its notice lost: hands over now; true if it did.
   */
  handOverIfSettled(record: PaymentRecord): Promise<boolean>;
  /** Runs a timer job of the step queue (deferred capture, capture limit). */
  runTimer(job: TimerJob, context: { jobId: string }): Promise<void>;
  /** Makes the new authorisation a reauthorisation claimed (a job of the step queue). */
  runReauthorize(job: ReauthorizeJob): Promise<void>;
  /** Starts the schedules workers and the janitor's scheduler. */
  startWorkers(options?: {
    concurrency?: number;
    stalledIntervalMs?: number;
    lockDurationMs?: number;
    closeGraceMs?: number;
  }): Promise<void>;
  close(): Promise<void>;
}

function redisCursor<T>(redis: RedisClient, key: string): RedisCursor<T> {
  return {
    async get() {
      const value = await redis.get(key);
      return value === null ? undefined : (JSON.parse(value) as T);
    },
    async set(value) {
      if (value === undefined) await redis.del(key);
      else await redis.set(key, JSON.stringify(value));
    },
  };
}

export function createSchedules(options: SchedulesOptions): Schedules {
  const { redis, keyspace, clock, ids, logger, store } = options;
  const { queues, alerts } = options;
  const common = {
    redis,
    keyspace,
    clock,
    ids,
    ...(options.eventSource ? { eventSource: options.eventSource } : {}),
  };
  const subscriptionStore = createRecordStore<Subscription>({
    ...common,
    kind: 'subscription',
    idPrefix: 'sub',
    waitsOnPayment: (subscription) =>
      subscription.occurrences.some((entry) => WAITING.has(entry.status)),
  });
  const planStore = createRecordStore<InstalmentPlan>({
    ...common,
    kind: 'instalment_plan',
    idPrefix: 'plan',
    waitsOnPayment: (plan) => plan.instalments.some((entry) => WAITING.has(entry.status)),
  });
  const janitorKeys = `${keyspace.hashTag(0)}:janitor`;
  const subscriptionsCursor = redisCursor<WaitingCursor>(
    redis,
    `${janitorKeys}:waiting-cursor:subscription`,
  );
  const plansCursor = redisCursor<WaitingCursor>(
    redis,
    `${janitorKeys}:waiting-cursor:instalment_plan`,
  );
  const subscriptions = createSubscriptions({
    store: subscriptionStore,
    queues,
    payments: options.payments,
    clock,
    logger,
    ...(options.dayMs !== undefined ? { dayMs: options.dayMs } : {}),
  });
  const plans = createInstalmentPlans({
    store: planStore,
    queues,
    payments: options.payments,
    clock,
    ...(options.dayMs !== undefined ? { dayMs: options.dayMs } : {}),
  });
  const timers = createPaymentTimers({
    store,
    engine: options.engine,
    alerts,
    clock,
    logger,
    shardOf: keyspace.shardOf,
    defaultPolicy: options.captureLimitPolicy ?? 'none',
    maxReauthorizations: wholeOrThrow(options.maxReauthorizations ?? 6, 'maxReauthorizations'),
    reauthorization: options.reauthorization,
  });
  const janitor = createJanitor(
    {
      store,
      engine: options.engine,
      queues: options.stepQueues,
      alerts,
      clock,
      logger,
      shardOf: keyspace.shardOf,
      handOverIfSettled: (record) => timers.handOverIfSettled(record),
      cursor: redisCursor<number>(redis, `${janitorKeys}:authorized-cursor`),
      heldRefundsCursor: redisCursor<number>(redis, `${janitorKeys}:held-refunds-cursor`),
    },
    options.janitor,
  );
  let workers: { close(): Promise<void> } | undefined;
  const notices: SettledNoticesDeps = {
    store,
    logger,
    timers,
    subscriptions,
    plans,
    subscriptionStore,
    planStore,
    subscriptionsCursor,
    plansCursor,
    ...(options.janitor?.batch !== undefined ? { batch: options.janitor.batch } : {}),
  };

  async function runJanitor(): Promise<JanitorReport> {
    const report = await janitor.run();
    const noticesHandled = await handleLostNotices(notices);
    const streams = await keepEventStreams({ redis, keyspace, alerts }, options.streamRetention);
    return { ...report, ...(noticesHandled > 0 ? { noticesHandled } : {}), streams };
  }

  async function handle(job: ScheduleJob, context: { job: Job<ScheduleJob> }): Promise<void> {
    switch (job.task) {
      case 'settled':
        return onSettled(notices, job.paymentId);
      case 'occurrence':
        return subscriptions.runOccurrence(job, scheduledAtOf(context.job));
      case 'retry':
        return subscriptions.runRetry(job);
      case 'instalment':
        return plans.runInstalment(job);
      case 'janitor':
        await runJanitor();
        return;
    }
  }

  return {
    subscriptions,
    plans,
    alerts,
    janitor,
    queues,
    runJanitor,
    runTimer: (job, context) => timers.run(job, context),
    runReauthorize: (job) => timers.runReauthorize(job),
    handOverIfSettled: (record) => timers.handOverIfSettled(record),
    async startWorkers(workerOptions = {}) {
      workers = startScheduleWorkers({
        connection: redis,
        keyspace,
        logger,
        handle,
        ...workerOptions,
      });
      const intervalMs = options.janitor?.intervalMs ?? 60_000;
      if (intervalMs > 0) {
        await queues.upsertScheduler(
          0,
          'janitor',
          { every: intervalMs },
          { task: 'janitor', shard: 0 },
        );
      } else {
        await queues.removeScheduler(0, 'janitor');
      }
    },
    async close() {
      await workers?.close();
      await queues.close();
    },
  };
}

export type { Subscription, SubscriptionView } from './subscriptions.ts';
export type { InstalmentPlan } from './instalments.ts';
export type { OpsAlert } from './alerts.ts';
export type { JanitorReport, JanitorOptions } from './janitor.ts';

function wholeOrThrow(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number, 0 or more`);
  }
  return value;
}
