/** `sogenactif seal` run as a child process, the way an integrator runs it. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';
import { computeSeal, computeSealOfData, sealDataString } from '../../src/sips/seal.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import {
  SEED_EXAMPLE_DATA,
  SEED_EXAMPLE_REQUEST,
  SEED_EXAMPLE_SEAL,
} from '../support/seed-example.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'sogenactif.js');
const SEED_KEY = 'secret123';

const seedRequest = SEED_EXAMPLE_REQUEST;
const SEED_DATA = SEED_EXAMPLE_DATA;
const SEED_SEAL = SEED_EXAMPLE_SEAL;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], stdin: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const { SIPS_SECRET_KEY: _ignored, ...inherited } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...inherited, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

function line(output: string, label: string): string | undefined {
  return output
    .split('\n')
    .find((text) => text.startsWith(`${label}: `))
    ?.slice(label.length + 2);
}

const response = { responseCode: '00', authorisationId: '12345', transactionReference: 'T1' };
const sealedResponse = { ...response, seal: computeSeal(response, new SecretKey(SEED_KEY)) };

let directory: string;
let keyFile: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'sogenactif-cli-'));
  keyFile = join(directory, 'key.txt');
  await writeFile(keyFile, `${SEED_KEY}\n`);
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('sogenactif seal', () => {
  it('prints the seed data string and seal, never the key', async () => {
    const result = await run(['seal', '--key', SEED_KEY], JSON.stringify(seedRequest));
    expect(result.code).toBe(0);
    expect(line(result.stdout, 'data')).toBe(SEED_DATA);
    expect(line(result.stdout, 'seal')).toBe(SEED_SEAL);
    expect(line(result.stdout, 'algorithm')).toBe('HMAC-SHA-256');
    expect(result.stdout + result.stderr).not.toContain(SEED_KEY);
  });

  it('reads the key from --key-file or SIPS_SECRET_KEY', async () => {
    const fromFile = await run(['seal', '--key-file', keyFile], JSON.stringify(seedRequest));
    expect(line(fromFile.stdout, 'seal')).toBe(SEED_SEAL);
    const fromEnv = await run(['seal'], JSON.stringify(seedRequest), { SIPS_SECRET_KEY: SEED_KEY });
    expect(line(fromEnv.stdout, 'seal')).toBe(SEED_SEAL);
    expect(fromFile.stdout + fromEnv.stdout).not.toContain(SEED_KEY);
  });

  it("follows the message's sealAlgorithm, or --algorithm", async () => {
    const legacy = { ...seedRequest, sealAlgorithm: 'SHA-256' };
    const named = await run(['seal', '--key', SEED_KEY], JSON.stringify(legacy));
    expect(line(named.stdout, 'algorithm')).toBe('SHA-256');
    expect(line(named.stdout, 'seal')).toBe(
      computeSeal(legacy, new SecretKey(SEED_KEY), 'SHA-256'),
    );
    const forced = await run(
      ['seal', '--key', SEED_KEY, '--algorithm', 'HMAC-SHA-512'],
      JSON.stringify(legacy),
    );
    expect(line(forced.stdout, 'seal')).toHaveLength(128);
  });

  it('verifies a good response and exits 0', async () => {
    const result = await run(
      ['seal', '--verify', '--key', SEED_KEY],
      JSON.stringify(sealedResponse),
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^seal ok/);
  });

  it("verifies with the message's own sealAlgorithm and the recette key", async () => {
    const message = { amount: '1', sealAlgorithm: 'SHA-256' };
    const seal = computeSeal(message, new SecretKey(SEED_TEST_SECRET_KEY), 'SHA-256');
    const result = await run(['seal', '--verify'], JSON.stringify({ ...message, seal }), {
      SIPS_SECRET_KEY: SEED_TEST_SECRET_KEY,
    });
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(SEED_TEST_SECRET_KEY);
  });

  it('verifies an answer sealed over its keyVersion too, and says it is sealed as an answer', async () => {
    const answer = { ...response, keyVersion: '1' };
    const seal = computeSealOfData(
      sealDataString(answer, new Set(['seal'])),
      new SecretKey(SEED_KEY),
    );
    const result = await run(
      ['seal', '--verify', '--key', SEED_KEY],
      JSON.stringify({ ...answer, seal }),
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^seal ok as an answer/);
  });

  it('reports a tampered response with expected and received seals, exit 1', async () => {
    const tampered = { ...sealedResponse, responseCode: '05' };
    const result = await run(['seal', '--verify', '--key', SEED_KEY], JSON.stringify(tampered));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/MISMATCH/);
    expect(line(result.stdout, 'received')).toBe(sealedResponse.seal);
    expect(line(result.stdout, 'expected')).toBe(
      computeSeal({ ...response, responseCode: '05' }, new SecretKey(SEED_KEY)),
    );
    expect(result.stdout + result.stderr).not.toContain(SEED_KEY);
  });

  it('reports a missing seal, exit 1', async () => {
    const result = await run(['seal', '--verify', '--key', SEED_KEY], JSON.stringify(response));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/MISSING/);
  });

  it.each([
    ['no key', ['seal'], JSON.stringify(seedRequest), /no secret key/],
    ['two keys', ['seal', '--key', 'a', '--key-file', 'b'], '{}', /not both/],
    ['unreadable key file', ['seal', '--key-file', '/nonexistent/key'], '{}', /cannot read/],
    ['bad JSON', ['seal', '--key', 'k'], '{not json', /not JSON/],
    ['not an object', ['seal', '--key', 'k'], '[1]', /one JSON object/],
    [
      'unknown algorithm',
      ['seal', '--key', 'k', '--algorithm', 'MD5'],
      '{}',
      /unknown --algorithm/,
    ],
    ['unknown option', ['seal', '--key', 'k', '--frobnicate'], '{}', /Unknown option/],
    ['positional argument', ['seal', 'mistyped-key'], '{}', /no positional arguments/],
    ['unknown command', ['frobnicate'], '', /unknown command/],
    ['no command', [], '', /usage: sogenactif/],
  ])('exits 2 with a clear message: %s', async (_name, args, stdin, message) => {
    const result = await run(args, stdin);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain('mistyped-key');
  });
});
