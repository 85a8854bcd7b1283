/**
 * The simulator's envelope over real HTTP: content type, JSON, merchant, key
 * version and seal, interface version, required and well-formatted fields,
 * enabled functions, and the shape of each function family's answer.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeSeal, verifySeal } from '../../src/sips/seal.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { servicePath } from '../../src/sips/services.ts';
import { SEED_EXAMPLE_MERCHANT } from '../../src/simulator/index.ts';
import {
  EXPIRY,
  KEY,
  MERCHANT_ID,
  startHarness,
  type Harness,
} from '../support/simulator-harness.ts';
import { SEED_EXAMPLE_REQUEST, SEED_EXAMPLE_SEAL } from '../support/seed-example.ts';

const SEED_415_PAGE = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html>
    <head>
        <title>415 Unsupported Media Type</title>
    </head>
    <body>
        <h1>Unsupported Media Type</h1>
        <p>The supplied request data is not in a format
acceptable for processing by this resource.</p>
    </body>
</html>
`;

const OTHER_MERCHANT = '123456789012345';
const OLD_KEY = new SecretKey('old-key-of-the-other-shop');
const NEW_KEY = new SecretKey('new-key-of-the-other-shop');
const RESTRICTED_MERCHANT = '999999999999999';
const RESTRICTED_KEY = new SecretKey('restricted-shop-key');

const order = (transactionReference: string, extra: Record<string, unknown> = {}) => ({
  amount: '2500',
  currencyCode: '978',
  cardNumber: '4000000000000002',
  cardExpiryDate: EXPIRY,
  cardCSCValue: '123',
  orderChannel: 'INTERNET',
  transactionReference,
  ...extra,
});

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    control: true,
    merchants: [
      { merchantId: OTHER_MERCHANT, keys: { '1': OLD_KEY, '2': NEW_KEY } },
      {
        merchantId: RESTRICTED_MERCHANT,
        keys: { '1': RESTRICTED_KEY },
        enabledFunctions: ['cardOrder', 'getTransactionData'],
      },
    ],
  });
});

afterAll(async () => {
  await h.close();
});

describe('transport', () => {
  it('answers 415 with the seed page to a body that is not application/json', async () => {
    const body = JSON.stringify({ merchantId: MERCHANT_ID });
    for (const headers of [
      { 'content-type': 'text/plain' },
      {},
      { 'content-type': 'application/x-www-form-urlencoded' },
    ]) {
      const answer = await h.post(servicePath('cardOrder'), body, headers);
      expect(answer.status).toBe(415);
      expect(answer.contentType).toMatch(/^text\/html/);
      expect(answer.text).toBe(SEED_415_PAGE);
    }
    expect(h.sim.ledger.requests({ service: 'cardOrder' }).some((r) => r.httpStatus === 415)).toBe(
      true,
    );
  });

  it('accepts application/json with a charset', async () => {
    const message = {
      interfaceVersion: 'DR_WS_2.58',
      merchantId: MERCHANT_ID,
      keyVersion: '1',
      transactionReference: 'NOPE1',
    };
    const sealed = { ...message, seal: computeSeal(message, KEY) };
    const answer = await h.post(servicePath('getTransactionData'), JSON.stringify(sealed), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ getTransDataResponseCode: '25' });
  });

  it('answers 404 to unknown paths and functions in the wrong domain, 405 to GET', async () => {
    for (const path of [
      '/rs-services/v2/checkout/noSuchFunction',
      '/rs-services/v2/wallet/cardOrder',
      '/anything',
    ]) {
      const answer = await h.post(path, '{}');
      expect(answer.status).toBe(404);
    }
    const get = await request(`${h.sim.url}${servicePath('cardOrder')}`);
    expect(get.statusCode).toBe(405);
    await get.body.text();
  });

  it('answers 30 to malformed JSON, sealed when the merchantId can be read', async () => {
    const answer = await h.post(
      servicePath('cardOrder'),
      `{"merchantId":"${MERCHANT_ID}","amount":`,
    );
    expect(answer.status).toBe(200);
    const body = JSON.parse(answer.text) as Record<string, unknown>;
    expect(body.responseCode).toBe('30');
    expect(verifySeal(body, KEY).valid).toBe(true);

    const list = await h.post(servicePath('cardOrder'), '[1,2,3]');
    expect(JSON.parse(list.text)).toMatchObject({ responseCode: '30' });
  });
});

describe('merchant, key and seal', () => {
  it('answers 03 to an unknown merchant, without a seal (no key to seal with)', async () => {
    const answer = await h.raw('cardOrder', order('UNKNOWNSHOP1'), {
      merchantId: '111111111111111',
    });
    expect(answer.body).toEqual({ responseCode: '03' });
  });

  it('answers 34 to a wrong seal, sealed with the shop key', async () => {
    const answer = await h.raw('cardOrder', order('BADSEAL1'), {
      key: new SecretKey('not-the-key'),
    });
    expect(answer.body.responseCode).toBe('34');
    expect(verifySeal(answer.body, KEY).valid).toBe(true);
    expect(h.sim.store.has(MERCHANT_ID, 'BADSEAL1')).toBe(false);
  });

  it('answers 34 to an unknown key version', async () => {
    const answer = await h.raw('cardOrder', order('BADVERSION1'), { keyVersion: '7' });
    expect(answer.body.responseCode).toBe('34');
  });

  it('accepts HMAC-SHA-256 (default), SHA-256 and HMAC-SHA-512 request seals, and answers with the same algorithm', async () => {
    for (const [ref, sealAlgorithm] of [
      ['ALGODEFAULT', undefined],
      ['ALGOSHA256', 'SHA-256'],
      ['ALGOHMAC512', 'HMAC-SHA-512'],
    ] as const) {
      const answer = await h.raw('cardOrder', order(ref), sealAlgorithm ? { sealAlgorithm } : {});
      expect(answer.body.responseCode, ref).toBe('00');
      expect(verifySeal(answer.body, KEY, sealAlgorithm ?? 'HMAC-SHA-256').valid, ref).toBe(true);
      if (sealAlgorithm !== undefined) {
        expect(verifySeal(answer.body, KEY, 'HMAC-SHA-256').valid, ref).toBe(false);
      }
    }
  });

  it('answers 30 to an unknown seal algorithm', async () => {
    const message = {
      ...order('ALGOBAD'),
      interfaceVersion: 'IR_WS_2.55',
      merchantId: MERCHANT_ID,
      keyVersion: '1',
      sealAlgorithm: 'MD5',
    };
    const answer = await h.raw(
      'cardOrder',
      { ...message, seal: computeSeal(message, KEY) },
      { bare: true },
    );
    expect(answer.body).toMatchObject({ responseCode: '30', errorFieldName: 'sealAlgorithm' });
  });

  it('checks each key version of a shop and seals the answer with the version used', async () => {
    for (const [keyVersion, key] of [
      ['1', OLD_KEY],
      ['2', NEW_KEY],
    ] as const) {
      const answer = await h.raw('cardOrder', order(`KEYV${keyVersion}`), {
        merchantId: OTHER_MERCHANT,
        keyVersion,
        key,
      });
      expect(answer.body.responseCode).toBe('00');
      expect(verifySeal(answer.body, key).valid).toBe(true);
    }
  });

  it("passes the seed's seal example verbatim (its card expired in 2016: 54)", async () => {
    const seedRequest = {
      ...SEED_EXAMPLE_REQUEST,
      merchantId: SEED_EXAMPLE_MERCHANT.merchantId,
      seal: SEED_EXAMPLE_SEAL,
    };
    const answer = await h.raw('cardOrder', seedRequest, {
      bare: true,
      key: new SecretKey(SEED_EXAMPLE_MERCHANT.secretKey),
    });
    expect(answer.body).toMatchObject({ responseCode: '54', maskedPan: '1234##########34' });
    expect(answer.sealValid).toBe(true);
  });
});

describe('interface version and fields', () => {
  it('answers 30 naming interfaceVersion when the prefix is not the function domain', async () => {
    const answer = await h.raw('cardOrder', order('IFV1'), { interfaceVersion: 'CR_WS_2.55' });
    expect(answer.body).toMatchObject({ responseCode: '30', errorFieldName: 'interfaceVersion' });
    const garbage = await h.raw(
      'validate',
      { transactionReference: 'X', operationAmount: 1, currencyCode: '978' },
      { interfaceVersion: 'CR_WS_latest' },
    );
    expect(garbage.body).toMatchObject({ responseCode: '30', errorFieldName: 'interfaceVersion' });
  });

  it('answers 12 naming a missing field and 30 naming an ill-formatted one', async () => {
    const { cardNumber: _omitted, ...withoutCard } = order('MISSING1');
    const missing = await h.raw('cardOrder', withoutCard);
    expect(missing.body).toMatchObject({ responseCode: '12', errorFieldName: 'cardNumber' });
    expect(missing.sealValid).toBe(true);

    const badAmount = await h.raw('cardOrder', order('BADFORMAT1', { amount: '25.00' }));
    expect(badAmount.body).toMatchObject({ responseCode: '30', errorFieldName: 'amount' });

    const badExpiry = await h.raw('cardOrder', order('BADFORMAT2', { cardExpiryDate: '203013' }));
    expect(badExpiry.body).toMatchObject({ responseCode: '30', errorFieldName: 'cardExpiryDate' });

    const missingOperation = await h.raw('cancel', {
      transactionReference: 'X1',
      currencyCode: '978',
    });
    expect(missingOperation.body).toMatchObject({
      responseCode: '12',
      errorFieldName: 'operationAmount',
    });
  });

  it('answers 40 to a function the shop contract does not enable', async () => {
    const allowed = await h.raw('cardOrder', order('RESTRICT1'), {
      merchantId: RESTRICTED_MERCHANT,
      key: RESTRICTED_KEY,
    });
    expect(allowed.body.responseCode).toBe('00');
    const refused = await h.raw(
      'cancel',
      { transactionReference: 'RESTRICT1', operationAmount: 100, currencyCode: '978' },
      { merchantId: RESTRICTED_MERCHANT, key: RESTRICTED_KEY },
    );
    expect(refused.body.responseCode).toBe('40');
    expect(verifySeal(refused.body, RESTRICTED_KEY).valid).toBe(true);

    // The control API changes a contract at run time.
    const put = await h.control('PUT', `merchants/${MERCHANT_ID}/functions`, {
      enabledFunctions: ['getTransactionData'],
    });
    expect(put.status).toBe(200);
    const now = await h.raw('cardOrder', order('NOWREFUSED'));
    expect(now.body.responseCode).toBe('40');
    h.sim.merchants.reset();
    expect((await h.raw('cardOrder', order('NOWREFUSED'))).body.responseCode).toBe('00');
  });
});

describe('answers per function family', () => {
  it('wallet functions answer walletResponseCode and walletActionDateTime, even refusals', async () => {
    const answer = await h.raw(
      'getWalletData',
      { merchantWalletId: 'nowallet' },
      { key: new SecretKey('wrong') },
    );
    expect(answer.body.walletResponseCode).toBe('34');
    expect(answer.body.responseCode).toBeUndefined();
    expect(answer.body.walletActionDateTime).toBe('2026-01-15T10:00:00+00:00');
  });

  it('getTransactionData answers 25 twice for an unknown transaction', async () => {
    const answer = await h.raw('getTransactionData', { transactionReference: 'NEVERSEEN' });
    expect(answer.body).toMatchObject({ getTransDataResponseCode: '25', responseCode: '25' });
  });

  it('enrolment refusals also carry redirectionStatusCode, when it has such a value', async () => {
    const answer = await h.raw('cardCheckEnrollment', order('ENROLBAD', { cardNumber: undefined }));
    expect(answer.body).toMatchObject({
      responseCode: '12',
      redirectionStatusCode: '12',
      errorFieldName: 'cardNumber',
    });
    // 90 is not one of its values (00, 03, 12, 30, 34, 94, 99).
    h.sim.faults.add({
      match: { service: 'cardCheckEnrollment' },
      times: 1,
      type: 'responseCode',
      responseCode: '90',
    });
    const unavailable = await h.raw('cardCheckEnrollment', order('ENROLBUSY'));
    expect(unavailable.body.responseCode).toBe('90');
    expect(unavailable.body).not.toHaveProperty('redirectionStatusCode');
  });

  it('every answer verifies with the shop key', async () => {
    const records = h.sim.ledger.requests({ merchantId: MERCHANT_ID });
    expect(records.length).toBeGreaterThan(5);
    const answer = await h.raw('cardOrder', order('SEALCHECK'));
    expect(answer.sealValid).toBe(true);
    expect(answer.body.seal).toMatch(/^[0-9a-f]{64}$/);
  });
});
