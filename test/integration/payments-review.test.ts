import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyspace, type Keyspace } from '../../src/payments/keys.ts';
import { reviewJobId, type ReviewEvidence, type ReviewQueues } from '../../src/payments/review.ts';
import { createReviewQueues } from '../../src/queues/review.ts';
import { maskCardData } from '../../src/sips/mask.ts';
import { createManualClock, type ManualClock } from '../../src/platform/clock.ts';
import { clusterSlot } from '../support/cluster-slot.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

let t: TestNamespace;
let redis: Redis;
let clock: ManualClock;
let keyspace: Keyspace;
let reviews: ReviewQueues;

const evidence: ReviewEvidence = {
  // As the Sips client records it: masked with maskCardData.
  request: maskCardData({
    cardNumber: '4100000000000000',
    cardCSCValue: '123',
    cardExpiryDate: '202812',
    amount: '2500',
    transactionReference: 'TREF1',
  }),
  response: { responseCode: '00', maskedPan: '4100##########00' },
  seal: { verified: false, reason: 'mismatch', algorithm: 'HMAC-SHA-256' },
  inquiries: [],
};

/** `evidence` as it is stored and shown: no card data, no seal. */
const storedEvidence: ReviewEvidence = {
  request: { amount: '2500', transactionReference: 'TREF1' },
  response: { responseCode: '00', maskedPan: '4100##########00' },
  seal: { verified: false, reason: 'mismatch', algorithm: 'HMAC-SHA-256' },
  inquiries: [],
};

beforeEach(() => {
  t = openTestNamespace('review');
  redis = t.redis();
  clock = createManualClock();
  keyspace = createKeyspace({ prefix: t.ns, shards: 3 });
  reviews = createReviewQueues({ connection: redis, keyspace, clock });
});

afterEach(async () => {
  await reviews.close();
  await t.close();
});

