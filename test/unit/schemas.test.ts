import { describe, expect, it } from 'vitest';
import {
  SERVICE_SCHEMAS,
  validateRequest,
  type SipsRequestFields,
} from '../../src/sips/schemas.ts';
import {
  interfaceVersionFor,
  SIPS_SERVICE_NAMES,
  type SipsServiceName,
} from '../../src/sips/services.ts';

const SEAL = 'f1772faa4b73c0fc5a9810ad7fcaf91458d6174b2178a0a0a2bea2d860b404f5';

function wire<S extends SipsServiceName>(
  service: S,
  fields: SipsRequestFields<S>,
): Record<string, unknown> {
  return {
    ...fields,
    merchantId: '201040040170001',
    interfaceVersion: interfaceVersionFor(service),
    keyVersion: '1',
    seal: SEAL,
  };
}

const order = {
  amount: '2500',
  currencyCode: '978',
  transactionReference: 'TREF123',
  captureDay: '0',
  captureMode: 'AUTHOR_CAPTURE',
  orderChannel: 'INTERNET',
} as const;
const card = { cardNumber: '4100000000000000', cardExpiryDate: '203012', cardCSCValue: '123' };
const continuation = {
  transactionReference: 'TREF123',
  messageVersion: '2.2.0',
  redirectionData: 'abc',
};
const operation = { transactionReference: 'TREF123', operationAmount: 1000, currencyCode: '978' };

interface Case {
  sample: Record<string, unknown>;
  /** A required field: removing it answers 12. */
  required: string;
  /** A field and an ill-formatted value: answers 30. */
  bad: [field: string, value: unknown];
}

const CASES: Record<SipsServiceName, Case> = {
  cardOrder: { sample: { ...order, ...card }, required: 'cardNumber', bad: ['amount', 25.5] },
  walletOrder: {
    sample: { ...order, merchantWalletId: 'W1', paymentMeanId: '1' },
    required: 'merchantWalletId',
    bad: ['paymentMeanId', 'abc'],
  },
  cardCheckEnrollment: {
    sample: { ...order, ...card, merchantReturnUrl: 'https://shop.example/3ds' },
    required: 'cardExpiryDate',
    bad: ['merchantReturnUrl', 'not a url'],
  },
  walletCheckEnrollment: {
    sample: { ...order, merchantWalletId: 'W1', paymentMeanId: 2 },
    required: 'amount',
    bad: ['cardCSCValue', '12'],
  },
  cardValidateAuthentication: {
    sample: continuation,
    required: 'redirectionData',
    bad: ['transactionReference', 'has spaces'],
  },
  cardValidateAuthenticationAndOrder: {
    sample: { ...continuation, paResMessage: 'eJx...' },
    required: 'messageVersion',
    bad: ['redirectionData', 42],
  },
  paymentProviderInitialize: {
    sample: { ...order, paymentMeanBrand: 'PAYPAL', merchantReturnUrl: 'https://shop.example/r' },
    required: 'merchantReturnUrl',
    bad: ['currencyCode', 'EUR'],
  },
  paymentProviderFinalize: {
    sample: continuation,
    required: 'transactionReference',
    bad: ['messageVersion', ['2.2']],
  },
  walletIssuerWalletInitialize: {
    sample: {
      ...order,
      merchantWalletId: 'W1',
      paymentMeanBrand: 'PAYLIB',
      merchantReturnUrl: 'https://shop.example/r',
    },
    required: 'merchantWalletId',
    bad: ['paymentMeanId', 'first'],
  },
  walletIssuerWalletFinalize: {
    sample: continuation,
    required: 'redirectionData',
    bad: ['transactionReference', 'TREF-123'],
  },
  validate: { sample: operation, required: 'operationAmount', bad: ['operationAmount', '10.50'] },
  cancel: { sample: operation, required: 'currencyCode', bad: ['operationAmount', -1] },
  refund: { sample: operation, required: 'transactionReference', bad: ['currencyCode', '97'] },
  duplicate: {
    sample: { ...order, fromTransactionReference: 'TREF000' },
    required: 'fromTransactionReference',
    bad: ['fromMerchantId', '123'],
  },
  acceptChallenge: {
    sample: { transactionReference: 'TREF123', operationOrigin: 'BO', comment: 'ok' },
    required: 'transactionReference',
    bad: ['transactionReference', 'x'.repeat(36)],
  },
  refuseChallenge: {
    sample: { transactionReference: 'TREF123' },
    required: 'transactionReference',
    bad: ['comment', 7],
  },
  creditHolder: {
    sample: { ...order, ...card },
    required: 'currencyCode',
    bad: ['cardExpiryDate', '203013'],
  },
  walletCreditHolder: {
    sample: { ...order, merchantWalletId: 'W1', paymentMeanId: '1' },
    required: 'paymentMeanId',
    bad: ['merchantWalletId', 'W'.repeat(22)],
  },
  getTransactionData: {
    sample: { transactionReference: 'TREF123' },
    required: 'transactionReference',
    bad: ['s10TransactionReference', { s10TransactionId: '12', s10TransactionIdDate: '20260101' }],
  },
  addCard: {
    sample: { merchantWalletId: 'W1', cardNumber: '4100000000000000', cardExpiryDate: '203012' },
    required: 'cardNumber',
    bad: ['cardNumber', '4100 0000 0000 0000'],
  },
  getWalletData: {
    sample: { merchantWalletId: 'W1' },
    required: 'merchantWalletId',
    bad: ['merchantWalletId', 'W'.repeat(22)],
  },
  deletePaymentMean: {
    sample: { merchantWalletId: 'W1', paymentMeanId: '3' },
    required: 'paymentMeanId',
    bad: ['paymentMeanId', 1.5],
  },
};

