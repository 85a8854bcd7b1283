import { describe, expect, it } from 'vitest';
import { assertNoCardData, containsPan, luhnValid } from '../../../src/payments/card-guard.ts';
import { buildEvent } from '../../../src/payments/events.ts';
import { createManualClock } from '../../../src/platform/clock.ts';

const clock = createManualClock(Date.UTC(2026, 0, 15, 10, 0, 0));
const deps = { clock, newId: () => '00000000-0000-4000-8000-000000000001' };

describe('buildEvent', () => {
  it('builds a CloudEvents 1.0 envelope with the payment version as sequence', () => {
    const event = buildEvent(
      {
        type: 'payment.authorized',
        paymentId: 'pay_0_A',
        sequence: 4,
        data: { amount: 2500, maskedPan: '4100##########00' },
      },
      deps,
    );
    expect(event).toEqual({
      specversion: '1.0',
      id: '00000000-0000-4000-8000-000000000001',
      source: 'sogenactif-orchestrator',
      type: 'payment.authorized',
      subject: 'pay_0_A',
      time: '2026-01-15T10:00:00.000Z',
      datacontenttype: 'application/json',
      sequence: 4,
      data: { amount: 2500, maskedPan: '4100##########00' },
    });
    const other = buildEvent(
      { type: 'payment.captured', paymentId: 'pay_0_A', sequence: 5 },
      { clock, source: '/orchestrator/shop' },
    );
    expect(other.source).toBe('/orchestrator/shop');
    expect(other.data).toEqual({});
    expect(other.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses card data in the event data', () => {
    const attempts: Record<string, unknown>[] = [
      { cardNumber: '4100000000000000' },
      { nested: { PAN: 'anything' } },
      { csc: '123' },
      { cardNumber: '4100#####000000' },
      { primaryAccountNumber: 4100000000000000 },
      { request: { cardCSCValue: '000' } },
      { note: 'customer typed 4111111111111111 in the comment' },
      { note: 'card 4111 1111 1111 1111 2026' },
      { list: ['ok', '5555-5555-5555-4444'] },
    ];
    for (const data of attempts) {
      expect(
        () => buildEvent({ type: 'payment.failed', paymentId: 'pay_0_A', sequence: 2, data }, deps),
        JSON.stringify(data),
      ).toThrow(expect.objectContaining({ code: 'card_data_leak' }));
    }
  });

  it('lets masked PANs, timestamps, identifiers and non-Luhn numbers through', () => {
    expect(() =>
      assertNoCardData(
        {
          maskedPan: '4100##########00',
          at: 1768471200000,
          when: '2026-01-15T10:00:00.000Z',
          schemeTransactionIdentifier: '4111111111111111',
          orderId: '4111111111111112',
          pan: null,
          // What maskCardData leaves behind.
          cardNumber: '4100##########00',
          cardCSCValue: '[redacted]',
        },
        'test',
      ),
    ).not.toThrow();
  });
});

describe('card guard', () => {
  it('checks Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
    expect(containsPan('x378282246310005y')).toBe(true);
    expect(containsPan('12345678901234567890123')).toBe(false);
    expect(containsPan('a 2026-01-15 b')).toBe(false);
  });

  it('names the path but never the value', () => {
    try {
      assertNoCardData({ a: { b: ['x', '4111111111111111'] } }, 'review evidence');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain('a.b[1]');
      expect((error as Error).message).not.toContain('4111');
      expect(JSON.stringify((error as { details: unknown }).details)).not.toContain('4111');
    }
  });
});
