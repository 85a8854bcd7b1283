/**
 * The delivery log's writes on a real Redis: a message is added once (an
 * event fanned out again after a crash neither resets it nor puts a settled
 * one back in the backlog), a replay's generation refuses the older series'
 * writes, an expired message leaves the backlog, and a second run of the
 * fan-out adds a job for a message whose endpoint no longer takes the event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/payments/event-consumer.ts';
import type { PaymentCloudEvent } from '../../src/payments/events.ts';
import { createKeyspace } from '../../src/payments/keys.ts';
import { createManualClock } from '../../src/platform/clock.ts';
import { sequentialIds } from '../../src/platform/ids.ts';
import { createEndpointStore } from '../../src/webhooks/endpoints.ts';
import { createFanOut, type DeliveryJob } from '../../src/webhooks/fan-out.ts';
import { createMessageLog, type WebhookMessage } from '../../src/webhooks/messages.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;

beforeAll(() => {
  ns = openTestNamespace('whlog');
});

afterAll(async () => {
  await ns?.close();
});

function parts() {
  const redis = ns.redis();
  const keyspace = createKeyspace({ prefix: ns.ns, shards: 2 });
  const clock = createManualClock(Date.now());
  const endpoints = createEndpointStore({
    redis,
    hashTag: keyspace.hashTag(0),
    clock,
    ids: sequentialIds('e'),
    maxPerMerchant: 4,
  });
  const messages = createMessageLog({ redis, keyspace, retentionMs: 3_600_000, now: clock.now });
  const added: Array<{ shard: number; job: DeliveryJob; jobId: string }> = [];
  const fanOut = createFanOut({
    endpoints,
    messages,
    now: clock.now,
    jobs: {
      async enqueue(shard, jobs) {
        for (const job of jobs) added.push({ shard, ...job });
      },
    },
  });
  return { redis, keyspace, clock, endpoints, messages, fanOut, added };
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
    const event = {
      specversion: '1.0',
      id: 'ev-4',
      source: 'test',
      type: 'payment.authorized',
      subject: 'pay_1_y',
      time: new Date(clock.now()).toISOString(),
      datacontenttype: 'application/json',
      sequence: 2,
      merchant: 'shop',
      data: {},
    } as PaymentCloudEvent;
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
