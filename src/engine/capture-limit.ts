/**
 * When a VALIDATION authorisation lapses. Sips gives the capture limit as a
 * date (captureLimitDate, YYYYMMDD) without a time; the authorisation is taken
 * to hold until the end of that day (UTC), and the warning and the policy are
 * set early enough before it (see CaptureLimitOptions) to act in time.
 */
export const DAY_MS = 86_400_000;

export function startOfUtcDay(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS) * DAY_MS;
}

/** `YYYYMMDD` → epoch ms of the end of that day (UTC), or undefined when malformed. */
export function endOfSipsDate(date: string | undefined): number | undefined {
  const match = date === undefined ? null : /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!match) return undefined;
  const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isNaN(start) ? undefined : start + DAY_MS;
}

/**
 * The capture limit: from Sips' captureLimitDate when it gave one, otherwise
 * the end of the day `captureDay` days after the authorisation.
 */
export function captureLimitAt(
  captureLimitDate: string | undefined,
  authorisedAt: number,
  captureDay: number,
): number {
  return (
    endOfSipsDate(captureLimitDate) ?? startOfUtcDay(authorisedAt + captureDay * DAY_MS) + DAY_MS
  );
}

/** `YYYYMMDD` of an instant (UTC), the format of Sips dates. */
export function sipsDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10).replace(/-/g, '');
}
