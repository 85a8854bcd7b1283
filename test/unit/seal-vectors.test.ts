/**
 * Seal known answers beyond the seed's first example. Each expected value is
 * computed here, independently of seal.ts, with node:crypto over a data
 * string written by hand from the rules (reference §4.1, §4.3).
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { computeSeal, sealDataString, verifySeal } from '../../src/sips/seal.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';

const KEY_TEXT = 'secret123';
const key = new SecretKey(KEY_TEXT);

const hmac256 = (data: string, keyText = KEY_TEXT) =>
  createHmac('sha256', Buffer.from(keyText, 'utf8'))
    .update(Buffer.from(data, 'utf8'))
    .digest('hex');
const hmac512 = (data: string, keyText = KEY_TEXT) =>
  createHmac('sha512', Buffer.from(keyText, 'utf8'))
    .update(Buffer.from(data, 'utf8'))
    .digest('hex');
const sha256 = (data: string, keyText = KEY_TEXT) =>
  createHash('sha256')
    .update(Buffer.from(data + keyText, 'utf8'))
    .digest('hex');

/** Asserts the data string and the HMAC-SHA-256 seal of a message. */
function expectSeal(message: Record<string, unknown>, data: string): void {
  expect(sealDataString(message)).toBe(data);
  expect(computeSeal(message, key)).toBe(hmac256(data));
}

describe('seal: the seed page second example (list of objects, SHA-256, recette key)', () => {
  // Published in the seed page with merchant 201040040170001 and sealAlgorithm SHA-256:
  // its seal verifies with the recette key, which confirms list-of-objects handling
  // and the legacy SHA-256(data ‖ key) variant against an official value.
  const cartRequest = {
    amount: '1000',
    captureDay: '0',
    captureMode: 'AUTHOR_CAPTURE',
    cardCSCValue: '100',
    cardExpiryDate: '202305',
    cardNumber: '5017670000000000',
    currencyCode: '978',
    customerId: 'customerId1',
    customerIpAddress: '127.0.0.1',
    interfaceVersion: 'IR_WS_2.49',
    keyVersion: '1',
    merchantId: '201040040170001',
    merchantTransactionDateTime: '2023-04-05T10:01:56.520+02:00',
    orderChannel: 'INTERNET',
    orderId: '123',
    panType: 'PAN',
    paymentPattern: 'ONE_SHOT',
    returnContext: 'Mon contexte de retour',
    sealAlgorithm: 'SHA-256',
    shoppingCartDetail: {
      shoppingCartItemList: [
        {
          productCategory: 'Physical',
          productCode: 'CodeProd1',
          productDescription: 'Prod_Description1',
          productName: 'productName1',
          productQuantity: '2',
          productSKU: 'productSKU1',
          productTaxRate: '0',
          productUnitAmount: '10',
          productUnitTaxAmount: '240',
        },
        {
          productCategory: 'Physical',
          productCode: 'CodeProd2',
          productDescription: 'Prod_Description2',
          productName: 'productName2',
          productQuantity: '2',
          productSKU: 'productSKU2',
          productTaxRate: '0',
          productUnitAmount: '10',
          productUnitTaxAmount: '240',
        },
      ],
      shoppingCartTotalAmount: '40',
      shoppingCartTotalTaxAmount: '960',
    },
    transactionOrigin: 'SIPS-SIM',
    transactionReference: 'SIM20230405100157',
    seal: '44bab6daa67af2f6c91b40f08a428c66c151f80627ba2f905376b17a3d4c535c',
  };
  const data =
    '10000AUTHOR_CAPTURE1002023055017670000000000978customerId1127.0.0.1IR_WS_2.49' +
    '2010400401700012023-04-05T10:01:56.520+02:00INTERNET123PANONE_SHOTMon contexte de retour' +
    'PhysicalCodeProd1Prod_Description1productName12productSKU1010240' +
    'PhysicalCodeProd2Prod_Description2productName22productSKU2010240' +
    '40960SIPS-SIMSIM20230405100157';

  it('builds the data string and verifies the published seal', () => {
    expect(sealDataString(cartRequest)).toBe(data);
    expect(sha256(data, SEED_TEST_SECRET_KEY)).toBe(cartRequest.seal);
    const recette = new SecretKey(SEED_TEST_SECRET_KEY);
    expect(computeSeal(cartRequest, recette, 'SHA-256')).toBe(cartRequest.seal);
    // verifySeal follows the message's own sealAlgorithm.
    expect(verifySeal(cartRequest, recette).valid).toBe(true);
  });
});

