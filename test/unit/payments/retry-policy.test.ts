import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { PaymentsError } from '../../../src/payments/errors.ts';
import {
  backoffDelay,
  createBackoffStrategy,
  createUnavailableBurst,
  isRetryable,
  rateLimitOn90,
  SIPS_BACKOFF_TYPE,
  SipsRetryableError,
} from '../../../src/payments/retry-policy.ts';
import { createManualClock } from '../../../src/platform/clock.ts';

describe('backoff strategy', () => {
  const err = new SipsRetryableError('90', { operation: 'capture' });

  it('grows exponentially with half jitter, up to the cap', () => {
    const strategy = createBackoffStrategy({ baseMs: 1000, capMs: 10_000, random: () => 0.5 });
    const delays = [1, 2, 3, 4, 5, 6].map((n) => strategy(n, SIPS_BACKOFF_TYPE, err));
    expect(delays).toEqual([750, 1500, 3000, 6000, 7500, 7500]);
    expect(backoffDelay(1, { random: () => 0 })).toBe(500);
    expect(backoffDelay(1, { random: () => 0.999999 })).toBe(999);
    expect(backoffDelay(2000, { capMs: 60_000, random: () => 0 })).toBe(30_000);
  });

  it('uses full jitter when asked', () => {
    expect(backoffDelay(3, { baseMs: 100, jitter: 'full', random: () => 0.25 })).toBe(100);
    expect(backoffDelay(3, { baseMs: 100, jitter: 'full', random: () => 0 })).toBe(0);
  });

  it('answers -1 (fail now) for anything without a retryable verdict', () => {
    const strategy = createBackoffStrategy({ random: () => 0.5 });
    expect(strategy(1, SIPS_BACKOFF_TYPE, new Error('boom'))).toBe(-1);
    expect(strategy(1, SIPS_BACKOFF_TYPE, new UnrecoverableError('declined'))).toBe(-1);
    expect(strategy(1, SIPS_BACKOFF_TYPE)).toBe(-1);
    expect(strategy(1, SIPS_BACKOFF_TYPE, new PaymentsError('CARD_VAULT_TAMPERED', 'x'))).toBe(-1);
    expect(strategy(1, SIPS_BACKOFF_TYPE, new PaymentsError('PAYMENT_LOCK_TIMEOUT', 'x'))).toBe(
      750,
    );
    expect(strategy(2, SIPS_BACKOFF_TYPE, new SipsRetryableError('99'))).toBe(1500);
  });

  it('describes 90 and 99 with a code and a verdict', () => {
    const error = new SipsRetryableError('99', { operation: 'refund', transactionReference: 'T1' });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('SIPS_RETRYABLE');
    expect(error.retryable).toBe(true);
    expect(error.responseCode).toBe('99');
    expect(error.message).toBe('Sips answered 99 to refund: not processed, retry later');
    expect(isRetryable(error)).toBe(true);
    expect(isRetryable({ retryable: 'yes' })).toBe(false);
  });
});

describe('rate limit on a burst of 90', () => {
  it('pauses the target and hands back the error BullMQ recognises', async () => {
    const calls: number[] = [];
    const error = await rateLimitOn90({ rateLimit: async (ms) => void calls.push(ms) }, 30_000);
    expect(calls).toEqual([30_000]);
    expect(error.message).toBe('bullmq:rateLimitExceeded');
  });

  it('detects a burst within the window only', () => {
    const clock = createManualClock(0);
    const burst = createUnavailableBurst({ threshold: 3, windowMs: 1000, clock });
    expect(burst.record()).toBe(false);
    clock.advance(400);
    expect(burst.record()).toBe(false);
    clock.advance(700); // the first one left the window
    expect(burst.record()).toBe(false);
    clock.advance(100);
    expect(burst.record()).toBe(true);
  });
});
