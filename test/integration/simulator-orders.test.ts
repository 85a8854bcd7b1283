/**
 * Authorisations through the real client: the test card and amount tables,
 * challenges, reused references, duplicates and recurring chaining, wallets,
 * credits and external providers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answered,
  EXPIRY,
  parseHtmlForm,
  startHarness,
  type Harness,
} from '../support/simulator-harness.ts';

let h: Harness;
let seq = 0;
/** A fresh alphanumeric transactionReference. */
const ref = (label: string) => `${label}${++seq}`;

const card = (cardNumber: string, extra: Record<string, unknown> = {}) => ({
  amount: 2500,
  currencyCode: '978',
  cardNumber,
  cardExpiryDate: EXPIRY,
  cardCSCValue: '123',
  orderChannel: 'INTERNET' as const,
  transactionReference: ref('ORD'),
  ...extra,
});

async function status(transactionReference: string): Promise<Record<string, unknown>> {
  return answered(await h.client.getTransactionData({ transactionReference }));
}

beforeAll(async () => {
  h = await startHarness({ control: true });
});

afterAll(async () => {
  await h.close();
});

describe('test cards', () => {
  it.each([
    ['4000000000000002', '00', '00', 'VISA', 'TO_CAPTURE'],
    ['4000000000000119', '05', '05', 'VISA', 'REFUSED'],
    ['4000000000000127', '54', '54', 'VISA', 'REFUSED'],
    ['4000000000000135', '05', 'A1', 'VISA', 'REFUSED'],
    ['4000000000000143', '00', '00', 'VISA', 'TO_CHALLENGE'],
    ['5100000000000511', '51', '51', 'MASTERCARD', 'REFUSED'],
    ['5017679110380400', '00', '00', 'CB', 'TO_CAPTURE'],
    ['5017679110380905', '05', '05', 'CB', 'REFUSED'],
    ['4200000000000000', '00', '00', 'CB', 'TO_CAPTURE'],
    ['4100000000000005', '05', '05', 'VISA', 'REFUSED'],
    ['4100000000000000', '00', '00', 'VISA', 'TO_CAPTURE'],
    ['5100000000000000', '00', '00', 'MASTERCARD', 'TO_CAPTURE'],
    ['4970101234567890', '00', '00', 'VISA', 'TO_CAPTURE'],
  ])('%s answers %s (acquirer %s)', async (pan, code, acquirer, brand, txStatus) => {
    const fields = card(pan);
    const response = answered(await h.client.cardOrder(fields));
    expect(response).toMatchObject({
      responseCode: code,
      acquirerResponseCode: acquirer,
      cardScheme: brand,
      maskedPan: `${pan.slice(0, 4)}${'#'.repeat(10)}${pan.slice(-2)}`,
      transactionReference: fields.transactionReference,
    });
    if (code === '00') {
      expect(response.authorisationId).toMatch(/^\d{6}$/);
      expect(response.schemeTransactionIdentifier).toEqual(expect.any(String));
    } else {
      expect(response.authorisationId).toBeUndefined();
    }
    expect((await status(fields.transactionReference)).transactionStatus).toBe(txStatus);
  });

  it('answers a successful order with the expected fields', async () => {
    const fields = card('4000000000000002', {
      orderId: 'ORDER42',
      returnContext: 'ctx',
      captureDay: 2,
    });
    const response = answered(await h.client.cardOrder(fields));
    expect(response).toMatchObject({
      responseCode: '00',
      transactionDateTime: '2026-01-15T10:00:00+00:00',
      captureDay: 2,
      captureMode: 'AUTHOR_CAPTURE',
      captureLimitDate: '20260117',
      cardCSCResultCode: '4D',
      orderId: 'ORDER42',
      returnContext: 'ctx',
      paymentMeanBrand: 'VISA',
      panExpiryDate: EXPIRY,
      paymentPattern: 'ONE_SHOT',
      amount: 2500,
      currencyCode: '978',
    });
  });

  it('refuses a card whose expiry date is past with 54', async () => {
    const response = answered(
      await h.client.cardOrder(card('4000000000000002', { cardExpiryDate: '202512' })),
    );
    expect(response.responseCode).toBe('54');
  });

  it('refuses a card expiring this month, as recette does, and takes one expiring next month', async () => {
    // The harness clock is 15 January 2026.
    const thisMonth = answered(
      await h.client.cardOrder(card('4000000000000002', { cardExpiryDate: '202601' })),
    );
    expect(thisMonth.responseCode).toBe('54');
    const nextMonth = answered(
      await h.client.cardOrder(card('4000000000000002', { cardExpiryDate: '202602' })),
    );
    expect(nextMonth.responseCode).toBe('00');
  });

  it.each([
    [99051, '51'],
    [99005, '05'],
    [1299054, '54'],
    [99014, '14'],
    [99099, '00'],
    [99050, '00'],
    [51, '00'],
  ])('amount %i answers %s', async (amount, code) => {
    const response = answered(await h.client.cardOrder(card('4000000000000002', { amount })));
    expect(response.responseCode).toBe(code);
  });

  it('authorises the soft-decline card when authenticated or merchant-initiated', async () => {
    const authenticated = answered(
      await h.client.cardOrder(
        card('4000000000000135', {
          authenticationData: { threeDV2: { cavv: 'AAABBB', eci: '05', txStatus: 'Y' } },
        }),
      ),
    );
    expect(authenticated).toMatchObject({ responseCode: '00', holderAuthentStatus: 'SUCCESS' });
    const recurring = answered(
      await h.client.cardOrder(
        card('4000000000000135', {
          paymentPattern: 'RECURRING_N',
          initialSchemeTransactionIdentifier: 'SCHEME0001',
        }),
      ),
    );
    expect(recurring).toMatchObject({
      responseCode: '00',
      paymentPattern: 'RECURRING_N',
      initialSchemeTransactionIdentifier: 'SCHEME0001',
    });
  });

  it('answers 94 to a reused transactionReference, refused transactions included', async () => {
    const first = card('4000000000000119');
    expect(answered(await h.client.cardOrder(first)).responseCode).toBe('05');
    const again = answered(await h.client.cardOrder({ ...first, cardNumber: '4000000000000002' }));
    expect(again.responseCode).toBe('94');
    expect(h.sim.ledger.countAuthorizations(first.transactionReference)).toBe(0);
    const walletAgain = answered(await h.client.cardCheckEnrollment(first));
    expect(walletAgain).toMatchObject({ responseCode: '94', redirectionStatusCode: '94' });
  });

  it('captures at once with captureMode IMMEDIATE', async () => {
    const fields = card('4000000000000002', { captureMode: 'IMMEDIATE' });
    expect(answered(await h.client.cardOrder(fields)).responseCode).toBe('00');
    expect(await status(fields.transactionReference)).toMatchObject({
      transactionStatus: 'CAPTURED',
      remainingAmount: 2500,
    });
    expect(h.sim.ledger.movements(fields.transactionReference).map((m) => m.kind)).toEqual([
      'authorisation',
      'capture',
    ]);
  });

  it('names a transaction by s10TransactionReference too', async () => {
    const s10TransactionReference = {
      s10TransactionId: '123456',
      s10TransactionIdDate: '20260115',
    };
    const { transactionReference: _unused, ...fields } = card('4000000000000002');
    const response = answered(await h.client.cardOrder({ ...fields, s10TransactionReference }));
    expect(response).toMatchObject({ responseCode: '00', s10TransactionReference });
    expect(response.transactionReference).toBeUndefined();
    const read = answered(await h.client.getTransactionData({ s10TransactionReference }));
    expect(read).toMatchObject({ getTransDataResponseCode: '00', transactionStatus: 'TO_CAPTURE' });
  });
});

