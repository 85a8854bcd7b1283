/**
 * Standard Webhooks signing: a message is signed as
 * `base64(HMAC-SHA-256(key, "<webhook-id>.<webhook-timestamp>.<body>"))`,
 * sent as `v1,<signature>` in `webhook-signature`, space-separated when
 * several secrets are in force (a rotation's overlap): a receiver holding
 * any one of them verifies. The key is the base64 text after `whsec_`.
 *
 * Signing uses node:crypto; test/unit/webhooks.signature.test.ts proves the
 * headers verify with the `standardwebhooks` library receivers use.
 */
import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
/** 32 random bytes: within the 24 to 64 the standard allows. */
const SECRET_BYTES = 32;

/** A new signing secret, `whsec_` + base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a `whsec_` secret. */
export function signingKeyOf(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new TypeError('a signing secret starts with whsec_');
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length < 24 || key.length > 64) {
    throw new TypeError('a signing secret holds 24 to 64 bytes');
  }
  return key;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of one attempt; `keys` in the order they are in force, newest first. */
export function signMessage(
  messageId: string,
  timestampSeconds: number,
  body: string,
  keys: readonly Buffer[],
): SignedHeaders {
  if (keys.length === 0) throw new TypeError('a message is signed with at least one secret');
  const timestamp = String(Math.floor(timestampSeconds));
  const signed = `${messageId}.${timestamp}.${body}`;
  const signatures = keys.map(
    (key) => `v1,${createHmac('sha256', key).update(signed).digest('base64')}`,
  );
  return {
    'webhook-id': messageId,
    'webhook-timestamp': timestamp,
    'webhook-signature': signatures.join(' '),
  };
}
