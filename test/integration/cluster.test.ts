/**
 * The orchestrator on a real Redis Cluster (3 masters + 3 replicas started
 * here), with three shards spread over the masters and REDIS_DURABILITY=replica:
 * the engine, the events, the schedules, the janitor and the HTTP API end to
 * end, then a master killed in the middle of several hundred payments.
 */
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/api/app.ts';
import type { OrchestratorOptions, PaymentView } from '../../src/orchestrator.ts';
import type { PaymentCloudEvent } from '../../src/payments/events.ts';
import { isCluster, parseClusterNodes } from '../../src/platform/redis.ts';
import { testPortsOf } from '../../src/orchestrator.ts';
import { startApiOnPort } from '../support/api-on-port.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  settled,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.ts';
import { localWebhooks, startWebhookReceiver } from '../support/webhook-receiver.ts';

let cluster: RedisClusterHandle;
let h: OrchestratorHarness | undefined;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1_000 });
}, 60_000);

// Closing after a failover waits for the workers' grace period.
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
  await h?.close();
  h = undefined;
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

function onCluster(extra: Partial<OrchestratorOptions> = {}): Partial<OrchestratorOptions> {
  return {
    redis: { clusterNodes: parseClusterNodes(cluster.startupNodes) },
    shards: 3,
    durability: { mode: 'replica', waitReplicas: 1, waitTimeoutMs: 1_000 },
    ...extra,
  };
}

