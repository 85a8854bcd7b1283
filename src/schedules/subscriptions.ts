/**
 * Subscriptions: a customer-initiated first payment (RECURRING_1, with
 * 3-D Secure when the method asks for it), then one merchant-initiated
 * payment (RECURRING_N) per period, chained to the first with its
 * schemeTransactionIdentifier. Periods are fired by a BullMQ Job Scheduler
 * (`interval` or `cron`); a declined occurrence is tried again on the
 * retry-on-decline days, apart from the technical 90/99 backoff of each call.
 *
 * One payment per subscription per period, however often a period fires:
 * the occurrence is recorded (compare-and-set) with a payment id fixed
 * before the payment exists, and the payment is created with an idempotency
 * key made of the subscription, the period and the attempt.
 *
 * This module is the service's surface; the work is done in
 * `subscription-model.ts` (record and pure rules), `subscription-context.ts`
 * (shared steps), `subscription-commands.ts` (merchant commands),
 * `subscription-occurrences.ts` (schedule jobs) and
 * `subscription-settlement.ts` (settled payments).
 */
import type { PaymentStatus } from '../../machines/contract.ts';
import { DAY_MS } from '../engine/capture-limit.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { CreateSubscriptionCommand } from './commands.ts';
import type { RecordStore } from './records.ts';
import type { ScheduleQueues } from '../queues/schedules.ts';
import type { ScheduledPayments } from './scheduled-payments.ts';
import {
  cancelSubscription,
  changeSubscriptionAmount,
  createSubscription,
  getSubscription,
  listSubscriptions,
  pauseSubscription,
  resumeSubscription,
} from './subscription-commands.ts';
import type { SubscriptionCard, SubscriptionsContext } from './subscription-context.ts';
import type { Subscription, SubscriptionView } from './subscription-model.ts';
import {
  runOccurrence,
  runRetry,
  type OccurrenceJob,
  type RetryJob,
} from './subscription-occurrences.ts';
import { onPaymentSettled, type SubscriptionLink } from './subscription-settlement.ts';

export {
  SUBSCRIPTION_STATUSES,
  schedulerIdOf,
  type Occurrence,
  type Subscription,
  type SubscriptionStatus,
  type SubscriptionView,
} from './subscription-model.ts';
export type { SubscriptionsContext } from './subscription-context.ts';

export interface SubscriptionsDeps {
  store: RecordStore<Subscription>;
  queues: ScheduleQueues;
  payments: ScheduledPayments;
  clock: Clock;
  logger: Logger;
  /** Length of a retry-on-decline "day" (shorter in tests). @defaultValue 24 h */
  dayMs?: number;
}

export interface Subscriptions {
  create(
    command: CreateSubscriptionCommand,
    card: SubscriptionCard | undefined,
    /** The idempotency key and request hash: the same seed makes the same subscription. */
    seed?: string,
  ): Promise<{ subscription: SubscriptionView }>;
  get(id: string): Promise<SubscriptionView>;
  list(options?: { limit?: number }): Promise<SubscriptionView[]>;
  pause(id: string): Promise<SubscriptionView>;
  resume(id: string): Promise<SubscriptionView>;
  cancel(id: string): Promise<SubscriptionView>;
  changeAmount(id: string, amount: number): Promise<SubscriptionView>;
  /** Schedule jobs. */
  runOccurrence(job: OccurrenceJob, scheduledAt: number | undefined): Promise<void>;
  runRetry(job: RetryJob): Promise<void>;
  onPaymentSettled(
    link: SubscriptionLink,
    paymentId: string,
    status: PaymentStatus,
    facts: Record<string, string>,
    transactionReference: string,
  ): Promise<void>;
}

export function createSubscriptions(deps: SubscriptionsDeps): Subscriptions {
  const ctx: SubscriptionsContext = {
    store: deps.store,
    queues: deps.queues,
    payments: deps.payments,
    clock: deps.clock,
    logger: deps.logger,
    dayMs: deps.dayMs ?? DAY_MS,
  };
  return {
    create: (command, card, seed) => createSubscription(ctx, command, card, seed),
    get: (id) => getSubscription(ctx, id),
    list: (options) => listSubscriptions(ctx, options),
    pause: (id) => pauseSubscription(ctx, id),
    resume: (id) => resumeSubscription(ctx, id),
    cancel: (id) => cancelSubscription(ctx, id),
    changeAmount: (id, amount) => changeSubscriptionAmount(ctx, id, amount),
    runOccurrence: (job, scheduledAt) => runOccurrence(ctx, job, scheduledAt),
    runRetry: (job) => runRetry(ctx, job),
    onPaymentSettled: (link, paymentId, status, facts, transactionReference) =>
      onPaymentSettled(ctx, { link, paymentId, status, facts, transactionReference }),
  };
}
