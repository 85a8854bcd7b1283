/**
 * The shops the simulator knows: their secret keys by key version and the
 * functions their contract enables. Two shops are built in: the recette shop
 * printed in the seed document and the shop of the seed's seal example.
 */
import {
  SEED_EXAMPLE_KEY_VERSION,
  SEED_EXAMPLE_MERCHANT_ID,
  SEED_EXAMPLE_SECRET_KEY,
  SEED_TEST_KEY_VERSION,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
} from '../sips/environments.ts';
import { SecretKey } from '../sips/secret-key.ts';
import { SIPS_SERVICE_NAMES, type SipsServiceName } from '../sips/services.ts';

export interface MerchantConfig {
  merchantId: string;
  /** Secret keys by key version (`{ '1': 'key text' }`). */
  keys: Readonly<Record<string, string | SecretKey>>;
  /** Functions the contract enables. @defaultValue every function */
  enabledFunctions?: readonly SipsServiceName[];
  name?: string;
}

export interface Merchant {
  readonly merchantId: string;
  readonly name: string;
  readonly keys: ReadonlyMap<string, SecretKey>;
  /** The newest key version: it seals answers when the request's version is unusable. */
  readonly currentKeyVersion: string;
  enabled: Set<SipsServiceName>;
}

/** The recette shop of the seed document ("Pour effectuer ce test, il faut utiliser ces identifiants"). */
export const SEED_TEST_MERCHANT = Object.freeze({
  merchantId: SEED_TEST_MERCHANT_ID,
  keyVersion: SEED_TEST_KEY_VERSION,
  secretKey: SEED_TEST_SECRET_KEY,
});

/** The shop of the seed's seal example (key `secret123`). */
export const SEED_EXAMPLE_MERCHANT = Object.freeze({
  merchantId: SEED_EXAMPLE_MERCHANT_ID,
  keyVersion: SEED_EXAMPLE_KEY_VERSION,
  secretKey: SEED_EXAMPLE_SECRET_KEY,
});

export const BUILT_IN_MERCHANTS: readonly MerchantConfig[] = [
  {
    merchantId: SEED_TEST_MERCHANT.merchantId,
    name: 'Sogenactif recette shop',
    keys: { [SEED_TEST_MERCHANT.keyVersion]: SEED_TEST_MERCHANT.secretKey },
  },
  {
    merchantId: SEED_EXAMPLE_MERCHANT.merchantId,
    name: 'seal example shop',
    keys: { [SEED_EXAMPLE_MERCHANT.keyVersion]: SEED_EXAMPLE_MERCHANT.secretKey },
  },
];

function toMerchant(config: MerchantConfig): Merchant {
  const keys = new Map<string, SecretKey>();
  for (const [version, key] of Object.entries(config.keys)) {
    keys.set(version, typeof key === 'string' ? new SecretKey(key) : key);
  }
  if (keys.size === 0) throw new Error(`merchant ${config.merchantId} has no secret key`);
  const versions = [...keys.keys()].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  return {
    merchantId: config.merchantId,
    name: config.name ?? config.merchantId,
    keys,
    currentKeyVersion: versions[versions.length - 1] as string,
    enabled: new Set(config.enabledFunctions ?? SIPS_SERVICE_NAMES),
  };
}

export interface MerchantRegistry {
  get(merchantId: string): Merchant | undefined;
  list(): Merchant[];
  /** Replaces a shop's enabled functions (control endpoint and tests). */
  setEnabledFunctions(merchantId: string, functions: readonly SipsServiceName[]): void;
  /** Back to the configured shops (enabled functions included). */
  reset(): void;
}

export function createMerchantRegistry(
  configs: readonly MerchantConfig[],
  includeBuiltIns = true,
): MerchantRegistry {
  const merchants = new Map<string, Merchant>();
  const all = includeBuiltIns ? [...BUILT_IN_MERCHANTS, ...configs] : configs;
  const load = () => {
    merchants.clear();
    // A configured shop with a built-in id replaces the built-in one.
    for (const config of all) merchants.set(config.merchantId, toMerchant(config));
  };
  load();
  return {
    reset: load,
    get: (merchantId) => merchants.get(merchantId),
    list: () => [...merchants.values()],
    setEnabledFunctions(merchantId, functions) {
      const merchant = merchants.get(merchantId);
      if (!merchant) throw new Error(`unknown merchant ${merchantId}`);
      merchant.enabled = new Set(functions);
    },
  };
}
