/**
 * What the step worker retries, and how long it waits (architecture §6).
 *
 * A step job that throws is tried again, with exponential backoff and jitter
 * (capped), only when the error is one of:
 *
 * - a **retry verdict** (`retryable: true`): the engine's `StepRetryError`
 *   when Sips answered 90 or 99 and attempts remain (Sips did not process the
 *   call, so sending it again cannot move money twice), when a compare-and-set
 *   lost to a concurrent write, or when a timer waits for a busy payment; and
 *   the retryable command errors (`payment_busy`, `request_in_progress`, ...);
 * - an **infrastructure error**: Redis or the network failed under the step
 *   (connection lost, Redis loading or read-only after a failover, cluster
 *   down). Running the step again is safe: the step protocol finds the intent
 *   written before the failure and inquires rather than resending a call.
 *
 * Every other error (a bug, corrupt data, a card vault key missing, a request
 * the Sips client refuses to build) fails the job at once: the strategy
 * answers -1, so BullMQ does not spend the remaining attempts on an error that
 * would come back. Refusals and other Sips answers are not errors: the engine
 * stores them as the step's outcome. When 90/99 use up the attempts the engine
 * stops throwing and the machine records `failed` (`sips_unavailable`).
 *
 * A burst of 90 means Sips is down for everyone: the worker pauses the queue
 * (`Queue.rateLimit`) and throws `Worker.RateLimitError()`, which puts the job
 * back to waiting without spending an attempt (`createUnavailableBurst` tells
 * when 90s form a burst).
 */
import { ReplyError } from 'ioredis';
import type { Clock } from '../platform/clock.ts';

/** The `backoff.type` of step jobs: BullMQ hands it to the worker's `backoffStrategy`. */
export const SIPS_BACKOFF_TYPE = 'sips';

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

/**
 * ioredis' errors derive from one base class (redis-errors' `RedisError`):
 * `ReplyError` for an error answer from Redis, the others (`AbortError`,
 * `MaxRetriesPerRequestError`, `ClusterAllFailedError`, `ParserError`) for a
 * command that lost its connection. ioredis exports only `ReplyError`.
 */
const RedisError = Object.getPrototypeOf(ReplyError) as abstract new (...args: never[]) => Error;

/**
 * Redis error answers that say "not now" rather than "wrong": the first word
 * of an error reply is its code.
 */
const TRANSIENT_REPLY_CODES = new Set([
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'READONLY',
  'NOREPLICAS',
  'MISCONF',
  'OOM',
]);

/** Node's codes for a socket that could not connect or was cut. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * ioredis rejects a command with a plain Error of this text once its
 * connection has given up reconnecting (it has no class for it).
 */
const REDIS_CONNECTION_CLOSED = 'Connection is closed.';

/** Redis or the network failed: the error, or one it was caused by. */
export function isInfrastructureError(error: unknown): boolean {
  for (let depth = 0; depth < 5 && error instanceof Error; depth++) {
    if (error instanceof ReplyError) {
      if (TRANSIENT_REPLY_CODES.has(error.message.split(' ', 1)[0] ?? '')) return true;
    } else if (error instanceof RedisError) {
      return true;
    }
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
    if (error.message === REDIS_CONNECTION_CLOSED) return true;
    error = error.cause;
  }
  return false;
}

/** The error carries a `retryable: true` verdict (`StepRetryError`, retryable command errors). */
export function hasRetryVerdict(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { retryable?: unknown }).retryable === true
  );
}

/** Whether a step job that threw this is tried again. */
export function isStepRetried(error: unknown): boolean {
  return hasRetryVerdict(error) || isInfrastructureError(error);
}

/**
 * The step worker's `settings.backoffStrategy`: the backoff delay for an
 * error that is retried, -1 (fail now, attempts notwithstanding) otherwise.
 */
export function createStepBackoffStrategy(
  options: BackoffOptions = {},
): (attemptsMade: number, type?: string, error?: Error) => number {
  return (attemptsMade, _type, error) =>
    isStepRetried(error) ? backoffDelay(attemptsMade, options) : -1;
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
