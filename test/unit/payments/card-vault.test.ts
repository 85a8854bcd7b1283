import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  createCardVault,
  INSECURE_simulatorOnlyDevKey,
  maskedPan,
  parseVaultKey,
  parseVaultKeyList,
} from '../../../src/payments/card-vault.ts';
import { PaymentsError } from '../../../src/payments/errors.ts';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const card = { pan: '4100000000000000', expiry: '202812', csc: '123' };
const id = 'pay_0_ABC';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof PaymentsError ? error.code : `not a PaymentsError: ${String(error)}`;
  }
  return undefined;
}

function flip(sealed: string, part: number): string {
  const parts = sealed.split(':');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0]! ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join(':');
}

describe('card vault', () => {
  const vault = createCardVault({ keys: { k1 }, activeKeyId: 'k1' });

  it('seals to an opaque JSON-safe string and opens it again', () => {
    const sealed = vault.seal(id, card);
    expect(sealed).toMatch(/^v1:k1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('4100');
    expect(JSON.parse(JSON.stringify({ sealed })).sealed).toBe(sealed);
    expect({ ...vault.open(id, sealed) }).toEqual(card);
    // A fresh IV each time.
    expect(vault.seal(id, card)).not.toBe(sealed);
  });

  it('detects a flipped byte in the IV, the tag or the ciphertext', () => {
    const sealed = vault.seal(id, card);
    for (const part of [2, 3, 4]) {
      expect(code(() => vault.open(id, flip(sealed, part)))).toBe('card_vault_tampered');
    }
  });

  it('refuses a blob moved to another payment', () => {
    const sealed = vault.seal(id, card);
    expect(code(() => vault.open('pay_0_OTHER', sealed))).toBe('card_vault_tampered');
  });

  it('refuses an unknown key id, a relabelled key id and malformed text', () => {
    const other = createCardVault({ keys: { k2 }, activeKeyId: 'k2' });
    expect(code(() => vault.open(id, other.seal(id, card)))).toBe('card_vault_unknown_key');
    const both = createCardVault({ keys: { k1, k2 }, activeKeyId: 'k1' });
    const relabelled = both.seal(id, card).replace(/^v1:k1:/, 'v1:k2:');
    expect(code(() => both.open(id, relabelled))).toBe('card_vault_tampered');
    for (const bad of ['', 'v1:k1', 'v2:k1:a:b:c', 'v1:k 1:a:b:c', `v1:k1:AAAA:AAAA:AAAA`]) {
      expect(code(() => vault.open(id, bad))).toBe('card_vault_malformed');
    }
  });

  it('keeps opening blobs of a retired key after rotation, and reseals under the new one', () => {
    const old = vault.seal(id, card);
    const rotated = createCardVault({ keys: { k1, k2 }, activeKeyId: 'k2' });
    expect({ ...rotated.open(id, old) }).toEqual(card);
    const resealed = rotated.reseal(id, old);
    expect(rotated.keyIdOf(resealed)).toBe('k2');
    expect({ ...rotated.open(id, resealed) }).toEqual(card);
    expect(rotated.keyIdOf(rotated.seal(id, card))).toBe('k2');
  });

  it('erases the CSC', () => {
    const sealed = vault.withoutCsc(id, vault.seal(id, card));
    expect({ ...vault.open(id, sealed) }).toEqual({ pan: card.pan, expiry: card.expiry });
  });

  it('prints an opened card masked', () => {
    const opened = vault.open(id, vault.seal(id, card));
    expect(JSON.stringify({ opened })).toBe(
      '{"opened":{"maskedPan":"4100##########00","csc":"[redacted]"}}',
    );
    expect(inspect(opened)).not.toContain('4100000000000000');
    expect(`${String(opened)}`).toBe('[card 4100##########00]');
    expect(opened.pan).toBe(card.pan);
  });

  it('refuses what is not a card', () => {
    expect(code(() => vault.seal(id, { ...card, pan: '4100 0000' }))).toBe('card_data_invalid');
    expect(code(() => vault.seal(id, { ...card, expiry: '202813' }))).toBe('card_data_invalid');
    expect(code(() => vault.seal(id, { ...card, csc: '12' }))).toBe('card_data_invalid');
  });

  it('masks the Sips way', () => {
    expect(maskedPan('4100000000000000')).toBe('4100##########00');
    expect(maskedPan('374245455400126')).toBe('3742#########26');
  });

  it('parses keys from hex or base64 and refuses anything else', () => {
    expect(parseVaultKey(k1.toString('hex')).equals(k1)).toBe(true);
    expect(parseVaultKey(k1.toString('base64')).equals(k1)).toBe(true);
    expect(parseVaultKey(k1.toString('base64url')).equals(k1)).toBe(true);
    expect(code(() => parseVaultKey('abcd'))).toBe('card_vault_config_invalid');
    expect(code(() => parseVaultKey(randomBytes(16).toString('hex')))).toBe(
      'card_vault_config_invalid',
    );
  });

  it('reads a key list in the CARD_VAULT_KEYS form', () => {
    const keys = parseVaultKeyList(` k1:${k1.toString('hex')}, k2:${k2.toString('base64')} `);
    expect(Object.keys(keys)).toEqual(['k1', 'k2']);
    expect(keys.k1!.equals(k1) && keys.k2!.equals(k2)).toBe(true);
    for (const bad of ['', 'k1', `k1:${k1.toString('hex')},k1:${k2.toString('hex')}`, 'k1:short']) {
      expect(code(() => parseVaultKeyList(bad))).toBe('card_vault_config_invalid');
    }
  });

  it('refuses bad configuration, and the dev key unless explicitly allowed', () => {
    expect(code(() => createCardVault({ keys: { k1 }, activeKeyId: 'k2' }))).toBe(
      'card_vault_config_invalid',
    );
    expect(code(() => createCardVault({ keys: { k1: randomBytes(16) }, activeKeyId: 'k1' }))).toBe(
      'card_vault_config_invalid',
    );
    expect(code(() => createCardVault({ keys: { 'a:b': k1 }, activeKeyId: 'a:b' }))).toBe(
      'card_vault_config_invalid',
    );
    const dev = INSECURE_simulatorOnlyDevKey();
    expect(dev.key.equals(INSECURE_simulatorOnlyDevKey().key)).toBe(true);
    const keys = { [dev.keyId]: dev.key };
    expect(code(() => createCardVault({ keys, activeKeyId: dev.keyId }))).toBe(
      'card_vault_config_invalid',
    );
    const simulatorVault = createCardVault({
      keys,
      activeKeyId: dev.keyId,
      allowInsecureDevKey: true,
    });
    expect({ ...simulatorVault.open(id, simulatorVault.seal(id, card)) }).toEqual(card);
  });
});
