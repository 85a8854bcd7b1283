/** Identifier generation as a dependency, so tests can make ids predictable. */
import { randomBytes, randomUUID } from 'node:crypto';

export interface IdGenerator {
  /** A new unique id, optionally prefixed (`pay_…`). */
  next(prefix?: string): string;
}

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 20 characters of Crockford base32: 100 random bits, URL- and Sips-safe. */
function randomToken(): string {
  const bytes = randomBytes(20);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % 32];
  return out;
}

export const randomIds: IdGenerator = {
  next: (prefix) => (prefix ? `${prefix}_${randomToken()}` : randomToken()),
};

export function uuid(): string {
  return randomUUID();
}

export function sequentialIds(seed = 'id'): IdGenerator {
  let n = 0;
  return { next: (prefix) => `${prefix ?? seed}_${String(++n).padStart(6, '0')}` };
}
