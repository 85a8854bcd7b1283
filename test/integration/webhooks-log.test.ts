/**
 * The delivery log's writes on a real Redis: a message is added once (an
 * event fanned out again after a crash neither resets it nor puts a settled
 * one back in the backlog), a replay's generation refuses the older series'
 * writes, an expired message leaves the backlog, and a second run of the
 * fan-out adds a job for a message whose endpoint no longer takes the event.
 * First attempts made in process hold a lease until their message is settled
 * or handed to a job, and a lease whose process died becomes a job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/payments/event-consumer.ts';
import type { PaymentCloudEvent } from '../../src/payments/events.ts';
import { createKeyspace } from '../../src/payments/keys.ts';
import { createManualClock } from '../../src/platform/clock.ts';
import { sequentialIds } from '../../src/platform/ids.ts';
import { createEndpointStore } from '../../src/webhooks/endpoints.ts';
import type { DeliveryJob } from '../../src/webhooks/delivery-job.ts';
import { createFanOut } from '../../src/webhooks/fan-out.ts';
import { createFirstAttempts } from '../../src/webhooks/first-attempts.ts';
import type { AttemptVerdict } from '../../src/webhooks/deliver.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { createMessageLog, type WebhookMessage } from '../../src/webhooks/messages.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;

beforeAll(() => {
  ns = openTestNamespace('whlog');
});

afterAll(async () => {
  await ns?.close();
});

let built = 0;

function parts() {
  const redis = ns.redis();
  // Each call its own prefix: endpoint ids start over with every store.
  const keyspace = createKeyspace({ prefix: `${ns.ns}-${++built}`, shards: 2 });
  const clock = createManualClock(Date.now());
  const endpoints = createEndpointStore({
    redis,
    hashTag: keyspace.hashTag(0),
    clock,
    ids: sequentialIds('e'),
    maxPerMerchant: 4,
  });
  const messages = createMessageLog({ redis, keyspace, retentionMs: 3_600_000, now: clock.now });
  const added: Array<{ shard: number; job: DeliveryJob; jobId: string; delayMs?: number }> = [];
  const jobs = {
    async enqueue(
      shard: number,
      list: ReadonlyArray<{ job: DeliveryJob; jobId: string }>,
      options: { delayMs?: number } = {},
    ) {
      for (const job of list) added.push({ shard, ...job, ...options });
    },
  };
  const fanOut = createFanOut({ endpoints, messages, now: clock.now, jobs });
  return { redis, keyspace, clock, endpoints, messages, fanOut, added, jobs };
}

function message(endpointId: string, eventId: string, createdAt: number): WebhookMessage {
  return {
    endpointId,
    eventId,
    eventType: 'payment.authorized',
    subject: 'pay_1_x',
    sequence: 2,
    shard: 1,
    body: '{}',
    createdAt,
    status: 'pending',
    attemptCount: 0,
    generation: 0,
    seriesAttempts: 0,
    attempts: [],
  };
}

describe('the delivery log', () => {
  it('adds a message once and keeps a settled one out of the backlog', async () => {
    const { messages, clock } = parts();
    const first = message('we_a', 'ev-1', clock.now());
    expect(await messages.add(1, [first])).toEqual(['created']);
    expect((await messages.backlog('we_a')).count).toBe(1);
    expect(await messages.add(1, [{ ...first, body: '{"other":1}' }])).toEqual(['pending']);
    expect((await messages.get(1, 'we_a', 'ev-1'))?.body).toBe('{}');

    expect(await messages.save({ ...first, status: 'delivered' }, 0)).toBe('ok');
    expect((await messages.backlog('we_a')).count).toBe(0);
    expect(await messages.add(1, [first])).toEqual(['delivered']);
    expect((await messages.backlog('we_a')).count).toBe(0);
  });

  it('keeps a delivered message delivered when an attempt of the same series fails late', async () => {
    const { messages, clock } = parts();
    const first = message('we_d', 'ev-6', clock.now());
    await messages.add(1, [first]);
    expect(await messages.save({ ...first, status: 'delivered' }, 0)).toBe('ok');
    // Another attempt of generation 0 (a job run beside a first attempt) failed meanwhile.
    expect(await messages.save({ ...first, attemptCount: 1, nextAttemptAt: 1 }, 0)).toBe('stale');
    expect((await messages.get(1, 'we_d', 'ev-6'))?.status).toBe('delivered');
    expect((await messages.backlog('we_d')).count).toBe(0);
    // A replay (a new generation) makes it pending again.
    expect(await messages.save({ ...first, generation: 1, status: 'pending' }, 0)).toBe('ok');
    expect((await messages.backlog('we_d')).count).toBe(1);
  });

  it("refuses an older generation's write after a replay", async () => {
    const { messages, clock } = parts();
    const first = message('we_b', 'ev-2', clock.now());
    await messages.add(1, [first]);
    expect(await messages.save({ ...first, generation: 1, status: 'pending' }, 0)).toBe('ok');
    // The first series ends after the replay started: its write is refused.
    expect(await messages.save({ ...first, status: 'failed' }, 0)).toBe('stale');
    expect(await messages.get(1, 'we_b', 'ev-2')).toMatchObject({
      generation: 1,
      status: 'pending',
    });
    expect((await messages.backlog('we_b')).count).toBe(1);
  });

  it('takes an expired message out of the backlog and does not write it again', async () => {
    const { messages, clock, redis, keyspace } = parts();
    const first = message('we_c', 'ev-3', clock.now());
    await messages.add(1, [first]);
    await redis.del(`${keyspace.hashTag(1)}:wh:msg:we_c:ev-3`);
    expect(await messages.save({ ...first, status: 'delivered' }, 0)).toBe('missing');
    expect(await messages.get(1, 'we_c', 'ev-3')).toBeUndefined();
    expect((await messages.backlog('we_c')).count).toBe(0);
  });
});

function eventOf(id: string, at: number): PaymentCloudEvent {
  return {
    specversion: '1.0',
    id,
    source: 'test',
    type: 'payment.authorized',
    subject: 'pay_1_z',
    time: new Date(at).toISOString(),
    datacontenttype: 'application/json',
    sequence: 2,
    merchant: 'shop',
    data: {},
  } as PaymentCloudEvent;
}

describe('the fan-out run again', () => {
  it('adds a job for a pending message whose endpoint was disabled meanwhile', async () => {
    const { endpoints, fanOut, added, clock, messages } = parts();
    const endpoint = await endpoints.create({
      merchant: 'shop',
      url: 'https://hooks.example.com/a',
      eventTypes: ['*'],
      enabled: true,
      secrets: [],
    });
    clock.advance(10);
    const event = eventOf('ev-4', clock.now());
    const delivery: Delivery = { shard: 1, streamId: '1-0', deliveries: 1 };
    await fanOut(event, delivery);
    expect(added.map((entry) => entry.job.endpointId)).toEqual([endpoint.id]);

    // The process died before acknowledging; the endpoint is disabled; the
    // entry runs again: the pending message still gets its job.
    await endpoints.change(endpoint.id, (current) => ({ ...current, enabled: false }));
    await fanOut(event, { ...delivery, deliveries: 2 });
    expect(added).toHaveLength(2);
    expect(added[1]?.jobId).toBe(added[0]?.jobId);

    // Settled: a third run adds nothing.
    const stored = await messages.get(1, endpoint.id, 'ev-4');
    if (!stored) throw new Error('no message');
    await messages.save({ ...stored, status: 'failed', failedReason: 'endpoint_disabled' }, 0);
    await fanOut(event, { ...delivery, deliveries: 3 });
    expect(added).toHaveLength(2);
    // Another merchant's endpoint never gets this merchant's event.
    const other = await endpoints.create({
      merchant: 'someone-else',
      url: 'https://hooks.example.com/b',
      eventTypes: ['*'],
      enabled: true,
      secrets: [],
    });
    await fanOut({ ...event, id: 'ev-5' }, delivery);
    expect(added.some((entry) => entry.job.endpointId === other.id)).toBe(false);
  });
});

describe('first attempts in process', () => {
  /** A pool of one place whose attempts end when the test says so. */
  function withPool(wall: { now: number }) {
    const verdicts: Array<(verdict: AttemptVerdict) => void> = [];
    const attempted: string[] = [];
    const built = parts();
    const pool = createFirstAttempts({
      shards: built.keyspace.allShards,
      concurrency: 1,
      maxWaitMs: 20,
      leaseMs: 1_000,
      messages: built.messages,
      jobs: built.jobs,
      logger: createLogger({ level: 'silent' }),
      wallClock: () => wall.now,
      attempt: (job) => {
        attempted.push(job.endpointId);
        return new Promise<AttemptVerdict>((resolve) => verdicts.push(resolve));
      },
    });
    const leases = (shard: number) =>
      built.redis.zrange(`${built.keyspace.hashTag(shard)}:wh:first`, 0, -1);
    const fanOut = createFanOut({
      endpoints: built.endpoints,
      messages: built.messages,
      now: built.clock.now,
      jobs: built.jobs,
      firstAttempts: pool,
    });
    return { ...built, fanOut, pool, verdicts, attempted, leases };
  }

  async function twoEndpoints(endpoints: ReturnType<typeof parts>['endpoints']) {
    const create = (path: string) =>
      endpoints.create({
        merchant: 'shop',
        url: `https://hooks.example.com/${path}`,
        eventTypes: ['*'],
        enabled: true,
        secrets: [],
      });
    return [await create('a'), await create('b')];
  }

  it('sends what the pool has room for under a lease, gives the rest jobs, and a retry its job', async () => {
    const wall = { now: 1_000_000 };
    const { endpoints, fanOut, added, clock, pool, verdicts, attempted, leases } = withPool(wall);
    const ids = (await twoEndpoints(endpoints)).map((endpoint) => endpoint?.id);
    clock.advance(10);
    await fanOut(eventOf('ev-10', clock.now()), { shard: 1, streamId: '1-0', deliveries: 1 });
    // One place: one endpoint's message is sent here, the other's gets a job
    // once no place freed within the wait.
    expect(attempted).toHaveLength(1);
    const a = { id: attempted[0] };
    const other = ids.find((id) => id !== a.id);
    expect(added.map((entry) => [entry.job.endpointId, entry.delayMs])).toEqual([
      [other, undefined],
    ]);
    expect(await leases(1)).toEqual([`${a?.id} ev-10`]);
    // The receiver refused: the message is handed to a job on the schedule, then the lease goes.
    verdicts[0]?.({ outcome: 'retry', delayMs: 5_000 });
    await pool.drain();
    expect(added.at(-1)).toMatchObject({ jobId: `wh_${a?.id}_ev-10`, delayMs: 5_000 });
    expect(await leases(1)).toEqual([]);
    // The place is free again, but not for the endpoint that just failed:
    // its next messages get jobs for a while.
    expect(await pool.take(1, a.id ?? '')).toBe(false);
    expect(await pool.take(1, other ?? '')).toBe(true);
  });

  it('keeps the lease of an attempt that never ended, and the sweep turns it into a job', async () => {
    const wall = { now: 2_000_000 };
    const { endpoints, fanOut, added, clock, pool, leases, messages, attempted } = withPool(wall);
    await twoEndpoints(endpoints);
    clock.advance(10);
    await fanOut(eventOf('ev-11', clock.now()), { shard: 0, streamId: '1-0', deliveries: 1 });
    const a = { id: attempted[0] };
    const jobsBefore = added.length;
    // Not yet past its deadline: a live attempt is left alone.
    wall.now += 999;
    expect(await pool.sweep()).toBe(0);
    // The process died (the attempt never ends): past the deadline, the message gets its job.
    wall.now += 2;
    expect(await pool.sweep()).toBe(1);
    expect(added.slice(jobsBefore)).toEqual([
      {
        shard: 0,
        job: { shard: 0, endpointId: a?.id, eventId: 'ev-11' },
        jobId: `wh_${a?.id}_ev-11`,
      },
    ]);
    expect(await leases(0)).toEqual([]);
    expect((await messages.get(0, a?.id ?? '', 'ev-11'))?.status).toBe('pending');
    // The place is still held by the attempt that never ended: the next
    // event's messages get jobs, and take no lease.
    const jobsThen = added.length;
    await fanOut(eventOf('ev-12', clock.now()), { shard: 0, streamId: '2-0', deliveries: 1 });
    expect(added.length - jobsThen).toBe(2);
    expect(await leases(0)).toEqual([]);
  });

  it('releases the lease when the attempt settles the message', async () => {
    const wall = { now: 3_000_000 };
    const { endpoints, fanOut, clock, pool, verdicts, leases, messages, attempted } =
      withPool(wall);
    await twoEndpoints(endpoints);
    clock.advance(10);
    await fanOut(eventOf('ev-13', clock.now()), { shard: 1, streamId: '1-0', deliveries: 1 });
    const a = { id: attempted[0] };
    expect(await leases(1)).toEqual([`${a?.id} ev-13`]);
    const stored = await messages.get(1, a?.id ?? '', 'ev-13');
    if (!stored) throw new Error('no message');
    expect(await messages.save({ ...stored, status: 'delivered' }, 0)).toBe('ok');
    expect(await leases(1)).toEqual([]);
    verdicts[0]?.({ outcome: 'delivered' });
    await pool.drain();
    expect(await pool.take(1, a.id ?? '')).toBe(true);
  });
});

