/**
 * walletCreditHolder, walletIssuerWalletInitialize and walletIssuerWalletFinalize
 * through the real client against the simulator over HTTP: success paths,
 * refusals, one invalid request each (the field named), the money movement
 * of a wallet credit, and the seal of every answer checked with the shop key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipsRequestError } from '../../src/sips/client.ts';
import { verifySeal } from '../../src/sips/seal.ts';
import {
  answered,
  EXPIRY,
  KEY,
  MERCHANT_ID,
  parseHtmlForm,
  startHarness,
  type Harness,
} from '../support/simulator-harness.ts';

let h: Harness;
let seq = 0;
/** A fresh alphanumeric transactionReference. */
const ref = (label: string) => `${label}${++seq}`;

const RETURN_URL = 'http://merchant.example/issuer-wallet-return';

/**
 * The answer of a call the client accepted (kind ok or refused/invalid, never
 * seal_mismatch), with its seal checked once more with the shop key.
 */
function sealed(result: { kind: string; response?: unknown }): Record<string, unknown> {
  const response = answered(result);
  expect(response.seal).toMatch(/^[0-9a-f]{64}$/);
  expect(verifySeal(response, KEY).valid).toBe(true);
  return response;
}

async function status(transactionReference: string): Promise<Record<string, unknown>> {
  return sealed(await h.client.getTransactionData({ transactionReference }));
}

/** Adds a card to a wallet and returns its paymentMeanId. */
async function addCard(merchantWalletId: string, cardNumber: string): Promise<string> {
  const added = sealed(
    await h.client.addCard({ merchantWalletId, cardNumber, cardExpiryDate: EXPIRY }),
  );
  expect(added.walletResponseCode).toBe('00');
  return String(added.paymentMeanId);
}

/** The customer on the simulated issuer wallet page: picks `outcome`, returns the form posted back. */
async function customerChooses(
  init: Record<string, unknown>,
  outcome: 'APPROVED' | 'DECLINED' | 'CANCEL',
): Promise<{ page: string; back: ReturnType<typeof parseHtmlForm> }> {
  const page = await h.form(init.redirectionUrl as string, {
    message_version: init.messageVersion as string,
    redirection_data: init.redirectionData as string,
  });
  expect(page.status).toBe(200);
  const choice = parseHtmlForm(page.text);
  expect(choice.outcomes).toEqual(['APPROVED', 'DECLINED', 'CANCEL']);
  const back = await h.form(new URL(choice.action, h.sim.url).toString(), {
    ...choice.fields,
    outcome,
  });
  expect(back.status).toBe(200);
  return { page: page.text, back: parseHtmlForm(back.text) };
}

beforeAll(async () => {
  h = await startHarness({ control: true });
});

afterAll(async () => {
  await h.close();
});

