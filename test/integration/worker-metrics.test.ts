/**
 * A workers-only process with METRICS_PORT serves GET /metrics: the Sips
 * calls its step workers made, by service and responseCode, and their
 * latency labelled the same way.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createOrchestrator, type Orchestrator } from '../../src/orchestrator.ts';
import { SEED_TEST_MERCHANT_ID, SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { freePort } from '../support/api-on-port.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';
import { pollUntil } from '../support/poll.ts';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

describe('metrics of a workers-only process', () => {
  let namespace: TestNamespace | undefined;
  let simulator: RunningSimulator | undefined;
  let orchestrator: Orchestrator | undefined;
  let worker: WorkerProcess | undefined;

  afterAll(async () => {
    await worker?.kill();
    await orchestrator?.close();
    await simulator?.close();
    await namespace?.close();
  });

  it('serves the Sips calls of its workers on METRICS_PORT', { timeout: 60_000 }, async () => {
    namespace = openTestNamespace('wmet');
    simulator = await startSimulator({});
    const vaultKey = randomBytes(32);
    orchestrator = await createOrchestrator({
      redis: namespace.redis({ forBullmq: true }),
      keyPrefix: namespace.ns,
      workers: false,
      sips: {
        baseUrl: simulator.url,
        merchantId: SEED_TEST_MERCHANT_ID,
        secretKey: new SecretKey(SEED_TEST_SECRET_KEY),
        keyVersion: '1',
        timeoutMs: 2_000,
      },
      vault: { keys: { k1: vaultKey }, activeKeyId: 'k1' },
    });
    const port = await freePort();
    worker = startWorkerProcess('metrics', {
      REDIS_URL: namespace.redisUrl,
      KEY_PREFIX: namespace.ns,
      SIPS_ENV: 'simulator',
      SIPS_BASE_URL: simulator.url,
      CARD_VAULT_KEYS: `k1:${vaultKey.toString('hex')}`,
      WORKER_ROLES: 'steps',
      HOST: '127.0.0.1',
      METRICS_PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await worker.ready;

    await orchestrator.payments.create({
      amount: 1_000,
      currency: '978',
      card: { number: '4000000000000002', expiry: '203012', csc: '123' },
    });

    const live = worker;
    const text = await pollUntil(
      async () => {
        const response = await fetch(`http://127.0.0.1:${String(port)}/metrics`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toContain('text/plain');
        return response.text();
      },
      (body) => /sips_calls_total\{[^}]*service="cardOrder"/.test(body),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        describe: (body) =>
          `no cardOrder call in the metrics:\n${body.slice(0, 2_000)}\n${live.output().slice(-2_000)}`,
      },
    );
    const calls = [...text.matchAll(/^sips_calls_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)]
      .filter(([, labels]) => labels?.includes('service="cardOrder"'))
      .reduce((sum, [, , value]) => sum + Number(value), 0);
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(
      /^sips_call_duration_seconds_count\{[^}]*service="cardOrder"[^}]*response_code="00"[^}]*\} [1-9]/m,
    );
    // The queue figures are read from this process's orchestrator too.
    expect(text).toMatch(/^step_queue_jobs\{shard="0",state="waiting"\} \d+$/m);
    expect(text).toMatch(/^schedule_queue_jobs\{shard="0",state="delayed"\} \d+$/m);
    expect(text).toMatch(/^manual_review_backlog \d+$/m);

    const other = await fetch(`http://127.0.0.1:${String(port)}/`);
    expect(other.status).toBe(404);
  });
});