function without(message: Record<string, unknown>, field: string): Record<string, unknown> {
  const copy = { ...message };
  delete copy[field];
  return copy;
}

describe('request schemas, service by service', () => {
  it('has a schema pair for every service', () => {
    expect(Object.keys(SERVICE_SCHEMAS).sort()).toEqual([...SIPS_SERVICE_NAMES].sort());
  });

  for (const service of SIPS_SERVICE_NAMES) {
    const { sample, required, bad } = CASES[service];
    describe(service, () => {
      const valid = wire(service, sample as SipsRequestFields<typeof service>);

      it('accepts a valid request', () => {
        expect(validateRequest(service, valid)).toMatchObject({ ok: true });
      });

      it(`answers 12 naming ${required} when it is missing`, () => {
        expect(validateRequest(service, without(valid, required))).toMatchObject({
          ok: false,
          responseCode: '12',
          errorFieldName: required,
        });
      });

      it(`answers 30 naming ${bad[0]} when it is ill-formatted`, () => {
        const result = validateRequest(service, { ...valid, [bad[0]]: bad[1] });
        expect(result).toMatchObject({ ok: false, responseCode: '30' });
        expect(result.ok ? '' : result.errorFieldName.split('.')[0]).toBe(bad[0]);
      });

      it('rejects the interfaceVersion of another domain', () => {
        const other = service.startsWith('get') ? 'IR_WS_2.55' : 'DR_WS_2.55';
        expect(validateRequest(service, { ...valid, interfaceVersion: other })).toMatchObject({
          responseCode: '30',
          errorFieldName: 'interfaceVersion',
        });
      });
    });
  }
});

