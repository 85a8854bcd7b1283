import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { Amounts, DomainEventName } from '../../machines/contract.ts';
import { createCardVault } from '../../src/payments/card-vault.ts';
import { buildEvent, type PaymentCloudEvent } from '../../src/payments/events.ts';
import { createKeyspace, type Keyspace } from '../../src/payments/keys.ts';
import {
  createPaymentStore,
  createRequestHasher,
  type NewPayment,
  type PaymentStore,
} from '../../src/payments/store.ts';
import { createManualClock, type ManualClock } from '../../src/platform/clock.ts';
import { sequentialIds, type IdGenerator } from '../../src/platform/ids.ts';
import { clusterSlot } from '../support/cluster-slot.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

const zero: Amounts = { authorized: 0, captured: 0, cancelled: 0, refunded: 0 };
const authorized: Amounts = { ...zero, authorized: 2500 };

let t: TestNamespace;
let redis: Redis;
let clock: ManualClock;
let ids: IdGenerator;
let keyspace: Keyspace;
let store: PaymentStore;
let reference = 0;

function payment(idempotencyKey?: string, overrides: Partial<NewPayment> = {}): NewPayment {
  reference++;
  return {
    id: keyspace.newPaymentId(ids, idempotencyKey),
    machineVersion: 'card@1',
    kind: 'card',
    status: 'received',
    amount: 2500,
    currency: '978',
    captureMode: 'author_capture',
    snapshot: { value: 'received', context: {} },
    merchant: { orderId: `ORD${reference}` },
    transactionReference: `TREF${reference}`,
    ...overrides,
  };
}

function event(type: DomainEventName, id: string, sequence: number): PaymentCloudEvent {
  return buildEvent({ type, paymentId: id, sequence, data: { step: type } }, { clock });
}

async function streamEvents(shard: number): Promise<PaymentCloudEvent[]> {
  const entries = await redis.xrange(keyspace.eventsStream(shard), '-', '+');
  return entries.map(
    ([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1]!) as PaymentCloudEvent,
  );
}

beforeEach(() => {
  t = openTestNamespace('store');
  redis = t.redis();
  clock = createManualClock();
  ids = sequentialIds('tok');
  keyspace = createKeyspace({ prefix: t.ns, shards: 4 });
  store = createPaymentStore({ redis, keyspace, clock, idempotencyTtlMs: 60_000 });
});

afterEach(async () => {
  await t.close();
});

