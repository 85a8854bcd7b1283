/**
 * Subscriptions on BullMQ Job Schedulers against the simulator: the chain of
 * RECURRING_1 then RECURRING_N payments, one payment per period whatever
 * fires twice, pause and resume, restarts, amount changes and the
 * retry-on-decline policy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PublicSubscription as SubscriptionView } from '../../src/service/schedule-views.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  REFUSED_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { SEED_TEST_MERCHANT_ID } from '../../src/sips/environments.ts';
import { pollUntil } from '../support/poll.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

let harness: OrchestratorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const INTERVAL_MS = 2_000;

function subscription(extra: Record<string, unknown> = {}) {
  return {
    amount: 1_990,
    currency: 'EUR',
    interval: '2s',
    card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    ...extra,
  };
}

async function waitForSubscription(
  h: OrchestratorHarness,
  id: string,
  done: (subscription: SubscriptionView) => boolean,
  timeoutMs = 15_000,
): Promise<SubscriptionView> {
  return pollUntil(() => h.orchestrator.subscriptions.get(id), done, {
    timeoutMs,
    describe: (subscription) => `subscription ${id}: ${JSON.stringify(subscription.occurrences)}`,
  });
}

/**
 * Waits until no job of the subscription is left to run: an occurrence
 * comes from a job only, so none can come any more.
 */
async function nothingScheduled(h: OrchestratorHarness, id: string): Promise<void> {
  await expect.poll(() => h.pendingJobs((data) => data.subscriptionId === id)).toEqual([]);
}

/**
 * Once the subscription is active, fires its period 1 now at an amount the
 * issuer refuses (51): the occurrence is declined.
 */
async function declinePeriodOne(h: OrchestratorHarness, id: string): Promise<void> {
  await waitForSubscription(h, id, (s) => s.status === 'active');
  await h.orchestrator.subscriptions.changeAmount(id, { amount: 99_051 });
  await testPortsOf(h.orchestrator).schedules.queues.add(
    Number(id.split('_')[1]),
    { task: 'occurrence', subscriptionId: id, period: 1 },
    { jobId: 'period-1' },
  );
}

const paidPeriods = (subscription: SubscriptionView) =>
  subscription.occurrences
    .filter((occurrence) => occurrence.status === 'paid')
    .map((o) => o.period);

/** Every payment the subscription made, with what the simulator holds for it. */
async function chainOf(h: OrchestratorHarness, subscription: SubscriptionView) {
  const ids = subscription.occurrences.flatMap((occurrence) => occurrence.paymentIds);
  return Promise.all(
    ids.map(async (id) => {
      const payment = await h.orchestrator.payments.get(id);
      const tx = h.sim.store.get(SEED_TEST_MERCHANT_ID, payment.transactionReference);
      return { payment, tx };
    }),
  );
}

