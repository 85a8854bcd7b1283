/**
 * A per-payment lock, so two commands on one payment (two captures, a refund
 * racing a cancel) never have Sips calls in flight together (architecture §5).
 *
 * The lock is `SET <payment>:lock <token> NX PX <ttl>`, renewed while the
 * holder works and released by a script that deletes it only if the token is
 * still ours. A lock with a TTL can be lost (a long GC pause, a partition), so
 * it is not what keeps money safe: the payment's `version` is the fencing
 * token. Every holder loads the record, then `writeIntent` compare-and-sets on
 * the version it loaded and refuses while another intent is pending; a holder
 * that lost the lock therefore fails that write and must not send its call.
 * The lock only makes the common case orderly (no wasted Sips round trips, no
 * CAS retries between commands), and `signal` tells the holder it was lost.
 */
import { randomUUID } from 'node:crypto';
import { PaymentsError } from './errors.ts';
import type { Keyspace } from './keys.ts';
import { defineScript, runScript, type RedisClient } from './lua.ts';

export interface PaymentLockOptions {
  redis: RedisClient;
  keyspace: Keyspace;
  /** Lock lifetime; renewed every third of it while held. @defaultValue 30 s */
  ttlMs?: number;
  /** How long `withPaymentLock` waits for a busy lock. @defaultValue 10 s */
  waitMs?: number;
  /** Pause between attempts on a busy lock (jittered up to ×2). @defaultValue 25 ms */
  retryMs?: number;
  /** @defaultValue random UUID */
  newToken?: () => string;
  /** @defaultValue Math.random */
  random?: () => number;
}

export interface HeldLock {
  readonly paymentId: string;
  readonly token: string;
  /** Aborted (reason: a `PAYMENT_LOCK_LOST` error) when a renewal finds the lock gone. */
  readonly signal: AbortSignal;
}

export interface PaymentLocks {
  /**
   * Runs `fn` while holding the payment's lock and releases it afterwards,
   * whatever `fn` does. Throws `PAYMENT_LOCK_TIMEOUT` (retryable) when the lock
   * stays busy for `waitMs`.
   */
  withPaymentLock<T>(paymentId: string, fn: (lock: HeldLock) => Promise<T>): Promise<T>;
}

/** KEYS: 1 lock; ARGV: 1 token. Deletes the lock if it is still ours. */
const RELEASE = defineScript(
  'payments.lockRelease',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

/** KEYS: 1 lock; ARGV: 1 token, 2 ttl ms. Extends the lock if it is still ours. */
const RENEW = defineScript(
  'payments.lockRenew',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);

export function createPaymentLocks(options: PaymentLockOptions): PaymentLocks {
  const { redis, keyspace } = options;
  const ttlMs = options.ttlMs ?? 30_000;
  const waitMs = options.waitMs ?? 10_000;
  const retryMs = options.retryMs ?? 25;
  const newToken = options.newToken ?? randomUUID;
  const random = options.random ?? Math.random;

  async function acquire(key: string, token: string, paymentId: string): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const reply = await redis.set(key, token, 'PX', ttlMs, 'NX');
      if (reply === 'OK') return;
      if (Date.now() >= deadline) {
        throw new PaymentsError('PAYMENT_LOCK_TIMEOUT', `payment ${paymentId} stayed locked`, {
          details: { paymentId, waitMs },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs * (1 + random())));
    }
  }

  return {
    async withPaymentLock(paymentId, fn) {
      const key = keyspace.lockKey(paymentId);
      const token = newToken();
      await acquire(key, token, paymentId);
      const controller = new AbortController();
      let renewing: Promise<unknown> = Promise.resolve();
      const timer = setInterval(
        () => {
          renewing = runScript(redis, RENEW, [key], [token, ttlMs]).then(
            (renewed) => {
              if (renewed !== 1 && !controller.signal.aborted) {
                controller.abort(
                  new PaymentsError('PAYMENT_LOCK_LOST', `lost the lock of payment ${paymentId}`),
                );
              }
            },
            // A failed renewal is retried at the next tick; if Redis stays away
            // the lock expires and the version CAS protects the payment.
            () => undefined,
          );
        },
        Math.max(1, Math.floor(ttlMs / 3)),
      );
      timer.unref();
      try {
        return await fn({ paymentId, token, signal: controller.signal });
      } finally {
        clearInterval(timer);
        await renewing;
        await runScript(redis, RELEASE, [key], [token]);
      }
    },
  };
}
