/**
 * `sogenactif check-merchants`: the go-live check. Every configured shop
 * (MERCHANTS_FILE, or the SIPS_* variables as the shop `default`) makes one
 * harmless sealed call; a table says, per shop, whether the platform
 * answered, whether Sips knows the merchantId, accepts the key, and seals
 * its answers so that they verify, and names the likely mistake
 * (merchant-probe.ts). Exit 0 when every shop is OK, 1 when one is not, 2
 * for a usage or configuration error. Secrets are never printed.
 */
import { parseArgs } from 'node:util';
import {
  loadMerchantsFile,
  MerchantsConfigError,
  singleMerchant,
  type Merchants,
} from '../config/merchants.ts';
import { systemClock } from '../platform/clock.ts';
import { createUndiciTransport } from '../platform/http.ts';
import { silentLogger } from '../platform/logger.ts';
import { resolveSipsEnvironment, SipsEnvironmentError } from '../sips/environments.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type CliIo } from './io.ts';
import { probeMerchant, probeReference, type MerchantCheck } from './merchant-probe.ts';

export const CHECK_MERCHANTS_USAGE = `usage: sogenactif check-merchants [--merchants-file FILE] [--json] [--timeout MS]

Calls getTransactionData on a reference that cannot exist for every configured
shop; a healthy shop answers 25 (unknown transaction), sealed with its key.
  --merchants-file FILE  the merchants file (default: MERCHANTS_FILE; without
                         either, the SIPS_* variables are the shop "default")
  --json                 print the findings as JSON
  --timeout MS           time allowed per call (default 10000)
A shop of environment "simulator" without baseUrl is looked for at
http://127.0.0.1:$SIMULATOR_PORT (7070 by default).
Exit 0 when every shop is OK, 1 when one is not, 2 for a usage or
configuration error.
`;

const DEFAULT_TIMEOUT_MS = 10_000;

/** The configuration cannot be used: every problem named, exit 2 without the usage. */
class ConfigProblems extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'ConfigProblems';
  }
}

const SIPS_VARIABLES: Record<string, string> = {
  baseUrl: 'SIPS_BASE_URL',
  merchantId: 'SIPS_MERCHANT_ID',
  keyVersion: 'SIPS_KEY_VERSION',
  secretKey: 'SIPS_SECRET_KEY',
};

function simulatorUrl(env: CliIo['env']): string {
  return `http://127.0.0.1:${env.SIMULATOR_PORT?.trim() || '7070'}`;
}

/** The shops to check: the merchants file, else the SIPS_* variables. */
function loadMerchants(file: string | undefined, io: CliIo): Merchants {
  const options = { env: io.env, simulatorUrl: simulatorUrl(io.env) };
  if (file) {
    try {
      return loadMerchantsFile(file, options);
    } catch (error) {
      if (error instanceof MerchantsConfigError) throw new ConfigProblems(error.problems);
      throw error;
    }
  }
  const env = (name: string): string | undefined => io.env[name]?.trim() || undefined;
  const sipsEnv = env('SIPS_ENV') ?? 'simulator';
  try {
    const environment = resolveSipsEnvironment({
      env: sipsEnv,
      baseUrl: env('SIPS_BASE_URL') ?? (sipsEnv === 'simulator' ? options.simulatorUrl : undefined),
      merchantId: env('SIPS_MERCHANT_ID'),
      secretKey: io.env.SIPS_SECRET_KEY || undefined,
      keyVersion: env('SIPS_KEY_VERSION'),
    });
    return singleMerchant(environment);
  } catch (error) {
    if (!(error instanceof SipsEnvironmentError)) throw error;
    throw new ConfigProblems(
      error.problems.map((problem) => {
        const setting = problem.split(' ')[0] ?? '';
        const variable = SIPS_VARIABLES[setting] ?? 'SIPS_ENV';
        return `${variable}: ${problem}`;
      }),
    );
  }
}

function interfaceVersionOf(env: CliIo['env']): string | undefined {
  const value = env.SIPS_INTERFACE_VERSION?.trim();
  if (!value) return undefined;
  if (!/^\d+\.\d+$/.test(value)) {
    throw new ConfigProblems(['SIPS_INTERFACE_VERSION: must look like 2.55']);
  }
  return value;
}