describe('last two digits mode', () => {
  let digits: Harness;
  beforeAll(async () => {
    digits = await startHarness({ lastTwoDigits: true });
  });
  afterAll(async () => {
    await digits.close();
  });

  it.each([
    ['4999999999999905', '05'],
    ['4999999999999951', '51'],
    ['4999999999999954', '54'],
    ['4999999999999900', '00'],
    ['4999999999999937', '00'],
    ['4000000000000002', '00'],
    ['5017679110380905', '05'],
  ])('%s answers %s', async (pan, code) => {
    const response = answered(await digits.client.cardOrder(card(pan)));
    expect(response.responseCode).toBe(code);
  });
});

describe('challenges (orange score)', () => {
  it('acceptChallenge resumes to TO_CAPTURE, or TO_VALIDATE in VALIDATION mode', async () => {
    const capture = card('4000000000000143');
    answered(await h.client.cardOrder(capture));
    const accepted = answered(
      await h.client.acceptChallenge({ transactionReference: capture.transactionReference }),
    );
    expect(accepted).toMatchObject({
      responseCode: '00',
      newStatus: 'TO_CAPTURE',
      newAmount: 2500,
    });

    const validation = card('4000000000000143', { captureMode: 'VALIDATION', captureDay: 3 });
    answered(await h.client.cardOrder(validation));
    expect((await status(validation.transactionReference)).transactionStatus).toBe('TO_CHALLENGE');
    const resumed = answered(
      await h.client.acceptChallenge({ transactionReference: validation.transactionReference }),
    );
    expect(resumed.newStatus).toBe('TO_VALIDATE');

    const again = answered(
      await h.client.acceptChallenge({ transactionReference: capture.transactionReference }),
    );
    expect(again).toMatchObject({ responseCode: '24', newStatus: 'TO_CAPTURE' });
  });

  it('refuseChallenge refuses the transaction', async () => {
    const fields = card('4000000000000143');
    answered(await h.client.cardOrder(fields));
    const refused = answered(
      await h.client.refuseChallenge({ transactionReference: fields.transactionReference }),
    );
    expect(refused).toMatchObject({ responseCode: '00', newStatus: 'REFUSED', newAmount: 0 });
    expect(await status(fields.transactionReference)).toMatchObject({
      transactionStatus: 'REFUSED',
      lastOperationName: 'REFUSE_CHALLENGE',
      remainingAmount: 0,
    });
    const unknown = answered(await h.client.refuseChallenge({ transactionReference: 'NOSUCHREF' }));
    expect(unknown.responseCode).toBe('25');
  });
});

