/**
 * The seal example of the Sogenactif Office Server JSON page, verbatim: the
 * request (with its seal), its data string and the key that seals it.
 */
export const SEED_EXAMPLE_KEY = 'secret123';

export const SEED_EXAMPLE_SEAL = 'f1772faa4b73c0fc5a9810ad7fcaf91458d6174b2178a0a0a2bea2d860b404f5';

export const SEED_EXAMPLE_DATA =
  '25000AUTHOR_CAPTURE0002016121234123412341234978customer@email.comIR_WS_2.3' +
  '011223344550000INTERNETORD101ReturnContextSO_WEBAPPLITREFEXA2012';

/** The request without its seal. */
export const SEED_EXAMPLE_REQUEST: Readonly<Record<string, unknown>> = Object.freeze({
  amount: '2500',
  captureDay: '0',
  captureMode: 'AUTHOR_CAPTURE',
  cardCSCValue: '000',
  cardExpiryDate: '201612',
  cardNumber: '1234123412341234',
  currencyCode: '978',
  customerContact: { email: 'customer@email.com' },
  interfaceVersion: 'IR_WS_2.3',
  keyVersion: '1',
  merchantId: '011223344550000',
  orderChannel: 'INTERNET',
  orderId: 'ORD101',
  returnContext: 'ReturnContext',
  transactionOrigin: 'SO_WEBAPPLI',
  transactionReference: 'TREFEXA2012',
});
