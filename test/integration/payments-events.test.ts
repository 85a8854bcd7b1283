import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Amounts } from '../../machines/contract.ts';
import {
  createEventConsumer,
  trimAcknowledged,
  type DeadLetterEntry,
  type Delivery,
  type EventConsumer,
  type EventConsumerOptions,
} from '../../src/payments/event-consumer.ts';
import { buildEvent, type PaymentCloudEvent } from '../../src/payments/events.ts';
import { createKeyspace, type Keyspace } from '../../src/payments/keys.ts';
import { createPaymentStore, type PaymentStore } from '../../src/payments/store.ts';
import { createManualClock } from '../../src/platform/clock.ts';
import { sequentialIds } from '../../src/platform/ids.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

const zero: Amounts = { authorized: 0, captured: 0, cancelled: 0, refunded: 0 };
const clock = createManualClock();

let t: TestNamespace;
let redis: Redis;
let keyspace: Keyspace;
let store: PaymentStore;
let consumers: EventConsumer[];
let n = 0;

beforeEach(() => {
  t = openTestNamespace('events');
  redis = t.redis();
  keyspace = createKeyspace({ prefix: t.ns, shards: 2 });
  store = createPaymentStore({ redis, keyspace, clock });
  consumers = [];
});

afterEach(async () => {
  await Promise.all(consumers.map((c) => c.close()));
  await t.close();
});

/** A payment with `steps` events: `payment.operation_resent` with sequence 1..steps, one per write. */
async function paymentWithEvents(steps: number, shard?: number): Promise<string> {
  const ids = sequentialIds(`t${++n}`);
  let id = keyspace.newPaymentId(ids);
  while (shard !== undefined && keyspace.shardOf(id) !== shard) id = keyspace.newPaymentId(ids);
  const event = (sequence: number) =>
    buildEvent(
      { type: 'payment.operation_resent', paymentId: id, sequence, data: { sequence } },
      { clock },
    );
  await store.create(
    {
      id,
      machineVersion: 'm1',
      kind: 'card',
      status: 'received',
      amount: 100,
      currency: '978',
      captureMode: 'author_capture',
      snapshot: {},
      transactionReference: `R${n}`,
    },
    { events: [event(1)] },
  );
  for (let version = 1; version < steps; version++) {
    await store.commitStep(id, version, {
      snapshot: {},
      status: 'authorizing',
      amounts: zero,
      events: [event(version + 1)],
    });
  }
  return id;
}

function consume(
  options: Partial<EventConsumerOptions> & Pick<EventConsumerOptions, 'handler'>,
): EventConsumer {
  const consumer = createEventConsumer({
    redis,
    keyspace,
    group: 'g1',
    consumer: 'c1',
    blockMs: 50,
    claimIdleMs: 100,
    ...options,
  });
  consumers.push(consumer);
  return consumer;
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Connections of this test blocked in XREADGROUP. */
async function blockedReads(): Promise<number> {
  const clients = ((await redis.client('LIST')) as string).split('\n');
  return clients.filter((line) => {
    const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1] ?? '';
    return field('name') === t.ns && field('cmd') === 'xreadgroup' && field('flags').includes('b');
  }).length;
}

async function pendingCount(shard: number, group = 'g1'): Promise<number> {
  const summary = (await redis.xpending(keyspace.eventsStream(shard), group)) as [number];
  return Number(summary[0]);
}