describe('the endpoints a delivering process holds', () => {
  it('reads the version for a new event, trusts a recent check for older ones, and not for long', async () => {
    const { endpoints, clock, redis, keyspace } = parts();
    const other = createEndpointStore({
      redis,
      hashTag: keyspace.hashTag(0),
      clock,
      ids: sequentialIds('f'),
      maxPerMerchant: 4,
    });
    const before = clock.now();
    clock.advance(5_000);
    expect((await endpoints.current()).byId.size).toBe(0);
    clock.advance(10);
    // Another process adds an endpoint after the check.
    const added = await other.create({
      merchant: 'shop',
      url: 'https://hooks.example.com/c',
      eventTypes: ['*'],
      enabled: true,
      secrets: [],
    });
    // An event written before the check needs no read: the endpoint did not exist then.
    expect((await endpoints.current(before)).byId.has(added.id)).toBe(false);
    // An event written after the check is matched against what is stored now.
    expect((await endpoints.current(clock.now())).byId.has(added.id)).toBe(true);
    const removed = await other.remove(added.id);
    expect(removed).toBe(true);
    // A check is trusted for a second at most, whatever the event's age.
    clock.advance(1_000);
    expect((await endpoints.current(before)).byId.has(added.id)).toBe(false);
    expect((await endpoints.current()).byId.size).toBe(0);
  });
});
