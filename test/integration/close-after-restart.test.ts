/**
 * An orchestrator whose Redis was killed and restarted while its calls were
 * in flight still closes: its workers wait for the jobs in flight up to the
 * grace period (the Sips timeout and 5 s), then cut their connections.
 * Before, a close could wait forever on a connection that lived through the
 * restart.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createOrchestrator, type Orchestrator } from '../../src/orchestrator.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { findFreePort, startRedisServer } from '../../src/platform/redis-server.ts';
import { SEED_TEST_MERCHANT_ID, SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { startSimulator } from '../../src/simulator/index.ts';
import { ACCEPTED_CARD, EXPIRY } from '../support/orchestrator-harness.ts';

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('closing after Redis restarted under calls in flight', () => {
  it('ends within the grace period instead of waiting forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sog-close-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const port = await findFreePort();
    const args = ['--appendfsync', 'always'];
    let redis = await startRedisServer({ persistence: 'aof', dataDir: dir, port, extraArgs: args });
    cleanups.push(() => redis.kill());
    const sim = await startSimulator({ control: true });
    cleanups.push(() => sim.close());
    const orchestrator: Orchestrator = await createOrchestrator({
      redis: redis.url,
      keyPrefix: 'close-test',
      sips: {
        baseUrl: sim.url,
        merchantId: SEED_TEST_MERCHANT_ID,
        secretKey: new SecretKey(SEED_TEST_SECRET_KEY),
        keyVersion: '1',
        timeoutMs: 2_000,
      },
      vault: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1' },
      retry: { attempts: 20, baseMs: 100, capMs: 500 },
      inquiryScheduleMs: [100, 300],
      stalledIntervalMs: 1_000,
      lockDurationMs: 2_000,
      concurrency: 20,
      janitor: { intervalMs: 0 },
      logger: silentLogger(),
    });
    // Sips processes the authorisations and holds the answers back.
    sim.faults.add({ type: 'hang', afterProcessing: true, match: { service: 'cardOrder' } });
    for (let index = 0; index < 6; index++) {
      await orchestrator.payments.create({
        amount: 1_000,
        card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await redis.kill('SIGKILL');
    sim.faults.clear();
    redis = await startRedisServer({ persistence: 'aof', dataDir: dir, port, extraArgs: args });
    const started = Date.now();
    await orchestrator.close();
    // Two closes of workers, each within the Sips timeout + 5 s and 5 s more once cut.
    expect(Date.now() - started).toBeLessThan(2 * (2_000 + 5_000 + 5_000) + 2_000);
  }, 60_000);
});