describe('create', () => {
  it('writes the record at version 1 with its index entry, timeline and events', async () => {
    const input = payment(undefined, {
      maskedPan: '4100##########00',
      timeline: [{ at: clock.now(), kind: 'received', detail: { channel: 'api' } }],
    });
    const shard = keyspace.shardOf(input.id);
    const result = await store.create(input, { events: [event('payment.received', input.id, 1)] });
    expect(result).toEqual({
      created: true,
      conflict: false,
      id: input.id,
      version: 1,
      createdAt: clock.now(),
    });
    const record = await store.get(input.id);
    expect(record).toEqual({
      id: input.id,
      shard,
      version: 1,
      machineVersion: 'card@1',
      kind: 'card',
      status: 'received',
      amount: 2500,
      currency: '978',
      captureMode: 'author_capture',
      amounts: zero,
      snapshot: { value: 'received', context: {} },
      maskedPan: '4100##########00',
      merchant: input.merchant,
      transactionReference: input.transactionReference,
      createdAt: clock.now(),
      updatedAt: clock.now(),
      timeline: [{ at: clock.now(), kind: 'received', detail: { channel: 'api' } }],
    });
    expect(await store.listByStatus('received')).toEqual([
      { id: input.id, updatedAt: clock.now() },
    ]);
    const events = await streamEvents(shard);
    expect(events.map((e) => [e.type, e.subject, e.sequence])).toEqual([
      ['payment.received', input.id, 1],
    ]);
    expect(await store.get('pay_1_NOPE')).toBeUndefined();
  });

  it('answers a repeated idempotency key with the same payment, and a different request with a conflict', async () => {
    const hash = createRequestHasher(Buffer.alloc(32, 7));
    const request = { amount: 2500, card: { pan: '4100000000000000' } };
    const first = payment('order-42');
    const created = await store.create(first, {
      idempotencyKey: 'order-42',
      requestHash: hash(request),
      events: [event('payment.received', first.id, 1)],
    });
    expect(created.created).toBe(true);

    const retry = payment('order-42');
    expect(retry.id).not.toBe(first.id);
    const again = await store.create(retry, {
      idempotencyKey: 'order-42',
      requestHash: hash({ card: { pan: '4100000000000000' }, amount: 2500 }),
      events: [event('payment.received', retry.id, 1)],
    });
    expect(again).toEqual({ created: false, conflict: false, id: first.id });

    const other = await store.create(payment('order-42'), {
      idempotencyKey: 'order-42',
      requestHash: hash({ ...request, amount: 2600 }),
    });
    expect(other).toEqual({ created: false, conflict: true });

    expect(await store.get(retry.id)).toBeUndefined();
    expect(await streamEvents(keyspace.shardOf(first.id))).toHaveLength(1);
    const ttl = await redis.pttl(keyspace.idempotencyKey('order-42'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // The stored hash is keyed: the PAN cannot be brute-forced from it without the secret.
    const stored = await redis.hget(keyspace.idempotencyKey('order-42'), 'requestHash');
    expect(stored).toBe(hash(request));
    expect(stored).not.toBe(createRequestHasher(Buffer.alloc(32, 8))(request));
  });

  it('creates exactly one payment when many creates race with one idempotency key', async () => {
    const hash = 'h1';
    const attempts = Array.from({ length: 40 }, () => payment('race-key'));
    const results = await Promise.all(
      attempts.map((input) =>
        store.create(input, {
          idempotencyKey: 'race-key',
          requestHash: hash,
          events: [event('payment.received', input.id, 1)],
        }),
      ),
    );
    const created = results.filter((r) => r.created);
    expect(created).toHaveLength(1);
    const winner = created[0]!.created ? created[0]!.id : '';
    for (const r of results) expect(r).toMatchObject({ conflict: false, id: winner });
    const shard = keyspace.shardOf(winner);
    const keys = await redis.keys(`${keyspace.hashTag(shard)}:payment:*`);
    expect(keys.filter((k) => !k.endsWith(':timeline'))).toEqual([keyspace.paymentKey(winner)]);
    expect(await streamEvents(shard)).toHaveLength(1);
  });

  it('refuses invalid records, ids not made for the key, events of another version, and taken ids', async () => {
    await expect(
      store.create(payment(undefined, { transactionReference: 'has_underscore' })),
    ).rejects.toMatchObject({
      code: 'payment_record_invalid',
    });
    await expect(store.create(payment(undefined, { amount: 12.5 }))).rejects.toMatchObject({
      code: 'payment_record_invalid',
    });
    await expect(store.create(payment(undefined, { currency: 'EUR' }))).rejects.toMatchObject({
      code: 'payment_record_invalid',
    });
    await expect(
      store.create(payment(undefined, { merchant: { orderId: '4111111111111111' } })),
    ).rejects.toMatchObject({ code: 'card_data_leak' });
    let foreign = payment();
    while (keyspace.shardOf(foreign.id) === keyspace.shardForIdempotencyKey('k-1')) {
      foreign = payment();
    }
    await expect(
      store.create(foreign, { idempotencyKey: 'k-1', requestHash: 'h' }),
    ).rejects.toMatchObject({
      code: 'payment_record_invalid',
    });
    const input = payment();
    await expect(
      store.create(input, { events: [event('payment.received', input.id, 2)] }),
    ).rejects.toMatchObject({
      code: 'payment_record_invalid',
    });
    await store.create(input);
    await expect(store.create({ ...input, transactionReference: 'OTHER1' })).rejects.toMatchObject({
      code: 'payment_id_taken',
    });
  });
});

describe('intent and commit', () => {
  async function created(): Promise<string> {
    const input = payment(undefined, { card: 'sealed-card-placeholder' });
    await store.create(input, { events: [event('payment.received', input.id, 1)] });
    return input.id;
  }

  it('records the intent before the call, then commits the outcome with its events in one write', async () => {
    const id = await created();
    clock.advance(1000);
    const intent = {
      op: 'authorize' as const,
      attempt: 1,
      at: clock.now(),
      transactionReference: 'TREF1',
    };
    expect(
      await store.writeIntent(id, 1, intent, { timeline: [{ at: clock.now(), kind: 'intent' }] }),
    ).toEqual({
      ok: true,
      version: 2,
    });
    expect((await store.get(id))?.intent).toEqual(intent);

    clock.advance(1000);
    const result = await store.commitStep(id, 2, {
      snapshot: { value: 'authorized' },
      status: 'authorized',
      amounts: authorized,
      events: [event('payment.authorized', id, 3), event('payment.customer_returned', id, 3)],
      timeline: [{ at: clock.now(), kind: 'authorized', detail: { authorisationId: '123456' } }],
      card: null,
    });
    expect(result).toEqual({ ok: true, version: 3 });
    const record = await store.get(id);
    expect(record).toMatchObject({
      version: 3,
      status: 'authorized',
      amounts: authorized,
      snapshot: { value: 'authorized' },
    });
    expect(record?.intent).toBeUndefined();
    expect(record?.card).toBeUndefined();
    expect(record?.updatedAt).toBe(clock.now());
    expect(record?.timeline.map((e) => e.kind)).toEqual(['intent', 'authorized']);
    const events = await streamEvents(keyspace.shardOf(id));
    expect(events.map((e) => `${e.type}@${e.sequence}`)).toEqual([
      'payment.received@1',
      'payment.authorized@3',
      'payment.customer_returned@3',
    ]);
  });

  it('lets one of two commits at the same version win, and the loser appends nothing', async () => {
    const id = await created();
    const step = (status: 'authorized' | 'refused') => ({
      snapshot: { value: status },
      status,
      amounts: status === 'authorized' ? authorized : zero,
      events: [event(`payment.${status}` as const, id, 2)],
    });
    const [a, b] = await Promise.all([
      store.commitStep(id, 1, step('authorized')),
      store.commitStep(id, 1, step('refused')),
    ]);
    const outcomes = [a, b].sort((x, y) => Number(y.ok) - Number(x.ok));
    expect(outcomes[0]).toEqual({ ok: true, version: 2 });
    expect(outcomes[1]).toEqual({ ok: false, reason: 'version_conflict', actualVersion: 2 });
    const winner = a.ok ? 'authorized' : 'refused';
    const events = await streamEvents(keyspace.shardOf(id));
    expect(events.map((e) => e.type)).toEqual(['payment.received', `payment.${winner}`]);
    expect((await store.get(id))?.status).toBe(winner);

    const stale = await store.commitStep(id, 1, step('refused'));
    expect(stale).toEqual({ ok: false, reason: 'version_conflict', actualVersion: 2 });
    expect(await streamEvents(keyspace.shardOf(id))).toHaveLength(2);
    expect(await store.commitStep('pay_2_NOPE', 1, { ...step('refused'), events: [] })).toEqual({
      ok: false,
      reason: 'not_found',
    });
  });

  it('refuses a second intent while one is pending, unless told to replace it', async () => {
    const id = await created();
    const first = {
      op: 'capture' as const,
      attempt: 1,
      at: clock.now(),
      transactionReference: 'TREF1',
      amount: 1000,
    };
    expect(await store.writeIntent(id, 1, first)).toEqual({ ok: true, version: 2 });
    expect(await store.writeIntent(id, 1, first)).toEqual({
      ok: false,
      reason: 'version_conflict',
      actualVersion: 2,
    });
    const refund = {
      op: 'refund' as const,
      attempt: 1,
      at: clock.now(),
      transactionReference: 'TREF1',
      amount: 500,
    };
    expect(await store.writeIntent(id, 2, refund)).toEqual({
      ok: false,
      reason: 'intent_pending',
      actualVersion: 2,
      intent: first,
    });
    const resend = { ...first, attempt: 2 };
    expect(await store.writeIntent(id, 2, resend, { replacePending: true })).toEqual({
      ok: true,
      version: 3,
    });
    expect((await store.get(id))?.intent).toEqual(resend);
    expect(await store.writeIntent('pay_0_NOPE', 1, first)).toEqual({
      ok: false,
      reason: 'not_found',
    });
  });

  it('reads and writes the first intent in one step only at the expected version with no intent', async () => {
    const id = await created();
    const reference = (await store.get(id))?.transactionReference as string;
    const claim = {
      op: 'capture' as const,
      attempt: 1,
      at: clock.now(),
      jobId: 'job-1',
      amount: 700,
    };
    const stale = await store.readForCall(id, 7, claim);
    expect(stale?.intentVersion).toBeUndefined();
    expect(stale?.record.version).toBe(1);
    const read = await store.readForCall(id, 1, claim);
    expect(read?.intentVersion).toBe(2);
    expect(read?.record).toMatchObject({ version: 1 });
    expect(read?.record.intent).toBeUndefined();
    const stored = await redis.hget(keyspace.paymentKey(id), 'intent');
    // Byte for byte what writeIntent stores for the same intent.
    expect(stored).toBe(
      JSON.stringify({
        op: 'capture',
        attempt: 1,
        at: claim.at,
        transactionReference: reference,
        jobId: 'job-1',
        amount: 700,
      }),
    );
    expect((await store.get(id))?.intent).toEqual({ ...claim, transactionReference: reference });
    const again = await store.readForCall(id, 2, claim);
    expect(again?.intentVersion).toBeUndefined();
    expect(again?.record.intent).toEqual({ ...claim, transactionReference: reference });
    expect(await store.readForCall('pay_0_NOPE', 1, claim)).toBeUndefined();
  });

  it('replaces the sealed card (CSC erased) and keeps it when not told otherwise', async () => {
    const vault = createCardVault({ keys: { k1: Buffer.alloc(32, 1) }, activeKeyId: 'k1' });
    const input = payment();
    const sealed = vault.seal(input.id, { pan: '4100000000000000', expiry: '202812', csc: '123' });
    await store.create({ ...input, card: sealed });
    const withoutCsc = vault.withoutCsc(input.id, sealed);
    await store.commitStep(input.id, 1, {
      snapshot: {},
      status: 'authorizing',
      amounts: zero,
      card: withoutCsc,
    });
    const stored = (await store.get(input.id))?.card;
    expect(stored).toBe(withoutCsc);
    expect(vault.open(input.id, stored!).csc).toBeUndefined();
    await store.commitStep(input.id, 2, {
      snapshot: {},
      status: 'authorized',
      amounts: authorized,
    });
    expect((await store.get(input.id))?.card).toBe(withoutCsc);
    const raw = JSON.stringify(await redis.hgetall(keyspace.paymentKey(input.id)));
    expect(raw).not.toContain('4100000000000000');
  });

  it('writes nothing when a step carries card data or events of the wrong version', async () => {
    const id = await created();
    await expect(
      store.commitStep(id, 1, {
        snapshot: {},
        status: 'failed',
        amounts: zero,
        timeline: [{ at: 1, kind: 'oops', detail: { cardNumber: '4100000000000000' } }],
      }),
    ).rejects.toMatchObject({ code: 'card_data_leak' });
    await expect(
      store.commitStep(id, 1, {
        snapshot: {},
        status: 'failed',
        amounts: zero,
        events: [event('payment.failed', id, 3)],
      }),
    ).rejects.toMatchObject({ code: 'payment_record_invalid' });
    await expect(
      store.commitStep(id, 1, {
        snapshot: {},
        status: 'failed',
        amounts: { ...zero, captured: -1 },
      }),
    ).rejects.toMatchObject({ code: 'payment_record_invalid' });
    expect((await store.get(id))?.version).toBe(1);
    expect(await streamEvents(keyspace.shardOf(id))).toHaveLength(1);
  });

  it('stores the engine’s bookkeeping as given, replacing it only when a step brings a new one', async () => {
    const input = payment(undefined, { engine: '{"followUps":[]}' });
    await store.create(input);
    expect((await store.get(input.id))?.engine).toBe('{"followUps":[]}');
    await store.commitStep(input.id, 1, { snapshot: {}, status: 'authorizing', amounts: zero });
    expect((await store.get(input.id))?.engine).toBe('{"followUps":[]}');
    await store.commitStep(input.id, 2, {
      snapshot: {},
      status: 'authorized',
      amounts: authorized,
      engine: '{"followUps":["capture"]}',
    });
    expect((await store.get(input.id))?.engine).toBe('{"followUps":["capture"]}');
    const plain = payment();
    await store.create(plain);
    expect(await store.get(plain.id)).not.toHaveProperty('engine');
  });

  it('falls back to EVAL when the script cache was flushed', async () => {
    const id = await created();
    await redis.script('FLUSH');
    expect(
      await store.commitStep(id, 1, { snapshot: {}, status: 'authorizing', amounts: zero }),
    ).toEqual({ ok: true, version: 2 });
  });
});

describe('status index', () => {
  it('follows the status and finds payments stuck since before a time, oldest first, across shards', async () => {
    const made: string[] = [];
    for (let n = 0; n < 12; n++) {
      const input = payment();
      await store.create(input);
      made.push(input.id);
      clock.advance(1000);
    }
    expect(new Set(made.map((id) => keyspace.shardOf(id))).size).toBeGreaterThan(1);
    const start = clock.now() - 12_000;
    for (const [n, id] of made.slice(0, 6).entries()) {
      clock.set(start + 100_000 + n * 1000);
      await store.commitStep(id, 1, { snapshot: {}, status: 'authorizing', amounts: zero });
    }
    const received = await store.listByStatus('received');
    expect(received.map((e) => e.id)).toEqual(made.slice(6));
    const authorizing = await store.listByStatus('authorizing', { olderThan: start + 103_000 });
    expect(authorizing).toEqual(
      made.slice(0, 3).map((id, n) => ({ id, updatedAt: start + 100_000 + n * 1000 })),
    );
    expect((await store.listByStatus('authorizing', { limit: 2 })).map((e) => e.id)).toEqual(
      made.slice(0, 2),
    );
    expect(await store.listByStatus('captured')).toEqual([]);
  });
});

describe('slots', () => {
  it('keeps every key a payment touched in its shard’s slot', async () => {
    const input = payment('slot-key');
    await store.create(input, {
      idempotencyKey: 'slot-key',
      requestHash: 'h',
      events: [event('payment.received', input.id, 1)],
    });
    await store.writeIntent(input.id, 1, {
      op: 'authorize',
      attempt: 1,
      at: 1,
      transactionReference: 'TREF1',
    });
    await store.commitStep(input.id, 2, {
      snapshot: {},
      status: 'authorized',
      amounts: authorized,
      events: [event('payment.authorized', input.id, 3)],
      timeline: [{ at: 1, kind: 'authorized' }],
    });
    const keys = await redis.keys(`*${t.ns}*`);
    // record, timeline, idempotency key, status index, event stream, the
    // indexes by creation time (all payments, the shop's)
    expect(keys).toHaveLength(7);
    const slot = clusterSlot(keyspace.paymentKey(input.id));
    for (const key of keys) expect(clusterSlot(key), key).toBe(slot);
  });
});
