/**
 * Inquiries after an unknown outcome end: Sips' answer is adopted when it
 * decides the question, and when it never does the schedule runs out and the
 * payment goes to manual review (architecture §6), instead of inquiring forever.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { authenticateAtAcs } from '../support/acs.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

let h: OrchestratorHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function reviewItemOf(harness: OrchestratorHarness, paymentId: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const items = await harness.orchestrator.reviews.list();
    const item = items.find((candidate) => candidate.paymentId === paymentId);
    if (item || Date.now() > deadline) return item;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function inquiries(harness: OrchestratorHarness, transactionReference: string): number {
  return harness.sim.ledger.countRequests({ service: 'getTransactionData', transactionReference });
}

describe('inquiries', () => {
  it('finds a capture that never reached Sips (still TO_VALIDATE) and goes back to authorized', async () => {
    const harness = await startOrchestratorHarness();
    h = harness;
    const { payment } = await harness.orchestrator.payments.create({
      amount: 10_000,
      currency: '978',
      captureMode: 'validation',
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    });
    expect((await harness.waitFor(payment.id)).status).toBe('authorized');
    // The connection breaks before Sips processed the validation.
    harness.sim.faults.add({ match: { service: 'validate' }, times: 1, type: 'reset' });
    await harness.orchestrator.payments.capture(payment.id, { amount: 6_000 });
    const done = await harness.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(done.amounts.captured).toBe(0);
    expect(harness.sim.ledger.countMovements('validation', done.transactionReference)).toBe(0);
    expect(inquiries(harness, done.transactionReference)).toBeGreaterThanOrEqual(1);
    // Nothing more is asked once the answer was adopted: no inquiry is left to run.
    const asked = inquiries(harness, done.transactionReference);
    await expect
      .poll(() =>
        harness.pendingJobs((data) => data.paymentId === payment.id && data.task === 'inquire'),
      )
      .toEqual([]);
    expect(inquiries(harness, done.transactionReference)).toBe(asked);

    // The merchant can capture again, and this time it happens once.
    await harness.orchestrator.payments.capture(payment.id, { amount: 6_000 });
    const captured = await harness.waitFor(payment.id);
    expect(captured.status).toBe('captured');
    expect(harness.sim.ledger.countMovements('validation', done.transactionReference)).toBe(1);
  });

  it('sends the payment to review when the answers stay inconclusive through the schedule', async () => {
    const harness = await startOrchestratorHarness();
    h = harness;
    const { payment } = await harness.orchestrator.payments.create({
      amount: 2_500,
      currency: '978',
      method: 'card_3ds',
      returnUrl: 'https://shop.example/return',
      card: { number: THREE_DS_SUCCESS_CARD, expiry: EXPIRY, csc: '123' },
    });
    const waiting = await harness.waitFor(
      payment.id,
      (p) => p.status === 'awaiting_authentication',
    );
    const back = await authenticateAtAcs(harness.sim.url, waiting.redirection ?? {}, 'SUCCESS');
    // The completion is lost before Sips processed it: Sips keeps showing the
    // transaction waiting for its authorisation, which decides nothing.
    harness.sim.faults.add({
      match: { service: 'cardValidateAuthenticationAndOrder' },
      times: 1,
      type: 'reset',
    });
    await harness.orchestrator.payments.completeAuthentication(payment.id, { paRes: back.PaRes });
    const done = await harness.waitFor(
      payment.id,
      (p) => p.status !== 'authenticating' && p.status !== 'outcome_unknown',
    );
    expect(done.status).toBe('in_review');
    // The harness' schedule has three inquiries.
    expect(inquiries(harness, done.transactionReference)).toBe(3);
    // The review item follows the step that decided it (enqueued right after the write).
    const item = await reviewItemOf(harness, payment.id);
    expect(item?.reason).toBe('unknown_outcome');
    expect(harness.sim.ledger.countAuthorizations(done.transactionReference)).toBe(0);
  });
});
