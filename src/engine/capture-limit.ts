/**
 * When a VALIDATION authorisation lapses. Sips gives the capture limit as a
 * date (captureLimitDate, YYYYMMDD) without a time, and runs its remittance
 * "between 22h and 23h" Paris time: 20:00 to 22:00 UTC depending on summer
 * time. An authorisation not validated by then lapses with that run, so it is
 * taken to hold until the earliest the run can start, 20:00 UTC on its date;
 * the warning and the policy are set early enough before it (see
 * CaptureLimitOptions). Erring early costs a capture made a little sooner;
 * erring late would cost the whole payment.
 */
export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** 22h in Paris in summer (UTC+2): the earliest the remittance run can start. */
export const LAPSE_HOUR_UTC = 20;

export function startOfUtcDay(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS) * DAY_MS;
}

/** 20:00 UTC on the (UTC) day of an instant. */
function lapseOnDayOf(epochMs: number): number {
  return startOfUtcDay(epochMs) + LAPSE_HOUR_UTC * HOUR_MS;
}

function utcDayOfSipsDate(date: string | undefined): number | undefined {
  const match = date === undefined ? null : /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!match) return undefined;
  const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isNaN(start) ? undefined : start;
}

/**
 * `YYYYMMDD` → epoch ms of the end of that day (UTC), or undefined when
 * malformed: by then the day's remittance run is surely over.
 */
export function endOfSipsDate(date: string | undefined): number | undefined {
  const start = utcDayOfSipsDate(date);
  return start === undefined ? undefined : start + DAY_MS;
}

/** `YYYYMMDD` → epoch ms of 20:00 UTC that day (the lapse), or undefined when malformed. */
export function lapseOfSipsDate(date: string | undefined): number | undefined {
  const start = utcDayOfSipsDate(date);
  return start === undefined ? undefined : lapseOnDayOf(start);
}

/**
 * The capture limit: from Sips' captureLimitDate when it gave one, otherwise
 * the first 20:00 UTC at or after `captureDay` days from the authorisation.
 */
export function captureLimitAt(
  captureLimitDate: string | undefined,
  authorizedAt: number,
  captureDay: number,
): number {
  const given = lapseOfSipsDate(captureLimitDate);
  if (given !== undefined) return given;
  const from = authorizedAt + captureDay * DAY_MS;
  const sameDay = lapseOnDayOf(from);
  return sameDay >= from ? sameDay : sameDay + DAY_MS;
}

/**
 * The earliest a new authorisation made at `now` can lapse: 20:00 UTC on the
 * day `captureDay` days ahead, even past 20:00 (Sips may still date it that
 * day until its run). Used to tell whether reauthorising gains time: erring
 * early here means not reauthorising, never a second hold for nothing.
 */
export function earliestLimitOfNew(now: number, captureDay: number): number {
  return lapseOnDayOf(now + captureDay * DAY_MS);
}

/** `YYYYMMDD` of an instant (UTC), the format of Sips dates. */
export function sipsDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10).replace(/-/g, '');
}
