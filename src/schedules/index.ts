/**
 * The schedules layer in one place: subscriptions, instalment plans, the
 * timers of authorisations, ops alerts and the janitor, with the `schedules`
 * queues and their workers. Built by the orchestrator from the payments
 * layer's parts.
 */
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PaymentEngine } from '../engine/engine.ts';
import { engineDataOf, SETTLED_FOR_SCHEDULES } from '../engine/engine.ts';
import type { LimitPolicy } from '../engine/engine-data.ts';
import type { TimerJob } from '../engine/jobs.ts';
import type { Keyspace } from '../payments/keys.ts';
import type { PaymentRecord, PaymentStore } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { IdGenerator } from '../platform/ids.ts';
import type { Logger } from '../platform/logger.ts';
import type { StepQueues } from '../../workers/payment-worker.ts';
import { createAlerts, type Alerts } from './alerts.ts';
import { createInstalmentPlans, type InstalmentPlan, type InstalmentPlans } from './instalments.ts';
import { createJanitor, type Janitor, type JanitorOptions, type JanitorReport } from './janitor.ts';
import { createPaymentTimers, type Reauthorization } from './payment-timers.ts';
import {
  createRecordStore,
  type RecordStore,
  type VersionedRecord,
  type WaitingCursor,
} from './records.ts';
import {
  createScheduleQueues,
  scheduledAtOf,
  startScheduleWorkers,
  type ScheduleJob,
  type ScheduleQueues,
} from './schedule-queues.ts';
import type { ScheduledPayments } from './scheduled-payments.ts';
import { createSubscriptions, type Subscription, type Subscriptions } from './subscriptions.ts';

export interface SchedulesOptions {
  redis: Redis;
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
  /** Starts the schedules workers and the janitor's scheduler. */
  startWorkers(options?: {
    concurrency?: number;
    stalledIntervalMs?: number;
    lockDurationMs?: number;
  }): Promise<void>;
  close(): Promise<void>;
}

/** Where a paging pass stopped, kept in Redis between runs; unset, a pass starts at the beginning. */
interface RedisCursor<T> {
  get(): Promise<T | undefined>;
  set(value: T | undefined): Promise<void>;
}

function redisCursor<T>(redis: Redis, key: string): RedisCursor<T> {
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

/** Occurrence and instalment statuses that wait for their payment to settle. */
const WAITING: ReadonlySet<string> = new Set(['processing', 'in_review']);

export function createSchedules(options: SchedulesOptions): Schedules {
  const { redis, keyspace, clock, ids, logger, store } = options;
  const queues = createScheduleQueues({ connection: redis, keyspace });
  const alerts = createAlerts({ redis, keyspace, clock });
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
    },
    options.janitor,
  );
  let workers: { close(): Promise<void> } | undefined;

  /** Tells the payment's schedule (or the payment it replaces) that it settled. */
  async function notifySettled(record: PaymentRecord): Promise<void> {
    const data = engineDataOf(record);
    const link = data.request.link;
    if (!link) return;
    if (link.type === 'reauthorization') {
      await timers.onReplacementSettled(link.id, record);
    } else if (link.type === 'subscription') {
      await subscriptions.onPaymentSettled(
        link,
        record.id,
        record.status,
        data.facts,
        record.transactionReference,
      );
    } else {
      await plans.onPaymentSettled(link, record.id, record.status, data.facts);
    }
  }

  async function onSettled(paymentId: string): Promise<void> {
    const record = await store.get(paymentId, { timeline: false });
    if (record) await notifySettled(record);
  }

  /**
   * The next page of a store's waiting records: a run goes on where the last
   * one stopped, so records that wait for long (a payment in review) never
   * hide the ones behind them; the end wraps to the start.
   */
  async function nextWaiting<T extends VersionedRecord>(
    recordStore: RecordStore<T>,
    cursor: RedisCursor<WaitingCursor>,
  ): Promise<T[]> {
    const after = await cursor.get();
    const page = await recordStore.listWaiting({
      limit: options.janitor?.batch ?? 200,
      ...(after === undefined ? {} : { after }),
    });
    await cursor.set(page.next);
    return page.records;
  }

  /**
   * A settled notice is a follow-up of the step that settled the payment; a
   * crash between that step and its dispatch loses it when no job of the
   * payment runs again (commands, janitor inquiries). Entries still waiting
   * for a payment that has settled are handled here instead.
   */
  async function handleLostNotices(): Promise<number> {
    const waiting: { paymentId: string; inReview: boolean }[] = [];
    for (const subscription of await nextWaiting(subscriptionStore, subscriptionsCursor)) {
      for (const occurrence of subscription.occurrences) {
        if (!WAITING.has(occurrence.status)) continue;
        const paymentId = occurrence.paymentIds.at(-1);
        if (paymentId) waiting.push({ paymentId, inReview: occurrence.status === 'in_review' });
      }
    }
    for (const plan of await nextWaiting(planStore, plansCursor)) {
      for (const instalment of plan.instalments) {
        if (!WAITING.has(instalment.status)) continue;
        waiting.push({
          paymentId: instalment.paymentId,
          inReview: instalment.status === 'in_review',
        });
      }
    }
    let handled = 0;
    for (const { paymentId, inReview } of waiting) {
      const record = await store.get(paymentId, { timeline: false });
      if (!record || !SETTLED_FOR_SCHEDULES.has(record.status)) continue;
      if (inReview && record.status === 'in_review') continue;
      try {
        await notifySettled(record);
        handled++;
      } catch (error) {
        // One that cannot be handled now (a busy record) waits for the next pass.
        logger.warn({ err: error, paymentId }, 'janitor could not handle a settled notice');
      }
    }
    return handled;
  }

  async function runJanitor(): Promise<JanitorReport> {
    const report = await janitor.run();
    const noticesHandled = await handleLostNotices();
    return noticesHandled > 0 ? { ...report, noticesHandled } : report;
  }

  async function handle(job: ScheduleJob, context: { job: Job<ScheduleJob> }): Promise<void> {
    switch (job.task) {
      case 'settled':
        return onSettled(job.paymentId);
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
