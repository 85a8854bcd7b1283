/**
 * Checks of plain values, shared by the machines' readers of stored
 * snapshots and by the command rules.
 */

/** A plain object (not null, not an array), as a stored snapshot's objects are. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Positive integer minor units, within what JSON and Sips carry exactly. */
export function isValidAmount(amount: unknown): amount is number {
  return typeof amount === 'number' && Number.isSafeInteger(amount) && amount > 0;
}
