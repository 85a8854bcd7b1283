/**
 * The simulator's time: an injected clock plus an offset that the control
 * endpoint moves forward. Remittance and expiry read this clock, so tests can
 * jump days ahead without waiting and without touching the caller's clock.
 */
import { systemClock, type Clock } from '../platform/clock.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface SimulatorClock extends Clock {
  /** Moves the simulator's time forward (never backward). */
  advance(ms: number): number;
  advanceDays(days: number): number;
  /** How far the simulator runs ahead of the injected clock. */
  offsetMs(): number;
}

export function createSimulatorClock(base: Clock = systemClock): SimulatorClock {
  let offset = 0;
  const now = () => base.now() + offset;
  const advance = (ms: number) => {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the clock only moves forward');
    offset += ms;
    return now();
  };
  return {
    now,
    advance,
    advanceDays: (days) => advance(days * DAY_MS),
    offsetMs: () => offset,
  };
}

/** `2026-01-15T10:00:00+00:00`: Sips date-times carry an explicit offset; the simulator speaks UTC. */
export function formatDateTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19)}+00:00`;
}

/** `20260115`, the Sips date format (captureLimitDate, walletCreationDate...). */
export function formatDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10).replaceAll('-', '');
}

/** Start of the UTC day holding `epochMs`. */
export function startOfDay(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS) * DAY_MS;
}