function timeoutOf(option: string | undefined): number {
  if (option === undefined) return DEFAULT_TIMEOUT_MS;
  const value = Number(option);
  if (!/^\d+$/.test(option) || value < 1 || value > 600_000) {
    throw new UsageError('--timeout must be a whole number of milliseconds, 1 to 600000');
  }
  return value;
}

function cell(value: boolean | null): string {
  return value === null ? '-' : value ? 'yes' : 'no';
}

function sealCell(check: MerchantCheck): string {
  const { seal } = check;
  if (seal.verifies === null) return '-';
  if (!seal.verifies) return seal.missing ? 'no seal' : 'no';
  const olderKey = seal.keyVersion === undefined ? '' : `, key version ${seal.keyVersion}`;
  return `yes (${seal.algorithm ?? '?'}${olderKey})`;
}

const HEADERS = [
  'id',
  'merchantId',
  'platform',
  'key version',
  'reachable',
  'merchant known',
  'key right',
  'seal verifies',
  'verdict',
];

/** The findings as an aligned table, one row per shop. */
export function formatTable(checks: readonly MerchantCheck[]): string {
  const rows = checks.map((check) => [
    check.id,
    check.merchantId,
    check.platform,
    check.keyVersion,
    check.reachable ? 'yes' : 'no',
    cell(check.merchantKnown),
    cell(check.keyRight),
    sealCell(check),
    check.verdict,
  ]);
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (row: readonly string[]): string =>
    row
      .map((text, column) =>
        column === row.length - 1 ? text : text.padEnd(widths[column] as number),
      )
      .join('  ');
  return `${[HEADERS, ...rows].map(line).join('\n')}\n`;
}

function summary(checks: readonly MerchantCheck[]): string {
  const failing = checks.filter((check) => !check.ok).length;
  const noun = checks.length === 1 ? 'merchant' : 'merchants';
  return failing === 0
    ? `all ${checks.length} ${noun} OK\n`
    : `${failing} of ${checks.length} ${noun} not ready\n`;
}

function parseOptions(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      options: {
        'merchants-file': { type: 'string' },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new UsageError(
      code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? 'this command takes no positional arguments'
        : (error as Error).message,
    );
  }
}

export async function runCheckMerchants(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseOptions(args);
  if (values.help) {
    io.stdout(CHECK_MERCHANTS_USAGE);
    return EXIT_OK;
  }
  const timeoutMs = timeoutOf(values.timeout);
  if (values['merchants-file']?.trim() === '') throw new UsageError('--merchants-file is empty');
  let merchants: Merchants;
  let interfaceVersion: string | undefined;
  try {
    merchants = loadMerchants(values['merchants-file'] ?? io.env.MERCHANTS_FILE?.trim(), io);
    interfaceVersion = interfaceVersionOf(io.env);
  } catch (error) {
    if (!(error instanceof ConfigProblems)) throw error;
    io.stderr(
      `sogenactif check-merchants: invalid merchants configuration:\n${error.problems
        .map((problem) => `  - ${problem}\n`)
        .join('')}`,
    );
    return EXIT_USAGE;
  }

  const http = createUndiciTransport({ connections: 4, keepAliveTimeoutMs: 1_000 });
  const reference = probeReference();
  const deps = { http, clock: systemClock, logger: silentLogger(), timeoutMs, interfaceVersion };
  let checks: MerchantCheck[];
  try {
    checks = await Promise.all(
      [...merchants.values()].map((settings) => probeMerchant(settings, reference, deps)),
    );
  } finally {
    await http.close();
  }
  const ok = checks.every((check) => check.ok);
  if (values.json) {
    io.stdout(
      `${JSON.stringify({ ok, transactionReference: reference, merchants: checks }, null, 2)}\n`,
    );
  } else {
    io.stdout(`${formatTable(checks)}\n${summary(checks)}`);
  }
  return ok ? EXIT_OK : EXIT_FAILURE;
}