describe('seal: data string rules', () => {
  it('places a container at its own position, its fields sorted, recursively', () => {
    expectSeal(
      {
        b: 'B',
        a: { z: 'Z1', y: 'Y1', x: { q: 'Q', p: 'P' } },
        c: 'C',
      },
      'PQY1Z1BC',
    );
  });

  it('keeps a list of strings in list order (no sorting of values)', () => {
    expectSeal(
      { paymentMeanBrandList: ['VISA', 'MASTERCARD', 'CB'], amount: '100' },
      '100VISAMASTERCARDCB',
    );
  });

  it('walks a list of objects in order, each object sorted', () => {
    expectSeal(
      {
        shoppingCartDetail: {
          shoppingCartItemList: [
            { productName: 'p2', productCode: 'c2' },
            { productName: 'p1', productCode: 'c1' },
          ],
          mainProduct: 'M',
        },
      },
      'Mc2p2c1p1',
    );
  });

  it('walks more than ten list elements in numeric order', () => {
    const list = Array.from({ length: 12 }, (_, index) => `v${index}`);
    expectSeal({ list }, list.join(''));
  });

  it('hashes non-ASCII text as UTF-8 bytes', () => {
    const message = { returnContext: 'Crème brûlée – 5 €', orderId: 'Ä1' };
    const data = 'Ä1Crème brûlée – 5 €';
    expectSeal(message, data);
    const latin1 = createHmac('sha256', KEY_TEXT).update(Buffer.from(data, 'latin1')).digest('hex');
    expect(computeSeal(message, key)).not.toBe(latin1);
  });

  it('sorts names by byte order, not case-insensitively nor by locale', () => {
    // 'M' (0x4D) < 'i' (0x69): authorMessageReference comes first.
    expectSeal({ authorisationId: 'ID', authorMessageReference: 'REF' }, 'REFID');
    // Every uppercase letter sorts before every lowercase one.
    expectSeal({ alpha: 'a', Zulu: 'Z', beta: 'b', Alpha: 'A' }, 'AZab');
    // A name that is a prefix of another comes first; multi-byte names after ASCII.
    expectSeal({ étage: 'E', seal2: 'S2', seal: 'ignored', zed: 'Z', sea: 'S' }, 'SS2ZE');
  });

  it('renders numbers as their decimal text: number and digit string seal alike', () => {
    const asNumbers = { amount: 2500, captureDay: 0, currencyCode: '978' };
    const asStrings = { amount: '2500', captureDay: '0', currencyCode: '978' };
    expectSeal(asNumbers, '25000978');
    expect(computeSeal(asNumbers, key)).toBe(computeSeal(asStrings, key));
  });

  it('treats absent, null and empty string alike (they contribute nothing)', () => {
    const data = 'AC';
    expectSeal({ a: 'A', c: 'C' }, data);
    expectSeal({ a: 'A', b: null, c: 'C' }, data);
    expectSeal({ a: 'A', b: '', c: 'C' }, data);
    expectSeal({ a: 'A', b: {}, c: 'C', d: [] }, data);
    expectSeal({ a: 'A', b: { inner: null }, c: 'C' }, data);
  });

  it('excludes keyVersion, sealAlgorithm and seal only at the top level', () => {
    expectSeal(
      {
        amount: '1',
        keyVersion: '3',
        seal: 'x',
        sealAlgorithm: 'HMAC-SHA-256',
        container: { sealAlgorithm: 'A', seal: 'S', keyVersion: 'K' },
      },
      '1KSA',
    );
  });
});

describe('seal: algorithm variants', () => {
  const message = { amount: '2500', currencyCode: '978', orderId: 'ORD1' };
  const data = '2500978ORD1';

  it('HMAC-SHA-256 is the default', () => {
    expect(computeSeal(message, key)).toBe(hmac256(data));
    expect(computeSeal(message, key, 'HMAC-SHA-256')).toBe(hmac256(data));
  });

  it('SHA-256 (legacy) hashes the data followed by the key', () => {
    expect(computeSeal(message, key, 'SHA-256')).toBe(sha256(data));
  });

  it('HMAC-SHA-512 gives a 128-character hex seal', () => {
    const seal = computeSeal(message, key, 'HMAC-SHA-512');
    expect(seal).toBe(hmac512(data));
    expect(seal).toHaveLength(128);
  });

  it('verifySeal uses the algorithm the message names', () => {
    const sealed = { ...message, sealAlgorithm: 'HMAC-SHA-512', seal: hmac512(data) };
    expect(verifySeal(sealed, key).valid).toBe(true);
    expect(verifySeal({ ...sealed, sealAlgorithm: 'SHA-256' }, key).valid).toBe(false);
  });
});
