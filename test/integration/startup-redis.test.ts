/**
 * Start-up against Redis settings a deployment can get wrong: every mistake
 * is a clear error naming the setting, within the connect timeout, never a
 * hang.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compose, type Runtime } from '../../src/compose.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { MerchantsConfigError } from '../../src/config/merchants.ts';
import { findFreePort, startRedisServer } from '../../src/platform/redis-server.ts';
import { silentLogger } from '../../src/platform/logger.ts';

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function startWith(env: Record<string, string>): Promise<Runtime> {
  const runtime = await compose(
    loadConfig({ KEY_PREFIX: 'startup-test', SIMULATOR_PORT: '0', ...env }),
    { workers: false, startRedis: false, logger: silentLogger() },
  );
  cleanups.push(() => runtime.close());
  return runtime;
}

async function redisWith(args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'sog-startup-'));
  const server = await startRedisServer({
    persistence: 'aof',
    dataDir: dir,
    port: await findFreePort(),
    extraArgs: args,
  });
  cleanups.push(async () => {
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  return server;
}

describe('start-up against Redis', () => {
  it('names REDIS_CLUSTER_NODES when no node answers, within the connect timeout', async () => {
    const port = await findFreePort();
    const started = Date.now();
    const failure = await startWith({
      REDIS_CLUSTER_NODES: `127.0.0.1:${port}`,
      REDIS_CONNECT_TIMEOUT: '1s',
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as Error).message).toMatch(
      /REDIS_CLUSTER_NODES: Redis did not become ready within 1000 ms/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('names REDIS_URL when nothing answers there', async () => {
    const port = await findFreePort();
    await expect(startWith({ REDIS_URL: `redis://127.0.0.1:${port}` })).rejects.toThrow(
      /REDIS_URL: no Redis answers at redis:\/\/127\.0\.0\.1:\d+/,
    );
  });

  it('refuses REDIS_DURABILITY=replica on a server without replicas', async () => {
    const server = await redisWith();
    await expect(startWith({ REDIS_URL: server.url, REDIS_DURABILITY: 'replica' })).rejects.toThrow(
      /REDIS_DURABILITY=replica needs REDIS_WAIT_REPLICAS=1 replica\(s\) online/,
    );
  });

  it('asks for REDIS_FSYNC_ASSERTED where CONFIG is disabled, and starts once it is set', async () => {
    const server = await redisWith(['--appendfsync', 'always', '--rename-command', 'CONFIG', '']);
    await expect(startWith({ REDIS_URL: server.url, REDIS_DURABILITY: 'fsync' })).rejects.toThrow(
      /CONFIG GET is refused at 127\.0\.0\.1:\d+.*REDIS_FSYNC_ASSERTED=1/,
    );
    const runtime = await startWith({
      REDIS_URL: server.url,
      REDIS_DURABILITY: 'fsync',
      REDIS_FSYNC_ASSERTED: '1',
    });
    expect(runtime.durability.mode).toBe('fsync');
  });

  it('refuses none outside the simulator unless accepted by name, and defaults to verify there', async () => {
    const server = await redisWith();
    const production = {
      SIPS_ENV: 'test',
      REDIS_URL: server.url,
      CARD_VAULT_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    };
    await expect(startWith({ ...production, REDIS_DURABILITY: 'none' })).rejects.toThrow(
      /REDIS_DURABILITY_ALLOW_UNSAFE=none/,
    );
    const accepted = await startWith({
      ...production,
      REDIS_DURABILITY: 'none',
      REDIS_DURABILITY_ALLOW_UNSAFE: 'none',
    });
    expect(accepted.durability.warnings).toEqual([expect.stringMatching(/twice/)]);
    await accepted.close();
    cleanups.pop();
    const defaulted = await startWith(production);
    expect(defaulted.durability.mode).toBe('verify');
  });
});

describe('reloading MERCHANTS_FILE', () => {
  it('applies a changed file, and refuses a bad one naming every problem while the old shops stay', async () => {
    const server = await redisWith();
    const dir = mkdtempSync(join(tmpdir(), 'sog-merchants-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'merchants.json');
    const shop = (id: string) => ({
      id,
      environment: 'simulator',
      merchantId: '201040040170001',
      keys: [{ version: 1, secret: 'rxSP61eeP_oNi5TxCD7Ngy9YcwC8MLw6OlmFGGcsY54' }],
    });
    writeFileSync(file, JSON.stringify({ merchants: [shop('brand-a')] }));
    const runtime = await startWith({ REDIS_URL: server.url, MERCHANTS_FILE: file });
    expect(runtime.orchestrator.merchants.list().map((merchant) => merchant.id)).toEqual([
      'brand-a',
    ]);
    writeFileSync(file, JSON.stringify({ merchants: [shop('brand-a'), shop('brand-b')] }));
    expect(runtime.reloadMerchants().map((merchant) => merchant.id)).toEqual([
      'brand-a',
      'brand-b',
    ]);
    writeFileSync(file, JSON.stringify({ merchants: [shop('brand-a'), shop('brand-a')] }));
    let refused: unknown;
    try {
      runtime.reloadMerchants();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(MerchantsConfigError);
    expect((refused as MerchantsConfigError).problems).toEqual([
      'merchants[1].id: "brand-a" is used twice',
    ]);
    expect(runtime.orchestrator.merchants.list().map((merchant) => merchant.id)).toEqual([
      'brand-a',
      'brand-b',
    ]);
  });
});
