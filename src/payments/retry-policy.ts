/**
 * How the engine's BullMQ workers retry (architecture §6).
 *
 * Only Sips 90 (service unavailable) and 99 (temporary problem) are retried:
 * Sips says it did not process the call, so sending it again cannot move money
 * twice. The engine throws `SipsRetryableError` for them; every other failure
 * either becomes a machine event or an `UnrecoverableError`, and this strategy
 * answers -1 (fail now) for anything without a retryable verdict, so a bug that
 * throws something unexpected is never retried blindly.
 *
 * Wiring, in the engine's worker:
 *
 *     new Worker(keyspace.paymentsQueueName(shard), processor, {
 *       prefix: keyspace.bullmqPrefix(shard),
 *       settings: { backoffStrategy: createBackoffStrategy({ random }) },
 *     });
 *     queue.add(step, data, { jobId, attempts: 8, backoff: { type: SIPS_BACKOFF_TYPE } });
 *
 * A burst of 90s means Sips is down for everyone: rather than burning each
 * job's attempts, the processor pauses the whole queue:
 *
 *     if (result.responseCode === '90' && burst.record()) {
 *       throw await rateLimitOn90(queue, 30_000);
 *     }
 *     throw new SipsRetryableError(result.responseCode, { operation, transactionReference });
 *
 * BullMQ moves the job back to waiting without counting an attempt (it does
 * count `attemptsStarted`, so leave `maxStartedAttempts` unset or generous),
 * and no worker of the queue takes a job until the pause ends.
 */
import type { BackoffStrategy } from 'bullmq';
import { Worker } from 'bullmq';
import type { Clock } from '../platform/clock.ts';
import { PaymentsError } from './errors.ts';

/** The `backoff.type` of step jobs; BullMQ hands it to the custom strategy. */
export const SIPS_BACKOFF_TYPE = 'sips';

export type RetryableResponseCode = '90' | '99';

/** Sips answered 90 or 99: not processed, safe to send again later. */
export class SipsRetryableError extends PaymentsError {
  readonly responseCode: RetryableResponseCode;
  readonly operation: string | undefined;
  readonly transactionReference: string | undefined;

  constructor(
    responseCode: RetryableResponseCode,
    options: { operation?: string; transactionReference?: string; cause?: unknown } = {},
  ) {
    super(
      'SIPS_RETRYABLE',
      `Sips answered ${responseCode}${options.operation ? ` to ${options.operation}` : ''}: not processed, retry later`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.name = 'SipsRetryableError';
    this.responseCode = responseCode;
    this.operation = options.operation;
    this.transactionReference = options.transactionReference;
  }
}

/** True for errors carrying a `retryable: true` verdict (ours, or any OrchestratorError-like). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof SipsRetryableError) return true;
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { retryable?: unknown }).retryable === true
  );
}

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. @defaultValue 1 000 ms */
  baseMs?: number;
  /** No delay exceeds this. @defaultValue 60 000 ms */
  capMs?: number;
  /**
   * `full`: uniform in [0, d]; `half`: uniform in [d/2, d], where d is the
   * capped exponential delay. Half keeps a floor so a 90 storm is not hit again
   * at once. @defaultValue 'half'
   */
  jitter?: 'full' | 'half';
  /** Uniform in [0, 1). @defaultValue Math.random */
  random?: () => number;
}

/** The delay before retry number `attemptsMade` (1 after the first failure). */
export function backoffDelay(attemptsMade: number, options: BackoffOptions = {}): number {
  const baseMs = options.baseMs ?? 1_000;
  const capMs = options.capMs ?? 60_000;
  const random = options.random ?? Math.random;
  const exponent = Math.max(0, attemptsMade - 1);
  // 2^exponent overflows to Infinity long after it passes any cap; min() handles it.
  const delay = Math.min(capMs, baseMs * 2 ** exponent);
  const jittered =
    (options.jitter ?? 'half') === 'full' ? random() * delay : delay / 2 + (random() * delay) / 2;
  return Math.floor(jittered);
}

/** BullMQ `settings.backoffStrategy`: a delay for retryable errors, -1 (fail now) otherwise. */
export function createBackoffStrategy(options: BackoffOptions = {}): BackoffStrategy {
  return (attemptsMade, _type, err) =>
    isRetryable(err) ? backoffDelay(attemptsMade, options) : -1;
}

/** A Queue (preferred; `Worker.rateLimit` is deprecated in BullMQ 6) or a Worker. */
export interface RateLimitTarget {
  rateLimit(expireTimeMs: number): Promise<void>;
}

/**
 * Pauses the queue for `ms` and returns the error the processor must throw so
 * BullMQ puts the job back without using an attempt: `throw await rateLimitOn90(queue, ms)`.
 */
export async function rateLimitOn90(target: RateLimitTarget, ms: number): Promise<Error> {
  await target.rateLimit(ms);
  return Worker.RateLimitError();
}

export interface UnavailableBurstOptions {
  /** 90s within `windowMs` that make a burst. @defaultValue 5 */
  threshold?: number;
  /** @defaultValue 10 000 ms */
  windowMs?: number;
  clock: Clock;
}

/**
 * Counts 90 answers in a sliding window (per process): `record()` notes one
 * and says whether they now form a burst. One 90 is retried with backoff like
 * a 99; a burst pauses the queue.
 */
export function createUnavailableBurst(options: UnavailableBurstOptions): {
  record(): boolean;
} {
  const threshold = options.threshold ?? 5;
  const windowMs = options.windowMs ?? 10_000;
  const seen: number[] = [];
  return {
    record() {
      const now = options.clock.now();
      seen.push(now);
      while (seen.length > 0 && (seen[0] as number) <= now - windowMs) seen.shift();
      return seen.length >= threshold;
    },
  };
}
