import { describe, expect, it } from 'vitest';
import { computeSeal, sealDataString, verifySeal, sealsEqual } from '../../src/sips/seal.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { SEED_EXAMPLE_REQUEST, SEED_EXAMPLE_SEAL } from '../support/seed-example.ts';

const seedRequest = { ...SEED_EXAMPLE_REQUEST, seal: SEED_EXAMPLE_SEAL };
const key = new SecretKey('secret123');

describe('seal: the seed known answer', () => {
  it('builds the data string byte for byte', () => {
    expect(sealDataString(seedRequest)).toBe(
      '25000AUTHOR_CAPTURE0002016121234123412341234978customer@email.comIR_WS_2.3' +
        '011223344550000INTERNETORD101ReturnContextSO_WEBAPPLITREFEXA2012',
    );
  });

  it('computes the published seal with HMAC-SHA-256', () => {
    expect(computeSeal(seedRequest, key)).toBe(seedRequest.seal);
    expect(verifySeal(seedRequest, key).valid).toBe(true);
  });

  it('rejects a seal computed with another key, and a missing seal', () => {
    expect(verifySeal(seedRequest, new SecretKey('secret124')).valid).toBe(false);
    const { seal: _seal, ...unsealed } = seedRequest;
    const check = verifySeal(unsealed, key);
    expect(check).toMatchObject({ valid: false, reason: 'missing' });
  });

  it('compares seals regardless of hex case', () => {
    expect(sealsEqual(seedRequest.seal, seedRequest.seal.toUpperCase())).toBe(true);
    expect(sealsEqual(seedRequest.seal, seedRequest.seal.slice(2))).toBe(false);
  });
});
