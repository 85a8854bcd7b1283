/**
 * Where the client talks to and as whom. `simulator` and `test` come with the
 * public test shop printed in the seed page; `production` and custom
 * platforms (Mercanet, Sherlock's, Scellius and other Sips 2.0 brands speak
 * the same API) move real money and must be given every credential.
 */
import { SecretKey } from './secret-key.ts';

/** Sogenactif recette (test) Office Server. */
export const SOGENACTIF_TEST_BASE_URL = 'https://office-server-sogenactif.test.sips-services.com';
/** Sogenactif production Office Server. */
export const SOGENACTIF_PRODUCTION_BASE_URL = 'https://office-server.sogenactif.com';

/**
 * The public recette shop of the seed page ("ID du Commerçant", "Version de
 * la clé", "Clé secrète"). Published by Sogenactif for integration tests; it
 * moves no money. The simulator accepts it out of the box.
 */
export const SEED_TEST_MERCHANT_ID = '201040040170001';
export const SEED_TEST_KEY_VERSION = '1';
export const SEED_TEST_SECRET_KEY = 'rxSP61eeP_oNi5TxCD7Ngy9YcwC8MLw6OlmFGGcsY54';

/** The seal worked example of the seed page (merchant, key version and key `secret123`). */
export const SEED_EXAMPLE_MERCHANT_ID = '011223344550000';
export const SEED_EXAMPLE_KEY_VERSION = '1';
export const SEED_EXAMPLE_SECRET_KEY = 'secret123';

export const SIPS_ENVIRONMENT_NAMES = ['simulator', 'test', 'production', 'custom'] as const;
export type SipsEnvironmentName = (typeof SIPS_ENVIRONMENT_NAMES)[number];

export interface SipsEnvironmentInput {
  /**
   * Which platform: a name, or directly a base URL (`https://…`), which means
   * `custom` with that URL.
   */
  env: SipsEnvironmentName | (string & {});
  /** Office Server origin. Required for `simulator` and `custom`; overrides the default of `test` and `production`. */
  baseUrl?: string | undefined;
  /** 15 digits. Defaults to the seed test shop for `simulator` and `test`. */
  merchantId?: string | undefined;
  /** Defaults to the seed test shop's key for `simulator` and `test`. */
  secretKey?: string | SecretKey | undefined;
  /** Defaults to the seed test shop's key version for `simulator` and `test`. */
  keyVersion?: string | number | undefined;
}

export interface SipsEnvironment {
  name: SipsEnvironmentName;
  baseUrl: string;
  merchantId: string;
  secretKey: SecretKey;
  keyVersion: string;
  /** True when the platform may move real money (production and custom platforms). */
  live: boolean;
}

/** The environment cannot be used as given; `problems` names each faulty or missing setting. */
export class SipsEnvironmentError extends Error {
  constructor(
    readonly environment: string,
    readonly problems: readonly string[],
  ) {
    super(`Sips environment "${environment}": ${problems.join('; ')}`);
    this.name = 'SipsEnvironmentError';
  }
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || String(value).trim() === '';
}

function normaliseBaseUrl(url: string, requireHttps: boolean, problems: string[]): string {
  const trimmed = url.trim().replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    problems.push('baseUrl is not a valid URL');
    return trimmed;
  }
  if (requireHttps && parsed.protocol !== 'https:') {
    // Card data and the seal travel in this body: production is HTTPS only.
    problems.push('baseUrl must be an https URL');
  } else if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    problems.push('baseUrl must be an http(s) URL');
  }
  return trimmed;
}

/**
 * Resolves a platform and its credentials. Every problem is reported at once,
 * by setting name; a secret key's value never appears in an error.
 */
export function resolveSipsEnvironment(input: SipsEnvironmentInput): SipsEnvironment {
  const isUrl = /^https?:\/\//i.test(input.env);
  const name: string = isUrl ? 'custom' : input.env;
  if (!(SIPS_ENVIRONMENT_NAMES as readonly string[]).includes(name)) {
    throw new SipsEnvironmentError(input.env, [
      `unknown environment; use ${SIPS_ENVIRONMENT_NAMES.join(', ')} or a base URL`,
    ]);
  }
  const environment = name as SipsEnvironmentName;
  const usesSeedShop = environment === 'simulator' || environment === 'test';
  const problems: string[] = [];

  const defaultBaseUrl =
    environment === 'test'
      ? SOGENACTIF_TEST_BASE_URL
      : environment === 'production'
        ? SOGENACTIF_PRODUCTION_BASE_URL
        : undefined;
  const givenBaseUrl = isUrl ? input.env : input.baseUrl;
  const rawBaseUrl = isBlank(givenBaseUrl) ? defaultBaseUrl : givenBaseUrl;
  if (rawBaseUrl === undefined) problems.push('baseUrl is required');

  const merchantId = isBlank(input.merchantId)
    ? usesSeedShop
      ? SEED_TEST_MERCHANT_ID
      : undefined
    : String(input.merchantId).trim();
  if (merchantId === undefined) problems.push('merchantId is required');
  else if (!/^\d{15}$/.test(merchantId)) problems.push('merchantId must be 15 digits');

  const keyVersion = isBlank(input.keyVersion)
    ? usesSeedShop
      ? SEED_TEST_KEY_VERSION
      : undefined
    : String(input.keyVersion).trim();
  if (keyVersion === undefined) problems.push('keyVersion is required');
  else if (!/^\d{1,10}$/.test(keyVersion)) problems.push('keyVersion must be a whole number');

  const given = input.secretKey;
  let secretKey: SecretKey | undefined;
  if (given instanceof SecretKey) secretKey = given;
  else if (!isBlank(given)) secretKey = new SecretKey(String(given));
  else if (usesSeedShop) secretKey = new SecretKey(SEED_TEST_SECRET_KEY);
  else problems.push('secretKey is required');

  const baseUrl =
    rawBaseUrl === undefined
      ? ''
      : normaliseBaseUrl(rawBaseUrl, environment === 'production', problems);
  if (problems.length > 0 || merchantId === undefined || keyVersion === undefined || !secretKey) {
    throw new SipsEnvironmentError(environment, problems);
  }
  return {
    name: environment,
    baseUrl,
    merchantId,
    secretKey,
    keyVersion,
    live: environment === 'production' || environment === 'custom',
  };
}