describe('duplicate', () => {
  it('authorises a new RECURRING_N transaction with the original card, chained to it', async () => {
    const origin = card('4000000000000002', { paymentPattern: 'RECURRING_1' });
    const first = answered(await h.client.cardOrder(origin));
    const copy = ref('DUP');
    const response = answered(
      await h.client.duplicate({
        fromTransactionReference: origin.transactionReference,
        transactionReference: copy,
        amount: 1200,
        currencyCode: '978',
        orderChannel: 'INTERNET',
      }),
    );
    expect(response).toMatchObject({
      responseCode: '00',
      transactionReference: copy,
      paymentPattern: 'RECURRING_N',
      maskedPan: first.maskedPan,
      fromTransactionReference: origin.transactionReference,
      initialSchemeTransactionIdentifier: first.schemeTransactionIdentifier,
      amount: 1200,
    });
    expect(response.schemeTransactionIdentifier).not.toBe(first.schemeTransactionIdentifier);
    expect(await status(copy)).toMatchObject({
      transactionStatus: 'TO_CAPTURE',
      fromTransactionReference: origin.transactionReference,
      originAmount: 1200,
      lastOperationName: 'DUPLICATE',
    });
    expect(h.sim.ledger.movements(copy).map((m) => m.kind)).toEqual(['duplicateAuthorisation']);
    expect(h.sim.ledger.countAuthorizations(copy)).toBe(1);
    expect(h.sim.ledger.countAuthorizations(origin.transactionReference)).toBe(1);
  });

  it('duplicates an expired transaction and a soft-decline card (merchant-initiated)', async () => {
    const origin = card('4000000000000135', {
      captureMode: 'VALIDATION',
      captureDay: 0,
      authenticationData: { threeDV2: { txStatus: 'Y' } },
    });
    expect(answered(await h.client.cardOrder(origin)).responseCode).toBe('00');
    h.sim.clock.advanceDays(1);
    expect((await status(origin.transactionReference)).transactionStatus).toBe('EXPIRED');
    const response = answered(
      await h.client.duplicate({
        fromTransactionReference: origin.transactionReference,
        transactionReference: ref('DUP'),
        amount: 2500,
        currencyCode: '978',
      }),
    );
    expect(response.responseCode).toBe('00');
  });

  it('answers 25 for an unknown origin and 94 for a reused new reference', async () => {
    const unknown = answered(
      await h.client.duplicate({
        fromTransactionReference: 'NOSUCHORIGIN',
        transactionReference: ref('DUP'),
        amount: 100,
        currencyCode: '978',
      }),
    );
    expect(unknown.responseCode).toBe('25');
    const origin = card('4000000000000002');
    answered(await h.client.cardOrder(origin));
    const reused = answered(
      await h.client.duplicate({
        fromTransactionReference: origin.transactionReference,
        transactionReference: origin.transactionReference,
        amount: 100,
        currencyCode: '978',
      }),
    );
    expect(reused.responseCode).toBe('94');
  });
});

