/**
 * Our Standard Webhooks signing (node:crypto) against the `standardwebhooks`
 * library merchants verify with: the same signature for the same message,
 * verification of our headers, both secrets during a rotation; and signing
 * secrets sealed at rest.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { jittered } from '../../src/webhooks/deliver.ts';
import { createSecretBox } from '../../src/webhooks/secret-box.ts';
import { newSigningSecret, signMessage, signingKeyOf } from '../../src/webhooks/signature.ts';

describe('webhook signatures', () => {
  it('sign exactly as the standardwebhooks library does', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.string(),
        fc.integer({ min: 1, max: 4_000_000_000 }),
        (id, body, ts) => {
          const secret = newSigningSecret();
          const ours = signMessage(id, ts, body, [signingKeyOf(secret)]);
          const theirs = new Webhook(secret).sign(id, new Date(ts * 1_000), body);
          expect(ours['webhook-signature']).toBe(theirs);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('produce headers the library verifies, and refuses a changed body', () => {
    const secret = newSigningSecret();
    const body = JSON.stringify({ type: 'payment.authorized', data: { amount: 2500 } });
    const headers = signMessage('msg_1', Date.now() / 1_000, body, [signingKeyOf(secret)]);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() =>
      new Webhook(secret).verify(body.replace('2500', '2600'), { ...headers }),
    ).toThrow();
    expect(() => new Webhook(newSigningSecret()).verify(body, { ...headers })).toThrow();
  });

  it('carry one signature per secret in force, each verifying alone', () => {
    const [older, newer] = [newSigningSecret(), newSigningSecret()];
    const body = '{"id":"e1"}';
    const headers = signMessage('e1', Date.now() / 1_000, body, [
      signingKeyOf(newer),
      signingKeyOf(older),
    ]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [older, newer]) {
      expect(() => new Webhook(secret).verify(body, { ...headers })).not.toThrow();
    }
    expect(() => signMessage('e1', 1, body, [])).toThrow();
  });

  it('make secrets of whsec_ and 32 random bytes, and refuse malformed ones', () => {
    const secret = newSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(signingKeyOf(secret)).toHaveLength(32);
    expect(newSigningSecret()).not.toBe(secret);
    expect(() => signingKeyOf('sk_abc')).toThrow();
    expect(() => signingKeyOf(`whsec_${randomBytes(8).toString('base64')}`)).toThrow();
  });
});

describe('the secret box', () => {
  const keys = { k1: randomBytes(32), k2: randomBytes(32) };

  it('keeps secrets sealed and opens them with the key they were sealed under', () => {
    const secret = newSigningSecret();
    const first = createSecretBox({ keys, activeKeyId: 'k1' });
    const sealed = first.seal(secret);
    expect(sealed).not.toContain(secret.slice(6));
    expect(sealed.startsWith('wsb1.k1.')).toBe(true);
    // After a vault key rotation the older seal still opens.
    const rotated = createSecretBox({ keys, activeKeyId: 'k2' });
    expect(rotated.open(sealed)).toBe(secret);
    expect(rotated.seal(secret).startsWith('wsb1.k2.')).toBe(true);
  });

  it('refuses a tampered seal and an unknown key', () => {
    const box = createSecretBox({ keys, activeKeyId: 'k1' });
    const sealed = box.seal(newSigningSecret());
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
    expect(() => createSecretBox({ keys: {}, activeKeyId: 'k9' }).seal('x')).toThrow(/k9/);
    expect(() => box.open('plain text')).toThrow();
  });
});

describe('retry jitter', () => {
  it('stays within 20 % of the scheduled delay', () => {
    expect(jittered(5_000, () => 0)).toBe(4_000);
    expect(jittered(5_000, () => 0.999_999)).toBe(6_000);
    expect(jittered(0, Math.random)).toBe(0);
  });
});
