/**
 * 3-D Secure over real HTTP, as a browser would do it but with plain form
 * posts: enrolment, the customer's POST to the ACS (seed shape PaReq /
 * TermUrl / MD, or redirection_data / message_version), the outcome chosen
 * on the ACS page, the auto-submitted return to the merchant site, then
 * cardValidateAuthenticationAndOrder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answered,
  EXPIRY,
  parseHtmlForm,
  startHarness,
  startMerchantSite,
  type Harness,
  type MerchantSite,
  type ParsedForm,
} from '../support/simulator-harness.ts';

let h: Harness;
let site: MerchantSite;
let seq = 0;
const ref = (label: string) => `${label}${++seq}`;

beforeAll(async () => {
  h = await startHarness();
  site = await startMerchantSite();
});

afterAll(async () => {
  await site.close();
  await h.close();
});

async function enrol(cardNumber: string, extra: Record<string, unknown> = {}) {
  const transactionReference = ref('TDS');
  const response = answered(
    await h.client.cardCheckEnrollment({
      amount: 5_000,
      currencyCode: '978',
      cardNumber,
      cardExpiryDate: EXPIRY,
      cardCSCValue: '123',
      orderChannel: 'INTERNET',
      transactionReference,
      ...extra,
    }),
  );
  return { transactionReference, response };
}

/** The customer at the ACS: the form POST, the outcome button, the auto-submitted return form. */
async function visitAcs(
  response: Record<string, unknown>,
  outcome: string,
  shape: { termUrl: string; md: string } | 'v2',
): Promise<{ page: ParsedForm; back: ParsedForm; backHtml: string }> {
  const fields =
    shape === 'v2'
      ? {
          redirection_data: response.redirectionData as string,
          message_version: response.messageVersion as string,
        }
      : { PaReq: response.paReqMessage as string, TermUrl: shape.termUrl, MD: shape.md };
  const acs = await h.form(response.redirectionUrl as string, fields);
  expect(acs.status).toBe(200);
  const page = parseHtmlForm(acs.text);
  const decided = await h.form(new URL(page.action, h.sim.url).toString(), {
    ...page.fields,
    outcome,
  });
  expect(decided.status).toBe(200);
  return { page, back: parseHtmlForm(decided.text), backHtml: decided.text };
}

