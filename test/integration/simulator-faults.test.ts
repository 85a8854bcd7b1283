/**
 * Fault injection over real HTTP, seen through the real client: technical
 * refusals, latency (fixed and distributed, never blocking other calls),
 * hanging and reset connections, HTTP errors, bad or missing seals, and the
 * worst case, processed and then dropped. Matching, counting and seeded
 * rates; the control endpoints.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretKey } from '../../src/sips/secret-key.ts';
import type { FaultSpec } from '../../src/simulator/index.ts';
import {
  answered,
  EXPIRY,
  MERCHANT_ID,
  startHarness,
  type Harness,
} from '../support/simulator-harness.ts';

let h: Harness;
let seq = 0;
const ref = (label = 'FLT') => `${label}${++seq}`;

beforeEach(async () => {
  h = await startHarness({ control: true });
});

afterEach(async () => {
  await h.close();
});

const order = (transactionReference = ref(), extra: Record<string, unknown> = {}) => ({
  amount: 2_500,
  currencyCode: '978',
  cardNumber: '4000000000000002',
  cardExpiryDate: EXPIRY,
  transactionReference,
  ...extra,
});

describe('technical refusals', () => {
  it.each(['90', '99'] as const)(
    'answers a sealed %s without processing the call',
    async (code) => {
      h.sim.faults.add({ type: 'responseCode', responseCode: code, times: 1 });
      const fields = order();
      const first = await h.client.cardOrder(fields);
      expect(first).toMatchObject({ kind: 'retryable', responseCode: code });
      expect(h.sim.store.has(MERCHANT_ID, fields.transactionReference)).toBe(false);
      expect(h.sim.ledger.requests({ fault: 'responseCode' })).toEqual([
        expect.objectContaining({ responseCode: code, processed: false }),
      ]);
      // The fault was for one call: the retry goes through (and is not a reused reference).
      const retry = await h.client.cardOrder(fields);
      expect(retry).toMatchObject({ kind: 'ok', responseCode: '00' });
    },
  );

  it('wallet functions get walletResponseCode 90', async () => {
    h.sim.faults.add({ type: 'responseCode', responseCode: '90', match: { service: 'addCard' } });
    const result = await h.client.addCard({
      merchantWalletId: 'w1',
      cardNumber: '4000000000000002',
      cardExpiryDate: EXPIRY,
    });
    expect(result).toMatchObject({ kind: 'retryable', responseCode: '90' });
    expect(answered(result).walletResponseCode).toBe('90');
  });
});

describe('latency', () => {
  it('delays the answer by a fixed time, after processing', async () => {
    h.sim.faults.add({ type: 'latency', ms: 1_000 });
    const fields = order();
    const started = performance.now();
    let answerReceived = false;
    const pending = h.client.cardOrder(fields).finally(() => {
      answerReceived = true;
    });
    // Processed as soon as it arrives, answered a second later.
    await expect
      .poll(() => h.sim.store.has(MERCHANT_ID, fields.transactionReference), { interval: 5 })
      .toBe(true);
    expect(answerReceived).toBe(false);
    expect((await pending).kind).toBe('ok');
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('a client timing out during the latency leaves a processed transaction behind', async () => {
    h.sim.faults.add({ type: 'latency', ms: 1_000, times: 1 });
    const fields = order();
    const result = await h.clientWith({ timeoutMs: 200 }).cardOrder(fields);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'timeout' });
    const inquiry = answered(
      await h.client.getTransactionData({ transactionReference: fields.transactionReference }),
    );
    expect(inquiry.transactionStatus).toBe('TO_CAPTURE');
  });

  it('draws distributed latencies from the seeded generator (same seed, same delays)', async () => {
    const specs: FaultSpec[] = [
      {
        type: 'latency',
        distribution: 'uniform',
        min: 10,
        max: 50,
        match: { service: 'cardOrder' },
      },
      { type: 'latency', distribution: 'normal', mean: 100, sd: 10, match: { service: 'cancel' } },
    ];
    const other = await startHarness({ faultSeed: 7, faults: specs });
    const again = await startHarness({ faultSeed: 7, faults: specs });
    try {
      const draw = (harness: Harness, service: string) =>
        Array.from({ length: 200 }, () => harness.sim.faults.evaluate({ service }).latencyMs);
      const uniform = draw(other, 'cardOrder');
      expect(draw(again, 'cardOrder')).toEqual(uniform);
      expect(Math.min(...uniform)).toBeGreaterThanOrEqual(10);
      expect(Math.max(...uniform)).toBeLessThanOrEqual(50);
      const normal = draw(other, 'cancel');
      const mean = normal.reduce((a, b) => a + b, 0) / normal.length;
      expect(mean).toBeGreaterThan(97);
      expect(mean).toBeLessThan(103);
      expect(draw(other, 'getTransactionData').every((ms) => ms === 0)).toBe(true);
    } finally {
      await other.close();
      await again.close();
    }
  });

  it('keeps hundreds of delayed calls in flight at once (timers, not a queue)', async () => {
    h.sim.faults.add({ type: 'latency', ms: 250 });
    const calls = 400;
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        h.client.getTransactionData({ transactionReference: `LAT${i}` }),
      ),
    );
    const elapsed = performance.now() - started;
    expect(
      results.every((result) => result.kind === 'invalid' && result.responseCode === '25'),
    ).toBe(true);
    // Serialised, 400 calls × 250 ms would take 100 s.
    expect(elapsed).toBeLessThan(5_000);
    expect(h.sim.ledger.countRequests({ fault: 'latency' })).toBe(calls);
  });
});

describe('connection faults', () => {
  it('hang: no answer until the client gives up; not processed', async () => {
    h.sim.faults.add({ type: 'hang', times: 1 });
    const fields = order();
    const result = await h.clientWith({ timeoutMs: 300 }).cardOrder(fields);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'timeout' });
    expect(h.sim.store.has(MERCHANT_ID, fields.transactionReference)).toBe(false);
    expect(h.sim.ledger.requests({ fault: 'hang' })).toEqual([
      expect.objectContaining({
        processed: false,
        transactionReference: fields.transactionReference,
      }),
    ]);
  });

  it('hang after processing: the transaction exists although the client saw nothing', async () => {
    h.sim.faults.add({ type: 'hang', afterProcessing: true, times: 1 });
    const fields = order();
    const result = await h.clientWith({ timeoutMs: 300 }).cardOrder(fields);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'timeout' });
    expect(h.sim.ledger.countAuthorizations(fields.transactionReference)).toBe(1);
  });

  it('reset: the connection is destroyed without an answer', async () => {
    h.sim.faults.add({ type: 'reset', times: 1 });
    const fields = order();
    const result = await h.client.cardOrder(fields);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'reset' });
    expect(h.sim.store.has(MERCHANT_ID, fields.transactionReference)).toBe(false);
  });

  it.each([500, 502])('HTTP %i with an HTML page', async (status) => {
    h.sim.faults.add({ type: 'httpStatus', status, times: 1 });
    const fields = order();
    const result = await h.client.cardOrder(fields);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'http_status', httpStatus: status });
    if (result.kind === 'unknown') expect(result.detail).toContain('<html>');
    expect(h.sim.store.has(MERCHANT_ID, fields.transactionReference)).toBe(false);
    const raw = await h.raw('getTransactionData', { transactionReference: 'X1' });
    expect(raw.status).toBe(200);
  });

  it('process then drop: authorised, stored, in the ledger, and the client cannot know', async () => {
    h.sim.faults.add({ type: 'dropAfterProcessing', match: { service: 'cardOrder' }, times: 1 });
    const fields = order();
    const result = await h.client.cardOrder(fields);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'reset' });
    const inquiry = answered(
      await h.client.getTransactionData({ transactionReference: fields.transactionReference }),
    );
    expect(inquiry).toMatchObject({ transactionStatus: 'TO_CAPTURE', responseCode: '00' });
    expect(h.sim.ledger.countAuthorizations(fields.transactionReference)).toBe(1);
    expect(h.sim.ledger.requests({ fault: 'dropAfterProcessing' })).toEqual([
      expect.objectContaining({ processed: true, responseCode: '00' }),
    ]);
    // A blind resend is caught by the reference check.
    expect(answered(await h.client.cardOrder(fields)).responseCode).toBe('94');
  });
});

describe('seal faults', () => {
  it('corruptSeal: processed, but the answer does not verify', async () => {
    h.sim.faults.add({ type: 'corruptSeal', times: 1 });
    const fields = order();
    const result = await h.client.cardOrder(fields);
    expect(result).toMatchObject({ kind: 'seal_mismatch', seal: { reason: 'mismatch' } });
    expect(h.sim.ledger.countAuthorizations(fields.transactionReference)).toBe(1);
  });

  it('missingSeal: processed, the answer carries no seal', async () => {
    h.sim.faults.add({ type: 'missingSeal', times: 2 });
    const result = await h.client.cardOrder(order());
    expect(result).toMatchObject({ kind: 'seal_mismatch', seal: { reason: 'missing' } });
    const tolerant = await h.clientWith({ allowUnsealedResponses: true }).cardOrder(order());
    expect(tolerant).toMatchObject({ kind: 'ok', responseCode: '00' });
    expect(answered(tolerant).seal).toBeUndefined();
  });
});

describe('matching and counting', () => {
  it('matches by merchant, service, card, amount and reference', async () => {
    const other = '123456789012345';
    const scoped = await startHarness({
      merchants: [{ merchantId: other, keys: { '1': 'other-key' } }],
      faults: [
        { type: 'responseCode', responseCode: '99', match: { merchantId: other } },
        { type: 'responseCode', responseCode: '90', match: { service: 'cancel' } },
        {
          type: 'httpStatus',
          status: 502,
          match: { pan: '4000000000000119', service: ['cardOrder', 'walletOrder'] },
        },
        { type: 'reset', match: { amount: 4_242 } },
        { type: 'hang', match: { transactionReference: 'HANGME' } },
      ],
    });
    try {
      expect(answered(await scoped.client.cardOrder(order())).responseCode).toBe('00');
      const otherShop = await scoped.raw('cardOrder', order(), {
        merchantId: other,
        key: new SecretKey('other-key'),
      });
      expect(otherShop.body.responseCode).toBe('99');
      const cancel = await scoped.client.cancel({
        transactionReference: 'ANY1',
        operationAmount: 1,
        currencyCode: '978',
      });
      expect(cancel).toMatchObject({ kind: 'retryable', responseCode: '90' });
      const byCard = await scoped.client.cardOrder(
        order(ref(), { cardNumber: '4000000000000119' }),
      );
      expect(byCard).toMatchObject({ kind: 'unknown', httpStatus: 502 });
      // A wallet card matches by its stored PAN.
      answered(
        await scoped.client.addCard({
          merchantWalletId: 'w',
          cardNumber: '4000000000000119',
          cardExpiryDate: EXPIRY,
        }),
      );
      const byWalletCard = await scoped.client.walletOrder({
        merchantWalletId: 'w',
        paymentMeanId: '1',
        amount: 100,
        currencyCode: '978',
        transactionReference: ref(),
      });
      expect(byWalletCard).toMatchObject({ kind: 'unknown', httpStatus: 502 });
      const byAmount = await scoped.client.cardOrder(order(ref(), { amount: 4_242 }));
      expect(byAmount).toMatchObject({ kind: 'unknown', reason: 'reset' });
      const byReference = await scoped.clientWith({ timeoutMs: 200 }).cardOrder(order('HANGME'));
      expect(byReference).toMatchObject({ kind: 'unknown', reason: 'timeout' });
    } finally {
      await scoped.close();
    }
  });

  it('fires for the next N matching calls, after skipping some', async () => {
    h.sim.faults.add({ type: 'responseCode', responseCode: '90', times: 2, skip: 1 });
    const kinds = [];
    for (let i = 0; i < 5; i++) kinds.push((await h.client.cardOrder(order())).kind);
    expect(kinds).toEqual(['ok', 'retryable', 'retryable', 'ok', 'ok']);
    expect(h.sim.faults.list()).toHaveLength(0);
  });

  it('fires for a seeded share of calls, the same way on every run', async () => {
    const run = async () => {
      const sim = await startHarness({
        faultSeed: 42,
        faults: [{ type: 'responseCode', responseCode: '90', rate: 0.3 }],
      });
      try {
        const kinds: string[] = [];
        for (let i = 0; i < 60; i++) {
          kinds.push((await sim.client.getTransactionData({ transactionReference: `R${i}` })).kind);
        }
        return kinds;
      } finally {
        await sim.close();
      }
    };
    const first = await run();
    expect(await run()).toEqual(first);
    const fired = first.filter((kind) => kind === 'retryable').length;
    expect(fired).toBeGreaterThan(8);
    expect(fired).toBeLessThan(30);
  });

  it('adds latency and a terminal fault together', async () => {
    h.sim.faults.add([
      { type: 'latency', ms: 200 },
      { type: 'responseCode', responseCode: '99' },
    ]);
    const started = performance.now();
    const result = await h.client.getTransactionData({ transactionReference: 'BOTH1' });
    expect(result).toMatchObject({ kind: 'retryable', responseCode: '99' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('control endpoints', () => {
  it('adds, lists and removes faults', async () => {
    const added = await h.control('POST', 'faults', [
      { id: 'slow', type: 'latency', ms: 10 },
      { type: 'responseCode', responseCode: '90', match: { service: 'refund' }, times: 3 },
    ]);
    expect(added).toMatchObject({ status: 201, body: { ids: ['slow', expect.any(String)] } });
    const listed = await h.control('GET', 'faults');
    expect(listed.body.faults).toHaveLength(2);
    expect((await h.control('DELETE', 'faults/slow')).status).toBe(200);
    expect((await h.control('DELETE', 'faults/slow')).status).toBe(404);
    expect(h.sim.faults.list().map((fault) => fault.spec.type)).toEqual(['responseCode']);
    expect((await h.control('DELETE', 'faults')).status).toBe(200);
    expect(h.sim.faults.list()).toHaveLength(0);
    const invalid = await h.control('POST', 'faults', { type: 'responseCode', responseCode: '05' });
    expect(invalid.status).toBe(400);
  });

  it('answers 404 on every control path when control is off', async () => {
    const closed = await startHarness();
    try {
      for (const [method, path] of [
        ['GET', 'ledger'],
        ['POST', 'faults'],
        ['POST', 'reset'],
        ['POST', 'clock/advance'],
      ] as const) {
        expect((await closed.control(method, path, {})).status).toBe(404);
      }
    } finally {
      await closed.close();
    }
  });

  it('closes promptly with calls hanging and delayed', async () => {
    h.sim.faults.add({ type: 'hang', match: { service: 'cardOrder' } });
    h.sim.faults.add({ type: 'latency', ms: 60_000, match: { service: 'cancel' } });
    const hanging = h.clientWith({ timeoutMs: 10_000 }).cardOrder(order());
    const slow = h.clientWith({ timeoutMs: 10_000 }).cancel({
      transactionReference: 'S1',
      operationAmount: 1,
      currencyCode: '978',
    });
    // Both calls arrived and are held: the hang and the latency fired.
    await expect.poll(() => h.sim.faults.list().filter((fault) => fault.fired > 0).length).toBe(2);
    const started = performance.now();
    await h.sim.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect((await hanging).kind).toBe('unknown');
    expect((await slow).kind).toBe('unknown');
  });
});