describe('wallets', () => {
  it('adds, lists, pays with and deletes cards', async () => {
    const wallet = 'wallet-1';
    const added = answered(
      await h.client.addCard({
        merchantWalletId: wallet,
        cardNumber: '4000000000000002',
        cardExpiryDate: EXPIRY,
        paymentMeanAlias: 'main',
      }),
    );
    expect(added).toMatchObject({
      walletResponseCode: '00',
      paymentMeanId: '1',
      maskedPan: '4000##########02',
      walletCreationDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/),
    });
    const duplicateCard = answered(
      await h.client.addCard({
        merchantWalletId: wallet,
        cardNumber: '4000000000000002',
        cardExpiryDate: EXPIRY,
      }),
    );
    expect(duplicateCard.walletResponseCode).toBe('94');
    const second = answered(
      await h.client.addCard({
        merchantWalletId: wallet,
        cardNumber: '4000000000000119',
        cardExpiryDate: EXPIRY,
      }),
    );
    expect(second).toMatchObject({ walletResponseCode: '00', paymentMeanId: '2' });
    expect(second.walletCreationDateTime).toBeUndefined();

    const data = answered(await h.client.getWalletData({ merchantWalletId: wallet }));
    expect(data.walletResponseCode).toBe('00');
    expect(data.walletPaymentMeanDataList).toEqual([
      expect.objectContaining({
        paymentMeanId: '1',
        maskedPan: '4000##########02',
        paymentMeanAlias: 'main',
      }),
      expect.objectContaining({ paymentMeanId: '2', maskedPan: '4000##########19' }),
    ]);
    expect(JSON.stringify(data)).not.toContain('4000000000000002');

    const paid = answered(
      await h.client.walletOrder({
        merchantWalletId: wallet,
        paymentMeanId: '1',
        amount: 990,
        currencyCode: '978',
        transactionReference: ref('WAL'),
        paymentPattern: 'RECURRING_N',
        initialSchemeTransactionIdentifier: 'INITIALSCHEME1',
      }),
    );
    expect(paid).toMatchObject({
      responseCode: '00',
      maskedPan: '4000##########02',
      merchantWalletId: wallet,
      paymentMeanId: '1',
      initialSchemeTransactionIdentifier: 'INITIALSCHEME1',
      paymentPattern: 'RECURRING_N',
    });
    expect(paid.schemeTransactionIdentifier).toEqual(expect.any(String));

    const refused = answered(
      await h.client.walletOrder({
        merchantWalletId: wallet,
        paymentMeanId: '2',
        amount: 990,
        currencyCode: '978',
        transactionReference: ref('WAL'),
      }),
    );
    expect(refused.responseCode).toBe('05');

    const deleted = answered(
      await h.client.deletePaymentMean({ merchantWalletId: wallet, paymentMeanId: '1' }),
    );
    expect(deleted.walletResponseCode).toBe('00');
    const gone = answered(
      await h.client.walletOrder({
        merchantWalletId: wallet,
        paymentMeanId: '1',
        amount: 990,
        currencyCode: '978',
        transactionReference: ref('WAL'),
      }),
    );
    expect(gone).toMatchObject({ responseCode: '12', errorFieldName: 'paymentMeanId' });
    const again = answered(
      await h.client.deletePaymentMean({ merchantWalletId: wallet, paymentMeanId: '1' }),
    );
    expect(again.walletResponseCode).toBe('25');
    const unknownWallet = answered(await h.client.getWalletData({ merchantWalletId: 'nobody' }));
    expect(unknownWallet.walletResponseCode).toBe('25');
  });
});

