/**
 * Payment in instalments: the plan goes to Sips with the first instalment
 * (instalmentData), each later instalment is its own payment on its date,
 * and the instalments sum to the total exactly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PublicInstalmentPlan as InstalmentPlan } from '../../src/service/schedule-views.ts';
import { SEED_TEST_MERCHANT_ID } from '../../src/sips/environments.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  REFUSED_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';

let harness: OrchestratorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function waitForPlan(
  h: OrchestratorHarness,
  id: string,
  done: (plan: InstalmentPlan) => boolean,
  timeoutMs = 15_000,
): Promise<InstalmentPlan> {
  return pollUntil(() => h.orchestrator.instalmentPlans.get(id), done, {
    timeoutMs,
    describe: (plan) => `plan ${id}: ${JSON.stringify(plan.instalments)}`,
  });
}

describe('instalment plans', () => {
  it('runs every instalment on its date, each its own payment, summing to the total', async () => {
    // A "day" lasts 400 ms here, so instalments fall due 400 ms apart.
    harness = await startOrchestratorHarness({ orchestrator: { scheduleDayMs: 400 } });
    const h = harness;
    const { plan, firstPayment } = await h.orchestrator.instalmentPlans.create({
      amount: 10_000,
      currency: 'EUR',
      count: 3,
      intervalDays: 1,
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    });
    expect(plan.instalments.map((instalment) => instalment.amount)).toEqual([3_334, 3_333, 3_333]);
    expect(firstPayment.amount).toBe(3_334);
    const done = await waitForPlan(h, plan.id, (p) => p.status === 'completed');

    const payments = await Promise.all(
      done.instalments.map((instalment) => h.orchestrator.payments.get(instalment.paymentId)),
    );
    expect(
      payments.every((payment) => payment.status === 'authorized' || payment.status === 'captured'),
    ).toBe(true);
    expect(payments.reduce((sum, payment) => sum + payment.amounts.authorized, 0)).toBe(10_000);
    // The references announced in the plan are the ones authorised.
    expect(payments.map((payment) => payment.transactionReference)).toEqual(
      done.instalments.map((instalment) => instalment.transactionReference),
    );
    const authorized = done.instalments.map((instalment) =>
      h.sim.ledger
        .movements(instalment.transactionReference)
        .filter(
          (movement) =>
            movement.kind === 'authorisation' || movement.kind === 'duplicateAuthorisation',
        )
        .reduce((sum, movement) => sum + movement.amount, 0),
    );
    expect(authorized).toEqual([3_334, 3_333, 3_333]);
    // The first order carried the plan: Sips took its total and authorised the first part.
    const first = h.sim.store.get(SEED_TEST_MERCHANT_ID, done.instalments[0]!.transactionReference);
    expect(first?.paymentPattern).toBe('INSTALMENT');
    expect(first?.amount).toBe(3_334);
    // Later instalments never ran before their date, and are chained to the first.
    for (const [index, instalment] of done.instalments.entries()) {
      expect(Date.parse(payments[index]!.createdAt)).toBeGreaterThanOrEqual(
        Date.parse(instalment.dueAt),
      );
      if (index > 0) {
        expect(payments[index]!.kind).toBe('duplicate');
        const tx = h.sim.store.get(SEED_TEST_MERCHANT_ID, instalment.transactionReference);
        expect(tx?.fromTransactionReference).toBe(done.instalments[0]!.transactionReference);
        expect(tx?.initialSchemeTransactionIdentifier).toBe(first?.schemeTransactionIdentifier);
      }
    }
  });

  it('takes explicit amounts only when they sum to the total, naming the field', async () => {
    harness = await startOrchestratorHarness();
    const plans = harness.orchestrator.instalmentPlans;
    const card = { number: ACCEPTED_CARD, expiry: EXPIRY };
    await expect(plans.create({ amount: 1_000, amounts: [500, 400], card })).rejects.toMatchObject({
      code: 'invalid_command',
      field: 'amounts',
    });
    await expect(plans.create({ amount: 2, count: 3, card })).rejects.toMatchObject({
      code: 'invalid_command',
      field: 'count',
    });
    const { plan } = await plans.create({ amount: 1_000, amounts: [700, 300], card });
    expect(plan.instalments.map((instalment) => instalment.amount)).toEqual([700, 300]);
  });

  it('cancels the instalments not yet due, and fails the plan when the first is refused', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const { plan } = await h.orchestrator.instalmentPlans.create({
      amount: 9_000,
      count: 3,
      card: { number: ACCEPTED_CARD, expiry: EXPIRY },
    });
    await waitForPlan(h, plan.id, (p) => p.instalments[0]?.status === 'paid');
    const scheduled = await h.orchestrator.ops.schedules();
    expect(
      scheduled.filter((item) => item.subject === plan.id && item.kind === 'instalment'),
    ).toHaveLength(2);
    const cancelled = await h.orchestrator.instalmentPlans.cancel(plan.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.instalments.map((instalment) => instalment.status)).toEqual([
      'paid',
      'cancelled',
      'cancelled',
    ]);
    const after = await h.orchestrator.ops.schedules();
    expect(after.filter((item) => item.subject === plan.id)).toHaveLength(0);

    const refused = await h.orchestrator.instalmentPlans.create({
      amount: 9_000,
      count: 3,
      card: { number: REFUSED_CARD, expiry: EXPIRY },
    });
    const failed = await waitForPlan(h, refused.plan.id, (p) => p.status === 'failed');
    expect(failed.instalments.map((instalment) => instalment.status)).toEqual([
      'declined',
      'cancelled',
      'cancelled',
    ]);
  });
});
