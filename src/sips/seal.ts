/**
 * The Sips seal: an HMAC over the values of a message's fields.
 *
 * Data string rules (reference §4.1, verified against the seed's example):
 * every field except `seal`, `keyVersion` and `sealAlgorithm`, names sorted by
 * byte order of their UTF-8 encoding (not locale, not case-insensitive), values
 * only, no separators. A container contributes its own recursively sorted
 * values at its position; a list contributes its elements in list order, each
 * object in it sorted. Absent and null fields contribute nothing; numbers are
 * written as their decimal text, so "2500" and 2500 seal alike.
 */
import {
  createHash,
  createHmac,
  createSecretKey,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type { SecretKey } from './secret-key.ts';

export const SEAL_ALGORITHMS = ['HMAC-SHA-256', 'SHA-256', 'HMAC-SHA-512'] as const;
export type SealAlgorithm = (typeof SEAL_ALGORITHMS)[number];
export const DEFAULT_SEAL_ALGORITHM: SealAlgorithm = 'HMAC-SHA-256';

/** Top-level fields that never take part in the seal. */
const UNSEALED_FIELDS = new Set(['seal', 'keyVersion', 'sealAlgorithm']);

export function isSealAlgorithm(value: unknown): value is SealAlgorithm {
  return typeof value === 'string' && (SEAL_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * Byte order of the UTF-8 encodings, without encoding: UTF-8 byte order is
 * code point order, and UTF-16 code unit order differs from it only between a
 * surrogate (a code point above U+FFFF) and a unit in U+E000..U+FFFF.
 */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

const BEYOND_SIMPLE_ORDER = /[\ud800-\uffff]/;

/** Names known to sort the same in UTF-16 and UTF-8 order (field names repeat; bounded). */
const SIMPLE_NAMES = new Set<string>();
const SIMPLE_NAMES_LIMIT = 10_000;

function isSimpleName(name: string): boolean {
  if (SIMPLE_NAMES.has(name)) return true;
  if (BEYOND_SIMPLE_ORDER.test(name)) return false;
  if (SIMPLE_NAMES.size < SIMPLE_NAMES_LIMIT) SIMPLE_NAMES.add(name);
  return true;
}

/** Field names in byte order. Plain sort is already byte order unless a name has high units. */
function sortedNames(names: string[]): string[] {
  names.sort();
  for (const name of names) {
    if (!isSimpleName(name)) return names.sort(compareCodePoints);
  }
  return names;
}

function appendValue(parts: string[], value: unknown): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'string') {
    parts.push(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const element of value) appendValue(parts, element);
    return;
  }
  switch (typeof value) {
    case 'number':
    case 'bigint':
    case 'boolean':
      parts.push(String(value));
      return;
    case 'object':
      appendObject(parts, value as Record<string, unknown>, undefined);
      return;
    default:
      throw new TypeError(`cannot seal a value of type ${typeof value}`);
  }
}

function appendObject(
  parts: string[],
  object: Record<string, unknown>,
  excluded: ReadonlySet<string> | undefined,
): void {
  const names = sortedNames(Object.keys(object));
  for (const name of names) {
    if (excluded?.has(name)) continue;
    const value = object[name];
    // Most values are strings: keep that path free of calls.
    if (typeof value === 'string') parts.push(value);
    else appendValue(parts, value);
  }
}

/** The exact string the seal is computed over. */
export function sealDataString(
  message: Readonly<Record<string, unknown>>,
  excluded: ReadonlySet<string> = UNSEALED_FIELDS,
): string {
  // join() builds one flat string, which the HMAC reads without flattening a rope first.
  const parts: string[] = [];
  appendObject(parts, message as Record<string, unknown>, excluded);
  return parts.join('');
}

/** One KeyObject per secret key: the key bytes are not copied again for every seal. */
const HMAC_KEYS = new WeakMap<SecretKey, KeyObject>();

function hmacKey(key: SecretKey): KeyObject {
  let keyObject = HMAC_KEYS.get(key);
  if (keyObject === undefined) {
    keyObject = createSecretKey(Buffer.from(key.reveal(), 'utf8'));
    HMAC_KEYS.set(key, keyObject);
  }
  return keyObject;
}

export function computeSealOfData(
  data: string,
  key: SecretKey,
  algorithm: SealAlgorithm = DEFAULT_SEAL_ALGORITHM,
): string {
  switch (algorithm) {
    case 'HMAC-SHA-256':
      return createHmac('sha256', hmacKey(key)).update(data, 'utf8').digest('hex');
    case 'HMAC-SHA-512':
      return createHmac('sha512', hmacKey(key)).update(data, 'utf8').digest('hex');
    case 'SHA-256':
      // Legacy variant: a plain digest of the data followed by the key.
      return createHash('sha256')
        .update(data + key.reveal(), 'utf8')
        .digest('hex');
  }
}

export function computeSeal(
  message: Readonly<Record<string, unknown>>,
  key: SecretKey,
  algorithm: SealAlgorithm = DEFAULT_SEAL_ALGORITHM,
): string {
  return computeSealOfData(sealDataString(message), key, algorithm);
}

/** Compares two hex seals in constant time (case-insensitive hex). */
export function sealsEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected.toLowerCase(), 'utf8');
  const b = Buffer.from(received.toLowerCase(), 'utf8');
  if (a.length !== b.length) {
    // Still spend the comparison so timing does not reveal the length check alone.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

export type SealCheck =
  | { valid: true; data: string; expected: string }
  | {
      valid: false;
      reason: 'missing' | 'mismatch';
      data: string;
      expected: string;
      received?: string;
    };

/** An answer is sealed over every field but `seal` (reference 4.2). */
export const ANSWER_UNSEALED_FIELDS: ReadonlySet<string> = new Set(['seal']);

/**
 * The seal of a Sips answer. Answers are sealed over every field but `seal`;
 * they normally carry no `keyVersion` or `sealAlgorithm`, and when one does,
 * a seal computed the request's way (without them) is accepted too: both
 * need the secret key, and which way the platform seals such an answer is
 * not documented.
 */
export function verifyAnswerSeal(
  answer: Readonly<Record<string, unknown>>,
  key: SecretKey,
  algorithm?: SealAlgorithm,
): SealCheck {
  const check = verifySeal(answer, key, algorithm, ANSWER_UNSEALED_FIELDS);
  if (check.valid || check.reason === 'missing') return check;
  if (answer.keyVersion === undefined && answer.sealAlgorithm === undefined) return check;
  const requestWay = verifySeal(answer, key, algorithm);
  return requestWay.valid ? requestWay : check;
}

/**
 * The algorithms an answer's seal is tried under, in order, without repeats:
 * the one the answer names, the request's, then HMAC-SHA-256. Whether the
 * platform seals answers with the request's algorithm or always with
 * HMAC-SHA-256 (the Office default) is not documented (reference §4.2–4.3);
 * every candidate needs the secret key, so accepting either forges nothing.
 */
export function answerSealAlgorithms(
  requested: SealAlgorithm,
  named?: unknown,
): readonly SealAlgorithm[] {
  const candidates: SealAlgorithm[] = [];
  for (const algorithm of [named, requested, DEFAULT_SEAL_ALGORITHM]) {
    if (isSealAlgorithm(algorithm) && !candidates.includes(algorithm)) candidates.push(algorithm);
  }
  return candidates;
}

/** An answer's seal check under each candidate algorithm, and the one it verified under. */
export type AnswerSealCheck =
  | { valid: true; algorithm: SealAlgorithm; check: SealCheck & { valid: true } }
  /** The check under the first candidate: the evidence is what was expected first. */
  | { valid: false; algorithm: SealAlgorithm; check: SealCheck & { valid: false } };

/**
 * Verifies an answer's seal under each of `algorithms` in turn (see
 * `answerSealAlgorithms`); a seal that matches none is a mismatch reported
 * under the first.
 */
export function verifyAnswerSealUnder(
  answer: Readonly<Record<string, unknown>>,
  key: SecretKey,
  algorithms: readonly SealAlgorithm[],
): AnswerSealCheck {
  const [first = DEFAULT_SEAL_ALGORITHM, ...others] = algorithms;
  const check = verifyAnswerSeal(answer, key, first);
  if (check.valid) return { valid: true, algorithm: first, check };
  // A missing seal is missing under every algorithm.
  if (check.reason === 'mismatch') {
    for (const algorithm of others) {
      const other = verifyAnswerSeal(answer, key, algorithm);
      if (other.valid) return { valid: true, algorithm, check: other };
    }
  }
  return { valid: false, algorithm: first, check };
}

/**
 * Verifies the `seal` of a message sealed the request's way (or over every
 * field but those `excluded`); the algorithm is the message's own when named.
 */
export function verifySeal(
  message: Readonly<Record<string, unknown>>,
  key: SecretKey,
  algorithm?: SealAlgorithm,
  excluded: ReadonlySet<string> = UNSEALED_FIELDS,
): SealCheck {
  const named = message.sealAlgorithm;
  const chosen = algorithm ?? (isSealAlgorithm(named) ? named : DEFAULT_SEAL_ALGORITHM);
  const data = sealDataString(message, excluded);
  const expected = computeSealOfData(data, key, chosen);
  const received = message.seal;
  if (typeof received !== 'string' || received.length === 0) {
    return { valid: false, reason: 'missing', data, expected };
  }
  return sealsEqual(expected, received)
    ? { valid: true, data, expected }
    : { valid: false, reason: 'mismatch', data, expected, received };
}
