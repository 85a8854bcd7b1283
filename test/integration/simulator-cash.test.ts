/**
 * Cash management and time: partial and total validations, cancellations
 * and refunds with the remaining amounts getTransactionData reports; the
 * remittance and expiry that follow the simulator clock; the ledger.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answered, EXPIRY, startHarness, type Harness } from '../support/simulator-harness.ts';

let h: Harness;
let seq = 0;
const ref = (label: string) => `${label}${++seq}`;
const HOUR = 60 * 60 * 1000;

beforeEach(async () => {
  h = await startHarness({ control: true });
});

afterEach(async () => {
  await h.close();
});

async function order(extra: Record<string, unknown> = {}) {
  const transactionReference = ref('CASH');
  const response = answered(
    await h.client.cardOrder({
      amount: 10_000,
      currencyCode: '978',
      cardNumber: '4000000000000002',
      cardExpiryDate: EXPIRY,
      cardCSCValue: '123',
      transactionReference,
      ...extra,
    }),
  );
  expect(response.responseCode).toBe('00');
  return transactionReference;
}

async function read(transactionReference: string) {
  return answered(await h.client.getTransactionData({ transactionReference }));
}

const op = (transactionReference: string, operationAmount: number, currencyCode = '978') => ({
  transactionReference,
  operationAmount,
  currencyCode,
});

describe('validate, cancel, refund', () => {
  it('keeps the amounts coherent through a partial validation, cancellation and refunds', async () => {
    const tx = await order({ captureMode: 'VALIDATION', captureDay: 3 });
    expect(await read(tx)).toMatchObject({
      transactionStatus: 'TO_VALIDATE',
      originAmount: 10_000,
      currentAmount: 10_000,
      remainingAmount: 10_000,
      captureLimitDate: '20260118',
      lastOperationName: 'AUTHORISATION',
    });

    const validated = answered(await h.client.validate(op(tx, 6_000)));
    expect(validated).toMatchObject({
      responseCode: '00',
      newStatus: 'TO_CAPTURE',
      newAmount: 6_000,
      captureLimitDate: '20260115',
      operationDateTime: '2026-01-15T10:00:00+00:00',
      authorisationId: expect.stringMatching(/^\d{6}$/),
    });
    expect(await read(tx)).toMatchObject({
      transactionStatus: 'TO_CAPTURE',
      originAmount: 10_000,
      currentAmount: 6_000,
      remainingAmount: 6_000,
      lastOperationName: 'VALIDATE',
    });
    const again = answered(await h.client.validate(op(tx, 1_000)));
    expect(again).toMatchObject({ responseCode: '24', newStatus: 'TO_CAPTURE' });

    const cancelled = answered(await h.client.cancel(op(tx, 1_000)));
    expect(cancelled).toMatchObject({
      responseCode: '00',
      newStatus: 'TO_CAPTURE',
      newAmount: 5_000,
    });
    expect(await read(tx)).toMatchObject({ currentAmount: 5_000, remainingAmount: 5_000 });

    // The remittance run of the day (22:00 UTC) captures what is left.
    h.sim.clock.advance(12 * HOUR);
    expect(await read(tx)).toMatchObject({
      transactionStatus: 'CAPTURED',
      currentAmount: 5_000,
      remainingAmount: 5_000,
      lastOperationName: 'CAPTURE',
      lastOperationDateTime: '2026-01-15T22:00:00+00:00',
    });

    const partial = answered(await h.client.refund(op(tx, 2_000)));
    expect(partial).toMatchObject({ responseCode: '00', newStatus: 'CAPTURED', newAmount: 3_000 });
    expect(await read(tx)).toMatchObject({ remainingAmount: 3_000, lastOperationName: 'REFUND' });
    const tooMuch = answered(await h.client.refund(op(tx, 3_001)));
    expect(tooMuch.responseCode).toBe('51');
    const rest = answered(await h.client.refund(op(tx, 3_000)));
    expect(rest).toMatchObject({ responseCode: '00', newStatus: 'CREDITED', newAmount: 0 });
    const after = answered(await h.client.refund(op(tx, 1)));
    expect(after).toMatchObject({ responseCode: '24', newStatus: 'CREDITED' });
    expect(await read(tx)).toMatchObject({ transactionStatus: 'CREDITED', remainingAmount: 0 });

    expect(h.sim.ledger.movements(tx).map((m) => [m.kind, m.amount, m.status])).toEqual([
      ['authorisation', 10_000, 'TO_VALIDATE'],
      ['validation', 6_000, 'TO_CAPTURE'],
      ['cancellation', 4_000, 'TO_CAPTURE'],
      ['cancellation', 1_000, 'TO_CAPTURE'],
      ['capture', 5_000, 'CAPTURED'],
      ['refund', 2_000, 'CAPTURED'],
      ['refund', 3_000, 'CREDITED'],
    ]);
    expect(h.sim.ledger.movements(tx)[2]?.implicit).toBe(true);
  });

  it('validates only from TO_VALIDATE and never above what remains', async () => {
    const tx = await order({ captureMode: 'VALIDATION', captureDay: 5 });
    expect(answered(await h.client.validate(op(tx, 10_001))).responseCode).toBe('51');
    // Validating nothing would release the whole authorisation: refused, nothing moves.
    expect(answered(await h.client.validate(op(tx, 0)))).toMatchObject({
      responseCode: '12',
      errorFieldName: 'operationAmount',
    });
    expect(answered(await h.client.cancel(op(tx, 0))).responseCode).toBe('12');
    expect(h.sim.ledger.movements(tx).map((movement) => movement.kind)).toEqual(['authorisation']);
    expect(answered(await h.client.validate(op(tx, 10_000)))).toMatchObject({
      responseCode: '00',
      newAmount: 10_000,
    });
    const captureMode = await order();
    expect(answered(await h.client.validate(op(captureMode, 100)))).toMatchObject({
      responseCode: '24',
      newStatus: 'TO_CAPTURE',
    });
  });

  it('cancels partially (same status) then totally (CANCELLED)', async () => {
    const tx = await order({ captureDay: 2 });
    expect(answered(await h.client.cancel(op(tx, 2_500)))).toMatchObject({
      responseCode: '00',
      newStatus: 'TO_CAPTURE',
      newAmount: 7_500,
    });
    expect(answered(await h.client.cancel(op(tx, 7_501))).responseCode).toBe('51');
    expect(answered(await h.client.cancel(op(tx, 100, '840')))).toMatchObject({
      responseCode: '12',
      errorFieldName: 'currencyCode',
    });
    expect(answered(await h.client.cancel(op(tx, 7_500)))).toMatchObject({
      responseCode: '00',
      newStatus: 'CANCELLED',
      newAmount: 0,
    });
    expect(await read(tx)).toMatchObject({
      transactionStatus: 'CANCELLED',
      currentAmount: 0,
      remainingAmount: 0,
      lastOperationName: 'CANCEL',
    });
    expect(answered(await h.client.cancel(op(tx, 1)))).toMatchObject({
      responseCode: '24',
      newStatus: 'CANCELLED',
    });
    // Nothing is remitted for a cancelled transaction.
    h.sim.clock.advanceDays(5);
    expect((await read(tx)).transactionStatus).toBe('CANCELLED');
  });

  it('refuses a refund before remittance with 24 and newStatus TO_CAPTURE', async () => {
    const tx = await order({ captureDay: 1 });
    expect(answered(await h.client.refund(op(tx, 100)))).toMatchObject({
      responseCode: '24',
      newStatus: 'TO_CAPTURE',
    });
    h.sim.clock.advanceDays(2);
    expect(answered(await h.client.cancel(op(tx, 100)))).toMatchObject({
      responseCode: '24',
      newStatus: 'CAPTURED',
    });
    expect(answered(await h.client.refund(op(tx, 100))).responseCode).toBe('00');
  });

  it('answers 25 for unknown transactions', async () => {
    for (const call of [
      h.client.validate(op('UNKNOWN1', 1)),
      h.client.cancel(op('UNKNOWN1', 1)),
      h.client.refund(op('UNKNOWN1', 1)),
      h.client.acceptChallenge({ transactionReference: 'UNKNOWN1' }),
    ]) {
      expect(answered(await call).responseCode).toBe('25');
    }
  });
});

describe('time', () => {
  it('remits AUTHOR_CAPTURE transactions captureDay days later, at the nightly run', async () => {
    const tx = await order({ captureDay: 2 });
    expect((await read(tx)).captureLimitDate).toBe('20260117');
    h.sim.clock.advanceDays(2); // 2026-01-17 10:00: not yet
    expect((await read(tx)).transactionStatus).toBe('TO_CAPTURE');
    h.sim.clock.advance(12 * HOUR); // 22:00
    expect(await read(tx)).toMatchObject({
      transactionStatus: 'CAPTURED',
      lastOperationDateTime: '2026-01-17T22:00:00+00:00',
    });
  });

  it('expires VALIDATION transactions not validated by the capture limit', async () => {
    const tx = await order({ captureMode: 'VALIDATION', captureDay: 1 });
    expect((await read(tx)).captureLimitDate).toBe('20260116');
    h.sim.clock.advance(24 * HOUR);
    expect((await read(tx)).transactionStatus).toBe('TO_VALIDATE');
    h.sim.clock.advance(12 * HOUR);
    expect(await read(tx)).toMatchObject({
      transactionStatus: 'EXPIRED',
      remainingAmount: 0,
      currentAmount: 0,
      lastOperationName: 'EXPIRY',
    });
    expect(answered(await h.client.validate(op(tx, 100)))).toMatchObject({
      responseCode: '24',
      newStatus: 'EXPIRED',
    });
    expect(h.sim.ledger.countMovements('expiry', tx)).toBe(1);
  });

  it('moves time and runs the remittance through the control endpoints', async () => {
    const tx = await order({ captureDay: 1 });
    const before = await h.control('GET', 'clock');
    expect(before.body).toMatchObject({ iso: '2026-01-15T10:00:00+00:00', offsetMs: 0 });
    const advanced = await h.control('POST', 'clock/advance', { days: 1 });
    expect(advanced.body).toMatchObject({ iso: '2026-01-16T10:00:00+00:00' });
    const byMs = await h.control('POST', 'clock/advance', { ms: 12 * HOUR });
    expect(byMs.body).toMatchObject({ iso: '2026-01-16T22:00:00+00:00' });

    // Nothing read the transaction yet: the explicit run applies the remittance.
    expect(h.sim.ledger.countMovements('capture', tx)).toBe(0);
    const run = await h.control('POST', 'remittance');
    expect(run.body.settled).toBe(1);
    expect(h.sim.ledger.countMovements('capture', tx)).toBe(1);

    const view = await h.control('GET', `transactions/${h.client.merchantId}/${tx}`);
    expect(view.body).toMatchObject({ status: 'CAPTURED', maskedPan: '4000##########02' });
    expect(JSON.stringify(view.body)).not.toContain('4000000000000002');
    expect((await h.control('POST', 'clock/advance', { ms: -5 })).status).toBe(400);
  });
});

describe('ledger', () => {
  it('records requests and movements, with card data masked', async () => {
    const tx = await order();
    await h.client.cancel(op(tx, 1_000));
    await h.client.getTransactionData({ transactionReference: tx });
    await h.client.cardOrder({
      amount: 100,
      currencyCode: '978',
      cardNumber: '4000000000000119',
      cardExpiryDate: EXPIRY,
      cardCSCValue: '999',
      transactionReference: ref('REF'),
    });

    const ledger = h.sim.ledger;
    expect(ledger.countRequests({ service: 'cardOrder' })).toBe(2);
    expect(ledger.countRequests({ transactionReference: tx })).toBe(3);
    expect(ledger.countAuthorizations(tx)).toBe(1);
    expect(ledger.requests({ service: 'cardOrder', responseCode: '05' })).toHaveLength(1);
    const first = ledger.requests({ transactionReference: tx })[0];
    expect(first).toMatchObject({
      service: 'cardOrder',
      merchantId: h.client.merchantId,
      responseCode: '00',
      httpStatus: 200,
      processed: true,
      maskedPan: '4000##########02',
      amount: 10_000,
      at: Date.UTC(2026, 0, 15, 10),
    });
    expect(ledger.movements(tx).map((m) => m.kind)).toEqual(['authorisation', 'cancellation']);

    const dump = JSON.stringify({ requests: ledger.requests(), movements: ledger.movements() });
    expect(dump).not.toContain('4000000000000002');
    expect(dump).not.toContain('4000000000000119');
    expect(dump).not.toContain('"999"');

    const remote = await h.control('GET', `ledger?transactionReference=${tx}`);
    expect(remote.body).toMatchObject({
      requests: [
        expect.objectContaining({ service: 'cardOrder' }),
        expect.objectContaining({ service: 'cancel' }),
        expect.objectContaining({ service: 'getTransactionData' }),
      ],
      movements: [
        expect.objectContaining({ kind: 'authorisation', amount: 10_000 }),
        expect.objectContaining({ kind: 'cancellation', amount: 1_000 }),
      ],
    });

    expect((await h.control('POST', 'reset')).status).toBe(200);
    expect(ledger.requests()).toHaveLength(0);
    expect(
      answered(await h.client.getTransactionData({ transactionReference: tx }))
        .getTransDataResponseCode,
    ).toBe('25');
  });

  it('keeps only the newest requests when the log is capped', async () => {
    const capped = await startHarness({ ledger: { maxRequests: 5 } });
    try {
      for (let i = 0; i < 12; i++) {
        await capped.client.getTransactionData({ transactionReference: `CAP${i}` });
      }
      const kept = capped.sim.ledger.requests();
      expect(kept).toHaveLength(5);
      expect(kept.map((r) => r.transactionReference)).toEqual([
        'CAP7',
        'CAP8',
        'CAP9',
        'CAP10',
        'CAP11',
      ]);
      expect(capped.sim.ledger.totalRequests()).toBe(12);
    } finally {
      await capped.close();
    }
  });
});
