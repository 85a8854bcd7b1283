import { describe, expect, it } from 'vitest';
import { containsPan } from '../../../src/payments/card-guard.ts';
import {
  cardSchema,
  CreatePaymentCommand,
  LUHN_EXEMPT_TEST_CARDS,
  parseCommand,
} from '../../../src/payments/commands.ts';
import {
  containsCardNumber,
  findCardNumber,
  luhnValid,
  redactCardNumbers,
} from '../../../src/payments/pan-detect.ts';
import { REFERENCE_CARDS, SIMULATOR_CARDS } from '../../../src/simulator/cards.ts';

const PAN = '4539148803436467';

describe('findCardNumber', () => {
  it.each([
    PAN,
    '4539 1488 0343 6467',
    '4539.1488.0343.6467',
    '4539-1488-0343-6467',
    '4539_1488_0343_6467',
    '4539 148803 436467',
    `my card is ${PAN}, thanks`,
    'card: 4539 1488 0343 6467 exp 12/30',
    `https://shop.example/return?c=${PAN}`,
    `https://shop.example/return/${PAN}/done`,
    `card${PAN}`,
    `ORD-${PAN}`,
    'ORD-4539-1488-0343-6467',
    '4539 1488 0343 6467 2030',
    '2030 4539 1488 0343 6467',
    '378282246310005',
    '6011111111111117',
    '4000000000000002',
    '5017679110380400',
    '1234 5678 9012 8',
    '4222222222222',
  ])('finds one in %j', (text) => {
    expect(containsCardNumber(text)).toBe(true);
  });

  it.each([
    '',
    '4539148803436468',
    '4539 1488 0343 6468',
    '4539.1488.0343.6468',
    '+33 6 12 34 56 78',
    '+1 (415) 555-0132',
    '0033 6 12 34 56 78 90',
    'ORD-2026-000123',
    '2026-04-15',
    '2026-04-15T10:00:00.000Z',
    '2026-04-15 10:00:00',
    '15/04/2026',
    '1 234 567,89',
    '1,234,567.89',
    '12345.67',
    '123e4567-e89b-12d3-a456-426614174008',
    '12345678-1234-4234-8234-123456789012',
    'f'.repeat(10) + '4539148803436467' + 'a'.repeat(10),
    'a4539148803436467b4539148803436467c0000000000000000ffffffffffff',
    '45391488034',
    '45391488034364670',
    '453914880343646700000',
    '4539148803436467453914880343646745',
    '192.168.100.209',
    '1760000000008',
    'https://shop.example/orders/2026/04/15/123456',
    'pay_12_ABCDEFGHJKMNPQRSTVWX',
    'review-pay_3_0A1B2C3D4E5F6G7H8J9K-5',
  ])('finds none in %j', (text) => {
    expect(containsCardNumber(text)).toBe(false);
  });

  it('finds none in the exceptions, though their digits pass Luhn', () => {
    expect(luhnValid('4539148803436468')).toBe(false);
    // An epoch-millisecond timestamp, a UUID's last group, an IPv4 address.
    expect(luhnValid('1760000000008')).toBe(true);
    expect(luhnValid('426614174008')).toBe(true);
    expect(luhnValid('192168100209')).toBe(true);
    // The same digits elsewhere are a card number.
    expect(containsCardNumber('x-426614174008')).toBe(true);
    expect(containsCardNumber('192.168.100.209.1')).toBe(true);
    expect(containsCardNumber('192 168 100 209')).toBe(true);
    expect(containsCardNumber('since=1760000000008')).toBe(false);
    expect(containsCardNumber('4760000000005')).toBe(true);
  });

  it('says where the number is, never what it is', () => {
    expect(findCardNumber(`order 4539.1488.0343.6467 x`)).toEqual({ index: 6, length: 19 });
    expect(findCardNumber(`ORD-2026-${PAN}`)).toEqual({ index: 9, length: 16 });
  });

  it('redacts every chain holding one', () => {
    expect(redactCardNumbers(`/v1/payments/4539.1488.0343.6467/x/${PAN}`)).toBe(
      '/v1/payments/[redacted]/x/[redacted]',
    );
    expect(redactCardNumbers('/v1/payments/pay_0_X')).toBe('/v1/payments/pay_0_X');
  });

  it('finds at least what the event scanner refuses', () => {
    for (const text of [
      PAN,
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '4111 1111-1111 1111',
      'x4111111111111111y',
    ]) {
      expect(containsPan(text), text).toBe(true);
      expect(containsCardNumber(text), text).toBe(true);
    }
  });

  it('takes linear time on a 64 KiB body', () => {
    const worst = [
      '1 '.repeat(32 * 1024),
      '1234-'.repeat(13 * 1024),
      '9'.repeat(64 * 1024),
      'a1'.repeat(32 * 1024),
      `${'0123456789abcdef'.repeat(4 * 1024)}g`,
    ];
    const started = performance.now();
    for (const text of worst) containsCardNumber(text);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('the card of a command', () => {
  const now = Date.UTC(2026, 4, 20);
  const card = cardSchema(() => now);

  it('takes a Luhn-valid number of 12 to 19 digits and an expiry from this month on', () => {
    expect(card.parse({ number: '4539 1488 0343 6467', expiry: '202605' })).toEqual({
      number: PAN,
      expiry: '202605',
    });
    expect(card.parse({ number: PAN, expiry: '06/26' }).expiry).toBe('202606');
  });

  it('refuses a wrong check digit as card_number_invalid', () => {
    const parsed = parseCommand(card, { number: '4539148803436468', expiry: '203012' });
    expect(parsed).toMatchObject({ ok: false, field: 'number', code: 'card_number_invalid' });
  });

  it('keeps invalid_command (no code) for a number of the wrong length', () => {
    const parsed = parseCommand(card, { number: '4539-1488-034', expiry: '203012' });
    expect(parsed).toMatchObject({
      ok: false,
      field: 'number',
      message: 'must be 12 to 19 digits',
    });
    expect(parsed).not.toHaveProperty('code');
  });

  it('refuses a past month as card_expired, this month is still good', () => {
    expect(parseCommand(card, { number: PAN, expiry: '202604' })).toMatchObject({
      ok: false,
      field: 'expiry',
      code: 'card_expired',
      message: 'is past: the card expired at the end of 04/2026',
    });
    expect(parseCommand(card, { number: PAN, expiry: '04/26' })).toMatchObject({
      code: 'card_expired',
    });
    expect(parseCommand(card, { number: PAN, expiry: '202605' }).ok).toBe(true);
  });

  it('keeps invalid_command (no code) for a malformed expiry', () => {
    const parsed = parseCommand(card, { number: PAN, expiry: '2026-05' });
    expect(parsed.ok).toBe(false);
    expect(parsed).not.toHaveProperty('code');
  });

  it('names the field of the command', () => {
    const parsed = parseCommand(CreatePaymentCommand, {
      amount: 100,
      card: { number: '4539148803436468', expiry: '203012' },
    });
    expect(parsed).toMatchObject({ field: 'card.number', code: 'card_number_invalid' });
  });

  it('refuses a card number in the free text of a command', () => {
    for (const [name, extra] of [
      ['orderId', { orderId: '4539.1488.0343.6467' }],
      ['returnUrl', { returnUrl: `https://shop.example/r?c=${PAN}` }],
      ['paymentMeanBrand', { paymentMeanBrand: '4539_1488_0343_6467' }],
      ['wallet.merchantWalletId', { wallet: { merchantWalletId: PAN, paymentMeanId: '1' } }],
      ['customer.email', { customer: { email: `${PAN}@shop.example` } }],
    ] as const) {
      const parsed = parseCommand(CreatePaymentCommand, {
        amount: 100,
        method: 'provider',
        paymentMeanBrand: 'PAYPAL',
        returnUrl: 'https://shop.example/r',
        ...extra,
      });
      expect(parsed, name).toMatchObject({ ok: false, field: name });
      expect(parsed).not.toHaveProperty('code');
    }
  });
});

describe('the test cards', () => {
  it('pass Luhn, or are among the few documented exceptions', () => {
    const failing = [...SIMULATOR_CARDS, ...REFERENCE_CARDS]
      .map((card) => card.pan)
      .filter((pan) => !luhnValid(pan));
    expect(new Set(failing)).toEqual(LUHN_EXEMPT_TEST_CARDS);
  });

  it('are all taken by the card schema with the simulator expiry 203012', () => {
    const card = cardSchema();
    for (const { pan } of [...SIMULATOR_CARDS, ...REFERENCE_CARDS]) {
      expect(card.safeParse({ number: pan, expiry: '203012' }).success, pan).toBe(true);
    }
  });
});
