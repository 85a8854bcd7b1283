/** `sogenactif check-merchants` run as a child process against the simulator over real HTTP. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SEED_EXAMPLE_MERCHANT_ID,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
} from '../../src/sips/environments.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'sogenactif.js');

/** A shop registered in the simulator with two key versions, for a rotation. */
const ROTATING_MERCHANT_ID = '123456789012345';
const ROTATING_KEY_1 = 'rotating-key-version-one';
const ROTATING_KEY_2 = 'rotating-key-version-two';
const WRONG_KEY = 'definitely-not-the-shop-key';
/** Shops whose answers the simulator spoils with a fault. */
const BAD_SEAL_MERCHANT_ID = '123456789012346';
const PROXY_MERCHANT_ID = '123456789012347';
const FAULTY_KEY = 'faulty-shop-key';
const UNKNOWN_MERCHANT_ID = '999999999999999';
const SECRETS = [SEED_TEST_SECRET_KEY, ROTATING_KEY_1, ROTATING_KEY_2, WRONG_KEY, FAULTY_KEY];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as an integrator runs it, with no SIPS_* or MERCHANTS_FILE inherited. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('SIPS_') && name !== 'MERCHANTS_FILE',
      ),
    );
    const child = spawn(process.execPath, [BIN, 'check-merchants', ...args], {
      cwd: ROOT,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The table's rows by merchant id, cells split on the two-space column gaps. */
function rows(stdout: string): Map<string, string[]> {
  const lines = stdout.split('\n').filter((line) => /^\S+ {2,}\d{15} {2,}/.test(line));
  return new Map(
    lines.map((line) => {
      const cells = line.trim().split(/ {2,}/);
      return [cells[0] as string, cells];
    }),
  );
}

function expectNoSecret(result: Run): void {
  for (const secret of SECRETS) expect(result.stdout + result.stderr).not.toContain(secret);
}

interface Entry {
  id: string;
  merchantId: string;
  keys: { version: number; secret: string; active?: boolean }[];
  baseUrl?: string;
}

let simulator: RunningSimulator;
let closedUrl: string;
let silent: Server;
let silentUrl: string;
const silentSockets: Socket[] = [];
let directory: string;

async function merchantsFile(name: string, entries: Entry[]): Promise<string> {
  const path = join(directory, name);
  const merchants = entries.map(({ baseUrl, ...entry }) => ({
    ...entry,
    environment: 'custom',
    baseUrl: baseUrl ?? simulator.url,
  }));
  await writeFile(path, JSON.stringify({ merchants }, null, 2));
  return path;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const good: Entry = {
  id: 'shop-good',
  merchantId: SEED_TEST_MERCHANT_ID,
  keys: [{ version: 1, secret: SEED_TEST_SECRET_KEY }],
};

beforeAll(async () => {
  simulator = await startSimulator({
    merchants: [
      {
        merchantId: ROTATING_MERCHANT_ID,
        name: 'rotating shop',
        keys: { '1': ROTATING_KEY_1, '2': ROTATING_KEY_2 },
      },
      { merchantId: BAD_SEAL_MERCHANT_ID, keys: { '1': FAULTY_KEY } },
      { merchantId: PROXY_MERCHANT_ID, keys: { '1': FAULTY_KEY } },
    ],
    faults: [
      { type: 'corruptSeal', match: { merchantId: BAD_SEAL_MERCHANT_ID } },
      { type: 'httpStatus', status: 503, match: { merchantId: PROXY_MERCHANT_ID } },
    ],
  });
  closedUrl = `http://127.0.0.1:${await freePort()}`;
  // Accepts connections and never answers: a platform that hangs.
  silent = createServer((socket) => silentSockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  directory = await mkdtemp(join(tmpdir(), 'sogenactif-check-'));
});

afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await simulator.close();
  await rm(directory, { recursive: true, force: true });
});

describe('sogenactif check-merchants', () => {
  it('names what is wrong with each shop and exits 1', async () => {
    const file = await merchantsFile('mixed.json', [
      good,
      {
        id: 'shop-wrong-key',
        merchantId: SEED_EXAMPLE_MERCHANT_ID,
        keys: [{ version: 1, secret: WRONG_KEY }],
      },
      {
        id: 'shop-wrong-version',
        merchantId: SEED_TEST_MERCHANT_ID,
        keys: [{ version: 7, secret: SEED_TEST_SECRET_KEY }],
      },
      {
        id: 'shop-unknown',
        merchantId: UNKNOWN_MERCHANT_ID,
        keys: [{ version: 1, secret: WRONG_KEY }],
      },
      { ...good, id: 'shop-down', baseUrl: closedUrl },
    ]);
    const result = await run(['--merchants-file', file]);
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')[0]).toMatch(
      /^id +merchantId +platform +key version +reachable +merchant known +key right +seal verifies +verdict$/,
    );
    const table = rows(result.stdout);
    const platform = simulator.url;
    // id, merchantId, platform, key version, reachable, known, key right, seal, verdict
    expect(table.get('shop-good')).toEqual([
      'shop-good',
      SEED_TEST_MERCHANT_ID,
      platform,
      '1',
      'yes',
      'yes',
      'yes',
      'yes (HMAC-SHA-256)',
      'OK',
    ]);
    // The simulator answers 34 sealed with the shop's real key: ours does not verify it.
    expect(table.get('shop-wrong-key')).toEqual([
      'shop-wrong-key',
      SEED_EXAMPLE_MERCHANT_ID,
      platform,
      '1',
      'yes',
      'yes',
      'no',
      'no',
      'wrong secret key (or key version)',
    ]);
    // An unknown key version: 34 sealed with the shop's current key, which is ours.
    expect(table.get('shop-wrong-version')).toEqual([
      'shop-wrong-version',
      SEED_TEST_MERCHANT_ID,
      platform,
      '7',
      'yes',
      'yes',
      'no',
      'yes (HMAC-SHA-256)',
      'wrong key version',
    ]);
    // 03 comes unsealed: Sips has no key to seal it with.
    expect(table.get('shop-unknown')).toEqual([
      'shop-unknown',
      UNKNOWN_MERCHANT_ID,
      platform,
      '1',
      'yes',
      'no',
      '-',
      'no seal',
      'unknown merchantId',
    ]);
    expect(table.get('shop-down')).toEqual([
      'shop-down',
      SEED_TEST_MERCHANT_ID,
      closedUrl,
      '1',
      'no',
      '-',
      '-',
      '-',
      'unreachable: could not connect (ECONNREFUSED)',
    ]);
    expect(result.stdout).toMatch(/\n4 of 5 merchants not ready\n$/);
    expectNoSecret(result);
  });

  it('prints the findings as JSON with --json', async () => {
    const file = await merchantsFile('json.json', [
      good,
      {
        id: 'shop-wrong-version',
        merchantId: SEED_TEST_MERCHANT_ID,
        keys: [{ version: 7, secret: SEED_TEST_SECRET_KEY }],
      },
    ]);
    const result = await run(['--merchants-file', file, '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      transactionReference: string;
      merchants: Record<string, unknown>[];
    };
    expect(report.ok).toBe(false);
    expect(report.transactionReference).toMatch(/^chk[a-z0-9]+$/);
    expect(report.transactionReference.length).toBeLessThanOrEqual(35);
    // The probe is a reading: it leaves no transaction behind.
    expect(simulator.store.get(SEED_TEST_MERCHANT_ID, report.transactionReference)).toBeUndefined();
    expect(report.merchants).toMatchObject([
      {
        id: 'shop-good',
        merchantId: SEED_TEST_MERCHANT_ID,
        keyVersion: '1',
        reachable: true,
        merchantKnown: true,
        keyRight: true,
        seal: { verifies: true, algorithm: 'HMAC-SHA-256' },
        responseCode: '25',
        ok: true,
        verdict: 'OK',
      },
      {
        id: 'shop-wrong-version',
        responseCode: '34',
        keyRight: false,
        seal: { verifies: true },
        ok: false,
        verdict: 'wrong key version',
      },
    ]);
    expectNoSecret(result);
  });

  it('exits 0 when every shop is OK', async () => {
    const file = await merchantsFile('good.json', [good]);
    const result = await run(['--merchants-file', file]);
    expect(result.code).toBe(0);
    expect(rows(result.stdout).get('shop-good')?.at(-1)).toBe('OK');
    expect(result.stdout).toMatch(/\nall 1 merchant OK\n$/);
    expect(result.stderr).toBe('');
  });

  it('reads MERCHANTS_FILE when --merchants-file is not given', async () => {
    const file = await merchantsFile('from-env.json', [good]);
    const result = await run([], { MERCHANTS_FILE: file });
    expect(result.code).toBe(0);
    expect(rows(result.stdout).has('shop-good')).toBe(true);
  });

  it('checks the SIPS_* variables as the shop "default" without a file', async () => {
    const result = await run([], {
      SIPS_ENV: 'custom',
      SIPS_BASE_URL: simulator.url,
      SIPS_MERCHANT_ID: SEED_TEST_MERCHANT_ID,
      SIPS_SECRET_KEY: SEED_TEST_SECRET_KEY,
      SIPS_KEY_VERSION: '1',
    });
    expect(result.code).toBe(0);
    expect(rows(result.stdout).get('default')?.at(-1)).toBe('OK');
    expectNoSecret(result);
  });

  it('tells a key version Sips does not know yet during a rotation', async () => {
    const file = await merchantsFile('rotation.json', [
      {
        id: 'shop-rotating',
        merchantId: ROTATING_MERCHANT_ID,
        keys: [
          { version: 3, secret: 'rotating-key-version-three', active: true },
          { version: 2, secret: ROTATING_KEY_2 },
        ],
      },
    ]);
    const result = await run(['--merchants-file', file]);
    expect(result.code).toBe(1);
    const row = rows(result.stdout).get('shop-rotating');
    expect(row?.slice(-2)).toEqual(['yes (HMAC-SHA-256, key version 2)', 'wrong key version']);
    expect(result.stdout).not.toContain('rotating-key-version-three');
    expectNoSecret(result);
  });

  it('tells a 25 whose seal does not verify, and an answer that is not from Sips', async () => {
    const file = await merchantsFile('faults.json', [
      {
        id: 'shop-bad-seal',
        merchantId: BAD_SEAL_MERCHANT_ID,
        keys: [{ version: 1, secret: FAULTY_KEY }],
      },
      {
        id: 'shop-proxy',
        merchantId: PROXY_MERCHANT_ID,
        keys: [{ version: 1, secret: FAULTY_KEY }],
      },
    ]);
    const result = await run(['--merchants-file', file]);
    expect(result.code).toBe(1);
    const table = rows(result.stdout);
    expect(table.get('shop-bad-seal')?.slice(4)).toEqual([
      'yes',
      'yes',
      'yes',
      'no',
      'answer seal does not verify',
    ]);
    expect(table.get('shop-proxy')?.slice(4, 8)).toEqual(['yes', '-', '-', '-']);
    expect(table.get('shop-proxy')?.at(-1)).toBe('no Sips answer: HTTP 503');
    expectNoSecret(result);
  });

  it('calls a platform that does not answer unreachable after --timeout', async () => {
    const file = await merchantsFile('silent.json', [{ ...good, baseUrl: silentUrl }]);
    const started = Date.now();
    const result = await run(['--merchants-file', file, '--timeout', '300']);
    expect(result.code).toBe(1);
    expect(rows(result.stdout).get('shop-good')?.at(-1)).toBe(
      'unreachable: no answer within 300 ms',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('exits 2 naming every problem of a malformed file, never a secret', async () => {
    const path = join(directory, 'malformed.json');
    await writeFile(
      path,
      JSON.stringify({
        merchants: [
          {
            id: 'Shop One',
            environment: 'custom',
            baseUrl: simulator.url,
            merchantId: '12345',
            keys: [{ version: 1, secret: WRONG_KEY }],
          },
          {
            id: 'shop-two',
            environment: 'custom',
            baseUrl: simulator.url,
            merchantId: SEED_TEST_MERCHANT_ID,
            keys: [{ version: 'one', secret: WRONG_KEY }],
          },
        ],
      }),
    );
    const result = await run(['--merchants-file', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid merchants configuration/);
    expect(result.stderr).toMatch(/ {2}- merchants\[0\]\.id: /);
    expect(result.stderr).toMatch(
      / {2}- merchants\[0\]\.merchantId: a Sips merchantId has 15 digits/,
    );
    expect(result.stderr).toMatch(/ {2}- merchants\[1\]\.keys\[0\]\.version: /);
    expect(result.stdout).toBe('');
    expectNoSecret(result);
  });

  it('exits 2 for a file that is not JSON, an unset env: secret or a missing file', async () => {
    const notJson = join(directory, 'not-json.json');
    await writeFile(notJson, '{ merchants: ');
    expect((await run(['--merchants-file', notJson])).stderr).toMatch(/MERCHANTS_FILE: not JSON/);

    const envSecret = await merchantsFile('env-secret.json', [
      { ...good, keys: [{ version: 1, secret: 'env:CHECK_MERCHANTS_UNSET_KEY' }] },
    ]);
    const unset = await run(['--merchants-file', envSecret]);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(
      /merchants\[0\]\.keys\[0\]\.secret: the environment variable CHECK_MERCHANTS_UNSET_KEY is not set/,
    );

    const missing = await run(['--merchants-file', join(directory, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.json \(ENOENT\)/);
  });

  it('exits 2 naming the missing SIPS_* variables of production', async () => {
    const result = await run([], { SIPS_ENV: 'production' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/SIPS_MERCHANT_ID: merchantId is required/);
    expect(result.stderr).toMatch(/SIPS_SECRET_KEY: secretKey is required/);
    expect(result.stderr).toMatch(/SIPS_KEY_VERSION: keyVersion is required/);
  });

  it.each([
    ['unknown option', ['--frobnicate'], /Unknown option/],
    ['bad timeout', ['--timeout', 'soon'], /--timeout must be a whole number/],
    ['positional argument', ['extra'], /no positional arguments/],
  ])('exits 2 with the usage: %s', async (_name, args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/usage: sogenactif check-merchants/);
  });
});