describe('subscriptions', () => {
  it('chains RECURRING_N payments to the RECURRING_1 one, one per period, across a restart', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const created = await h.orchestrator.subscriptions.create(subscription());
    expect(created.subscription.status).toBe('pending');
    const id = created.subscription.id;
    await waitForSubscription(h, id, (s) => s.status === 'active' && paidPeriods(s).length >= 2);

    // Down for a while: the scheduler lives in Redis.
    await h.restart(2_500);
    const after = await waitForSubscription(h, id, (s) => paidPeriods(s).length >= 4, 20_000);

    const periods = after.occurrences.map((occurrence) => occurrence.period);
    expect(new Set(periods).size).toBe(periods.length);
    expect(periods[0]).toBe(0);
    const chain = await chainOf(h, after);
    const [first, ...later] = chain;
    expect(first?.tx?.paymentPattern).toBe('RECURRING_1');
    const scheme = first?.tx?.schemeTransactionIdentifier;
    expect(scheme).toBeTruthy();
    expect(after.chain?.schemeTransactionIdentifier).toBe(scheme);
    for (const { payment, tx } of later) {
      expect(payment.kind).toBe('duplicate');
      expect(tx?.paymentPattern).toBe('RECURRING_N');
      expect(tx?.initialSchemeTransactionIdentifier).toBe(scheme);
      expect(tx?.fromTransactionReference).toBe(first?.payment.transactionReference);
    }
    // One authorisation per payment, one payment per period.
    for (const { payment } of chain) {
      expect(h.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
    }
    // Occurrence n falls n intervals after the first payment (never early).
    for (const occurrence of after.occurrences.slice(1)) {
      expect(Date.parse(occurrence.scheduledAt)).toBe(
        Date.parse(after.anchorAt) + occurrence.period * INTERVAL_MS,
      );
    }
  });

  it('makes one payment for a period fired twice', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const { subscription: created } = await h.orchestrator.subscriptions.create(subscription());
    const active = await waitForSubscription(h, created.id, (s) => paidPeriods(s).includes(1));
    const shard = Number(created.id.split('_')[1]);
    const occurrence = active.occurrences.find((entry) => entry.period === 1);
    for (const jobId of ['again-1', 'again-2']) {
      await testPortsOf(h.orchestrator).schedules.queues.add(
        shard,
        { task: 'occurrence', subscriptionId: created.id, period: 1 },
        { jobId },
      );
    }
    await expect
      .poll(() => h.pendingJobs((data) => data.subscriptionId === created.id && data.period === 1))
      .toEqual([]);
    const later = await h.orchestrator.subscriptions.get(created.id);
    const again = later.occurrences.filter((entry) => entry.period === 1);
    expect(again).toHaveLength(1);
    expect(again[0]?.paymentIds).toEqual(occurrence?.paymentIds);
    const reference = (await h.orchestrator.payments.get(occurrence?.paymentIds[0] as string))
      .transactionReference;
    expect(h.sim.ledger.countAuthorizations(reference)).toBe(1);
  });

  it('pauses (no payment while paused), resumes, takes a new amount and cancels', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const { subscription: created } = await h.orchestrator.subscriptions.create(subscription());
    const id = created.id;
    await waitForSubscription(h, id, (s) => s.status === 'active');
    const paused = await h.orchestrator.subscriptions.pause(id);
    expect(paused.status).toBe('paused');
    expect(paused.nextRunAt).toBeUndefined();
    const countWhilePaused = paused.occurrences.length;
    await nothingScheduled(h, id);
    expect((await h.orchestrator.subscriptions.get(id)).occurrences).toHaveLength(countWhilePaused);

    const changed = await h.orchestrator.subscriptions.changeAmount(id, { amount: 2_490 });
    expect(changed.amount).toBe(2_490);
    const resumedAt = Date.now();
    const resumed = await h.orchestrator.subscriptions.resume(id);
    expect(resumed.status).toBe('active');
    expect(Date.parse(resumed.nextRunAt as string)).toBeGreaterThan(resumedAt - 50);
    const running = await waitForSubscription(
      h,
      id,
      (s) => s.occurrences.length > countWhilePaused,
    );
    const fresh = running.occurrences.slice(countWhilePaused);
    // Periods missed while paused are skipped, not charged later.
    expect(Date.parse(fresh[0]?.scheduledAt ?? '')).toBeGreaterThan(resumedAt - 50);
    expect(fresh[0]?.amount).toBe(2_490);

    const cancelled = await h.orchestrator.subscriptions.cancel(id);
    expect(cancelled.status).toBe('cancelled');
    const count = (await h.orchestrator.subscriptions.get(id)).occurrences.length;
    await nothingScheduled(h, id);
    expect((await h.orchestrator.subscriptions.get(id)).occurrences).toHaveLength(count);
    await expect(h.orchestrator.subscriptions.resume(id)).rejects.toMatchObject({
      code: 'command_not_allowed',
    });
  });

  it('retries a declined occurrence on the retry days, each attempt its own payment', async () => {
    // A "day" of the retry schedule lasts 300 ms here.
    harness = await startOrchestratorHarness({ orchestrator: { scheduleDayMs: 300 } });
    const h = harness;
    const { subscription: created } = await h.orchestrator.subscriptions.create(
      subscription({ interval: '30s', retryOnDeclineDays: [1, 2] }),
    );
    const id = created.id;
    await declinePeriodOne(h, id);
    const failed = await waitForSubscription(h, id, (s) =>
      s.occurrences.some((entry) => entry.period === 1 && entry.status === 'failed'),
    );
    const occurrence = failed.occurrences.find((entry) => entry.period === 1)!;
    expect(occurrence.paymentIds).toHaveLength(3);
    const attempts = await Promise.all(
      occurrence.paymentIds.map((paymentId) => h.orchestrator.payments.get(paymentId)),
    );
    expect(attempts.map((payment) => payment.status)).toEqual(['refused', 'refused', 'refused']);
    expect(new Set(attempts.map((payment) => payment.transactionReference)).size).toBe(3);
    // Attempt k+1 is made retryOnDeclineDays[k] days after the period's first attempt.
    expect(Date.parse(attempts[1]!.createdAt)).toBeGreaterThanOrEqual(
      Date.parse(occurrence.scheduledAt) + 300,
    );
    expect(Date.parse(attempts[2]!.createdAt)).toBeGreaterThanOrEqual(
      Date.parse(occurrence.scheduledAt) + 600,
    );
    expect(failed.status).toBe('active');
  });

  it('never retries a declined occurrence once the subscription is cancelled', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const { subscription: created } = await h.orchestrator.subscriptions.create(
      subscription({ interval: '30s', retryOnDeclineDays: [1] }),
    );
    const id = created.id;
    await declinePeriodOne(h, id);
    await waitForSubscription(h, id, (s) =>
      s.occurrences.some((entry) => entry.period === 1 && entry.status === 'retrying'),
    );
    const cancelled = await h.orchestrator.subscriptions.cancel(id);
    // Given up at once, not when its retry date comes.
    expect(cancelled.occurrences.find((entry) => entry.period === 1)?.status).toBe('failed');
    // The retry falls due (a day early here): it charges nothing.
    await h.promoteDelayed((data) => data.task === 'retry');
    const ended = await waitForSubscription(h, id, (s) =>
      s.occurrences.some((entry) => entry.period === 1 && entry.status === 'failed'),
    );
    expect(ended.occurrences.find((entry) => entry.period === 1)?.paymentIds).toHaveLength(1);
  });

  it('fails when the first, customer-initiated payment is refused, and schedules nothing', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const { subscription: created } = await h.orchestrator.subscriptions.create(
      subscription({ card: { number: REFUSED_CARD, expiry: EXPIRY } }),
    );
    const failed = await waitForSubscription(h, created.id, (s) => s.status === 'failed');
    expect(failed.reason).toContain('refused');
    expect(failed.nextRunAt).toBeUndefined();
    await nothingScheduled(h, created.id);
    expect((await h.orchestrator.subscriptions.get(created.id)).occurrences).toHaveLength(1);
  });

  it('makes one subscription for a key even when its idempotency marker was lost', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const body = subscription({ interval: '30s' });
    const first = await h.orchestrator.subscriptions.create(body, { idempotencyKey: 'sub-k1' });
    expect(first.created).toBe(true);
    const replay = await h.orchestrator.subscriptions.create(body, { idempotencyKey: 'sub-k1' });
    expect(replay).toMatchObject({ created: false, subscription: { id: first.subscription.id } });
    // A crash between the record and the marker: the marker is gone, the record is not.
    const { keyspace, redis } = testPortsOf(h.orchestrator);
    await redis.del(keyspace.idempotencyKey('subscription:sub-k1'));
    const again = await h.orchestrator.subscriptions.create(body, { idempotencyKey: 'sub-k1' });
    expect(again.subscription.id).toBe(first.subscription.id);
    expect(again.firstPayment.id).toBe(first.firstPayment.id);
    const all = await h.orchestrator.subscriptions.list();
    expect(all.filter((entry) => entry.id === first.subscription.id)).toHaveLength(1);
    expect(all).toHaveLength(1);
    await h.waitFor(first.firstPayment.id, (p) => p.status === 'authorized');
    expect(h.sim.ledger.countAuthorizations(first.firstPayment.transactionReference)).toBe(1);
    // Another command under the same key is still refused.
    await expect(
      h.orchestrator.subscriptions.create({ ...body, amount: 2_000 }, { idempotencyKey: 'sub-k1' }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('refuses a bad command naming the field', async () => {
    harness = await startOrchestratorHarness();
    const subscriptions = harness.orchestrator.subscriptions;
    await expect(subscriptions.create(subscription({ interval: '2 weeks' }))).rejects.toMatchObject(
      {
        code: 'invalid_command',
        field: 'interval',
      },
    );
    await expect(
      subscriptions.create(
        subscription({ interval: undefined, cron: '0 9 1 * *', timezone: 'Mars/Base' }),
      ),
    ).rejects.toMatchObject({ code: 'invalid_command', field: 'timezone' });
    await expect(subscriptions.create(subscription({ amount: 10.5 }))).rejects.toMatchObject({
      code: 'invalid_command',
      field: 'amount',
    });
    await expect(subscriptions.get('sub_0_NOPE')).rejects.toMatchObject({
      code: 'subscription_not_found',
    });
  });
});