describe('wallet services', () => {
  const issuer = wire('walletIssuerWalletInitialize', {
    ...order,
    merchantWalletId: 'W1',
    paymentMeanBrand: 'PAYLIB',
    merchantReturnUrl: 'https://shop.example/r',
  });

  it('walletIssuerWalletInitialize needs the return URL and the issuer wallet brand, not a paymentMeanId', () => {
    for (const field of ['merchantReturnUrl', 'paymentMeanBrand', 'transactionReference']) {
      expect(validateRequest('walletIssuerWalletInitialize', without(issuer, field))).toMatchObject(
        {
          responseCode: '12',
          errorFieldName: field,
        },
      );
    }
    expect(validateRequest('walletIssuerWalletInitialize', issuer).ok).toBe(true);
    expect(
      validateRequest('walletIssuerWalletInitialize', { ...issuer, paymentMeanId: 2 }).ok,
    ).toBe(true);
    expect(
      validateRequest('walletIssuerWalletInitialize', { ...issuer, merchantReturnUrl: 'shop' }),
    ).toMatchObject({ responseCode: '30', errorFieldName: 'merchantReturnUrl' });
  });

  it('walletCreditHolder checks a clear CSC and accepts an s10 reference', () => {
    const credit = wire('walletCreditHolder', {
      ...order,
      merchantWalletId: 'W1',
      paymentMeanId: '1',
    });
    expect(validateRequest('walletCreditHolder', { ...credit, cardCSCValue: '12' })).toMatchObject({
      responseCode: '30',
      errorFieldName: 'cardCSCValue',
    });
    const s10 = {
      ...without(credit, 'transactionReference'),
      s10TransactionReference: { s10TransactionId: '123456', s10TransactionIdDate: '20260115' },
    };
    expect(validateRequest('walletCreditHolder', s10).ok).toBe(true);
  });
});

describe('request envelope and formats', () => {
  const valid = wire('cardOrder', { ...order, ...card });

  it.each([
    ['merchantId', '20104004017000'],
    ['merchantId', 201040040170001],
    ['keyVersion', 'v1'],
    ['seal', 'not-hex'],
    ['sealAlgorithm', 'MD5'],
    ['amount', '25.00'],
    ['amount', 1e13],
    ['cardExpiryDate', '2030-12'],
    ['cardCSCValue', '12345'],
    ['captureMode', 'LATER'],
    ['merchantTransactionDateTime', '05/04/2023'],
  ])('answers 30 for %s = %j', (field, value) => {
    expect(validateRequest('cardOrder', { ...valid, [field]: value })).toMatchObject({
      ok: false,
      responseCode: '30',
      errorFieldName: field,
    });
  });

  it.each(['merchantId', 'interfaceVersion', 'keyVersion', 'seal', 'amount', 'currencyCode'])(
    'answers 12 when %s is missing, null or empty',
    (field) => {
      for (const value of [undefined, null, '']) {
        expect(validateRequest('cardOrder', { ...valid, [field]: value })).toMatchObject({
          responseCode: '12',
          errorFieldName: field,
        });
      }
    },
  );

  it('accepts amounts as JSON integers or digit strings, and keeps them as given', () => {
    for (const amount of [2500, '2500', 0, '000123']) {
      const result = validateRequest('cardOrder', { ...valid, amount });
      expect(result.ok && result.value.amount).toBe(amount);
    }
  });

  it('accepts every seal algorithm and a 128-character seal', () => {
    for (const sealAlgorithm of ['HMAC-SHA-256', 'SHA-256', 'HMAC-SHA-512']) {
      expect(validateRequest('cardOrder', { ...valid, sealAlgorithm }).ok).toBe(true);
    }
    expect(validateRequest('cardOrder', { ...valid, seal: 'ab'.repeat(64) }).ok).toBe(true);
  });

  it('keeps unknown request fields, top level and nested', () => {
    const result = validateRequest('cardOrder', {
      ...valid,
      brandNewField: 'X',
      customerContact: { email: 'a@b.c', newContactField: 'Y' },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      brandNewField: 'X',
      customerContact: { newContactField: 'Y' },
    });
  });

  it('names a nested field with a dotted path', () => {
    expect(
      validateRequest('cardOrder', { ...valid, customerContact: { email: 42 } }),
    ).toMatchObject({ responseCode: '30', errorFieldName: 'customerContact.email' });
    expect(
      validateRequest('cardOrder', {
        ...valid,
        shoppingCartDetail: {
          shoppingCartItemList: [{ productName: 'ok' }, { productQuantity: '1.5' }],
        },
      }),
    ).toMatchObject({
      responseCode: '30',
      errorFieldName: 'shoppingCartDetail.shoppingCartItemList.1.productQuantity',
    });
    expect(
      validateRequest('cardOrder', {
        ...valid,
        instalmentData: { datesList: ['20260101', '2026-02-01'] },
      }),
    ).toMatchObject({ responseCode: '30', errorFieldName: 'instalmentData.datesList.1' });
  });

  it('reports a missing field before a format error', () => {
    const result = validateRequest('cardOrder', { ...without(valid, 'currencyCode'), amount: 'x' });
    expect(result).toMatchObject({ responseCode: '12', errorFieldName: 'currencyCode' });
  });

  it('accepts s10TransactionReference instead of transactionReference', () => {
    const message = {
      ...without(valid, 'transactionReference'),
      s10TransactionReference: { s10TransactionId: '123456', s10TransactionIdDate: '20260115' },
    };
    expect(validateRequest('cardOrder', message).ok).toBe(true);
  });

  it('checks a clear PAN for digits, but leaves tokens and encrypted values to the server', () => {
    expect(validateRequest('cardOrder', { ...valid, cardNumber: '41000000000' })).toMatchObject({
      responseCode: '30',
      errorFieldName: 'cardNumber',
    });
    expect(
      validateRequest('cardOrder', { ...valid, cardNumber: 'tok_ABC123', panType: 'TOKEN_PAN' }).ok,
    ).toBe(true);
    expect(
      validateRequest('cardOrder', { ...valid, cardCSCValue: 'ZW5jcnlwdGVk', cscType: 'CSE' }).ok,
    ).toBe(true);
  });

  it('answers 30 for a body that is not an object', () => {
    expect(validateRequest('cardOrder', [])).toMatchObject({ ok: false, responseCode: '30' });
    expect(validateRequest('cardOrder', 'text')).toMatchObject({ ok: false, responseCode: '30' });
  });
});

