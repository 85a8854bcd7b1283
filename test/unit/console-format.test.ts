/**
 * The console's words and figures: amounts by currency exponent, timeline
 * entries as sentences, evidence fields side by side with differences, and
 * the overview's 5-minute acceptance buckets.
 */
import { describe, expect, it } from 'vitest';
import { acceptanceBuckets, responseCodeCounts } from '../../src/api/console/charts.ts';
import { fieldRows } from '../../src/api/console/evidence.ts';
import { timelineLines } from '../../src/api/console/timeline.ts';
import { formatMoney } from '../../src/platform/money.ts';

describe('formatMoney', () => {
  it('writes minor units with the exponent of the currency', () => {
    expect(formatMoney(1_000, '978')).toBe('10.00 EUR');
    expect(formatMoney(5, 'EUR')).toBe('0.05 EUR');
    expect(formatMoney(-1_234, '978')).toBe('-12.34 EUR');
    expect(formatMoney(1_000, '392')).toBe('1000 JPY');
    expect(formatMoney(1_234, '414')).toBe('1.234 KWD');
    expect(formatMoney(0, '840')).toBe('0.00 USD');
    expect(formatMoney(900_719_925_474_099, '978')).toBe('9007199254740.99 EUR');
    expect(formatMoney(1_000, '999')).toBe('1000 minor units (999)');
  });
});

describe('timeline sentences', () => {
  const at = '2026-01-02T12:03:04.000Z';
  it('tells the steps, the latest answer and command carried along', () => {
    const lines = timelineLines({
      amount: 1_000,
      currency: '978',
      timeline: [
        { at, kind: 'created', detail: { kind: 'card', amount: 1_000, currency: '978' } },
        {
          at,
          kind: 'sips.call',
          detail: { service: 'cardOrder', outcome: 'ok', responseCode: '00' },
        },
        {
          at,
          kind: 'status',
          detail: { from: 'received', to: 'authorized', event: 'sips.accepted' },
        },
        { at, kind: 'command', detail: { type: 'capture', amount: 500 } },
        {
          at,
          kind: 'status',
          detail: { from: 'authorized', to: 'captured', event: 'sips.accepted' },
        },
        { at, kind: 'some.new_kind', detail: { amount: 250, why: 'x' } },
      ],
    });
    expect(lines.map((line) => line.sentence)).toEqual([
      'Payment of 10.00 EUR created (card)',
      'Sips answered cardOrder with response code 00, accepted',
      'Authorised 10.00 EUR (response code 00, accepted)',
      'Capture of 5.00 EUR requested',
      'Captured 5.00 EUR (response code 00, accepted)',
      'Some new kind: amount 2.50 EUR, why x',
    ]);
    expect(lines[3]?.label).toBe('command capture');
  });
});

describe('evidence fields', () => {
  it('marks fields whose present values disagree and lists them first', () => {
    const rows = fieldRows([
      { amount: 2_500, currencyCode: '978', orderChannel: 'INTERNET' },
      { amount: 2_400, currencyCode: '978', responseCode: '00' },
    ]);
    expect(rows.map((row) => [row.field, row.differs])).toEqual([
      ['amount', true],
      ['currencyCode', false],
      ['orderChannel', false],
      ['responseCode', false],
    ]);
    expect(rows[0]?.values).toEqual(['2500', '2400']);
  });
});

describe('acceptance buckets', () => {
  it('counts authorised and refused per 5 minutes over the last hour', () => {
    const now = Date.parse('2026-01-02T12:07:00Z');
    const outcomes = [
      { type: 'payment.authorized' as const, at: Date.parse('2026-01-02T12:06:00Z') },
      {
        type: 'payment.refused' as const,
        at: Date.parse('2026-01-02T12:05:00Z'),
        responseCode: '05',
      },
      { type: 'payment.authorized' as const, at: Date.parse('2026-01-02T11:12:00Z') },
      { type: 'payment.authorized' as const, at: Date.parse('2026-01-02T10:00:00Z') },
    ];
    const buckets = acceptanceBuckets(outcomes, now);
    expect(buckets).toHaveLength(12);
    expect(buckets.at(-1)).toEqual({
      start: Date.parse('2026-01-02T12:05:00Z'),
      authorised: 1,
      refused: 1,
    });
    expect(buckets[0]).toEqual({
      start: Date.parse('2026-01-02T11:10:00Z'),
      authorised: 1,
      refused: 0,
    });
    expect(responseCodeCounts(outcomes)).toEqual([
      ['00', 3],
      ['05', 1],
    ]);
  });
});
