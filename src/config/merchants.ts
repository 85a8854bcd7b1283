/**
 * The shops one deployment serves (MERCHANTS_FILE): each with our id for it,
 * its Sips platform, its merchantId and its secret keys. One key is active
 * for sending; the others are still accepted when verifying answers, so a
 * key can be rotated without downtime. Without a file, the single-shop
 * variables (SIPS_ENV, SIPS_MERCHANT_ID, SIPS_SECRET_KEY, SIPS_KEY_VERSION)
 * define one merchant named `default`.
 *
 * A file is parsed in full before it is used: every problem is named with
 * its path (`merchants[1].keys[0].secret`), secrets are never echoed, and a
 * refused file leaves the configuration in force untouched.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  SipsEnvironmentError,
  resolveSipsEnvironment,
  type SipsEnvironment,
} from '../sips/environments.ts';
import { SecretKey } from '../sips/secret-key.ts';

export const DEFAULT_MERCHANT = 'default';

const MERCHANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface MerchantKey {
  version: string;
  secretKey: SecretKey;
}

export interface MerchantDefaults {
  captureMode?: 'author_capture' | 'validation' | undefined;
  captureDay?: number | undefined;
  /** Payments that name no method are 3-D Secure card payments (`card_3ds`). */
  threeDSecure?: boolean | undefined;
}

export interface MerchantSettings {
  /** Our id for the shop (`default` for the single-shop variables). */
  id: string;
  environment: SipsEnvironment['name'];
  baseUrl: string;
  /** The shop's Sips merchantId. */
  merchantId: string;
  /** The key calls are sealed with. */
  activeKey: MerchantKey;
  /** Every key whose seal an answer may carry: the active one first, then older ones. */
  acceptedKeys: readonly MerchantKey[];
  interfaceVersion?: string;
  defaults: MerchantDefaults;
  /** True when the platform may move real money. */
  live: boolean;
}

export type Merchants = ReadonlyMap<string, MerchantSettings>;

export class MerchantsConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid merchants configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'MerchantsConfigError';
  }
}

const KeySchema = z
  .object({
    version: z.union([
      z
        .string()
        .trim()
        .regex(/^\d{1,10}$/, 'a key version is a whole number'),
      z.number().int().positive().transform(String),
    ]),
    /** The key itself, or `env:NAME` to read it from the environment. */
    secret: z.string().min(1, 'the secret is empty'),
    active: z.boolean().optional(),
  })
  .strict();

