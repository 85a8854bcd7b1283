import { describe, expect, it } from 'vitest';
import {
  answerSealAlgorithms,
  computeSeal,
  computeSealOfData,
  sealDataString,
  verifyAnswerSeal,
  verifyAnswerSealUnder,
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

describe("seal: answers sealed with the request's algorithm or with HMAC-SHA-256", () => {
  const answer = { responseCode: '00', transactionReference: 'REF1', amount: 100 };

  it("tries the algorithm the answer names, the request's, then HMAC-SHA-256, once each", () => {
    expect(answerSealAlgorithms('SHA-256')).toEqual(['SHA-256', 'HMAC-SHA-256']);
    expect(answerSealAlgorithms('HMAC-SHA-256')).toEqual(['HMAC-SHA-256']);
    expect(answerSealAlgorithms('HMAC-SHA-512', 'SHA-256')).toEqual([
      'SHA-256',
      'HMAC-SHA-512',
      'HMAC-SHA-256',
    ]);
    expect(answerSealAlgorithms('SHA-256', 'MD5')).toEqual(['SHA-256', 'HMAC-SHA-256']);
  });

  it('says which algorithm verified', () => {
    const tried = answerSealAlgorithms('SHA-256');
    for (const algorithm of ['SHA-256', 'HMAC-SHA-256'] as const) {
      const sealed = { ...answer, seal: computeSeal(answer, key, algorithm) };
      expect(verifyAnswerSealUnder(sealed, key, tried), algorithm).toMatchObject({
        valid: true,
        algorithm,
      });
    }
  });

  it('reports a seal that matches none, or none at all, under the first algorithm', () => {
    const tried = answerSealAlgorithms('SHA-256');
    const other = { ...answer, seal: computeSeal(answer, key, 'HMAC-SHA-512') };
    const mismatch = verifyAnswerSealUnder(other, key, tried);
    expect(mismatch).toMatchObject({ valid: false, algorithm: 'SHA-256' });
    expect(mismatch.check).toMatchObject({
      reason: 'mismatch',
      expected: computeSeal(answer, key, 'SHA-256'),
      received: other.seal,
    });
    const tampered = { ...answer, seal: computeSeal(answer, key), amount: 101 };
    expect(verifyAnswerSealUnder(tampered, key, tried).valid).toBe(false);
    const wrongKey = { ...answer, seal: computeSeal(answer, new SecretKey('other')) };
    expect(verifyAnswerSealUnder(wrongKey, key, tried).valid).toBe(false);
    expect(verifyAnswerSealUnder(answer, key, tried)).toMatchObject({
      valid: false,
      algorithm: 'SHA-256',
      check: { reason: 'missing' },
    });
  });
});