describe('3-D Secure 1.0 shape (PaReq, TermUrl, MD)', () => {
  it('enrols, authenticates at the ACS, returns PaRes and MD to the TermUrl, then authorises', async () => {
    const { transactionReference, response } = await enrol('4000000000000002');
    expect(response).toMatchObject({
      responseCode: '00',
      redirectionStatusCode: '00',
      redirectionUrl: `${h.sim.url}/acs`,
      messageVersion: '0.1',
      paReqMessage: expect.any(String),
      redirectionData: expect.any(String),
      maskedPan: '4000##########02',
    });
    expect(String(response.redirectionData)).not.toContain('4000000000000002');
    expect(String(response.paReqMessage)).not.toContain('4000000000000002');
    const pending = answered(await h.client.getTransactionData({ transactionReference }));
    expect(pending).toMatchObject({
      getTransDataResponseCode: '00',
      transactionStatus: 'TO_AUTHORIZE',
    });
    expect(pending.responseCode).toBeUndefined();

    const termUrl = `${site.url}/term`;
    const { page, back, backHtml } = await visitAcs(response, 'SUCCESS', {
      termUrl,
      md: 'session-42',
    });
    expect(page.outcomes).toEqual(['SUCCESS', 'FAILURE', 'ATTEMPT', 'CANCEL']);
    expect(back.action).toBe(termUrl);
    expect(Object.keys(back.fields).sort()).toEqual(['MD', 'PaRes']);
    expect(back.fields.MD).toBe('session-42');
    expect(backHtml).toContain('<noscript>');
    expect(backHtml).toContain('<input type="submit" value="Submit">');

    // The browser's auto-submit, done by hand: the merchant site receives PaRes and MD.
    await h.form(back.action, back.fields);
    const received = await site.nextPost('/term');
    expect(received).toEqual(back.fields);

    const validateAndOrder = {
      transactionReference,
      messageVersion: response.messageVersion as string,
      redirectionData: response.redirectionData as string,
      paResMessage: received.PaRes as string,
    };
    const authorized = answered(
      await h.client.cardValidateAuthenticationAndOrder(validateAndOrder),
    );
    expect(authorized).toMatchObject({
      responseCode: '00',
      holderAuthentStatus: 'SUCCESS',
      holderAuthentProgram: '3DS',
      guaranteeIndicator: 'Y',
      authorisationId: expect.stringMatching(/^\d{6}$/),
      maskedPan: '4000##########02',
      amount: 5_000,
    });
    expect(answered(await h.client.getTransactionData({ transactionReference }))).toMatchObject({
      transactionStatus: 'TO_CAPTURE',
      responseCode: '00',
      holderAuthentStatus: 'SUCCESS',
    });
    expect(h.sim.ledger.countAuthorizations(transactionReference)).toBe(1);

    const twice = answered(await h.client.cardValidateAuthenticationAndOrder(validateAndOrder));
    expect(twice).toMatchObject({ responseCode: '24', newStatus: 'TO_CAPTURE' });
    expect(h.sim.ledger.countAuthorizations(transactionReference)).toBe(1);
  });

  it.each([
    ['FAILURE', '05'],
    ['CANCEL', '17'],
  ])('an authentication %s answers %s and refuses the transaction', async (outcome, code) => {
    const { transactionReference, response } = await enrol('4000000000000002');
    const { back } = await visitAcs(response, outcome, { termUrl: `${site.url}/term`, md: 'x' });
    const result = answered(
      await h.client.cardValidateAuthenticationAndOrder({
        transactionReference,
        messageVersion: response.messageVersion as string,
        redirectionData: response.redirectionData as string,
        paResMessage: back.fields.PaRes as string,
      }),
    );
    expect(result).toMatchObject({ responseCode: code, holderAuthentStatus: outcome });
    expect(result.authorisationId).toBeUndefined();
    expect(
      answered(await h.client.getTransactionData({ transactionReference })).transactionStatus,
    ).toBe('REFUSED');
    expect(h.sim.ledger.countAuthorizations(transactionReference)).toBe(0);
  });

  it('rejects a wrong PaRes, an early call and an unknown redirectionData with 12', async () => {
    const { transactionReference, response } = await enrol('4000000000000002');
    const base = {
      transactionReference,
      messageVersion: response.messageVersion as string,
      redirectionData: response.redirectionData as string,
    };
    const early = answered(await h.client.cardValidateAuthenticationAndOrder(base));
    expect(early).toMatchObject({ responseCode: '12', errorFieldName: 'paResMessage' });
    await visitAcs(response, 'SUCCESS', { termUrl: `${site.url}/term`, md: 'x' });
    const forged = answered(
      await h.client.cardValidateAuthenticationAndOrder({ ...base, paResMessage: 'FORGED' }),
    );
    expect(forged).toMatchObject({ responseCode: '12', errorFieldName: 'paResMessage' });
    const unknown = answered(
      await h.client.cardValidateAuthenticationAndOrder({ ...base, redirectionData: 'NOPE' }),
    );
    expect(unknown).toMatchObject({ responseCode: '12', errorFieldName: 'redirectionData' });
    const otherReference = answered(
      await h.client.cardValidateAuthenticationAndOrder({
        ...base,
        transactionReference: 'OTHER1',
      }),
    );
    expect(otherReference).toMatchObject({
      responseCode: '12',
      errorFieldName: 'transactionReference',
    });
    expect(
      answered(await h.client.getTransactionData({ transactionReference })).transactionStatus,
    ).toBe('TO_AUTHORIZE');
  });

  it('answers 400 on the ACS for an unknown PaReq or a missing TermUrl', async () => {
    const unknown = await h.form(`${h.sim.url}/acs`, {
      PaReq: 'nope',
      TermUrl: 'http://x/',
      MD: '',
    });
    expect(unknown.status).toBe(400);
    const { response } = await enrol('4000000000000002');
    const noTerm = await h.form(`${h.sim.url}/acs`, { PaReq: response.paReqMessage as string });
    expect(noTerm.status).toBe(400);
  });
});

describe('3-D Secure 2 shape (redirection_data, message_version, merchantReturnUrl)', () => {
  it('returns redirectionData, messageVersion and merchantId to merchantReturnUrl; authorises without PaRes', async () => {
    const merchantReturnUrl = `${site.url}/return`;
    const { transactionReference, response } = await enrol('4000000000000002', {
      merchantReturnUrl,
    });
    expect(response.messageVersion).toBe('2.2.0');
    const { back } = await visitAcs(response, 'ATTEMPT', 'v2');
    expect(back.action).toBe(merchantReturnUrl);
    expect(back.fields).toEqual({
      redirectionData: response.redirectionData,
      messageVersion: '2.2.0',
      merchantId: h.client.merchantId,
    });
    await h.form(back.action, back.fields);
    const received = await site.nextPost('/return');
    const authorized = answered(
      await h.client.cardValidateAuthenticationAndOrder({
        transactionReference,
        messageVersion: received.messageVersion as string,
        redirectionData: received.redirectionData as string,
      }),
    );
    expect(authorized).toMatchObject({
      responseCode: '00',
      holderAuthentStatus: 'ATTEMPT',
      holderAuthentProgram: '3DS_V2',
    });
  });

  it('authorises the soft-decline card once authenticated', async () => {
    const { transactionReference, response } = await enrol('4000000000000135', {
      merchantReturnUrl: `${site.url}/return`,
    });
    await visitAcs(response, 'SUCCESS', 'v2');
    const result = answered(
      await h.client.cardValidateAuthenticationAndOrder({
        transactionReference,
        messageVersion: response.messageVersion as string,
        redirectionData: response.redirectionData as string,
      }),
    );
    expect(result).toMatchObject({ responseCode: '00', acquirerResponseCode: '00' });
  });

  it('enrols a wallet card with walletCheckEnrollment', async () => {
    answered(
      await h.client.addCard({
        merchantWalletId: 'tdswallet',
        cardNumber: '4000000000000002',
        cardExpiryDate: EXPIRY,
      }),
    );
    const transactionReference = ref('WTDS');
    const response = answered(
      await h.client.walletCheckEnrollment({
        merchantWalletId: 'tdswallet',
        paymentMeanId: '1',
        amount: 1_500,
        currencyCode: '978',
        transactionReference,
        merchantReturnUrl: `${site.url}/return`,
      }),
    );
    expect(response).toMatchObject({ responseCode: '00', redirectionUrl: `${h.sim.url}/acs` });
    await visitAcs(response, 'SUCCESS', 'v2');
    const result = answered(
      await h.client.cardValidateAuthenticationAndOrder({
        transactionReference,
        messageVersion: response.messageVersion as string,
        redirectionData: response.redirectionData as string,
      }),
    );
    expect(result).toMatchObject({
      responseCode: '00',
      holderAuthentStatus: 'SUCCESS',
      merchantWalletId: 'tdswallet',
      maskedPan: '4000##########02',
    });
  });
});

