/**
 * Card data masking for logs, evidence and events (architecture §9). A PAN
 * keeps its first 4 and last 2 characters, Sips style (`4500#############01`,
 * the format of the `maskedPan` response field); security codes, expiry dates
 * and 3-D Secure blobs (a PaReq carries the PAN) are replaced entirely.
 */

/** What replaces a value that must not be shown at all. */
export const REDACTED_VALUE = '[redacted]';

const MASK_CHARACTER = '#';
const CLEAR_PREFIX = 4;
const CLEAR_SUFFIX = 2;

/** Fields holding a card number (clear, token or encrypted): masked, length kept. */
const PAN_FIELDS = new Set(['cardNumber', 'pan', 'primaryAccountNumber']);

/** Fields that are replaced whole, wherever they appear. */
const REPLACED_FIELDS = new Set([
  'cardCSCValue',
  'cardExpiryDate',
  'csc',
  'cvv',
  'cvc',
  'paReqMessage',
  'paResMessage',
  'PaReq',
  'PaRes',
]);

/**
 * Masks a card number: first 4 and last 2 characters kept, `#` in between,
 * length preserved. A value too short to keep both ends is masked entirely.
 */
export function maskPan(pan: string): string {
  if (pan.length <= CLEAR_PREFIX + CLEAR_SUFFIX) return MASK_CHARACTER.repeat(pan.length);
  return (
    pan.slice(0, CLEAR_PREFIX) +
    MASK_CHARACTER.repeat(pan.length - CLEAR_PREFIX - CLEAR_SUFFIX) +
    pan.slice(-CLEAR_SUFFIX)
  );
}

function maskValue(name: string | undefined, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (name !== undefined && PAN_FIELDS.has(name)) {
    if (typeof value === 'string') return maskPan(value);
    if (typeof value === 'number' || typeof value === 'bigint') return maskPan(String(value));
  }
  if (name !== undefined && REPLACED_FIELDS.has(name) && typeof value !== 'object') {
    return REDACTED_VALUE;
  }
  if (Array.isArray(value)) return value.map((element) => maskValue(name, element));
  if (typeof value === 'object') return maskObject(value as Record<string, unknown>);
  return value;
}

function maskObject(object: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(object)) copy[name] = maskValue(name, value);
  return copy;
}

/**
 * A deep copy of a message with every card field masked, at any depth
 * (containers and lists included). The input is not modified.
 */
export function maskCardData<T extends Readonly<Record<string, unknown>>>(
  message: T,
): Record<string, unknown> {
  return maskObject(message);
}