const card = { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' };
const shardOf = (id: string) => Number(id.split('_')[1]);

async function allAt(
  harness: OrchestratorHarness,
  ids: readonly string[],
  done: (payment: PaymentView) => boolean,
  timeoutMs = 20_000,
): Promise<PaymentView[]> {
  return Promise.all(ids.map((id) => harness.waitFor(id, done, timeoutMs)));
}

describe('on a Redis Cluster', () => {
  it('runs payments on every shard, with their events, webhooks, captures, refunds and cancels', async () => {
    const receiver = await startWebhookReceiver();
    closers.push(() => receiver.close());
    h = await startOrchestratorHarness({
      orchestrator: onCluster({
        webhooks: localWebhooks({ blockMs: 100 }),
      }),
    });
    const harness = h;
    const { endpoint, secret } = await harness.orchestrator.webhooks.endpoints.create(
      { url: receiver.url },
      'all',
    );
    receiver.secrets.push(secret);
    const seen = new Map<string, string[]>();
    const eventIds = new Set<string>();
    await harness.orchestrator.events.subscribe(
      'cluster-test',
      async (event: PaymentCloudEvent) => {
        const id = event.subject ?? '';
        seen.set(id, [...(seen.get(id) ?? []), event.type]);
        eventIds.add(event.id);
      },
      { blockMs: 100 },
    );
    // Shards come from a random id, so 12 payments miss a shard about once in
    // 40 runs: go on (up to 60) until every shard holds at least one.
    const ids: string[] = [];
    const coversEveryShard = () => new Set(ids.map(shardOf)).size === 3;
    for (let index = 0; index < 60 && (index < 12 || !coversEveryShard()); index++) {
      const { payment } = await harness.orchestrator.payments.create({
        amount: 5_000,
        currency: '978',
        captureMode: 'validation',
        card,
      });
      ids.push(payment.id);
    }
    expect(new Set(ids.map(shardOf))).toEqual(new Set([0, 1, 2]));
    expect(isCluster(testPortsOf(harness.orchestrator).redis)).toBe(true);
    await allAt(harness, ids, (payment) => payment.status === 'authorized');
    const [toCancel, ...toCapture] = ids as [string, ...string[]];
    await harness.orchestrator.payments.cancel(toCancel, { amount: 5_000 });
    for (const id of toCapture) await harness.orchestrator.payments.capture(id, { amount: 5_000 });
    await allAt(harness, toCapture, (payment) => payment.status === 'captured');
    harness.sim.clock.advanceDays(1);
    await harness.sim.control.runRemittance();
    for (const id of toCapture) await harness.orchestrator.payments.refund(id, { amount: 1_000 });
    const refunded = await allAt(
      harness,
      toCapture,
      (payment) => payment.status === 'partially_refunded',
    );
    expect((await harness.waitFor(toCancel)).status).toBe('cancelled');
    for (const payment of refunded) {
      expect(harness.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
      expect(harness.sim.ledger.countMovements('refund', payment.transactionReference)).toBe(1);
    }
    // Every shard's stream reached the consumer, in each payment's order.
    // The refund resource's outcome goes with the payment's last event.
    await expect.poll(() => seen.get(toCapture[0] as string)?.at(-1)).toBe('refund.succeeded');
    for (const id of toCapture) {
      await expect.poll(() => seen.get(id)?.at(-1)).toBe('refund.succeeded');
      const types = seen.get(id) ?? [];
      expect(types.at(-2)).toBe('payment.partially_refunded');
      expect(types.indexOf('payment.authorized')).toBeLessThan(types.indexOf('payment.captured'));
    }
    expect(seen.get(toCancel)?.at(-1)).toBe('payment.cancelled');
    // Every event of every shard reached the webhook receiver, signed.
    await expect
      .poll(() => [...eventIds].filter((id) => !receiver.delivered().has(id)).length, {
        timeout: 20_000,
      })
      .toBe(0);
    expect(receiver.received.every((request) => request.verifiedWith.length === 1)).toBe(true);
    const log = await harness.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all', {
      limit: 500,
    });
    expect(new Set(log.map((message) => shardOf(message.subject)))).toEqual(new Set([0, 1, 2]));
    expect(log.every((message) => message.status === 'delivered')).toBe(true);

    // The janitor and the ops views read every shard.
    const report = await harness.orchestrator.ops.runJanitor();
    expect(report.checked).toBeGreaterThanOrEqual(0);
    const operations = harness.orchestrator.operations;
    await operations.pingRedis();
    for (const shard of operations.shards()) {
      expect(await operations.stepJobCounts(shard, ['failed'])).toMatchObject({ failed: 0 });
    }
    expect(await operations.openReviewCount()).toBe(0);
  });

  it('charges a subscription period after period', async () => {
    h = await startOrchestratorHarness({ orchestrator: onCluster() });
    const harness = h;
    const created = await harness.orchestrator.subscriptions.create({
      amount: 1_990,
      currency: 'EUR',
      interval: '2s',
      card,
    });
    await expect
      .poll(
        async () =>
          (
            await harness.orchestrator.subscriptions.get(created.subscription.id)
          ).occurrences.filter((occurrence) => occurrence.status === 'paid').length,
        { timeout: 20_000 },
      )
      .toBeGreaterThanOrEqual(2);
    await harness.orchestrator.subscriptions.cancel(created.subscription.id);
  });

  it('serves the HTTP API end to end', async () => {
    const started = await startApiOnPort(
      (_h, base) => ({
        apiKeys: parseApiKeys('merchant:pay-key:payments'),
        settleTimeoutMs: 5_000,
        publicUrl: base,
      }),
      { orchestrator: onCluster() },
    );
    h = started.h;
    closers.push(() => started.app.close());
    const headers = { authorization: 'Bearer pay-key', 'content-type': 'application/json' };
    const created = await request(`${started.base}/v1/payments`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': 'cluster-api-1' },
      body: JSON.stringify({ amount: 2_500, currency: 'EUR', captureMode: 'validation', card }),
    });
    const body = (await created.body.json()) as { id: string };
    expect(created.statusCode).toBe(201);
    await started.h.waitFor(body.id, (payment) => payment.status === 'authorized');
    const captured = await request(`${started.base}/v1/payments/${body.id}/captures`, {
      method: 'POST',
      headers: { ...headers, 'idempotency-key': 'cluster-api-2' },
      body: JSON.stringify({ amount: 2_500 }),
    });
    await captured.body.text();
    expect(captured.statusCode).toBe(202);
    await started.h.waitFor(body.id, (payment) => payment.status === 'captured');
    const read = await request(`${started.base}/v1/payments/${body.id}`, { headers });
    expect(((await read.body.json()) as PaymentView).amounts.captured).toBe(2_500);
  });
});

/** The payment's refund that failed because Sips shows it was never done, if any. */
function notDoneRefund(payment: PaymentView) {
  return payment.operations.find(
    (operation) =>
      operation.type === 'refund' &&
      operation.status === 'failed' &&
      operation.failure?.reason === 'not_done',
  );
}

