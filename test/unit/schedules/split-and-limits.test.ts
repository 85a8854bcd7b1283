/**
 * The arithmetic of schedules: instalment splits in integer minor units and
 * the capture limit taken from Sips' date.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  captureLimitAt,
  endOfSipsDate,
  lapseOfSipsDate,
  sipsDate,
} from '../../../src/engine/capture-limit.ts';
import { cronPattern, splitAmount, interval } from '../../../src/schedules/commands.ts';

describe('splitAmount', () => {
  it('sums to the total exactly, in parts that differ by one unit at most, larger first', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 999_999_999_999 }),
        fc.integer({ min: 2, max: 12 }),
        (total, count) => {
          const parts = splitAmount(total, count);
          expect(parts).toHaveLength(count);
          expect(parts.reduce((sum, part) => sum + part, 0)).toBe(total);
          expect(parts.every(Number.isInteger)).toBe(true);
          expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
          expect([...parts].sort((a, b) => b - a)).toEqual(parts);
        },
      ),
    );
    expect(splitAmount(10_000, 3)).toEqual([3_334, 3_333, 3_333]);
  });
});

describe('capture limit', () => {
  it('lapses at 20:00 UTC on captureLimitDate, the earliest start of the remittance run', () => {
    expect(lapseOfSipsDate('20261231')).toBe(Date.UTC(2026, 11, 31, 20));
    expect(lapseOfSipsDate('2026-12-31')).toBeUndefined();
    expect(lapseOfSipsDate(undefined)).toBeUndefined();
    // The day's run is surely over by its end.
    expect(endOfSipsDate('20261231')).toBe(Date.UTC(2027, 0, 1));
    expect(endOfSipsDate('2026-12-31')).toBeUndefined();
  });

  it('falls back to the first 20:00 UTC captureDay days after the authorisation', () => {
    const afternoon = Date.UTC(2026, 10, 27, 15, 30);
    expect(captureLimitAt(undefined, afternoon, 0)).toBe(Date.UTC(2026, 10, 27, 20));
    expect(captureLimitAt(undefined, afternoon, 6)).toBe(Date.UTC(2026, 11, 3, 20));
    const evening = Date.UTC(2026, 10, 27, 21);
    expect(captureLimitAt(undefined, evening, 0)).toBe(Date.UTC(2026, 10, 28, 20));
    expect(captureLimitAt('20261130', afternoon, 6)).toBe(Date.UTC(2026, 10, 30, 20));
    expect(sipsDate(afternoon)).toBe('20261127');
  });
});

describe('interval', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['1w', 604_800_000],
  ])('reads %s', (text, ms) => {
    expect(interval.parse(text)).toBe(ms);
  });

  it.each(['0s', '1y', '2 weeks', '367d', ''])('refuses %j', (text) => {
    expect(interval.safeParse(text).success).toBe(false);
  });
});

describe('cron', () => {
  it.each(['0 9 1 * *', '*/5 * * * *', '0 0 9 * * 1-5'])('takes %j', (text) => {
    expect(cronPattern.safeParse(text).success).toBe(true);
  });

  it.each(['99 99 * * *', '0 0 31 2 *', 'every day', '* * * *'])('refuses %j', (text) => {
    expect(cronPattern.safeParse(text).success).toBe(false);
  });
});
