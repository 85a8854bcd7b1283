/**
 * At-least-once webhook delivery through crashes: workers-only processes
 * (step workers, the `webhooks` consumer group and the delivery workers)
 * are killed with SIGKILL at random moments while payments run and their
 * events are delivered to a receiver that is slow and sometimes refuses.
 * Afterwards every event of the streams has reached the receiver with a
 * valid signature (deduplicated by `webhook-id`): none is lost.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createOrchestrator, testPortsOf, type Orchestrator } from '../../src/orchestrator.ts';
import type { PaymentCloudEvent } from '../../src/payments/events.ts';
import { SEED_TEST_MERCHANT_ID, SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { seededRandom } from '../../src/simulator/random.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';
import { pollUntil } from '../support/poll.ts';
import { streamedEvents } from '../support/stream-events.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

const PAYMENTS = 120;
const KILLS = 5;
const ACCEPTED_CARDS = ['4000000000000002', '4100000000000000'];
const REFUSED_CARD = '4000000000000119';

describe('webhook delivery through SIGKILLs', () => {
  let namespace: TestNamespace | undefined;
  let simulator: RunningSimulator | undefined;
  let receiver: WebhookReceiver | undefined;
  let orchestrator: Orchestrator | undefined;
  const workers: WorkerProcess[] = [];

  afterAll(async () => {
    await Promise.all(workers.filter((worker) => worker.alive).map((worker) => worker.kill()));
    await orchestrator?.close();
    await receiver?.close();
    await simulator?.close();
    await namespace?.close();
  });

  it('loses no event when the delivering processes die mid-run', { timeout: 150_000 }, async () => {
    const seeded = seededRandom(20_261_204);
    const random = () => seeded.next();
    namespace = openTestNamespace('whk');
    simulator = await startSimulator({});
    receiver = await startWebhookReceiver();
    receiver.latencyMs = 20;
    // One answer in five refused: retries are under way when processes die.
    receiver.answer(() => (random() < 0.2 ? 503 : 204));
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
        timeoutMs: 1_000,
      },
      vault: { keys: { k1: vaultKey }, activeKeyId: 'k1' },
      webhooks: { policy: { allowPrivateAddresses: true, allowHttp: true } },
    });
    const { secret } = await orchestrator.webhooks.endpoints.create({ url: receiver.url }, 'all');
    receiver.secrets.push(secret);

    const env: Record<string, string> = {
      REDIS_URL: namespace.redisUrl,
      KEY_PREFIX: namespace.ns,
      SIPS_ENV: 'simulator',
      SIPS_BASE_URL: simulator.url,
      CARD_VAULT_KEYS: `k1:${vaultKey.toString('hex')}`,
      WORKER_CONCURRENCY: '20',
      RETRY_BASE_MS: '50',
      RETRY_MAX_MS: '400',
      INQUIRY_SCHEDULE: '200ms,400ms,800ms,1600ms',
      STALLED_INTERVAL_MS: '1000',
      LOCK_DURATION_MS: '2000',
      SIPS_TIMEOUT_MS: '1000',
      WEBHOOK_ALLOW_PRIVATE_ADDRESSES: '1',
      WEBHOOK_ALLOW_HTTP: '1',
      WEBHOOK_RETRY_SCHEDULE: '0ms,100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s,1s,1s',
      WEBHOOK_CLAIM_IDLE: '1s',
      // First attempts of a killed process wait out their lease (2 × 2 s + 5 s).
      WEBHOOK_CONNECT_TIMEOUT: '1s',
      WEBHOOK_RESPONSE_TIMEOUT: '1s',
      LOG_LEVEL: 'info',
    };
    let started = 0;
    const startWorker = (): WorkerProcess => {
      const worker = startWorkerProcess(`wh${++started}`, env);
      workers.push(worker);
      return worker;
    };
    await Promise.all([startWorker(), startWorker()].map((worker) => worker.ready));

    const ids: string[] = [];
    let kills = 0;
    for (let index = 0; index < PAYMENTS; index++) {
      const accepted = random() < 0.8;
      const number = accepted
        ? (ACCEPTED_CARDS[index % ACCEPTED_CARDS.length] as string)
        : REFUSED_CARD;
      const { payment } = await orchestrator.payments.create({
        amount: 1_000 + index,
        currency: '978',
        card: { number, expiry: '203012', csc: '123' },
      });
      ids.push(payment.id);
      if ((index + 1) % Math.floor(PAYMENTS / KILLS) === 0 && kills < KILLS) {
        // A process that just started may not run yet: kill one that does.
        await Promise.any(workers.filter((worker) => worker.alive).map((worker) => worker.ready));
        const running = workers.filter((worker) => worker.alive && worker.isReady);
        const victim = running[Math.floor(random() * running.length)];
        if (victim) {
          await victim.kill();
          kills++;
          startWorker();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 5 + random() * 20));
    }
    expect(kills).toBe(KILLS);

    const producer = orchestrator;
    const streamEvents = async (): Promise<PaymentCloudEvent[]> =>
      (await streamedEvents<PaymentCloudEvent>(producer)).map(({ event }) => event);
    const live = receiver;
    // Every payment settled (received + a final event), and every event delivered.
    const events = await pollUntil(
      streamEvents,
      (all) =>
        ids.every((id) => all.filter((event) => event.subject === id).length >= 2) &&
        all.every((event) => live.delivered().has(event.id)),
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        describe: (all) => {
          const missing = all.filter((event) => !live.delivered().has(event.id));
          return `${missing.length} of ${all.length} events not delivered, e.g. ${JSON.stringify(missing.slice(0, 3).map((e) => [e.type, e.subject]))}\n${workers.map((w) => w.output().slice(-2_000)).join('\n')}`;
        },
      },
    );
    expect(events.length).toBeGreaterThanOrEqual(2 * PAYMENTS);
    for (const request of live.received) {
      expect(request.verifiedWith).toEqual([0]);
      expect(JSON.parse(request.body).id).toBe(request.id);
    }
    // Nothing was delivered that is not an event of the streams.
    const known = new Set(events.map((event) => event.id));
    for (const id of live.delivered()) expect(known.has(id)).toBe(true);
    // The first attempts the killed processes left unsettled were handed to
    // jobs: no lease is left, nor any message in a backlog.
    const redis = namespace.redis();
    const { keyspace } = testPortsOf(producer);
    const leftOver = async () => {
      let count = 0;
      for (const shard of keyspace.allShards) {
        count += await redis.zcard(`${keyspace.hashTag(shard)}:wh:first`);
      }
      const backlog = await producer.webhooks.backlog();
      return count + backlog.reduce((sum, endpoint) => sum + endpoint.count, 0);
    };
    await expect.poll(leftOver, { timeout: 30_000, interval: 250 }).toBe(0);
  });
});