describe('event consumer', () => {
  it('hands every event over in order per payment and acknowledges it', async () => {
    const a = await paymentWithEvents(4, 0);
    const b = await paymentWithEvents(3, 1);
    const c = await paymentWithEvents(2, 0);
    const seen: Array<[string, number, Delivery]> = [];
    await consume({ handler: async (e, d) => void seen.push([e.subject, e.sequence, d]) }).start();
    await waitFor(() => seen.length === 9);
    for (const id of [a, b, c]) {
      const sequences = seen.filter(([s]) => s === id).map(([, q]) => q);
      expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
    }
    expect(seen.every(([, , d]) => d.deliveries === 1)).toBe(true);
    expect(await pendingCount(0)).toBe(0);
    expect(await pendingCount(1)).toBe(0);

    // Events written while it runs arrive too.
    const d = await paymentWithEvents(2, 1);
    await waitFor(() => seen.length === 11);
    expect(seen.slice(9).map(([s, q]) => `${s}@${q}`)).toEqual([`${d}@1`, `${d}@2`]);
  });

  it('runs a failed event again through XAUTOCLAIM, holding back the payment’s later events', async () => {
    const p = await paymentWithEvents(3, 0);
    await paymentWithEvents(2, 0); // another payment, q
    const log: string[] = [];
    let failuresLeft = 2;
    await consume({
      handler: async (e, d) => {
        log.push(`${e.subject === p ? 'p' : 'q'}${e.sequence}#${d.deliveries}`);
        if (e.subject === p && e.sequence === 1 && failuresLeft-- > 0) {
          throw new Error('downstream down');
        }
      },
    }).start();
    await waitFor(() => log.filter((l) => l.startsWith('p')).length === 5);
    // p1 failed twice and was redelivered (deliveries 2, 3); p2 and p3 waited for it.
    expect(log.filter((l) => l.startsWith('p'))).toEqual(['p1#1', 'p1#2', 'p1#3', 'p2#1', 'p3#1']);
    // q was not held up by p.
    expect(log.indexOf('q2#1')).toBeLessThan(log.indexOf('p1#2'));
    await waitFor(async () => (await pendingCount(0)) === 0);
  });

  it('dead-letters an event delivered more than maxDeliveries times, and carries on', async () => {
    const p = await paymentWithEvents(2, 1);
    const calls: string[] = [];
    const dead: DeadLetterEntry[] = [];
    await consume({
      maxDeliveries: 3,
      deadLetter: (entry) => void dead.push(entry),
      handler: async (e) => {
        calls.push(`${e.sequence}`);
        if (e.sequence === 1) throw new Error(`poison ${e.subject}`);
      },
    }).start();
    await waitFor(() => dead.length === 1 && calls.includes('2'));
    expect(calls).toEqual(['1', '1', '1', '2']);
    expect(dead[0]).toMatchObject({
      shard: 1,
      group: 'g1',
      consumer: 'c1',
      deliveries: 4,
      error: `Error: poison ${p}`,
    });
    const entries = await redis.xrange(keyspace.deadLetterStream(1), '-', '+');
    expect(entries).toHaveLength(1);
    const fields = entries[0]![1];
    const get = (name: string) => fields[fields.indexOf(name) + 1];
    expect(get('error')).toBe(`Error: poison ${p}`);
    expect((JSON.parse(get('event')!) as PaymentCloudEvent).sequence).toBe(1);
    expect(get('streamId')).toBe(dead[0]!.streamId);
    await waitFor(async () => (await pendingCount(1)) === 0);
  });

  it('takes over what a dead consumer left pending', async () => {
    await paymentWithEvents(2, 0);
    const stream = keyspace.eventsStream(0);
    await redis.xgroup('CREATE', stream, 'g1', '0', 'MKSTREAM');
    // Consumer c0 reads both and dies without acknowledging.
    await redis.xreadgroup('GROUP', 'g1', 'c0', 'COUNT', 10, 'STREAMS', stream, '>');
    const seen: Array<[number, number]> = [];
    await consume({ handler: async (e, d) => void seen.push([e.sequence, d.deliveries]) }).start();
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([
      [1, 2],
      [2, 2],
    ]);
    await waitFor(async () => (await pendingCount(0)) === 0);
  });

  it('close() waits for the handler in progress', async () => {
    await paymentWithEvents(1, 0);
    let started = false;
    let finished = false;
    const consumer = consume({
      handler: async () => {
        started = true;
        await sleep(200);
        finished = true;
      },
    });
    await consumer.start();
    await waitFor(() => started);
    await consumer.close();
    expect(finished).toBe(true);
    expect(await pendingCount(0)).toBe(0);
  });

  it('close() returns promptly while reading, and start() is idempotent for the group', async () => {
    const first = consume({ handler: async () => undefined, blockMs: 10_000 });
    await first.start();
    // Both shard loops are inside their blocking read.
    await waitFor(async () => (await blockedReads()) === keyspace.allShards.length);
    const before = Date.now();
    await first.close();
    expect(Date.now() - before).toBeLessThan(1_000);
    const seen: number[] = [];
    await consume({ handler: async (e) => void seen.push(e.sequence) }).start();
    await paymentWithEvents(1, 1);
    await waitFor(() => seen.length === 1);
  });
});

describe('trimAcknowledged', () => {
  it('trims below what every group still needs', async () => {
    await paymentWithEvents(5, 0);
    const stream = keyspace.eventsStream(0);
    expect(await trimAcknowledged(redis, keyspace)).toBe(0); // no group yet: nothing is trimmed
    await redis.xgroup('CREATE', stream, 'g1', '0');
    await redis.xgroup('CREATE', stream, 'g2', '0');
    const read = (await redis.xreadgroup(
      'GROUP',
      'g1',
      'c',
      'COUNT',
      5,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][];
    const ids = read[0]![1].map(([id]) => id);
    await redis.xack(stream, 'g1', ...ids);
    await redis.xreadgroup('GROUP', 'g2', 'c', 'COUNT', 3, 'STREAMS', stream, '>');
    await redis.xack(stream, 'g2', ids[0]!);
    // g2 still has entries 2 and 3 pending: only entry 1 may go.
    expect(await trimAcknowledged(redis, keyspace)).toBe(1);
    expect(await redis.xlen(stream)).toBe(4);
    await redis.xack(stream, 'g2', ids[1]!, ids[2]!);
    expect(await trimAcknowledged(redis, keyspace)).toBe(1); // down to g2's last delivered
    expect((await redis.xrange(stream, '-', '+')).map(([id]) => id)).toEqual(ids.slice(2));
  });
});
