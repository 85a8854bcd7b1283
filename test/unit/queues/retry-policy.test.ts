import { UnrecoverableError } from 'bullmq';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StepRetryError } from '../../../src/engine/engine.ts';
import { PaymentsError } from '../../../src/payments/errors.ts';
import {
  backoffDelay,
  createStepBackoffStrategy,
  createUnavailableBurst,
  isInfrastructureError,
  SIPS_BACKOFF_TYPE,
} from '../../../src/queues/retry-policy.ts';
import { createManualClock } from '../../../src/platform/clock.ts';

/** A Node socket error as `net` reports it. */
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:6379`), { code, syscall: 'connect' });
}

describe('backoff delay', () => {
  it('grows exponentially with half jitter, up to the cap', () => {
    const strategy = createStepBackoffStrategy({ baseMs: 1000, capMs: 10_000, random: () => 0.5 });
    const err = new StepRetryError('Sips answered 90', '90');
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
});

describe('what the step worker retries', () => {
  const strategy = createStepBackoffStrategy({ random: () => 0.5 });
  const verdict = (error?: Error): number => strategy(1, SIPS_BACKOFF_TYPE, error);

  it('retries a retry verdict: Sips 90/99 with attempts left, a lost race, a busy payment', () => {
    expect(verdict(new StepRetryError('Sips answered 99', '99'))).toBe(750);
    expect(verdict(new StepRetryError('could not store the outcome: version_conflict'))).toBe(750);
    expect(verdict(Object.assign(new Error('busy'), { retryable: true }))).toBe(750);
    expect(verdict(Object.assign(new Error('busy'), { retryable: 'yes' }))).toBe(-1);
  });

  it('retries Redis and network failures', () => {
    expect(verdict(new ReplyError('LOADING Redis is loading the dataset in memory'))).toBe(750);
    expect(verdict(new ReplyError("READONLY You can't write against a read only replica."))).toBe(
      750,
    );
    expect(verdict(new ReplyError('CLUSTERDOWN The cluster is down'))).toBe(750);
    expect(verdict(systemError('ECONNRESET'))).toBe(750);
    expect(verdict(systemError('ECONNREFUSED'))).toBe(750);
    expect(verdict(new Error('Connection is closed.'))).toBe(750);
    // Wrapped: the cause decides.
    expect(verdict(new Error('could not enqueue', { cause: systemError('ETIMEDOUT') }))).toBe(750);
  });

  it('fails at once on anything else, attempts notwithstanding', () => {
    expect(verdict(new Error('boom'))).toBe(-1);
    expect(verdict(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(-1);
    expect(verdict(new UnrecoverableError('declined'))).toBe(-1);
    expect(verdict()).toBe(-1);
    expect(verdict(new PaymentsError('card_vault_unknown_key', 'no card vault key k1'))).toBe(-1);
    // Redis answered, and the answer says the command or the data is wrong.
    expect(
      verdict(new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')),
    ).toBe(-1);
    expect(verdict(new ReplyError('ERR Error running script: attempt to index a nil value'))).toBe(
      -1,
    );
    expect(isInfrastructureError({ code: 'ECONNRESET' })).toBe(false);
  });
});

describe('a burst of 90', () => {
  it('is detected within the window only', () => {
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
