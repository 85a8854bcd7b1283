import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeResponseCode, isRetryableCode, RESPONSE_CODES } from '../../src/sips/codes.ts';
import type { SipsResult } from '../../src/sips/result.ts';
import { eventForResult } from '../../src/sips/translate.ts';

const RETRYABLE = new Set(['90', '99']);
const KNOWN = new Set(RESPONSE_CODES.map((row) => row.code));

describe('the responseCode table', () => {
  it('has one row per code, each row consistent with its kind', () => {
    expect(KNOWN.size).toBe(RESPONSE_CODES.length);
    for (const row of RESPONSE_CODES) {
      expect(describeResponseCode(row.code)).toBe(row);
      expect(row.action === 'retry').toBe(row.kind === 'retryable');
      if (row.kind === 'ok') expect(row.action).toBe('advance');
      if (row.action === 'advance') expect(row.kind).toBe('ok');
    }
  });

  it('retries 90 and 99 only', () => {
    const retried = RESPONSE_CODES.filter((row) => row.action === 'retry').map((row) => row.code);
    expect(retried.sort()).toEqual(['90', '99']);
  });

  it('covers every code of the reference table', () => {
    const reference = [
      '00',
      '01',
      '02',
      '03',
      '04',
      '05',
      '11',
      '12',
      '14',
      '17',
      '24',
      '25',
      '30',
      '34',
      '40',
      '51',
      '54',
      '55',
      '57',
      '60',
      '62',
      '63',
      '75',
      '90',
      '94',
      '97',
      '99',
    ];
    for (const code of reference) expect(KNOWN.has(code), code).toBe(true);
  });

  it('sends 24 and 94 to an inquiry, and alerts on 34', () => {
    expect(describeResponseCode('24').action).toBe('inquire');
    expect(describeResponseCode('94').action).toBe('inquire');
    expect(describeResponseCode('34').alert).toBe(true);
  });

  it('reports 60 and 62 as pending, to inquire: never a refusal', () => {
    for (const code of ['60', '62']) {
      expect(describeResponseCode(code), code).toMatchObject({
        kind: 'pending',
        action: 'inquire',
      });
    }
  });

  it('keeps kinds and actions consistent: a refusal is final, a pending answer inquires', () => {
    for (const row of RESPONSE_CODES) {
      if (row.kind === 'refused') expect(row.action, row.code).toBe('final');
      if (row.kind === 'pending') expect(row.action, row.code).toBe('inquire');
      if (row.action === 'inquire') expect(['pending', 'invalid'], row.code).toContain(row.kind);
    }
  });

  it('makes a payment inquire after a 60 or 62 answer, and end refused after a 05', () => {
    const answer = (code: string): SipsResult => ({
      kind: describeResponseCode(code).kind,
      responseCode: code,
      code: describeResponseCode(code),
      response: { responseCode: code },
      call: { service: 'paymentProviderFinalize', url: 'http://sips', request: {}, durationMs: 1 },
    });
    for (const code of ['60', '62']) {
      expect(eventForResult('finalize_provider', answer(code), true), code).toEqual({
        type: 'sips.conflict',
        operation: 'finalize_provider',
        responseCode: code,
      });
    }
    expect(eventForResult('finalize_provider', answer('05'), true)).toMatchObject({
      type: 'sips.declined',
      responseCode: '05',
      invalid: false,
    });
  });

  it('retries a code exactly when it is 90 or 99, whatever the string', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constantFrom(...KNOWN), fc.stringMatching(/^\d{2}$/)),
        (code) => {
          expect(isRetryableCode(code)).toBe(RETRYABLE.has(code));
        },
      ),
    );
  });

  it('never retries nor accepts a code it does not know', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.stringMatching(/^\d{1,3}$/)).filter((code) => !KNOWN.has(code)),
        (code) => {
          const row = describeResponseCode(code);
          expect(row.code).toBe(code);
          expect(row.kind).toBe('refused');
          expect(row.action).toBe('final');
        },
      ),
    );
  });
});
