import { describe, expect, it } from 'vitest';
import {
  resolveSipsEnvironment,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
  SipsEnvironmentError,
  SOGENACTIF_PRODUCTION_BASE_URL,
  SOGENACTIF_TEST_BASE_URL,
} from '../../src/sips/environments.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';

function errorOf(run: () => unknown): SipsEnvironmentError {
  try {
    run();
  } catch (error) {
    if (error instanceof SipsEnvironmentError) return error;
    throw error;
  }
  throw new Error('expected a SipsEnvironmentError');
}

describe('resolveSipsEnvironment', () => {
  it('test: the recette platform and the seed test shop', () => {
    const env = resolveSipsEnvironment({ env: 'test' });
    expect(env).toMatchObject({
      name: 'test',
      baseUrl: SOGENACTIF_TEST_BASE_URL,
      merchantId: '201040040170001',
      keyVersion: '1',
      live: false,
    });
    expect(env.secretKey.reveal()).toBe(SEED_TEST_SECRET_KEY);
  });

  it('simulator: the caller gives the base URL; the seed shop is the default', () => {
    const env = resolveSipsEnvironment({ env: 'simulator', baseUrl: 'http://127.0.0.1:4100/' });
    expect(env).toMatchObject({
      baseUrl: 'http://127.0.0.1:4100',
      merchantId: SEED_TEST_MERCHANT_ID,
      live: false,
    });
    expect(errorOf(() => resolveSipsEnvironment({ env: 'simulator' })).problems).toEqual([
      'baseUrl is required',
    ]);
  });

  it('production: the Sogenactif URL with the given credentials', () => {
    const env = resolveSipsEnvironment({
      env: 'production',
      merchantId: '123456789012345',
      secretKey: 'prod-secret-value',
      keyVersion: 2,
    });
    expect(env).toMatchObject({
      name: 'production',
      baseUrl: SOGENACTIF_PRODUCTION_BASE_URL,
      merchantId: '123456789012345',
      keyVersion: '2',
      live: true,
    });
    expect(env.secretKey).toBeInstanceOf(SecretKey);
  });

  it('production refuses to start without credentials, naming each one', () => {
    const error = errorOf(() => resolveSipsEnvironment({ env: 'production' }));
    expect(error.problems).toEqual([
      'merchantId is required',
      'keyVersion is required',
      'secretKey is required',
    ]);
    expect(error.message).toContain('merchantId');
    expect(error.message).toContain('secretKey');
    expect(error.message).toContain('keyVersion');
  });

  it('never echoes a secret key in an error', () => {
    const error = errorOf(() =>
      resolveSipsEnvironment({
        env: 'production',
        merchantId: '12',
        secretKey: 'super-secret-value',
        baseUrl: 'http://office.example',
      }),
    );
    expect(error.problems).toEqual([
      'merchantId must be 15 digits',
      'keyVersion is required',
      'baseUrl must be an https URL',
    ]);
    expect(`${error.message} ${String(error.stack)}`).not.toContain('super-secret-value');
  });

  it('custom: any Sips 2.0 platform by base URL, with full credentials', () => {
    const credentials = { merchantId: '211000021310001', secretKey: 'k', keyVersion: '1' };
    const byName = resolveSipsEnvironment({
      env: 'custom',
      baseUrl: 'https://office-server-mercanet.example',
      ...credentials,
    });
    const byUrl = resolveSipsEnvironment({
      env: 'https://office-server-mercanet.example/',
      ...credentials,
    });
    expect(byName).toMatchObject({ name: 'custom', live: true });
    expect(byUrl.baseUrl).toBe(byName.baseUrl);
    expect(
      errorOf(() => resolveSipsEnvironment({ env: 'custom', ...credentials })).problems,
    ).toEqual(['baseUrl is required']);
  });

  it('rejects an unknown environment name', () => {
    expect(() => resolveSipsEnvironment({ env: 'staging' })).toThrow(/unknown environment/);
  });
});