/** Runs `command` until it is acknowledged: an error means it was not (the key makes a retry safe). */
let retried = 0;
async function acknowledged<T>(command: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await command();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      retried++;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Runs `work` over `items`, `width` at a time. */
async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

describe('a master fails over during a run', () => {
  it('loses no acknowledged command and sends no money call twice', async ({ annotate }) => {
    h = await startOrchestratorHarness({
      orchestrator: onCluster({
        retry: { attempts: 60, baseMs: 100, capMs: 1_000 },
        inquiryScheduleMs: [200, 500, 1_000, 2_000, 5_000, 10_000],
        concurrency: 50,
      }),
    });
    const harness = h;
    const orc = () => harness.orchestrator;
    const COUNT = 300;
    const keys = Array.from({ length: COUNT }, (_, index) => `failover-${index}`);
    const ids = new Map<string, string>();
    const create = (key: string) =>
      acknowledged(async () => {
        const { payment } = await orc().payments.create(
          { amount: 5_000, currency: '978', captureMode: 'validation', card },
          { idempotencyKey: key },
        );
        ids.set(key, payment.id);
      });
    const waitAll = (list: readonly string[], done: (payment: PaymentView) => boolean) =>
      allAt(harness, list, done, 90_000);

    // A first half captured and remitted before the failure: refundable.
    const early = keys.slice(0, COUNT / 2);
    await inParallel(early, 20, create);
    const earlyIds = early.map((key) => ids.get(key) as string);
    await waitAll(earlyIds, (payment) => payment.status === 'authorized');
    await inParallel(earlyIds, 20, (id) =>
      acknowledged(() =>
        orc().payments.capture(id, { amount: 5_000 }, { idempotencyKey: `c-${id}` }),
      ).then(() => undefined),
    );
    await waitAll(earlyIds, (payment) => payment.status === 'captured');
    harness.sim.clock.advanceDays(1);
    await harness.sim.control.runRemittance();

    // Then, while the second half is created and captured and the first is
    // refunded, the master of shard 0 is killed.
    const master = await cluster.masterFor(`{${harness.ns.ns}:s0}`);
    let progress = 0;
    let atKill = 0;
    let atPromotion = 0;
    const failure = (async () => {
      while (progress < COUNT / 4) await new Promise((resolve) => setTimeout(resolve, 20));
      atKill = progress;
      await cluster.failover(master);
      atPromotion = progress;
      // The machine comes back and rejoins as a replica: WAIT has a replica again.
      await cluster.rejoin(master);
    })();
    const late = keys.slice(COUNT / 2);
    await Promise.all([
      inParallel(late, 10, async (key) => {
        await create(key);
        progress++;
      }),
      inParallel(earlyIds, 10, async (id) => {
        await acknowledged(() =>
          orc().payments.refund(id, { amount: 1_000 }, { idempotencyKey: `r-${id}` }),
        );
        progress++;
      }),
    ]);
    await failure;
    // The master died with most of this work still to do.
    expect(atKill).toBeLessThan(COUNT / 2);
    await annotate(
      `failover: killed at ${atKill}/${COUNT}, promoted at ${atPromotion}/${COUNT}, retried ${retried}`,
    );
    const lateIds = late.map((key) => ids.get(key) as string);
    await waitAll(lateIds, (payment) => payment.status === 'authorized');
    await inParallel(lateIds, 20, (id) =>
      acknowledged(() =>
        orc().payments.capture(id, { amount: 5_000 }, { idempotencyKey: `c-${id}` }),
      ).then(() => undefined),
    );

    // A refund whose call was interrupted by the failover (its intent
    // written, its answer not stored) is inquired; when Sips shows it was
    // never done, it fails visibly (reason not_done), never silently, and the
    // merchant sends it again. Either way each payment is refunded once.
    const refundSettled = (payment: PaymentView) =>
      payment.status === 'partially_refunded' || notDoneRefund(payment) !== undefined;
    const afterFirst = await waitAll(earlyIds, refundSettled);
    const failedRefunds = afterFirst.filter((payment) => payment.status !== 'partially_refunded');
    for (const payment of failedRefunds) {
      expect(payment.status).toBe('captured');
      await acknowledged(() =>
        orc().payments.refund(
          payment.id,
          { amount: 1_000 },
          { idempotencyKey: `r2-${payment.id}` },
        ),
      );
    }
    await annotate(`refunds interrupted and found not done at Sips: ${failedRefunds.length}`);
    const early_ = await waitAll(earlyIds, (payment) => payment.status === 'partially_refunded');
    const late_ = await waitAll(lateIds, (payment) => payment.status === 'captured');
    const ledger = harness.sim.ledger;
    for (const payment of [...early_, ...late_]) {
      expect(settled(payment)).toBe(true);
      expect(ledger.countAuthorizations(payment.transactionReference)).toBe(1);
      expect(ledger.countMovements('validation', payment.transactionReference)).toBe(1);
    }
    for (const payment of early_) {
      expect(payment.amounts.refunded).toBe(1_000);
      expect(ledger.countMovements('refund', payment.transactionReference)).toBe(1);
    }
    // Every acknowledged create is there, once: one payment per key.
    expect(new Set(ids.values()).size).toBe(COUNT);
    expect(await orc().operations.openReviewCount()).toBe(0);
  }, 240_000);
});