const MerchantSchema = z
  .object({
    id: z.string().regex(MERCHANT_ID_PATTERN, 'lowercase letters, digits, - and _, at most 32'),
    environment: z.string().trim().min(1),
    baseUrl: z.string().trim().url('must be a URL').optional(),
    merchantId: z
      .string()
      .trim()
      .regex(/^\d{15}$/, 'a Sips merchantId has 15 digits'),
    keys: z.array(KeySchema).min(1, 'at least one key'),
    interfaceVersion: z
      .string()
      .trim()
      .regex(/^\d+\.\d+$/, 'must look like 2.55')
      .optional(),
    defaults: z
      .object({
        captureMode: z.enum(['author_capture', 'validation']).optional(),
        captureDay: z.number().int().min(0).max(99).optional(),
        /** Payments that name no method are 3-D Secure card payments (`card_3ds`). */
        threeDSecure: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const FileSchema = z.object({ merchants: z.array(MerchantSchema).min(1) }).strict();

type MerchantEntry = z.output<typeof MerchantSchema>;

function pathOf(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

function secretOf(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  at: string,
  problems: string[],
): SecretKey | undefined {
  if (!text.startsWith('env:')) return new SecretKey(text);
  const name = text.slice('env:'.length);
  const value = env[name];
  if (!value) {
    problems.push(`${at}: the environment variable ${name} is not set`);
    return undefined;
  }
  return new SecretKey(value);
}

function keysOf(
  entry: MerchantEntry,
  index: number,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): { activeKey: MerchantKey; acceptedKeys: MerchantKey[] } | undefined {
  const at = `merchants[${index}].keys`;
  const versions = entry.keys.map((key) => key.version);
  const repeated = versions.find((version, position) => versions.indexOf(version) !== position);
  if (repeated !== undefined) problems.push(`${at}: key version ${repeated} appears twice`);
  const active = entry.keys.filter((key) => key.active === true);
  if (entry.keys.length > 1 && active.length !== 1) {
    problems.push(`${at}: exactly one key must be "active": true (it has ${active.length})`);
  }
  const keys = entry.keys.map((key, position) => {
    const secretKey = secretOf(key.secret, env, `${at}[${position}].secret`, problems);
    return secretKey ? { version: key.version, secretKey, active: key.active === true } : undefined;
  });
  if (keys.some((key) => key === undefined) || problems.length > 0) return undefined;
  const resolved = keys as Array<MerchantKey & { active: boolean }>;
  const activeKey = resolved.find((key) => key.active) ?? (resolved[0] as MerchantKey);
  return {
    activeKey: { version: activeKey.version, secretKey: activeKey.secretKey },
    acceptedKeys: [activeKey, ...resolved.filter((key) => key !== activeKey)].map((key) => ({
      version: key.version,
      secretKey: key.secretKey,
    })),
  };
}

export interface MerchantsFileOptions {
  /** Where `env:NAME` secrets are read. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** The embedded simulator's URL, for `"environment": "simulator"` without a baseUrl. */
  simulatorUrl?: string;
}

/** Parses a merchants file's text; throws MerchantsConfigError naming every problem. */
export function parseMerchants(text: string, options: MerchantsFileOptions = {}): Merchants {
  const env = options.env ?? process.env;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // The parser's message quotes the text near the fault, which may be a secret: the position only.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new MerchantsConfigError([
      `MERCHANTS_FILE: not JSON${position === undefined ? '' : ` (at character ${position})`}`,
    ]);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) {
    throw new MerchantsConfigError(
      parsed.error.issues.map((issue) => `${pathOf(issue.path) || '(file)'}: ${issue.message}`),
    );
  }
  const problems: string[] = [];
  const merchants = new Map<string, MerchantSettings>();
  parsed.data.merchants.forEach((entry, index) => {
    if (merchants.has(entry.id)) {
      problems.push(`merchants[${index}].id: "${entry.id}" is used twice`);
      return;
    }
    const keyProblems: string[] = [];
    const keys = keysOf(entry, index, env, keyProblems);
    problems.push(...keyProblems);
    let environment: SipsEnvironment | undefined;
    try {
      environment = resolveSipsEnvironment({
        env: entry.environment,
        baseUrl:
          entry.baseUrl ?? (entry.environment === 'simulator' ? options.simulatorUrl : undefined),
        merchantId: entry.merchantId,
        secretKey: keys?.activeKey.secretKey ?? new SecretKey('placeholder'),
        keyVersion: keys?.activeKey.version ?? '1',
      });
    } catch (error) {
      const detail =
        error instanceof SipsEnvironmentError
          ? error.problems.join('; ')
          : (error as Error).message;
      problems.push(`merchants[${index}].environment: ${detail}`);
    }
    if (!keys || !environment) return;
    merchants.set(entry.id, {
      id: entry.id,
      environment: environment.name,
      baseUrl: environment.baseUrl,
      merchantId: entry.merchantId,
      ...keys,
      ...(entry.interfaceVersion ? { interfaceVersion: entry.interfaceVersion } : {}),
      defaults: entry.defaults ?? {},
      live: environment.live,
    });
  });
  if (problems.length > 0) throw new MerchantsConfigError(problems);
  return merchants;
}

/** Reads and parses MERCHANTS_FILE. */
export function loadMerchantsFile(path: string, options: MerchantsFileOptions = {}): Merchants {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MerchantsConfigError([
      `MERCHANTS_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    ]);
  }
  return parseMerchants(text, options);
}

/** The single-shop variables as the one merchant `default`. */
export function singleMerchant(environment: SipsEnvironment, interfaceVersion?: string): Merchants {
  const key = { version: environment.keyVersion, secretKey: environment.secretKey };
  return new Map([
    [
      DEFAULT_MERCHANT,
      {
        id: DEFAULT_MERCHANT,
        environment: environment.name,
        baseUrl: environment.baseUrl,
        merchantId: environment.merchantId,
        activeKey: key,
        acceptedKeys: [key],
        ...(interfaceVersion ? { interfaceVersion } : {}),
        defaults: {},
        live: environment.live,
      },
    ],
  ]);
}
