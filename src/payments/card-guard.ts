/**
 * The last check before data leaves the vault's reach (events, timeline
 * entries, review evidence): it throws when the data holds a field named like
 * card data whose value is not masked (as `maskCardData` masks it), or a
 * string with a 13-19 digit run (optionally grouped by single spaces or
 * dashes) that passes the Luhn check.
 *
 * Numbers are not scanned: a PAN does not survive as a JS number (16+ digits
 * lose precision), while epoch-millisecond timestamps have 13 digits and would
 * pass Luhn one time in ten. Digit runs longer than 19 are not scanned either
 * (a seal data string concatenates many values; its card fields are masked by
 * the Sips client before it becomes evidence). A few identifier fields that
 * Sips or we generate are exempt from the digit scan, for the same reason:
 * a 15-digit scheme transaction id passes Luhn one time in ten, and refusing
 * to commit a step after Sips moved the money would strand the payment.
 */
import { REDACTED_VALUE } from '../sips/mask.ts';
import { PaymentsError } from './errors.ts';
import { hasDigits, luhnValid } from './pan-detect.ts';

export { luhnValid };

/** Field names that are card data wherever they appear (compared case-insensitively). */
export const CARD_FIELD_NAMES: readonly string[] = [
  'cardNumber',
  'primaryAccountNumber',
  'pan',
  'csc',
  'cardCSCValue',
  'cvv',
  'cvc',
];

/** Identifier fields whose digits are never a card number. */
export const DIGIT_SCAN_EXEMPT_FIELDS: readonly string[] = [
  'transactionReference',
  'authorisationId',
  'schemeTransactionIdentifier',
];

const CARD_FIELDS = new Set(CARD_FIELD_NAMES.map((name) => name.toLowerCase()));
const EXEMPT_FIELDS = new Set(DIGIT_SCAN_EXEMPT_FIELDS);
const MIN_PAN_DIGITS = 13;
const DIGIT_RUN = /(?<!\d)\d{13,19}(?!\d)/g;
/** Digit groups joined by single spaces or dashes: `4111 1111 1111 1111`. */
const GROUPED_RUN = /(?<!\d)\d{1,19}(?:[ -]\d{1,19})+(?!\d)/g;

/** True when the text holds something that looks like a full card number. */
export function containsPan(text: string): boolean {
  // Either pattern needs 13 digits or more.
  if (text.length < MIN_PAN_DIGITS || !hasDigits(text, MIN_PAN_DIGITS)) return false;
  for (const match of text.matchAll(DIGIT_RUN)) {
    if (luhnValid(match[0])) return true;
  }
  for (const match of text.matchAll(GROUPED_RUN)) {
    // Any consecutive groups adding up to 13-19 digits: a grouped PAN may be
    // followed by other numbers (`4111 1111 1111 1111 2026`).
    const groups = match[0].split(/[ -]/);
    for (let first = 0; first < groups.length; first++) {
      let digits = '';
      for (let last = first; last < groups.length && digits.length < 19; last++) {
        digits += groups[last];
        if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
      }
    }
  }
  return false;
}

/**
 * The forms `maskCardData` (src/sips/mask.ts) leaves in a card field: a PAN
 * with `#` in place of all but at most 6 digits, or `[redacted]`.
 */
function isMasked(value: unknown): boolean {
  if (value === REDACTED_VALUE) return true;
  return typeof value === 'string' && value.includes('#') && value.replace(/\D/g, '').length <= 6;
}

function leak(where: string, path: string, why: string): PaymentsError {
  // The offending value is never put in the message or details.
  return new PaymentsError(
    'card_data_leak',
    `card data in ${where} at ${path || '<root>'}: ${why}`,
    {
      details: { where, path },
    },
  );
}

/**
 * A hex digest (a seal: SHA-256, HMAC-SHA-256 or HMAC-SHA-512) is random, never
 * a card number, yet one in about 230 holds a digit run that passes Luhn.
 */
const HEX_DIGEST = /^(?:[0-9a-f]{64}|[0-9a-f]{128}|[0-9A-F]{64}|[0-9A-F]{128})$/;

/** Nothing to look into: a string too short to hold a card number, or a scalar. */
function isPlainLeaf(value: unknown): boolean {
  return typeof value === 'string'
    ? value.length < MIN_PAN_DIGITS
    : value === null || typeof value !== 'object';
}

function walk(value: unknown, where: string, path: string, seen: Set<object>): void {
  if (typeof value === 'string') {
    if (value.length < MIN_PAN_DIGITS || HEX_DIGEST.test(value)) return;
    if (containsPan(value)) throw leak(where, path, 'a string holds a card number');
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((element, index) => {
      if (!isPlainLeaf(element)) walk(element, where, `${path}[${index}]`, seen);
    });
    return;
  }
  const object = value as Record<string, unknown>;
  for (const name in object) {
    if (!Object.hasOwn(object, name)) continue;
    const child = object[name];
    if (
      CARD_FIELDS.has(name.toLowerCase()) &&
      child !== undefined &&
      child !== null &&
      !isMasked(child)
    ) {
      throw leak(where, path ? `${path}.${name}` : name, `field ${name} holds card data in clear`);
    }
    if (EXEMPT_FIELDS.has(name) && typeof child === 'string') continue;
    // The path is only spelled out for what may still hold something.
    if (!isPlainLeaf(child)) walk(child, where, path ? `${path}.${name}` : name, seen);
  }
}

/** Throws `card_data_leak` when `value` holds card data; `where` names the place in the error. */
export function assertNoCardData(value: unknown, where: string): void {
  walk(value, where, '', new Set());
}