describe('cards with a fixed 3-D Secure behaviour', () => {
  it.each([
    ['4000000000003001', 'SUCCESS', '00'],
    ['4000000000003019', 'FAILURE', '05'],
    ['4000000000003027', 'ATTEMPT', '00'],
  ])('%s only offers %s (and Cancel), whatever is posted', async (pan, outcome, code) => {
    const { transactionReference, response } = await enrol(pan, {
      merchantReturnUrl: `${site.url}/return`,
    });
    const { page } = await visitAcs(response, 'SUCCESS', 'v2');
    expect(page.outcomes).toEqual([outcome, 'CANCEL']);
    const result = answered(
      await h.client.cardValidateAuthenticationAndOrder({
        transactionReference,
        messageVersion: response.messageVersion as string,
        redirectionData: response.redirectionData as string,
      }),
    );
    expect(result).toMatchObject({ responseCode: code, holderAuthentStatus: outcome });
  });

  it('a card not enrolled gets no redirection and is authorised directly', async () => {
    const { transactionReference, response } = await enrol('4000000000003035');
    expect(response).toMatchObject({ responseCode: '00', holderAuthentStatus: 'NOT_ENROLLED' });
    expect(response.redirectionUrl).toBeUndefined();
    expect(response.redirectionStatusCode).toBeUndefined();
    const result = answered(
      await h.client.cardValidateAuthenticationAndOrder({
        transactionReference,
        messageVersion: response.messageVersion as string,
        redirectionData: response.redirectionData as string,
      }),
    );
    expect(result).toMatchObject({
      responseCode: '00',
      holderAuthentStatus: 'NOT_ENROLLED',
      guaranteeIndicator: 'N',
    });
  });

  it('an expired card is refused at enrolment with 54', async () => {
    const { transactionReference, response } = await enrol('4000000000000002', {
      cardExpiryDate: '202501',
    });
    expect(response.responseCode).toBe('54');
    expect(response.redirectionUrl).toBeUndefined();
    expect(
      answered(await h.client.getTransactionData({ transactionReference })).transactionStatus,
    ).toBe('REFUSED');
  });
});

describe('authentication only', () => {
  it('cardValidateAuthentication reports the result, then cardOrder authorises the same reference', async () => {
    const { transactionReference, response } = await enrol('4000000000000135', {
      merchantReturnUrl: `${site.url}/return`,
    });
    await visitAcs(response, 'SUCCESS', 'v2');
    const authentication = answered(
      await h.client.cardValidateAuthentication({
        transactionReference,
        messageVersion: response.messageVersion as string,
        redirectionData: response.redirectionData as string,
      }),
    );
    expect(authentication).toMatchObject({
      responseCode: '00',
      holderAuthentStatus: 'SUCCESS',
      threeDV2: expect.objectContaining({ eci: '05', txStatus: 'Y' }),
    });
    expect(
      answered(await h.client.getTransactionData({ transactionReference })).transactionStatus,
    ).toBe('TO_AUTHORIZE');
    const ordered = answered(
      await h.client.cardOrder({
        amount: 5_000,
        currencyCode: '978',
        cardNumber: '4000000000000135',
        cardExpiryDate: EXPIRY,
        transactionReference,
      }),
    );
    expect(ordered).toMatchObject({ responseCode: '00', holderAuthentStatus: 'SUCCESS' });
  });

  it('a pending enrolment can be cancelled (TO_AUTHORIZE)', async () => {
    const { transactionReference } = await enrol('4000000000000002');
    const cancelled = answered(
      await h.client.cancel({ transactionReference, operationAmount: 5_000, currencyCode: '978' }),
    );
    expect(cancelled).toMatchObject({ responseCode: '00', newStatus: 'CANCELLED' });
  });
});
