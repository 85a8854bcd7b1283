/**
 * The API key of `sogenactif payments|review`: `--key`, SOGENACTIF_API_KEY,
 * else the development key in the simulator environment only. The CLI runs
 * against a local HTTP server that records the Authorization header it gets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.ts';
import { DEV_API_KEY } from '../../src/cli/ops.ts';

let server: Server;
let api: string;
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request.headers.authorization);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
});

async function run(args: string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  seen.length = 0;
  const code = await runCli([...args, '--api', api], {
    readStdin: async () => '',
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env,
  });
  return { code, out: out.join(''), err: err.join(''), authorization: seen[0] };
}

describe('sogenactif API key', () => {
  it('is the development key when SIPS_ENV is unset (simulator) and no key is given', async () => {
    const result = await run(['review', 'list'], {});
    expect(result.code).toBe(0);
    expect(DEV_API_KEY).toBe('dev-key');
    expect(result.authorization).toBe(`Bearer ${DEV_API_KEY}`);
    expect(result.out).toBe('no open review items\n');
  });

  it('is the development key with SIPS_ENV=simulator', async () => {
    const result = await run(['payments', 'show', 'pay_1'], { SIPS_ENV: 'simulator' });
    expect(result.code).toBe(0);
    expect(result.authorization).toBe(`Bearer ${DEV_API_KEY}`);
  });

  it('prefers --key, then SOGENACTIF_API_KEY, over the development key', async () => {
    const fromEnv = await run(['review', 'list'], { SOGENACTIF_API_KEY: 'from-env' });
    expect(fromEnv.authorization).toBe('Bearer from-env');
    const fromOption = await run(['review', 'list', '--key', 'from-option'], {
      SOGENACTIF_API_KEY: 'from-env',
    });
    expect(fromOption.authorization).toBe('Bearer from-option');
  });

  it.each(['production', 'test', ''])(
    'is required with SIPS_ENV=%j: exit 2, nothing sent',
    async (environment) => {
      const result = await run(['review', 'list'], { SIPS_ENV: environment });
      expect(result.code).toBe(2);
      expect(result.authorization).toBeUndefined();
      expect(seen).toHaveLength(0);
      expect(result.err).toContain('no API key: use --key or SOGENACTIF_API_KEY');
      expect(result.err).toContain(`required when SIPS_ENV=${environment}`);
    },
  );

  it('with SIPS_ENV=production, a given key is sent', async () => {
    const result = await run(['review', 'list', '--key', 'prod-ops'], { SIPS_ENV: 'production' });
    expect(result.code).toBe(0);
    expect(result.authorization).toBe('Bearer prod-ops');
  });

  it('says the default in its help', async () => {
    const result = await run(['review', 'list', '--bogus', 'x'], {});
    expect(result.code).toBe(2);
    expect(result.err).toContain(`else to ${DEV_API_KEY} when SIPS_ENV is simulator`);
  });
});
