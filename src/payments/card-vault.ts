/**
 * The card vault: PAN, expiry and CSC are kept in the payment record only as
 * AES-256-GCM ciphertext (architecture §9).
 *
 * Sealed format (JSON-safe, no secrets in clear):
 *
 *     v1:<keyId>:<iv base64url>:<tag base64url>:<ciphertext base64url>
 *
 * The associated data binds a blob to its format version, key id and payment
 * id, so a blob copied into another payment's record, or relabelled with
 * another key id, fails authentication instead of opening.
 *
 * Rotation: `seal` always uses the active key; `open` accepts every key the
 * vault was given, so old blobs keep opening while the old key stays in
 * configuration. `withoutCsc` (and `reseal`) re-encrypt under the active key,
 * so blobs migrate as payments move on.
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import { inspect } from 'node:util';
import { maskPan } from '../sips/mask.ts';
import { PaymentsError } from './errors.ts';

/** Sips style: the first 4 and last 2 digits, `#` between (`4100##########00`). */
export { maskPan as maskedPan } from '../sips/mask.ts';

/** Card data in clear. Never logged, never in events or jobs. */
export interface CardData {
  /** 12-19 digits. */
  pan: string;
  /** `YYYYMM`, as Sips `cardExpiryDate`. */
  expiry: string;
  /** 3-4 digits; erased as soon as the authorisation is answered. */
  csc?: string;
}

export interface CardVaultOptions {
  /** Key id (letters, digits, `_`, `-`) → 32-byte key. */
  keys: Readonly<Record<string, Buffer>>;
  /** The key new blobs are sealed with. */
  activeKeyId: string;
  /**
   * Accept the insecure development key (see `INSECURE_simulatorOnlyDevKey`).
   * Only the simulator environment sets this. @defaultValue false
   */
  allowInsecureDevKey?: boolean;
}

export interface CardVault {
  readonly activeKeyId: string;
  seal(paymentId: string, card: CardData): string;
  open(paymentId: string, sealed: string): CardData;
  /** The same card without its CSC, sealed under the active key. */
  withoutCsc(paymentId: string, sealed: string): string;
  /** The same card sealed under the active key (rotation). */
  reseal(paymentId: string, sealed: string): string;
  /** The key id a blob was sealed with, without opening it. */
  keyIdOf(sealed: string): string;
}

const FORMAT = 'v1';
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PAN_PATTERN = /^\d{12,19}$/;
const EXPIRY_PATTERN = /^\d{4}(0[1-9]|1[0-2])$/;
const CSC_PATTERN = /^\d{3,4}$/;

const DEV_KEY_ID = 'insecure-dev';
const DEV_KEY = createHash('sha256')
  .update('sogenactif-orchestrator: card vault key for the local simulator only, never real cards')
  .digest();

/**
 * A fixed, publicly known key for the local simulator, so `npm start` works
 * with no configuration. Anything sealed with it is readable by anyone who has
 * this source: the vault refuses it unless `allowInsecureDevKey` is set, and
 * only the simulator environment may set that.
 */
export function INSECURE_simulatorOnlyDevKey(): { keyId: string; key: Buffer } {
  return { keyId: DEV_KEY_ID, key: Buffer.from(DEV_KEY) };
}

/** A 32-byte key from configuration text: 64 hex digits or base64 (standard or url-safe). */
export function parseVaultKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  throw new PaymentsError(
    'card_vault_config_invalid',
    'a card vault key is 32 bytes written as 64 hex digits or base64',
  );
}

/**
 * The `CARD_VAULT_KEYS` form: `<keyId>:<key>` entries separated by commas,
 * each key as `parseVaultKey` reads it (`k2024:9f…,k2025:q3…`).
 */
export function parseVaultKeyList(text: string): Record<string, Buffer> {
  const keys: Record<string, Buffer> = {};
  for (const entry of text.split(',')) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const colon = trimmed.indexOf(':');
    const keyId = colon === -1 ? '' : trimmed.slice(0, colon).trim();
    if (!KEY_ID_PATTERN.test(keyId) || keyId in keys) {
      throw new PaymentsError(
        'card_vault_config_invalid',
        'card vault keys are written <keyId>:<key>, separated by commas, each id once',
      );
    }
    keys[keyId] = parseVaultKey(trimmed.slice(colon + 1));
  }
  if (Object.keys(keys).length === 0) {
    throw new PaymentsError('card_vault_config_invalid', 'no card vault key given');
  }
  return keys;
}

/**
 * IVs drawn from the CSPRNG a few kilobytes at a time (one call per 256 IVs
 * rather than one per seal); each byte is used once, so IVs stay random and
 * never repeat a draw.
 */
const ivPool = Buffer.alloc(IV_BYTES * 256);
let ivPoolOffset = ivPool.length;

function freshIv(): Buffer {
  if (ivPoolOffset + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool);
    ivPoolOffset = 0;
  }
  // A copy: the pool is refilled in place.
  const iv = Buffer.from(ivPool.subarray(ivPoolOffset, ivPoolOffset + IV_BYTES));
  ivPoolOffset += IV_BYTES;
  return iv;
}

