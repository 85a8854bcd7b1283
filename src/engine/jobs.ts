/**
 * The jobs of the step protocol and their deterministic ids. A job carries ids
 * only (architecture §5, §9): never card data, never amounts a worker would
 * trust over the payment record.
 */
import type { Operation } from '../../machines/contract.ts';
import type { ReviewReason } from '../payments/review.ts';

/** A job that performs the Sips call of `operation` for the payment at `version`. */
export interface CallJob {
  task: 'call';
  paymentId: string;
  /** The payment version written by the step that asked for the call. */
  version: number;
  operation: Operation;
}

/** A getTransactionData inquiry; `attempt` counts from 1 along the inquiry schedule. */
export interface InquiryJob {
  task: 'inquire';
  paymentId: string;
  version: number;
  attempt: number;
}

/** Fires when the customer has not come back from the ACS or the provider in time. */
export interface AbandonJob {
  task: 'abandon';
  paymentId: string;
  version: number;
}

/**
 * Timers of an authorisation: `capture` validates a deferred capture at its
 * time; `limit_warning` and `limit_policy` fire before the capture limit.
 */
export const TIMER_NAMES = ['capture', 'limit_warning', 'limit_policy'] as const;
export type TimerName = (typeof TIMER_NAMES)[number];

export interface TimerJob {
  task: 'timer';
  paymentId: string;
  timer: TimerName;
}

/** Makes the new authorisation a capture-limit policy `reauthorize` claimed. */
export interface ReauthorizeJob {
  task: 'reauthorize';
  paymentId: string;
  version: number;
  /** The id recorded with the claim. */
  newPaymentId: string;
}

export type StepJob = CallJob | InquiryJob | AbandonJob | TimerJob | ReauthorizeJob;

/**
 * What a committed step asks for next. Stored with the payment in the same
 * atomic write as the step, so a worker that dies before enqueueing them
 * leaves a record from which they are enqueued again (same job ids).
 */
export type FollowUp =
  | { type: 'call'; jobId: string; operation: Operation; amount?: number }
  | { type: 'inquire'; jobId: string; attempt: number; delayMs: number }
  | { type: 'review'; reason: ReviewReason }
  | { type: 'abandon'; jobId: string; delayMs: number }
  /** A timer set by this step; `at` is absolute so a late re-enqueue keeps the time. */
  | { type: 'timer'; jobId: string; timer: TimerName; at: number }
  /** Tell the payment's schedule (subscription, instalments) that it settled. */
  | { type: 'settled'; jobId: string }
  /** Make the new authorisation of a claim (capture-limit policy `reauthorize`). */
  | { type: 'reauthorize'; jobId: string; newPaymentId: string };

export function callJobId(paymentId: string, version: number, operation: Operation): string {
  return `${paymentId}-v${version}-${operation}`;
}

export function abandonJobId(paymentId: string, version: number): string {
  return `${paymentId}-v${version}-abandon`;
}

export function timerJobId(paymentId: string, version: number, timer: TimerName): string {
  return `${paymentId}-v${version}-timer-${timer}`;
}

export function settledJobId(paymentId: string, version: number): string {
  return `${paymentId}-v${version}-settled`;
}

export function reauthorizeJobId(paymentId: string, version: number): string {
  return `${paymentId}-v${version}-reauthorize`;
}

export function inquiryJobId(paymentId: string, version: number, attempt: number): string {
  return `${paymentId}-v${version}-inquiry-${attempt}`;
}