describe('walletCreditHolder', () => {
  const wallet = 'credit-wallet';
  let accepted: string;
  let refusedCard: string;

  beforeAll(async () => {
    accepted = await addCard(wallet, '4000000000000002');
    refusedCard = await addCard(wallet, '4000000000000119');
  });

  const credit = (paymentMeanId: string, extra: Record<string, unknown> = {}) => ({
    merchantWalletId: wallet,
    paymentMeanId,
    amount: 700,
    currencyCode: '978',
    orderChannel: 'INTERNET' as const,
    transactionReference: ref('WCR'),
    ...extra,
  });

  it('credits the stored card: TO_CREDIT with one credit movement, CREDITED at the remittance', async () => {
    const fields = credit(accepted);
    const result = await h.client.walletCreditHolder(fields);
    expect(result.kind).toBe('ok');
    const response = sealed(result);
    expect(response).toMatchObject({
      responseCode: '00',
      acquirerResponseCode: '00',
      transactionReference: fields.transactionReference,
      amount: 700,
      currencyCode: '978',
      maskedPan: '4000##########02',
      merchantWalletId: wallet,
      paymentMeanId: accepted,
      authorisationId: expect.stringMatching(/^\d{6}$/),
    });
    expect(JSON.stringify(response)).not.toContain('4000000000000002');

    expect(await status(fields.transactionReference)).toMatchObject({
      getTransDataResponseCode: '00',
      transactionStatus: 'TO_CREDIT',
      lastOperationName: 'CREDIT',
      merchantWalletId: wallet,
      paymentMeanId: accepted,
    });
    expect(h.sim.ledger.movements(fields.transactionReference)).toEqual([
      expect.objectContaining({
        kind: 'credit',
        amount: 700,
        currencyCode: '978',
        status: 'TO_CREDIT',
        merchantId: MERCHANT_ID,
        authorisationId: response.authorisationId,
      }),
    ]);
    const requests = h.sim.ledger.requests({
      service: 'walletCreditHolder',
      transactionReference: fields.transactionReference,
    });
    expect(requests).toEqual([
      expect.objectContaining({
        processed: true,
        responseCode: '00',
        maskedPan: '4000##########02',
      }),
    ]);

    // A credit cannot be refunded (reference §7: 24).
    const refund = sealed(
      await h.client.refund({
        transactionReference: fields.transactionReference,
        operationAmount: 100,
        currencyCode: '978',
      }),
    );
    expect(refund).toMatchObject({ responseCode: '24', newStatus: 'TO_CREDIT' });

    h.sim.clock.advanceDays(1);
    expect((await status(fields.transactionReference)).transactionStatus).toBe('CREDITED');
    expect(h.sim.ledger.movements(fields.transactionReference).map((m) => m.kind)).toEqual([
      'credit',
    ]);
  });

  it('answers 14 for a stored card the issuer refuses, without moving money', async () => {
    const fields = credit(refusedCard);
    const response = sealed(await h.client.walletCreditHolder(fields));
    expect(response).toMatchObject({ responseCode: '14', maskedPan: '4000##########19' });
    expect((await status(fields.transactionReference)).transactionStatus).toBe('REFUSED');
    expect(h.sim.ledger.movements(fields.transactionReference)).toEqual([]);
  });

  it('answers 12 naming merchantWalletId or paymentMeanId when they point nowhere', async () => {
    const noWallet = credit(accepted, { merchantWalletId: 'nobody' });
    expect(sealed(await h.client.walletCreditHolder(noWallet))).toMatchObject({
      responseCode: '12',
      errorFieldName: 'merchantWalletId',
    });
    const noMean = credit('99');
    expect(sealed(await h.client.walletCreditHolder(noMean))).toMatchObject({
      responseCode: '12',
      errorFieldName: 'paymentMeanId',
    });
    for (const fields of [noWallet, noMean]) {
      expect(h.sim.ledger.movements(fields.transactionReference)).toEqual([]);
      expect((await status(fields.transactionReference)).getTransDataResponseCode).toBe('25');
    }
  });

  it('answers 94 for a reference already used', async () => {
    const fields = credit(accepted);
    expect(sealed(await h.client.walletCreditHolder(fields)).responseCode).toBe('00');
    const again = sealed(await h.client.walletCreditHolder({ ...fields, amount: 800 }));
    expect(again.responseCode).toBe('94');
    expect(h.sim.ledger.countMovements('credit', fields.transactionReference)).toBe(1);
  });

  it('rejects an invalid request, naming the field (client before sending, simulator on the wire)', async () => {
    const { paymentMeanId: _mean, ...withoutMean } = credit(accepted);
    await expect(
      h.client.walletCreditHolder(withoutMean as ReturnType<typeof credit>),
    ).rejects.toMatchObject({ field: 'paymentMeanId', responseCode: '12' });
    await expect(
      h.client.walletCreditHolder(credit(accepted, { amount: 7.5 })),
    ).rejects.toBeInstanceOf(SipsRequestError);

    const missing = await h.raw('walletCreditHolder', withoutMean);
    expect(missing.sealValid).toBe(true);
    expect(missing.body).toMatchObject({ responseCode: '12', errorFieldName: 'paymentMeanId' });
    const bad = await h.raw('walletCreditHolder', credit('first'));
    expect(bad.sealValid).toBe(true);
    expect(bad.body).toMatchObject({ responseCode: '30', errorFieldName: 'paymentMeanId' });
    const wrongFamily = await h.raw('walletCreditHolder', credit(accepted), {
      interfaceVersion: 'IR_WS_2.55',
    });
    expect(wrongFamily.body).toMatchObject({
      responseCode: '30',
      errorFieldName: 'interfaceVersion',
    });
    expect(wrongFamily.sealValid).toBe(true);
  });

  it('is sent as a cash-management call (CR_WS_) to /cashManagement/walletCreditHolder', async () => {
    const fields = credit(accepted);
    const request = h.client.buildRequest('walletCreditHolder', fields);
    expect(request.interfaceVersion).toMatch(/^CR_WS_\d+\.\d+$/);
    const result = await h.client.walletCreditHolder(fields);
    expect(result.call.url).toBe(`${h.sim.url}/rs-services/v2/cashManagement/walletCreditHolder`);
    const [record] = h.sim.ledger.requests({
      service: 'walletCreditHolder',
      transactionReference: fields.transactionReference,
    });
    expect(record?.path).toBe('/rs-services/v2/cashManagement/walletCreditHolder');
  });
});

