/**
 * The schedule jobs of a subscription: a period fired by its scheduler
 * starts an occurrence, and a declined occurrence is tried again by its
 * retry job. Each records the occurrence (compare-and-set) with the payment
 * id of the attempt before making the payment, so a job run twice makes one
 * payment.
 */
import type { ScheduleJob } from '../queues/schedules.ts';
import {
  changeSubscription,
  makeOccurrencePayment,
  type SubscriptionsContext,
} from './subscription-context.ts';
import {
  keepRecent,
  occurrenceOf,
  paymentKeyOf,
  withOccurrence,
  withRetryGivenUp,
  type Occurrence,
  type Subscription,
  type SubscriptionChange,
} from './subscription-model.ts';

export type OccurrenceJob = Extract<ScheduleJob, { task: 'occurrence' }>;
export type RetryJob = Extract<ScheduleJob, { task: 'retry' }>;

/** The period a firing at `at` stands for: its index with `interval`, the instant with `cron`. */
export function periodOf(subscription: Subscription, job: OccurrenceJob, at: number): number {
  const every = subscription.schedule.intervalMs;
  return (
    job.period ?? (every !== undefined ? Math.round((at - subscription.anchorAt) / every) : at)
  );
}

/** The start of the occurrence of `period`, unless it exists or the subscription is not active. */
export function occurrenceStart(
  ctx: SubscriptionsContext,
  current: Subscription,
  period: number,
  at: number,
): SubscriptionChange | undefined {
  if (current.status !== 'active') return undefined;
  const existing = occurrenceOf(current, period);
  if (existing) return undefined;
  const occurrence: Occurrence = {
    period,
    scheduledAt: at,
    amount: current.amount,
    status: 'processing',
    paymentIds: [ctx.payments.newPaymentId(paymentKeyOf(current.id, period, 1))],
  };
  return {
    record: { ...current, occurrences: keepRecent([...current.occurrences, occurrence]) },
    events: [
      {
        type: 'occurrence_started',
        data: { period, amount: current.amount, paymentId: occurrence.paymentIds[0] },
      },
    ],
  };
}

export async function runOccurrence(
  ctx: SubscriptionsContext,
  job: OccurrenceJob,
  scheduledAt: number | undefined,
): Promise<void> {
  const subscription = await ctx.store.get(job.subscriptionId);
  if (!subscription || subscription.status !== 'active') return;
  const at = scheduledAt ?? ctx.clock.now();
  const period = periodOf(subscription, job, at);
  if (period <= 0) return;
  const updated = await changeSubscription(ctx, subscription.id, (current) =>
    occurrenceStart(ctx, current, period, at),
  );
  // Only what was stored counts (a write that lost its race proves
  // nothing). A period fired again finds its occurrence and makes sure its
  // payment exists: the first run may have died between the two writes.
  const current = occurrenceOf(updated, period);
  if (!current || updated.status !== 'active' || current.status !== 'processing') return;
  await makeOccurrencePayment(ctx, updated, current, current.paymentIds.length);
}

/** The next attempt of a retrying occurrence, or its end when the subscription is no longer active. */
export function retryStart(
  ctx: SubscriptionsContext,
  current: Subscription,
  job: RetryJob,
): SubscriptionChange | undefined {
  const occurrence = occurrenceOf(current, job.period);
  if (!occurrence || occurrence.status !== 'retrying') return undefined;
  if (occurrence.paymentIds.length >= job.attempt) return undefined;
  if (current.status !== 'active') {
    // Paused or cancelled since the decline: the customer is not charged again.
    const { record, event } = withRetryGivenUp(
      current,
      occurrence,
      `subscription ${current.status}`,
    );
    return { record, events: [event] };
  }
  const next: Occurrence = {
    ...occurrence,
    status: 'processing',
    paymentIds: [
      ...occurrence.paymentIds,
      ctx.payments.newPaymentId(paymentKeyOf(current.id, job.period, job.attempt)),
    ],
  };
  delete next.nextRetryAt;
  return {
    record: withOccurrence(current, next),
    events: [
      {
        type: 'occurrence_retried',
        data: { period: job.period, attempt: job.attempt, paymentId: next.paymentIds.at(-1) },
      },
    ],
  };
}

export async function runRetry(ctx: SubscriptionsContext, job: RetryJob): Promise<void> {
  const subscription = await ctx.store.get(job.subscriptionId);
  if (!subscription) return;
  const updated = await changeSubscription(ctx, subscription.id, (current) =>
    retryStart(ctx, current, job),
  );
  const occurrence = occurrenceOf(updated, job.period);
  if (
    !occurrence ||
    updated.status !== 'active' ||
    occurrence.status !== 'processing' ||
    occurrence.paymentIds.length !== job.attempt
  ) {
    return;
  }
  await makeOccurrencePayment(ctx, updated, occurrence, job.attempt);
}