function associatedData(keyId: string, paymentId: string): Buffer {
  return Buffer.from(`sogenactif-card:${FORMAT}:${keyId}:${paymentId}`, 'utf8');
}

function checkCard(card: CardData): void {
  if (!PAN_PATTERN.test(card.pan)) {
    throw new PaymentsError('card_data_invalid', 'the card number must be 12 to 19 digits');
  }
  if (!EXPIRY_PATTERN.test(card.expiry)) {
    throw new PaymentsError('card_data_invalid', 'the expiry date must be YYYYMM');
  }
  if (card.csc !== undefined && !CSC_PATTERN.test(card.csc)) {
    throw new PaymentsError('card_data_invalid', 'the CSC must be 3 or 4 digits');
  }
}

/**
 * The card as returned by `open`: plain fields for the Sips client, but
 * `JSON.stringify`, `util.inspect` and template strings print it masked, so an
 * accidental log line or error detail does not carry it in clear.
 */
function revealedCard(card: CardData): CardData {
  const result: CardData = { pan: card.pan, expiry: card.expiry };
  if (card.csc !== undefined) result.csc = card.csc;
  const masked = (): Record<string, string> => ({
    maskedPan: maskPan(card.pan),
    ...(card.csc !== undefined ? { csc: '[redacted]' } : {}),
  });
  Object.defineProperties(result, {
    toJSON: { value: masked, enumerable: false },
    toString: { value: () => `[card ${maskPan(card.pan)}]`, enumerable: false },
    [inspect.custom]: { value: masked, enumerable: false },
  });
  return result;
}

export function createCardVault(options: CardVaultOptions): CardVault {
  const keys = new Map<string, Buffer>();
  for (const [keyId, key] of Object.entries(options.keys)) {
    if (!KEY_ID_PATTERN.test(keyId)) {
      throw new PaymentsError('card_vault_config_invalid', `invalid card vault key id ${keyId}`);
    }
    if (!Buffer.isBuffer(key) || key.length !== 32) {
      throw new PaymentsError(
        'card_vault_config_invalid',
        `card vault key ${keyId} is not 32 bytes`,
      );
    }
    if (key.equals(DEV_KEY) && options.allowInsecureDevKey !== true) {
      throw new PaymentsError(
        'card_vault_config_invalid',
        `card vault key ${keyId} is the insecure development key; it is only allowed with the simulator`,
      );
    }
    keys.set(keyId, Buffer.from(key));
  }
  const activeKey = keys.get(options.activeKeyId);
  if (!activeKey) {
    throw new PaymentsError(
      'card_vault_config_invalid',
      `the active card vault key ${options.activeKeyId} is not among the keys`,
    );
  }
  const activeKeyId = options.activeKeyId;

  function seal(paymentId: string, card: CardData): string {
    checkCard(card);
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', activeKey as Buffer, iv, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(associatedData(activeKeyId, paymentId));
    const plain: CardData = { pan: card.pan, expiry: card.expiry };
    if (card.csc !== undefined) plain.csc = card.csc;
    const ciphertext = Buffer.concat([
      cipher.update(JSON.stringify(plain), 'utf8'),
      cipher.final(),
    ]);
    return [
      FORMAT,
      activeKeyId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ciphertext.toString('base64url'),
    ].join(':');
  }

  function parse(sealed: string): { keyId: string; iv: Buffer; tag: Buffer; body: Buffer } {
    const parts = typeof sealed === 'string' ? sealed.split(':') : [];
    const [format, keyId, iv, tag, body] = parts;
    if (
      parts.length !== 5 ||
      format !== FORMAT ||
      keyId === undefined ||
      !KEY_ID_PATTERN.test(keyId) ||
      iv === undefined ||
      tag === undefined ||
      body === undefined
    ) {
      throw new PaymentsError('card_vault_malformed', 'not a sealed card');
    }
    const parsed = {
      keyId,
      iv: Buffer.from(iv, 'base64url'),
      tag: Buffer.from(tag, 'base64url'),
      body: Buffer.from(body, 'base64url'),
    };
    if (parsed.iv.length !== IV_BYTES || parsed.tag.length !== TAG_BYTES) {
      throw new PaymentsError('card_vault_malformed', 'not a sealed card');
    }
    return parsed;
  }

  function open(paymentId: string, sealed: string): CardData {
    const { keyId, iv, tag, body } = parse(sealed);
    const key = keys.get(keyId);
    if (!key) {
      throw new PaymentsError('card_vault_unknown_key', `no card vault key ${keyId}`, {
        details: { keyId },
      });
    }
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(keyId, paymentId));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new PaymentsError(
        'card_vault_tampered',
        'the sealed card does not authenticate for this payment',
        { cause: error, details: { keyId, paymentId } },
      );
    }
    const card = JSON.parse(plain) as CardData;
    return revealedCard(card);
  }

  function reseal(paymentId: string, sealed: string): string {
    const card = open(paymentId, sealed);
    return seal(paymentId, card);
  }

  return {
    activeKeyId,
    seal,
    open,
    reseal,
    withoutCsc(paymentId, sealed) {
      const card = open(paymentId, sealed);
      return seal(paymentId, { pan: card.pan, expiry: card.expiry });
    },
    keyIdOf: (sealed) => parse(sealed).keyId,
  };
}