describe('response schemas', () => {
  it('keep unknown fields and accept nulls and numbers', () => {
    const response = {
      responseCode: '00',
      authorisationId: null,
      amount: 2500,
      maskedPan: '4100##########00',
      cardData: { cardProductCode: 'X', futureField: 'F' },
      futureTopLevel: { nested: ['a'] },
      seal: SEAL,
    };
    const parsed = SERVICE_SCHEMAS.cardOrder.response.parse(response);
    expect(parsed).toEqual(response);
  });

  it('require the response code', () => {
    expect(SERVICE_SCHEMAS.cancel.response.safeParse({ newStatus: 'CANCELLED' }).success).toBe(
      false,
    );
  });

  it('require walletResponseCode for wallet functions', () => {
    expect(SERVICE_SCHEMAS.getWalletData.response.safeParse({ responseCode: '00' }).success).toBe(
      false,
    );
    const wallet = {
      walletResponseCode: '00',
      walletPaymentMeanDataList: [{ paymentMeanId: '1', maskedPan: '4100##########00' }],
    };
    expect(SERVICE_SCHEMAS.getWalletData.response.parse(wallet)).toEqual(wallet);
  });

  it('accept getTransDataResponseCode in place of responseCode for getTransactionData', () => {
    const schema = SERVICE_SCHEMAS.getTransactionData.response;
    expect(schema.safeParse({ getTransDataResponseCode: '25' }).success).toBe(true);
    expect(schema.safeParse({ responseCode: '00', transactionStatus: 'CAPTURED' }).success).toBe(
      true,
    );
    expect(schema.safeParse({ transactionStatus: 'CAPTURED' }).success).toBe(false);
  });
});
