import { describe, expect, it } from 'vitest';
import { maskCardData, maskPan, REDACTED_VALUE } from '../../src/sips/mask.ts';

describe('maskPan', () => {
  it('keeps the first 4 and last 2 digits, Sips style, length kept', () => {
    expect(maskPan('4500000000000000001')).toBe('4500#############01');
    expect(maskPan('4100000000000005')).toBe('4100##########05');
    expect(maskPan('375705004001005')).toBe('3757#########05');
  });

  it('masks a value too short to keep both ends entirely', () => {
    expect(maskPan('123456')).toBe('######');
    expect(maskPan('')).toBe('');
    expect(maskPan('1234567')).toBe('1234#67');
  });
});

describe('maskCardData', () => {
  const message = {
    amount: '2500',
    cardNumber: '4100000000000005',
    cardCSCValue: '987',
    cardExpiryDate: '203012',
    maskedPan: '4100##########05',
    panExpiryDate: '203012',
    customerContact: { email: 'a@b.c' },
    paymentMeanData: { card: { cardNumber: '5017679110380400', cardCSCValue: '1234' } },
    panDataList: [
      { panId: '1', pan: '4200000000000000' },
      { panId: '2', pan: 4100000000000000 },
    ],
    paResMessage: 'eJxVUl1v...',
  };

  it('masks card numbers and replaces security codes, expiry dates and 3DS blobs, at any depth', () => {
    expect(maskCardData(message)).toEqual({
      amount: '2500',
      cardNumber: '4100##########05',
      cardCSCValue: REDACTED_VALUE,
      cardExpiryDate: REDACTED_VALUE,
      maskedPan: '4100##########05',
      panExpiryDate: '203012',
      customerContact: { email: 'a@b.c' },
      paymentMeanData: { card: { cardNumber: '5017##########00', cardCSCValue: REDACTED_VALUE } },
      panDataList: [
        { panId: '1', pan: '4200##########00' },
        { panId: '2', pan: '4100##########00' },
      ],
      paResMessage: REDACTED_VALUE,
    });
  });

  it('returns a deep copy and leaves the input untouched', () => {
    const before = structuredClone(message);
    const masked = maskCardData(message);
    expect(message).toEqual(before);
    expect(masked.paymentMeanData).not.toBe(message.paymentMeanData);
  });

  it('leaves nothing of the clear values in the serialised copy', () => {
    const text = JSON.stringify(maskCardData(message));
    for (const secret of [
      '4100000000000005',
      '5017679110380400',
      '4200000000000000',
      '987',
      '1234"',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('keeps nulls and unrelated values as they are', () => {
    expect(maskCardData({ cardNumber: null, orderId: '4100000000000005' })).toEqual({
      cardNumber: null,
      orderId: '4100000000000005',
    });
  });
});
