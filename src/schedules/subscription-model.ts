/**
 * The subscription record and the pure rules over it: statuses, occurrences,
 * the payment idempotency key of an attempt, the scheduler id and the
 * alignment of interval periods. Nothing here reads or writes Redis.
 */
import type { CaptureMode, PaymentStatus } from '../../machines/contract.ts';
import type { CreateSubscriptionCommand } from './commands.ts';
import type { EventSpec, VersionedRecord } from './records.ts';

/** Occurrences kept on the record; older ones stay visible through their payments. */
export const OCCURRENCES_KEPT = 60;

export const SUBSCRIPTION_STATUSES = [
  'pending',
  'active',
  'paused',
  'cancelled',
  'failed',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export interface Occurrence {
  /** 0 is the first, customer-initiated payment. With `interval`, n is due at anchorAt + n × interval; with `cron`, the scheduled instant (ms). */
  period: number;
  scheduledAt: number;
  amount: number;
  status: 'processing' | 'paid' | 'retrying' | 'failed' | 'in_review';
  /** One payment per attempt, the first attempt first. */
  paymentIds: string[];
  nextRetryAt?: number;
}

export interface Subscription extends VersionedRecord {
  status: SubscriptionStatus;
  method: CreateSubscriptionCommand['method'];
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  captureDay: number;
  schedule: { intervalMs?: number; cron?: string; timezone?: string };
  /** When period 0 (the first payment) was made. */
  anchorAt: number;
  retryOnDeclineDays: number[];
  wallet?: { merchantWalletId: string; paymentMeanId: string };
  merchant: {
    /** Our id of the shop (MERCHANTS_FILE); absent: `default`. */
    id?: string;
    orderId?: string;
    customerId?: string;
    customerEmail?: string;
    metadata?: Record<string, string>;
  };
  firstPaymentId: string;
  /** The customer-initiated payment the merchant-initiated ones are chained to. */
  chain?: { paymentId: string; transactionReference: string; schemeTransactionIdentifier?: string };
  occurrences: Occurrence[];
  /** Why it ended (failed, cancelled). */
  reason?: string;
}

export interface SubscriptionView extends Subscription {
  nextRunAt?: string;
}

/** A change to a stored subscription: the new record and the events it records. */
export interface SubscriptionChange {
  record: Subscription;
  events?: EventSpec[];
}

/** Payment statuses that pay an occurrence. */
export const PAID: ReadonlySet<PaymentStatus> = new Set(['authorized', 'captured']);
/** Payment statuses that decline an occurrence. */
export const DECLINED: ReadonlySet<PaymentStatus> = new Set([
  'refused',
  'failed',
  'expired',
  'cancelled',
]);

export function schedulerIdOf(subscriptionId: string): string {
  return `subscription-${subscriptionId}`;
}

/** The idempotency key of the payment of one attempt of one occurrence. */
export function paymentKeyOf(id: string, period: number, attempt: number): string {
  return `subscription:${id}:p${period}:a${attempt}`;
}

/** The BullMQ job id of the retry of a declined occurrence. */
export function retryJobIdOf(id: string, period: number, attempt: number): string {
  return `subscription-${id}-p${period}-retry-${attempt}`;
}

export function occurrenceOf(subscription: Subscription, period: number): Occurrence | undefined {
  return subscription.occurrences.find((entry) => entry.period === period);
}

/** The most recent occurrences, as many as the record keeps. */
export function keepRecent(occurrences: Occurrence[]): Occurrence[] {
  return occurrences.slice(-OCCURRENCES_KEPT);
}

/** The first period after `after` (interval schedules stay aligned on the anchor). */
export function nextIntervalStart(subscription: Subscription, after: number): number {
  const every = subscription.schedule.intervalMs as number;
  const periods = Math.floor((after - subscription.anchorAt) / every) + 1;
  return subscription.anchorAt + Math.max(1, periods) * every;
}

/** The subscription with `occurrence` in place of the one of its period. */
export function withOccurrence(subscription: Subscription, occurrence: Occurrence): Subscription {
  return {
    ...subscription,
    occurrences: subscription.occurrences.map((entry) =>
      entry.period === occurrence.period ? occurrence : entry,
    ),
  };
}

/** The subscription with a retrying occurrence given up (failed), and the event that says so. */
export function withRetryGivenUp(
  subscription: Subscription,
  occurrence: Occurrence,
  reason: string,
): { record: Subscription; event: EventSpec } {
  const given: Occurrence = { ...occurrence, status: 'failed' };
  delete given.nextRetryAt;
  return {
    record: withOccurrence(subscription, given),
    event: { type: 'occurrence_failed', data: { period: occurrence.period, reason } },
  };
}
