import { describe, expect, it } from 'vitest';
import {
  computeSeal,
  computeSealOfData,
  sealDataString,
  verifyAnswerSeal,
  verifySeal,
  sealsEqual,
} from '../../src/sips/seal.ts';
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

describe('seal: answers', () => {
  const answer = { responseCode: '00', transactionReference: 'REF1', amount: 100 };

  it('verifies an answer sealed over every field but the seal', () => {
    const sealed = { ...answer, seal: computeSeal(answer, key) };
    expect(verifyAnswerSeal(sealed, key)).toMatchObject({ valid: true });
    expect(verifyAnswerSeal({ ...sealed, amount: 101 }, key)).toMatchObject({
      valid: false,
      reason: 'mismatch',
    });
    expect(verifyAnswerSeal(answer, key)).toMatchObject({ valid: false, reason: 'missing' });
  });

  it('takes a sealAlgorithm or keyVersion the answer carries into its seal, or accepts it left out', () => {
    const carrying = { ...answer, keyVersion: '1', sealAlgorithm: 'HMAC-SHA-256' };
    // Every field but the seal, by name: amount, keyVersion, responseCode,
    // sealAlgorithm, transactionReference.
    const allButSeal = computeSealOfData('100' + '1' + '00' + 'HMAC-SHA-256' + 'REF1', key);
    expect(verifyAnswerSeal({ ...carrying, seal: allButSeal }, key)).toMatchObject({
      valid: true,
    });
    // The request's way, without them.
    const requestWay = computeSeal(carrying, key);
    expect(requestWay).not.toBe(allButSeal);
    expect(verifyAnswerSeal({ ...carrying, seal: requestWay }, key)).toMatchObject({
      valid: true,
    });
    // A request is only ever sealed without them.
    expect(verifySeal({ ...carrying, seal: allButSeal }, key).valid).toBe(false);
    expect(
      verifyAnswerSeal({ ...carrying, seal: computeSeal(carrying, new SecretKey('other')) }, key),
    ).toMatchObject({ valid: false, reason: 'mismatch' });
  });
});