describe('creditHolder', () => {
  it('credits a card: TO_CREDIT, then CREDITED at the remittance; refunding it answers 24', async () => {
    const fields = card('4000000000000002', { amount: 700 });
    const response = answered(await h.client.creditHolder(fields));
    expect(response.responseCode).toBe('00');
    expect((await status(fields.transactionReference)).transactionStatus).toBe('TO_CREDIT');
    const refund = answered(
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

    const refused = answered(await h.client.creditHolder(card('4000000000000119')));
    expect(refused.responseCode).toBe('14');
  });
});

describe('external provider', () => {
  it('initialises, lets the customer approve on the provider page, then finalises', async () => {
    const transactionReference = ref('PROV');
    const init = answered(
      await h.client.paymentProviderInitialize({
        transactionReference,
        amount: 4200,
        currencyCode: '978',
        merchantReturnUrl: 'http://merchant.example/return',
        paymentMeanBrand: 'PAYPAL',
        orderChannel: 'INTERNET',
      }),
    );
    expect(init).toMatchObject({
      responseCode: '00',
      redirectionStatusCode: '00',
      redirectionUrl: `${h.sim.url}/provider`,
      messageVersion: expect.any(String),
      redirectionData: expect.any(String),
    });
    const finalize = {
      transactionReference,
      redirectionData: init.redirectionData as string,
      messageVersion: init.messageVersion as string,
    };
    const early = answered(await h.client.paymentProviderFinalize(finalize));
    expect(early.responseCode).toBe('60');

    const page = await h.form(init.redirectionUrl as string, {
      message_version: finalize.messageVersion,
      redirection_data: finalize.redirectionData,
    });
    expect(page.status).toBe(200);
    const choice = parseHtmlForm(page.text);
    expect(choice.outcomes).toEqual(['APPROVED', 'DECLINED', 'CANCEL']);
    const back = await h.form(new URL(choice.action, h.sim.url).toString(), {
      ...choice.fields,
      outcome: 'APPROVED',
    });
    const returnForm = parseHtmlForm(back.text);
    expect(returnForm.action).toBe('http://merchant.example/return');
    expect(returnForm.fields).toEqual({
      merchantId: h.client.merchantId,
      messageVersion: finalize.messageVersion,
      redirectionData: finalize.redirectionData,
    });
    expect(back.text).toContain('<noscript>');

    const done = answered(await h.client.paymentProviderFinalize(finalize));
    expect(done).toMatchObject({
      responseCode: '00',
      transactionStatus: 'TO_CAPTURE',
      paymentMeanBrand: 'PAYPAL',
      paymentMeanType: 'PROVIDER',
      amount: 4200,
    });
    const twice = answered(await h.client.paymentProviderFinalize(finalize));
    expect(twice).toMatchObject({ responseCode: '24', newStatus: 'TO_CAPTURE' });
  });

  it('a declined provider payment answers 05', async () => {
    const transactionReference = ref('PROV');
    const init = answered(
      await h.client.paymentProviderInitialize({
        transactionReference,
        amount: 4200,
        currencyCode: '978',
        merchantReturnUrl: 'http://merchant.example/return',
        paymentMeanBrand: 'PAYPAL',
      }),
    );
    const page = parseHtmlForm(
      (
        await h.form(init.redirectionUrl as string, {
          redirection_data: init.redirectionData as string,
          message_version: '1.0',
        })
      ).text,
    );
    await h.form(new URL(page.action, h.sim.url).toString(), {
      ...page.fields,
      outcome: 'DECLINED',
    });
    const done = answered(
      await h.client.paymentProviderFinalize({
        transactionReference,
        redirectionData: init.redirectionData as string,
        messageVersion: init.messageVersion as string,
      }),
    );
    expect(done).toMatchObject({ responseCode: '05', transactionStatus: 'REFUSED' });
  });
});

describe('payment in instalments', () => {
  const plan = (reference: string, extra: Record<string, unknown> = {}) => ({
    number: 3,
    datesList: ['20261201', '20270101', '20270201'],
    amountsList: [3_334, 3_333, 3_333],
    transactionReferencesList: [reference, `${reference}B`, `${reference}C`],
    ...extra,
  });

  it('takes the total as the order amount and authorises the first instalment', async () => {
    const fields = card('4000000000000002', { amount: 10_000, paymentPattern: 'INSTALMENT' });
    const response = answered(
      await h.client.cardOrder({ ...fields, instalmentData: plan(fields.transactionReference) }),
    );
    expect(response.responseCode).toBe('00');
    const tx = await status(fields.transactionReference);
    expect(tx).toMatchObject({ paymentPattern: 'INSTALMENT', originAmount: 3_334 });
  });

  it('reads a count and amounts sent as digits like numbers', async () => {
    const fields = card('4000000000000002', { amount: 10_000, paymentPattern: 'INSTALMENT' });
    const response = answered(
      await h.client.cardOrder({
        ...fields,
        instalmentData: plan(fields.transactionReference, {
          number: '3',
          amountsList: ['3334', '3333', '3333'],
        }),
      }),
    );
    expect(response.responseCode).toBe('00');
    expect(await status(fields.transactionReference)).toMatchObject({ originAmount: 3_334 });
  });

  it.each([
    [
      'amounts that do not sum to the amount',
      { amountsList: [3_000, 3_000, 3_000] },
      'instalmentData.amountsList',
    ],
    [
      'dates not in order',
      { datesList: ['20270101', '20261201', '20270201'] },
      'instalmentData.datesList',
    ],
    ['a number unlike the lists', { number: 4 }, 'instalmentData.amountsList'],
    ['a single instalment, sent as digits', { number: '1' }, 'instalmentData.number'],
    [
      'a first reference not the order own',
      { transactionReferencesList: ['OTHER1', 'B', 'C'] },
      'instalmentData.transactionReferencesList',
    ],
  ])('answers 12 naming the field for %s', async (_label, change, field) => {
    const fields = card('4000000000000002', { amount: 10_000, paymentPattern: 'INSTALMENT' });
    const response = answered(
      await h.client.cardOrder({
        ...fields,
        instalmentData: plan(fields.transactionReference, change),
      }),
    );
    expect(response).toMatchObject({ responseCode: '12', errorFieldName: field });
  });
});
