/**
 * What every subscription operation shares: the context it runs in (record
 * store, schedule queues, payments, clock) and the steps built on it —
 * loading and viewing a record, changing it with optimistic retries,
 * starting and stopping its period scheduler, and making the payment of an
 * attempt of an occurrence.
 */
import type { PaymentKind } from '../../machines/contract.ts';
import type { ScheduleLink } from '../engine/engine-data.ts';
import { CommandError } from '../engine/errors.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { updateWithRetry, type RecordStore } from './records.ts';
import type { ScheduleJob, ScheduleQueues } from '../queues/schedules.ts';
import type { ScheduledPaymentInput, ScheduledPayments } from './scheduled-payments.ts';
import {
  nextIntervalStart,
  paymentKeyOf,
  schedulerIdOf,
  type Occurrence,
  type Subscription,
  type SubscriptionChange,
  type SubscriptionView,
} from './subscription-model.ts';

export interface SubscriptionsContext {
  store: RecordStore<Subscription>;
  queues: ScheduleQueues;
  payments: ScheduledPayments;
  clock: Clock;
  logger: Logger;
  /** Length of a retry-on-decline "day". */
  dayMs: number;
}

/** The card of a customer-initiated first payment. */
export type SubscriptionCard = { pan: string; expiry: string; csc?: string };

export async function loadSubscription(
  ctx: SubscriptionsContext,
  id: string,
): Promise<Subscription> {
  const subscription = await ctx.store.get(id);
  if (!subscription) throw new CommandError('subscription_not_found', `no subscription ${id}`);
  return subscription;
}

/** The record as shown, with when an active subscription's scheduler fires next. */
export async function viewSubscription(
  ctx: SubscriptionsContext,
  subscription: Subscription,
): Promise<SubscriptionView> {
  const result: SubscriptionView = { ...subscription };
  if (subscription.status === 'active') {
    const next = await ctx.queues.nextRunOf(
      ctx.store.shardOf(subscription.id),
      schedulerIdOf(subscription.id),
    );
    if (next !== undefined) result.nextRunAt = new Date(next).toISOString();
  }
  return result;
}

/** Applies `mutate` with optimistic retries; `undefined` from it leaves the record as it is. */
export async function changeSubscription(
  ctx: SubscriptionsContext,
  id: string,
  mutate: (subscription: Subscription) => SubscriptionChange | undefined,
): Promise<Subscription> {
  const updated = await updateWithRetry(ctx.store, id, mutate);
  if (!updated) throw new CommandError('subscription_not_found', `no subscription ${id}`);
  return updated;
}

export function notAllowed(subscription: Subscription, what: string): never {
  throw new CommandError(
    'command_not_allowed',
    `cannot ${what} a subscription that is ${subscription.status}`,
  );
}

export async function startScheduler(
  ctx: SubscriptionsContext,
  subscription: Subscription,
): Promise<void> {
  const shard = ctx.store.shardOf(subscription.id);
  const job: ScheduleJob = { task: 'occurrence', subscriptionId: subscription.id };
  const { intervalMs, cron, timezone } = subscription.schedule;
  if (intervalMs !== undefined) {
    await ctx.queues.upsertScheduler(
      shard,
      schedulerIdOf(subscription.id),
      { every: intervalMs, startDate: nextIntervalStart(subscription, ctx.clock.now()) },
      job,
    );
  } else if (cron !== undefined) {
    await ctx.queues.upsertScheduler(
      shard,
      schedulerIdOf(subscription.id),
      { pattern: cron, ...(timezone ? { tz: timezone } : {}) },
      job,
    );
  }
}

export async function stopScheduler(
  ctx: SubscriptionsContext,
  subscription: Subscription,
): Promise<void> {
  await ctx.queues.removeScheduler(
    ctx.store.shardOf(subscription.id),
    schedulerIdOf(subscription.id),
  );
}

/**
 * The payment of one attempt of one occurrence: RECURRING_1 for period 0
 * (the subscription's method), RECURRING_N after it, chained to the first
 * payment (a duplicate of it, or a wallet payment).
 */
export function occurrencePaymentInput(
  subscription: Subscription,
  occurrence: Occurrence,
  attempt: number,
  card?: SubscriptionCard,
): ScheduledPaymentInput {
  const paymentId = occurrence.paymentIds[attempt - 1] as string;
  const link: ScheduleLink = {
    type: 'subscription',
    id: subscription.id,
    period: occurrence.period,
    attempt,
  };
  const first = occurrence.period === 0;
  const chain = subscription.chain;
  if (!first && !chain) {
    throw new Error(`subscription ${subscription.id} has no first payment to chain to`);
  }
  const walletMethod = subscription.method === 'wallet' || subscription.method === 'wallet_3ds';
  let kind: PaymentKind;
  if (first) kind = subscription.method;
  else kind = walletMethod ? 'wallet' : 'duplicate';
  const merchant = { ...subscription.merchant };
  return {
    id: paymentId,
    idempotencyKey: paymentKeyOf(subscription.id, occurrence.period, attempt),
    kind,
    amount: occurrence.amount,
    currency: subscription.currency,
    captureMode: subscription.captureMode,
    captureDay: subscription.captureDay,
    merchant,
    ...(card ? { card } : {}),
    request: {
      link,
      paymentPattern: first ? 'RECURRING_1' : 'RECURRING_N',
      ...(walletMethod && subscription.wallet ? { wallet: subscription.wallet } : {}),
      ...(!first && chain
        ? {
            ...(kind === 'duplicate'
              ? {
                  fromTransactionReference: chain.transactionReference,
                  fromPaymentId: chain.paymentId,
                }
              : {}),
            ...(chain.schemeTransactionIdentifier
              ? { initialSchemeTransactionIdentifier: chain.schemeTransactionIdentifier }
              : {}),
          }
        : {}),
    },
  };
}

/** Creates (or finds again) the payment of one attempt of one occurrence. */
export async function makeOccurrencePayment(
  ctx: SubscriptionsContext,
  subscription: Subscription,
  occurrence: Occurrence,
  attempt: number,
  card?: SubscriptionCard,
): Promise<{ created: boolean; paymentId: string }> {
  return ctx.payments.create(occurrencePaymentInput(subscription, occurrence, attempt, card));
}
