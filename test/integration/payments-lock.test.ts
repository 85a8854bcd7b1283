import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyspace, type Keyspace } from '../../src/payments/keys.ts';
import { createPaymentLocks } from '../../src/payments/payment-lock.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

let t: TestNamespace;
let keyspace: Keyspace;

beforeEach(() => {
  t = openTestNamespace('lock');
  keyspace = createKeyspace({ prefix: t.ns, shards: 2 });
});

afterEach(async () => {
  await t.close();
});

describe('withPaymentLock', () => {
  it('never lets two holders overlap, across connections', async () => {
    // Two lock helpers on two connections stand for two worker processes.
    const a = createPaymentLocks({ redis: t.redis(), keyspace, retryMs: 2 });
    const b = createPaymentLocks({ redis: t.redis(), keyspace, retryMs: 2 });
    const spans: Array<{ start: number; end: number; who: number }> = [];
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 16 }, (_, who) =>
        (who % 2 ? a : b).withPaymentLock('pay_1_SAME', async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const start = performance.now();
          await sleep(3 + (who % 3));
          const end = performance.now();
          inside--;
          spans.push({ start, end, who });
        }),
      ),
    );
    expect(spans).toHaveLength(16);
    expect(maxInside).toBe(1);
    spans.sort((x, y) => x.start - y.start);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
    }
    expect(await t.redis().exists(keyspace.lockKey('pay_1_SAME'))).toBe(0);
  });

  it('lets different payments run side by side', async () => {
    const locks = createPaymentLocks({ redis: t.redis(), keyspace });
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      ['pay_0_A', 'pay_1_B', 'pay_0_C'].map((id) =>
        locks.withPaymentLock(id, async () => {
          maxInside = Math.max(maxInside, ++inside);
          await sleep(20);
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(3);
  });

  it('gives up with a retryable error when the lock stays busy, and releases after a throw', async () => {
    const locks = createPaymentLocks({ redis: t.redis(), keyspace, waitMs: 80, retryMs: 5 });
    let release!: () => void;
    const held = locks.withPaymentLock('pay_0_BUSY', () => new Promise<void>((r) => (release = r)));
    await sleep(10);
    await expect(locks.withPaymentLock('pay_0_BUSY', async () => 'never')).rejects.toMatchObject({
      code: 'PAYMENT_LOCK_TIMEOUT',
      retryable: true,
    });
    release();
    await held;
    await expect(
      locks.withPaymentLock('pay_0_BUSY', async () => {
        throw new Error('step failed');
      }),
    ).rejects.toThrow('step failed');
    expect(await locks.withPaymentLock('pay_0_BUSY', async () => 'free again')).toBe('free again');
  });

  it('renews the lock while the holder works, and signals a lost lock', async () => {
    const redis = t.redis();
    const locks = createPaymentLocks({ redis, keyspace, ttlMs: 90, waitMs: 30, retryMs: 5 });
    const key = keyspace.lockKey('pay_1_LONG');
    await locks.withPaymentLock('pay_1_LONG', async (lock) => {
      await sleep(250); // well past the TTL: renewals kept it
      expect(await redis.get(key)).toBe(lock.token);
      await expect(locks.withPaymentLock('pay_1_LONG', async () => 1)).rejects.toMatchObject({
        code: 'PAYMENT_LOCK_TIMEOUT',
      });
      expect(lock.signal.aborted).toBe(false);
      await redis.set(key, 'someone-else'); // as if it expired and another process took it
      await sleep(80);
      expect(lock.signal.aborted).toBe(true);
      expect(lock.signal.reason).toMatchObject({ code: 'PAYMENT_LOCK_LOST' });
    });
    // Our release must not delete the other holder's lock.
    expect(await redis.get(key)).toBe('someone-else');
  });
});
