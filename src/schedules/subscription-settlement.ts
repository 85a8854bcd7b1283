/**
 * A subscription's payment reached a settled status: the occurrence it pays
 * is decided (paid, in review, declined and retried later, failed), the first
 * payment activates the subscription and becomes the chain of the ones
 * after it, and the follow-ups of the decision (period scheduler, retry job)
 * are derived from the stored record.
 */
import type { PaymentStatus } from '../../machines/contract.ts';
import type { ScheduleLink } from '../engine/engine-data.ts';
import type { EventSpec } from './records.ts';
import {
  changeSubscription,
  startScheduler,
  stopScheduler,
  type SubscriptionsContext,
} from './subscription-context.ts';
import {
  DECLINED,
  occurrenceOf,
  PAID,
  retryJobIdOf,
  withOccurrence,
  type Occurrence,
  type Subscription,
  type SubscriptionChange,
} from './subscription-model.ts';

export type SubscriptionLink = Extract<ScheduleLink, { type: 'subscription' }>;

/** What the payments layer reports about a subscription's settled payment. */
export interface SubscriptionSettlement {
  link: SubscriptionLink;
  paymentId: string;
  status: PaymentStatus;
  facts: Record<string, string>;
  transactionReference: string;
}

/** A declined payment: the first fails the subscription; a later one is retried while retry days remain. */
function declined(
  subscription: Subscription,
  occurrence: Occurrence,
  settlement: SubscriptionSettlement,
  dayMs: number,
): SubscriptionChange & { events: EventSpec[] } {
  const { link, paymentId, status } = settlement;
  const data = { period: link.period, attempt: link.attempt, paymentId, status };
  const next: Occurrence = { ...occurrence };
  if (link.period === 0) {
    next.status = 'failed';
    const record: Subscription = {
      ...subscription,
      status: 'failed',
      reason: `the first payment was ${status}`,
    };
    return {
      record: withOccurrence(record, next),
      events: [
        { type: 'occurrence_failed', data },
        { type: 'failed', data: { reason: record.reason } },
      ],
    };
  }
  const days = subscription.retryOnDeclineDays[link.attempt - 1];
  if (days !== undefined && subscription.status !== 'cancelled') {
    const at = occurrence.scheduledAt + days * dayMs;
    next.status = 'retrying';
    next.nextRetryAt = at;
    return {
      record: withOccurrence({ ...subscription }, next),
      events: [
        { type: 'occurrence_declined', data: { ...data, retryAt: new Date(at).toISOString() } },
      ],
    };
  }
  next.status = 'failed';
  return {
    record: withOccurrence({ ...subscription }, next),
    events: [{ type: 'occurrence_failed', data }],
  };
}

/** A paid payment: the occurrence is paid, and a first payment activates the subscription. */
function paid(
  subscription: Subscription,
  occurrence: Occurrence,
  settlement: SubscriptionSettlement,
): SubscriptionChange & { events: EventSpec[] } {
  const { link, paymentId, status, facts, transactionReference } = settlement;
  const data = { period: link.period, attempt: link.attempt, paymentId, status };
  const events: EventSpec[] = [{ type: 'occurrence_paid', data }];
  let record: Subscription = { ...subscription };
  if (link.period === 0 && subscription.status === 'pending') {
    record = {
      ...record,
      status: 'active',
      chain: {
        paymentId,
        transactionReference,
        ...(facts.schemeTransactionIdentifier
          ? { schemeTransactionIdentifier: facts.schemeTransactionIdentifier }
          : {}),
      },
    };
    events.push({ type: 'activated' });
  }
  return { record: withOccurrence(record, { ...occurrence, status: 'paid' }), events };
}

/**
 * The decision a settled payment makes on its occurrence; `undefined` when
 * it decides nothing (not the latest attempt, already decided, a status
 * that is not final).
 */
export function settlementChange(
  subscription: Subscription,
  settlement: SubscriptionSettlement,
  dayMs: number,
): SubscriptionChange | undefined {
  const { link, paymentId, status } = settlement;
  const occurrence = occurrenceOf(subscription, link.period);
  // Only the latest attempt of an occurrence still being processed decides it.
  if (!occurrence || occurrence.paymentIds.at(-1) !== paymentId) return undefined;
  // Decided once; a payment in review may still settle later.
  if (occurrence.status !== 'processing' && occurrence.status !== 'in_review') {
    return undefined;
  }
  if (PAID.has(status)) return paid(subscription, occurrence, settlement);
  if (status === 'in_review') {
    const data = { period: link.period, attempt: link.attempt, paymentId, status };
    return {
      record: withOccurrence({ ...subscription }, { ...occurrence, status: 'in_review' }),
      events: [{ type: 'occurrence_in_review', data }],
    };
  }
  if (DECLINED.has(status)) return declined(subscription, occurrence, settlement, dayMs);
  return undefined;
}

/** Schedules the retry of a declined occurrence when the stored decision asks for one. */
async function scheduleRetry(
  ctx: SubscriptionsContext,
  decided: Subscription,
  link: SubscriptionLink,
  paymentId: string,
): Promise<void> {
  const occurrence = occurrenceOf(decided, link.period);
  if (
    occurrence?.status !== 'retrying' ||
    occurrence.nextRetryAt === undefined ||
    occurrence.paymentIds.at(-1) !== paymentId ||
    decided.status === 'cancelled'
  ) {
    return;
  }
  const attempt = occurrence.paymentIds.length + 1;
  await ctx.queues.add(
    ctx.store.shardOf(link.id),
    { task: 'retry', subscriptionId: link.id, period: link.period, attempt },
    {
      jobId: retryJobIdOf(link.id, link.period, attempt),
      delayMs: Math.max(0, occurrence.nextRetryAt - ctx.clock.now()),
    },
  );
  ctx.logger.info(
    { subscriptionId: link.id, period: link.period, attempt },
    'declined occurrence: retry scheduled',
  );
}

export async function onPaymentSettled(
  ctx: SubscriptionsContext,
  settlement: SubscriptionSettlement,
): Promise<void> {
  const { link, paymentId, status } = settlement;
  if (link.period === 0 && PAID.has(status)) {
    // The scheduler exists before the subscription shows as active; its
    // first run is an interval away and skips anything not active.
    const pending = await ctx.store.get(link.id);
    if (pending?.status === 'pending') await startScheduler(ctx, pending);
  }
  const decided = await changeSubscription(ctx, link.id, (subscription) =>
    settlementChange(subscription, settlement, ctx.dayMs),
  );
  // What the decision asks for is derived from the stored record, not from
  // this run's write, so a notice handled again after a crash (its write
  // done, these not) still starts the scheduler or schedules the retry.
  if (link.period === 0) {
    // Read again: a pause or cancel may have come since the decision.
    const fresh = (await ctx.store.get(link.id)) ?? decided;
    if (fresh.status === 'active') await startScheduler(ctx, fresh);
    else if (fresh.status !== 'pending' && fresh.status !== 'paused') {
      await stopScheduler(ctx, fresh);
    }
  }
  await scheduleRetry(ctx, decided, link, paymentId);
}
