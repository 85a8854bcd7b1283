/**
 * The client where the reference is unsure, against the simulator over real
 * HTTP playing each reading: getTransactionData's own result in
 * getTransDataResponseCode or in responseCode (reference §5.6), answers
 * sealed with the request's algorithm or always with HMAC-SHA-256 (§4.2),
 * and the interfaceVersion pattern the client and the simulator share (§2).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SealAlgorithm } from '../../src/sips/seal.ts';
import { inquiryAnswer } from '../../src/sips/translate.ts';
import {
  ANSWER_SEAL_ALGORITHMS,
  INQUIRY_CODE_FIELDS,
  type AnswerSealAlgorithm,
} from '../../src/simulator/index.ts';
import { EXPIRY, startHarness, type Harness } from '../support/simulator-harness.ts';

const ACCEPTED_CARD = '4000000000000002';
const REFUSED_CARD = '4000000000000119';

const order = (transactionReference: string, cardNumber: string) =>
  ({
    transactionReference,
    amount: 2500,
    currencyCode: '978',
    cardNumber,
    cardExpiryDate: EXPIRY,
    cardCSCValue: '123',
    captureMode: 'AUTHOR_CAPTURE',
    captureDay: 0,
    orderChannel: 'INTERNET',
  }) as const;

describe.each(INQUIRY_CODE_FIELDS)("getTransactionData's result in %s", (inquiryCodeField) => {
  let h: Harness;
  const prefix = inquiryCodeField === 'responseCode' ? 'RC' : 'GT';

  beforeAll(async () => {
    h = await startHarness({ inquiryCodeField });
  });

  afterAll(async () => {
    await h.close();
  });

  it('answers in that reading', async () => {
    const reference = `${prefix}SHAPE1`;
    expect((await h.client.cardOrder(order(reference, REFUSED_CARD))).kind).toBe('refused');
    const found = await h.raw('getTransactionData', { transactionReference: reference });
    const unknown = await h.raw('getTransactionData', { transactionReference: `${prefix}NONE` });
    expect(found.sealValid && unknown.sealValid).toBe(true);
    if (inquiryCodeField === 'responseCode') {
      // One field, the call's result: 00 although the payment was refused.
      expect(found.body).toMatchObject({ responseCode: '00', transactionStatus: 'REFUSED' });
      expect(found.body).not.toHaveProperty('getTransDataResponseCode');
      expect(unknown.body).toEqual({ responseCode: '25', seal: expect.any(String) });
    } else {
      expect(found.body).toMatchObject({
        getTransDataResponseCode: '00',
        responseCode: '05',
        transactionStatus: 'REFUSED',
      });
      expect(unknown.body).toMatchObject({ getTransDataResponseCode: '25', responseCode: '25' });
    }
  });

  it('is understood by the inquiry: accepted, refused and unknown transactions', async () => {
    const accepted = `${prefix}ACCEPTED1`;
    const refused = `${prefix}REFUSED1`;
    expect((await h.client.cardOrder(order(accepted, ACCEPTED_CARD))).kind).toBe('ok');
    expect((await h.client.cardOrder(order(refused, REFUSED_CARD))).kind).toBe('refused');

    const read = async (transactionReference: string) => {
      const result = await h.client.getTransactionData({ transactionReference });
      return { result, answer: inquiryAnswer(result, 'author_capture') };
    };
    const first = await read(accepted);
    expect(first.result).toMatchObject({ kind: 'ok', responseCode: '00' });
    expect(first.answer).toMatchObject({
      found: true,
      view: { state: 'authorized', originalAmount: 2500, remainingAmount: 2500 },
    });
    const second = await read(refused);
    expect(second.result).toMatchObject({ kind: 'ok', responseCode: '00' });
    expect(second.answer).toMatchObject({ found: true, view: { state: 'refused' } });
    const third = await read(`${prefix}NEVERSENT`);
    expect(third.result).toMatchObject({ kind: 'invalid', responseCode: '25' });
    expect(third.answer).toEqual({ found: false });
  });
});

/** The algorithm the answer to a request sealed with `requested` verifies under. */
function answerAlgorithm(reading: AnswerSealAlgorithm, requested: SealAlgorithm): SealAlgorithm {
  return reading === 'request' ? requested : 'HMAC-SHA-256';
}

