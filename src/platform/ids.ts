/** Identifier generation as a dependency, so tests can make ids predictable. */
import { randomFillSync, randomUUID } from 'node:crypto';

export interface IdGenerator {
  /** A new unique id, optionally prefixed (`pay_…`). */
  next(prefix?: string): string;
}

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

const TOKEN_LENGTH = 20;
/**
 * Random bytes drawn from the CSPRNG a few kilobytes at a time (one call per
 * 200 tokens rather than one per token); each byte is used once.
 */
const pool = Buffer.alloc(TOKEN_LENGTH * 200);
let poolOffset = pool.length;

/**
 * 20 characters of Crockford base32 from the first 20 bytes of `bytes`, one
 * character per byte (its low 5 bits). Operation ids derived from an
 * Idempotency-Key depend on it: the output must never change.
 */
export function tokenOf(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < TOKEN_LENGTH; i++) out += ALPHABET[(bytes[i] as number) % 32];
  return out;
}

/** 20 characters of Crockford base32: 100 random bits, URL- and Sips-safe. */
function randomToken(): string {
  if (poolOffset + TOKEN_LENGTH > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const end = poolOffset + TOKEN_LENGTH;
  const out = tokenOf(pool.subarray(poolOffset, end));
  poolOffset = end;
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
