/**
 * REDIS_DURABILITY=verify on the everyday paths: every call Sips does not
 * deduplicate is preceded by a read of the transaction, and the payments end
 * exactly as without it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../src/simulator/index.ts';
import {
  ACCEPTED_CARD,
  CHALLENGE_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

let h: OrchestratorHarness;

afterEach(async () => {
  await h?.close();
});

function cardPayment(number: string, extra: Record<string, unknown> = {}) {
  return {
    amount: 10_000,
    currency: '978',
    card: { number, expiry: EXPIRY, csc: '123' },
    ...extra,
  };
}

/** The services the simulator saw for one reference, in order. */
function servicesOf(reference: string): string[] {
  return h.sim.ledger
    .requests({ transactionReference: reference })
    .filter((entry: RequestRecord) => entry.processed)
    .map((entry) => entry.service ?? entry.path);
}

function precededByRead(services: string[], service: string): boolean {
  const positions = services.flatMap((name, index) => (name === service ? [index] : []));
  return (
    positions.length > 0 && positions.every((index) => services[index - 1] === 'getTransactionData')
  );
}

describe('REDIS_DURABILITY=verify', () => {
  it('reads the transaction before each capture, refund and cancel, and settles as usual', async () => {
    h = await startOrchestratorHarness({ orchestrator: { durability: { mode: 'verify' } } });
    const orc = h.orchestrator;
    const { payment } = await orc.payments.create(
      cardPayment(ACCEPTED_CARD, { captureMode: 'validation' }),
    );
    await h.waitFor(payment.id);
    await orc.payments.capture(payment.id, { amount: 8_000 });
    expect((await h.waitFor(payment.id)).amounts.captured).toBe(8_000);
    h.sim.clock.advanceDays(1);
    await h.sim.control.runRemittance();
    await orc.payments.refund(payment.id, { amount: 3_000 });
    expect((await h.waitFor(payment.id)).status).toBe('partially_refunded');
    await orc.payments.refund(payment.id, { amount: 5_000 });
    const refunded = await h.waitFor(payment.id);
    expect(refunded.status).toBe('refunded');
    expect(refunded.amounts).toMatchObject({ captured: 8_000, refunded: 8_000 });
    expect(h.sim.ledger.countMovements('refund', refunded.transactionReference)).toBe(2);
    expect(h.sim.ledger.countMovements('validation', refunded.transactionReference)).toBe(1);
    const services = servicesOf(refunded.transactionReference);
    expect(precededByRead(services, 'validate')).toBe(true);
    expect(services.filter((name) => name === 'refund')).toHaveLength(2);
    expect(precededByRead(services, 'refund')).toBe(true);

    const second = await orc.payments.create(cardPayment(ACCEPTED_CARD, { amount: 5_000 }));
    await h.waitFor(second.payment.id);
    await orc.payments.cancel(second.payment.id, { amount: 2_000 });
    expect((await h.waitFor(second.payment.id)).amounts.cancelled).toBe(2_000);
    await orc.payments.cancel(second.payment.id, { amount: 3_000 });
    const cancelled = await h.waitFor(second.payment.id);
    expect(cancelled.status).toBe('cancelled');
    expect(h.sim.ledger.countMovements('cancellation', cancelled.transactionReference)).toBe(2);
    const cancels = servicesOf(cancelled.transactionReference);
    expect(precededByRead(cancels, 'cancel')).toBe(true);
    // The authorisation itself is deduplicated by Sips: no read before it.
    expect(cancels[0]).not.toBe('getTransactionData');
  });

  it('reads before a challenge decision', async () => {
    h = await startOrchestratorHarness({ orchestrator: { durability: { mode: 'verify' } } });
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(CHALLENGE_CARD, { amount: 1_200 }),
    );
    await h.waitFor(payment.id, (view) => view.status === 'authorized' && view.challenged === true);
    await h.orchestrator.payments.acceptChallenge(payment.id);
    const accepted = await h.waitFor(
      payment.id,
      (view) => view.status === 'authorized' && view.challenged !== true,
    );
    expect(accepted.status).toBe('authorized');
    const services = servicesOf(accepted.transactionReference);
    expect(precededByRead(services, 'acceptChallenge')).toBe(true);
  });
});