describe('manual review queue', () => {
  it('enqueues once per payment version, lists oldest first across shards, and finds items', async () => {
    const first = await reviews.enqueueReview({
      paymentId: 'pay_2_A',
      version: 4,
      reason: 'seal_mismatch',
      evidence,
    });
    expect(first).toEqual({ jobId: 'review-pay_2_A-4', created: true, resolved: false });
    clock.advance(1000);
    const again = await reviews.enqueueReview({
      paymentId: 'pay_2_A',
      version: 4,
      reason: 'seal_mismatch',
      evidence,
    });
    expect(again).toEqual({ jobId: 'review-pay_2_A-4', created: false, resolved: false });
    await reviews.enqueueReview({
      paymentId: 'pay_0_B',
      version: 2,
      reason: 'unknown_outcome',
      evidence: { inquiries: [{ responseCode: '99' }] },
    });
    clock.advance(1000);
    await reviews.enqueueReview({
      paymentId: 'pay_2_A',
      version: 7,
      reason: 'conflict',
      evidence: { note: '94 on capture' },
    });

    expect(await reviews.countReviews()).toBe(3);
    const items = await reviews.listReviews();
    expect(items.map((i) => [i.jobId, i.shard, i.state, i.reason])).toEqual([
      ['review-pay_2_A-4', 2, 'open', 'seal_mismatch'],
      ['review-pay_0_B-2', 0, 'open', 'unknown_outcome'],
      ['review-pay_2_A-7', 2, 'open', 'conflict'],
    ]);
    expect(items[0]).toMatchObject({
      paymentId: 'pay_2_A',
      version: 4,
      evidence: storedEvidence,
      enqueuedAt: clock.now() - 2000,
    });
    expect((await reviews.listReviews({ limit: 1 })).map((i) => i.jobId)).toEqual([
      'review-pay_2_A-4',
    ]);
    expect(await reviews.getReview('review-pay_0_B-2')).toMatchObject({
      paymentId: 'pay_0_B',
      state: 'open',
    });
    expect(await reviews.getReview('review-pay_0_NONE-1')).toBeUndefined();
    await expect(reviews.getReview('review:pay_0_B:2')).rejects.toMatchObject({
      code: 'review_id_invalid',
    });

    // Each item lives in its payment's slot.
    const keys = await redis.keys(`${keyspace.bullmqPrefix(2)}:manual-review:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(clusterSlot(key)).toBe(clusterSlot(keyspace.paymentKey('pay_2_A')));
    }
  });

  it('resolves an item once, keeps the decision, and never brings it back', async () => {
    const { jobId } = await reviews.enqueueReview({
      paymentId: 'pay_1_C',
      version: 3,
      reason: 'unknown_outcome',
      evidence,
    });
    clock.advance(5000);
    const decision = {
      action: 'mark' as const,
      note: 'refused at the bank, per phone call',
      by: 'ops-17',
    };
    const resolved = await reviews.resolveReview(jobId, decision);
    expect(resolved.resolved).toBe(true);
    expect(resolved.item).toMatchObject({
      jobId,
      paymentId: 'pay_1_C',
      state: 'resolved',
      resolution: { ...decision, at: clock.now() },
    });
    expect(await reviews.countReviews()).toBe(0);
    expect(await reviews.listReviews()).toEqual([]);
    expect(await reviews.getReview(jobId)).toEqual(resolved.item);

    const second = await reviews.resolveReview(jobId, {
      action: 'dismiss',
      note: 'late click',
      by: 'ops-2',
    });
    expect(second).toEqual({ resolved: false, item: resolved.item });

    // The engine step that asked for the review runs again: the item stays resolved.
    const rerun = await reviews.enqueueReview({
      paymentId: 'pay_1_C',
      version: 3,
      reason: 'unknown_outcome',
      evidence,
    });
    expect(rerun).toEqual({ jobId, created: false, resolved: true });
    expect(await reviews.countReviews()).toBe(0);
    const ttl = await redis.pttl(keyspace.reviewDecisionKey(1, jobId));
    expect(ttl).toBeGreaterThan(80 * 86_400_000);

    await expect(
      reviews.resolveReview(reviewJobId('pay_1_NONE', 1), decision),
    ).rejects.toMatchObject({
      code: 'review_not_found',
    });
  });

  it('leaves card fields and seals out of evidence, and refuses card data elsewhere', async () => {
    const stripped = await reviews.enqueueReview({
      paymentId: 'pay_0_E',
      version: 2,
      reason: 'seal_mismatch',
      evidence: {
        request: { cardNumber: '4100000000000000', orderId: 'o-1' },
        response: { panExpiryDate: '203012', cardData: { x: 1 }, seal: 'f'.repeat(64) },
        seal: { data: '4111111111111111', expected: 'e'.repeat(64), reason: 'missing' },
      } as unknown as ReviewEvidence,
    });
    expect((await reviews.getReview(stripped.jobId))?.evidence).toEqual({
      request: { orderId: 'o-1' },
      response: {},
      seal: { verified: false, reason: 'missing' },
    });
    await reviews.resolveReview(stripped.jobId, { action: 'dismiss', note: 'test', by: 'ops' });
    await expect(
      reviews.enqueueReview({
        paymentId: 'pay_0_D',
        version: 2,
        reason: 'seal_mismatch',
        evidence: { note: 'x 4111111111111111 y' },
      }),
    ).rejects.toMatchObject({ code: 'card_data_leak' });
    await expect(
      reviews.enqueueReview({
        paymentId: 'pay_0_D',
        version: 2,
        reason: 'seal_mismatch',
        evidence: { response: { acquirerResponseMessage: 'card 4111 1111 1111 1111' } },
      }),
    ).rejects.toMatchObject({ code: 'card_data_leak' });
    expect(await reviews.countReviews()).toBe(0);
    const { jobId } = await reviews.enqueueReview({
      paymentId: 'pay_0_D',
      version: 2,
      reason: 'conflict',
      evidence: {},
    });
    await expect(
      reviews.resolveReview(jobId, { action: 'mark', note: 'card 5555 5555 5555 4444', by: 'ops' }),
    ).rejects.toMatchObject({ code: 'card_data_leak' });
    expect(await reviews.countReviews()).toBe(1);
  });
});
