/**
 * Signing secrets are kept in Redis sealed, never in clear: AES-256-GCM with a
 * key derived (HKDF-SHA-256) from the card vault's key of the same id, so the
 * vault's key rotation covers them too. Sealed text:
 * `wsb1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const FORMAT = 'wsb1';
const INFO = 'sogenactif webhook signing secret';

export interface SecretBox {
  seal(secret: string): string;
  open(sealed: string): string;
}

export function createSecretBox(vault: {
  keys: Readonly<Record<string, Buffer>>;
  activeKeyId: string;
}): SecretBox {
  const derived = new Map<string, Buffer>();
  const keyOf = (keyId: string): Buffer => {
    let key = derived.get(keyId);
    if (!key) {
      const base = vault.keys[keyId];
      if (!base) throw new Error(`no vault key ${keyId} for a webhook signing secret`);
      key = Buffer.from(hkdfSync('sha256', base, Buffer.alloc(0), INFO, 32));
      derived.set(keyId, key);
    }
    return key;
  };
  return {
    seal(secret) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', keyOf(vault.activeKeyId), iv);
      const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      const parts = [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url'));
      return [FORMAT, vault.activeKeyId, ...parts].join('.');
    },
    open(sealed) {
      const [format, keyId, iv, tag, body] = sealed.split('.');
      if (format !== FORMAT || !keyId || !iv || !tag || body === undefined) {
        throw new Error('not a sealed webhook signing secret');
      }
      const decipher = createDecipheriv('aes-256-gcm', keyOf(keyId), Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const clear = Buffer.concat([
        decipher.update(Buffer.from(body, 'base64url')),
        decipher.final(),
      ]);
      return clear.toString('utf8');
    },
  };
}