describe('walletIssuerWalletInitialize / walletIssuerWalletFinalize', () => {
  const wallet = 'issuer-wallet';
  let acceptedMean: string;
  let refusedMean: string;

  beforeAll(async () => {
    acceptedMean = await addCard(wallet, '4000000000000002');
    refusedMean = await addCard(wallet, '4000000000000119');
  });

  const initFields = (extra: Record<string, unknown> = {}) => ({
    transactionReference: ref('IW'),
    amount: 3100,
    currencyCode: '978',
    captureMode: 'AUTHOR_CAPTURE' as const,
    orderChannel: 'INTERNET' as const,
    merchantWalletId: wallet,
    paymentMeanBrand: 'PAYLIB',
    merchantReturnUrl: RETURN_URL,
    ...extra,
  });

  const finalizeOf = (fields: { transactionReference: string }, init: Record<string, unknown>) => ({
    transactionReference: fields.transactionReference,
    redirectionData: init.redirectionData as string,
    messageVersion: init.messageVersion as string,
  });

  it('initialises, the customer approves at the issuer wallet, finalisation authorises', async () => {
    const fields = initFields();
    const initResult = await h.client.walletIssuerWalletInitialize(fields);
    expect(initResult.kind).toBe('ok');
    const init = sealed(initResult);
    expect(init).toMatchObject({
      responseCode: '00',
      redirectionStatusCode: '00',
      redirectionUrl: `${h.sim.url}/provider`,
      redirectionData: expect.any(String),
      messageVersion: expect.any(String),
      transactionReference: fields.transactionReference,
      paymentMeanBrand: 'PAYLIB',
    });
    expect(
      h.client.buildRequest('walletIssuerWalletInitialize', initFields()).interfaceVersion,
    ).toMatch(/^IR_WS_\d+\.\d+$/);
    const pending = await status(fields.transactionReference);
    expect(pending).toMatchObject({ transactionStatus: 'TO_AUTHORIZE', paymentMeanType: 'WALLET' });
    expect(pending.responseCode).toBeUndefined();

    const finalize = finalizeOf(fields, init);
    const early = sealed(await h.client.walletIssuerWalletFinalize(finalize));
    expect(early.responseCode).toBe('60');
    expect(h.sim.ledger.movements(fields.transactionReference)).toEqual([]);

    const { page, back } = await customerChooses(init, 'APPROVED');
    expect(page).toContain('PAYLIB');
    expect(back.action).toBe(RETURN_URL);
    expect(back.fields).toEqual({
      merchantId: MERCHANT_ID,
      messageVersion: finalize.messageVersion,
      redirectionData: finalize.redirectionData,
    });

    const doneResult = await h.client.walletIssuerWalletFinalize(finalize);
    expect(doneResult.kind).toBe('ok');
    const done = sealed(doneResult);
    expect(done).toMatchObject({
      responseCode: '00',
      transactionStatus: 'TO_CAPTURE',
      transactionReference: fields.transactionReference,
      amount: 3100,
      paymentMeanBrand: 'PAYLIB',
      paymentMeanType: 'WALLET',
      walletType: 'PAYLIB',
      panEntryMode: 'WALLET',
      merchantWalletId: wallet,
      authorisationId: expect.stringMatching(/^\d{6}$/),
    });
    expect(h.sim.ledger.movements(fields.transactionReference)).toEqual([
      expect.objectContaining({ kind: 'authorisation', amount: 3100, status: 'TO_CAPTURE' }),
    ]);

    const twice = sealed(await h.client.walletIssuerWalletFinalize(finalize));
    expect(twice).toMatchObject({ responseCode: '24', newStatus: 'TO_CAPTURE' });
    expect(h.sim.ledger.countAuthorizations(fields.transactionReference)).toBe(1);

    // An ordinary authorisation from there on: it can be cancelled.
    const cancel = sealed(
      await h.client.cancel({
        transactionReference: fields.transactionReference,
        operationAmount: 3100,
        currencyCode: '978',
      }),
    );
    expect(cancel).toMatchObject({ responseCode: '00', newStatus: 'CANCELLED' });
  });

  it('with a paymentMeanId, pays with that stored card through the card table', async () => {
    const good = initFields({ paymentMeanId: acceptedMean });
    const goodInit = sealed(await h.client.walletIssuerWalletInitialize(good));
    expect(goodInit).toMatchObject({ responseCode: '00', maskedPan: '4000##########02' });
    await customerChooses(goodInit, 'APPROVED');
    const paid = sealed(await h.client.walletIssuerWalletFinalize(finalizeOf(good, goodInit)));
    expect(paid).toMatchObject({
      responseCode: '00',
      maskedPan: '4000##########02',
      cardScheme: 'VISA',
      paymentMeanBrand: 'PAYLIB',
      paymentMeanId: acceptedMean,
    });

    const bad = initFields({ paymentMeanId: refusedMean });
    const badInit = sealed(await h.client.walletIssuerWalletInitialize(bad));
    await customerChooses(badInit, 'APPROVED');
    const refused = sealed(await h.client.walletIssuerWalletFinalize(finalizeOf(bad, badInit)));
    expect(refused).toMatchObject({ responseCode: '05', transactionStatus: 'REFUSED' });
    expect(h.sim.ledger.movements(bad.transactionReference)).toEqual([]);
  });

  it.each([
    ['DECLINED', '05'],
    ['CANCEL', '17'],
  ] as const)('a customer who picks %s at the issuer wallet gets %s', async (choice, code) => {
    const fields = initFields();
    const init = sealed(await h.client.walletIssuerWalletInitialize(fields));
    await customerChooses(init, choice);
    const done = sealed(await h.client.walletIssuerWalletFinalize(finalizeOf(fields, init)));
    expect(done).toMatchObject({ responseCode: code, transactionStatus: 'REFUSED' });
    expect(h.sim.ledger.movements(fields.transactionReference)).toEqual([]);
  });

  it('does not finalise a provider payment, nor a provider finalisation an issuer wallet', async () => {
    const fields = initFields();
    const init = sealed(await h.client.walletIssuerWalletInitialize(fields));
    await customerChooses(init, 'APPROVED');
    const crossed = sealed(await h.client.paymentProviderFinalize(finalizeOf(fields, init)));
    expect(crossed).toMatchObject({ responseCode: '12', errorFieldName: 'redirectionData' });

    const provider = {
      transactionReference: ref('PROV'),
      amount: 1200,
      currencyCode: '978',
      merchantReturnUrl: RETURN_URL,
      paymentMeanBrand: 'PAYPAL',
    };
    const providerInit = sealed(await h.client.paymentProviderInitialize(provider));
    const other = sealed(
      await h.client.walletIssuerWalletFinalize(finalizeOf(provider, providerInit)),
    );
    expect(other).toMatchObject({ responseCode: '12', errorFieldName: 'redirectionData' });
    const wrongReference = sealed(
      await h.client.walletIssuerWalletFinalize({
        ...finalizeOf(fields, init),
        transactionReference: provider.transactionReference,
      }),
    );
    expect(wrongReference).toMatchObject({
      responseCode: '12',
      errorFieldName: 'transactionReference',
    });
  });

  it('answers 12 naming merchantWalletId or paymentMeanId when they point nowhere', async () => {
    const noWallet = initFields({ merchantWalletId: 'nobody' });
    expect(sealed(await h.client.walletIssuerWalletInitialize(noWallet))).toMatchObject({
      responseCode: '12',
      redirectionStatusCode: '12',
      errorFieldName: 'merchantWalletId',
    });
    const noMean = initFields({ paymentMeanId: '42' });
    expect(sealed(await h.client.walletIssuerWalletInitialize(noMean))).toMatchObject({
      responseCode: '12',
      errorFieldName: 'paymentMeanId',
    });
    for (const fields of [noWallet, noMean]) {
      expect((await status(fields.transactionReference)).getTransDataResponseCode).toBe('25');
    }
  });

  it('answers 94 when the reference was already used', async () => {
    const fields = initFields();
    sealed(await h.client.walletIssuerWalletInitialize(fields));
    const again = sealed(await h.client.walletIssuerWalletInitialize(fields));
    expect(again).toMatchObject({ responseCode: '94', redirectionStatusCode: '94' });
  });

  it('rejects invalid requests, naming the field (client before sending, simulator on the wire)', async () => {
    const { merchantReturnUrl: _url, ...withoutReturnUrl } = initFields();
    await expect(
      h.client.walletIssuerWalletInitialize(withoutReturnUrl as ReturnType<typeof initFields>),
    ).rejects.toMatchObject({ field: 'merchantReturnUrl', responseCode: '12' });
    const missing = await h.raw('walletIssuerWalletInitialize', withoutReturnUrl);
    expect(missing.sealValid).toBe(true);
    expect(missing.body).toMatchObject({
      responseCode: '12',
      redirectionStatusCode: '12',
      errorFieldName: 'merchantReturnUrl',
    });
    const badBrand = await h.raw(
      'walletIssuerWalletInitialize',
      initFields({ paymentMeanBrand: '' }),
    );
    expect(badBrand.body).toMatchObject({ responseCode: '12', errorFieldName: 'paymentMeanBrand' });

    await expect(
      h.client.walletIssuerWalletFinalize({
        transactionReference: 'IWX1',
        messageVersion: '1.0',
        redirectionData: '',
      }),
    ).rejects.toBeInstanceOf(SipsRequestError);
    const noData = await h.raw('walletIssuerWalletFinalize', {
      transactionReference: 'IWX1',
      messageVersion: '1.0',
    });
    expect(noData.sealValid).toBe(true);
    expect(noData.body).toMatchObject({ responseCode: '12', errorFieldName: 'redirectionData' });
    const badReference = await h.raw('walletIssuerWalletFinalize', {
      transactionReference: 'IW-X1',
      messageVersion: '1.0',
      redirectionData: 'RD1',
    });
    expect(badReference.body).toMatchObject({
      responseCode: '30',
      errorFieldName: 'transactionReference',
    });
    const wrongFamily = await h.raw(
      'walletIssuerWalletFinalize',
      { transactionReference: 'IWX1', messageVersion: '1.0', redirectionData: 'RD1' },
      { interfaceVersion: 'CR_WS_2.55' },
    );
    expect(wrongFamily.body).toMatchObject({
      responseCode: '30',
      errorFieldName: 'interfaceVersion',
    });
  });
});