describe.each(ANSWER_SEAL_ALGORITHMS)('answers sealed the %s way', (answerSealAlgorithm) => {
  let h: Harness;
  const prefix = answerSealAlgorithm === 'request' ? 'SR' : 'SH';

  beforeAll(async () => {
    h = await startHarness({ answerSealAlgorithm, control: true });
  });

  afterAll(async () => {
    await h.close();
  });

  it('trusts the answers to a SHA-256 request and says which algorithm sealed them', async () => {
    const sips = h.clientWith({ sealAlgorithm: 'SHA-256' });
    const expected = answerAlgorithm(answerSealAlgorithm, 'SHA-256');
    const reference = `${prefix}SHA2561`;
    const paid = await sips.cardOrder(order(reference, ACCEPTED_CARD));
    expect(paid).toMatchObject({ kind: 'ok', responseCode: '00', sealAlgorithm: expected });
    expect(paid.call.request.sealAlgorithm).toBe('SHA-256');

    const read = await sips.getTransactionData({ transactionReference: reference });
    expect(read).toMatchObject({ kind: 'ok', sealAlgorithm: expected });
    expect(inquiryAnswer(read, 'author_capture')).toMatchObject({
      found: true,
      view: { state: 'authorized' },
    });
    // Refusals are sealed the same way, and trusted the same way.
    const unknown = await sips.getTransactionData({ transactionReference: `${prefix}NONE` });
    expect(unknown).toMatchObject({ kind: 'invalid', responseCode: '25', sealAlgorithm: expected });
  });

  it('trusts the answers to a default (HMAC-SHA-256) request', async () => {
    const paid = await h.client.cardOrder(order(`${prefix}DEFAULT1`, ACCEPTED_CARD));
    expect(paid).toMatchObject({ kind: 'ok', sealAlgorithm: 'HMAC-SHA-256' });
  });

  it('still reports a seal that matches neither algorithm as a mismatch', async () => {
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
    const sips = h.clientWith({ sealAlgorithm: 'SHA-256' });
    const result = await sips.cardOrder(order(`${prefix}CORRUPT1`, ACCEPTED_CARD));
    expect(result).toMatchObject({
      kind: 'seal_mismatch',
      seal: { reason: 'mismatch', algorithm: 'SHA-256' },
    });
  });
});

describe('readings switched at run time', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ control: true });
  });

  afterAll(async () => {
    await h.close();
  });

  it('through the control API, back to the configured readings on reset', async () => {
    expect((await h.control('GET', 'readings')).body).toEqual({
      inquiryCodeField: 'getTransDataResponseCode',
      answerSealAlgorithm: 'request',
    });
    const sips = h.clientWith({ sealAlgorithm: 'SHA-256' });
    expect((await sips.cardOrder(order('SWITCH1', ACCEPTED_CARD))).kind).toBe('ok');

    const switched = await h.control('PUT', 'readings', {
      inquiryCodeField: 'responseCode',
      answerSealAlgorithm: 'HMAC-SHA-256',
    });
    expect(switched).toEqual({
      status: 200,
      body: { inquiryCodeField: 'responseCode', answerSealAlgorithm: 'HMAC-SHA-256' },
    });
    const read = await sips.getTransactionData({ transactionReference: 'SWITCH1' });
    expect(read).toMatchObject({ kind: 'ok', sealAlgorithm: 'HMAC-SHA-256' });
    if (read.kind === 'ok') expect(read.response).not.toHaveProperty('getTransDataResponseCode');

    expect((await h.control('PUT', 'readings', { inquiryCodeField: 'code' })).status).toBe(400);
    expect((await h.control('PUT', 'readings', { other: 'x' })).status).toBe(400);

    expect((await h.control('POST', 'reset')).status).toBe(200);
    expect(h.sim.control.readings()).toEqual({
      inquiryCodeField: 'getTransDataResponseCode',
      answerSealAlgorithm: 'request',
    });
  });

  it('programmatically, one reading at a time', async () => {
    expect(h.sim.control.setReadings({ answerSealAlgorithm: 'HMAC-SHA-256' })).toEqual({
      inquiryCodeField: 'getTransDataResponseCode',
      answerSealAlgorithm: 'HMAC-SHA-256',
    });
    const sips = h.clientWith({ sealAlgorithm: 'HMAC-SHA-512' });
    const paid = await sips.cardOrder(order('SWITCH2', ACCEPTED_CARD));
    expect(paid).toMatchObject({ kind: 'ok', sealAlgorithm: 'HMAC-SHA-256' });
    h.sim.control.reset();
  });
});

describe('interfaceVersion: the client sends a value exactly when the simulator accepts it', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });

  afterAll(async () => {
    await h.close();
  });

  /** Whether the client builds a request with this version number (it checks before sending). */
  function clientAccepts(version: string): boolean {
    try {
      h.clientWith({ interfaceVersion: version }).buildRequest('getTransactionData', {
        transactionReference: 'IFV1',
      });
      return true;
    } catch (error) {
      expect(error).toMatchObject({ field: 'interfaceVersion', responseCode: '30' });
      return false;
    }
  }

  /** Whether the simulator takes a request with this version number (30 names it otherwise). */
  async function simulatorAccepts(version: string): Promise<boolean> {
    const answer = await h.raw(
      'getTransactionData',
      { transactionReference: 'IFV1' },
      { interfaceVersion: `DR_WS_${version}` },
    );
    return !(
      answer.body.getTransDataResponseCode === '30' &&
      answer.body.errorFieldName === 'interfaceVersion'
    );
  }

  it('agrees on documented and malformed values', async () => {
    const expected: Record<string, boolean> = {
      '2.55': true,
      '2.58': true,
      '2.3': true,
      '3.0': true,
      '10.100': true,
      '2': false,
      '2.5.1': false,
      '2.': false,
      '.55': false,
      '2,55': false,
      'v2.55': false,
      '2.55 ': false,
      '': false,
      latest: false,
      '２.５５': false,
    };
    for (const [version, accepted] of Object.entries(expected)) {
      expect(clientAccepts(version), `client ${version}`).toBe(accepted);
      expect(await simulatorAccepts(version), `simulator ${version}`).toBe(accepted);
    }
  });

  it('agrees on any value made of digits, dots and a few other characters', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[0-9.a_]{0,6}$/), async (version) => {
        expect(clientAccepts(version)).toBe(await simulatorAccepts(version));
      }),
      { numRuns: 60 },
    );
  });
});
