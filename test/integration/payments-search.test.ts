/**
 * Searching, exporting and reconciling payments through the HTTP API, on
 * three shards: payments written straight into the store at chosen times (a
 * few in the same millisecond) and real ones made through the simulator.
 * Pages follow the cursor across shards without a gap or a repeat; filters
 * match what the records hold; a key bound to one merchant never sees
 * another's; bad filters are 400 naming the parameter. The reconciliation
 * finds a difference written into one of our records. Payments of the
 * previous version (test/fixtures/v1-inflight.json) have no index entries:
 * they are added at start-up.
 */
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Amounts, PaymentStatus } from '../../machines/contract.ts';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { runCli } from '../../src/cli/main.ts';
import { testPortsOf } from '../../src/orchestrator.ts';
import { createPaymentStore } from '../../src/payments/store.ts';
import { sequentialIds } from '../../src/platform/ids.ts';
import { loadKeys } from '../fixtures/redis-snapshot.ts';
import { readV1Fixture } from '../fixtures/v1-fixture.ts';
import { consoleSession } from '../support/console-login.ts';
import { brandMerchants } from '../support/brand-merchants.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  REFUSED_CARD,
  settled,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

const KEYS = 'root:key-root:payments|ops,a:key-a:payments|ops:brand-a,b:key-b:payments:brand-b';
/** 2024-01-15T10:00:00Z: the seeded payments' day. */
const T0 = Date.UTC(2024, 0, 15, 10);
const SEEDED = 60;
const STATUSES: PaymentStatus[] = ['received', 'authorized', 'captured', 'refused'];

interface Seeded {
  id: string;
  createdAt: number;
  merchant: string;
  status: PaymentStatus;
  orderId: string;
  customerId: string;
}

let h: OrchestratorHarness;
let app: FastifyInstance;
let base: string;
const seeded: Seeded[] = [];
const real: string[] = [];

async function call(
  path: string,
  key: string,
  init: { method?: 'GET' | 'POST'; body?: unknown } = {},
): Promise<{ status: number; type: string; text: string; json: unknown }> {
  const response = await request(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${key}`,
      ...(init.body === undefined
        ? {}
        : { 'content-type': 'application/json', 'idempotency-key': `k-${Math.random()}` }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.body.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // CSV, JSON Lines
  }
  return {
    status: response.statusCode,
    type: String(response.headers['content-type']),
    text,
    json,
  };
}

type Page = { data: { id: string; merchant: string; status: string }[]; nextCursor: string | null };

/** Every page of a search, following the cursor. */
async function allPages(
  query: string,
  key = 'key-root',
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const path: string = `/v1/payments?${query}${cursor ? `&cursor=${cursor}` : ''}`;
    const answer = await call(path, key);
    expect(answer.status, answer.text).toBe(200);
    const page = answer.json as Page;
    ids.push(...page.data.map((payment) => payment.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor !== null && pages < 100);
  return { ids, pages };
}

/** Newest first, then the greater id first. */
const newestFirst = (a: Seeded, b: Seeded) =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

function amountsOf(status: PaymentStatus): Amounts {
  if (status === 'authorized') return { authorized: 1000, captured: 0, cancelled: 0, refunded: 0 };
  if (status === 'captured') return { authorized: 1000, captured: 1000, cancelled: 0, refunded: 0 };
  return { authorized: 0, captured: 0, cancelled: 0, refunded: 0 };
}

beforeAll(async () => {
  h = await startOrchestratorHarness({ orchestrator: { shards: 3 } });
  await h.restart(0, { merchants: brandMerchants(h.sim.url) });
  app = buildApi({ orchestrator: h.orchestrator, apiKeys: parseApiKeys(KEYS) });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  const { redis, keyspace } = testPortsOf(h.orchestrator);
  let now = T0;
  const store = createPaymentStore({ redis, keyspace, clock: { now: () => now } });
  const ids = sequentialIds('seed');
  for (let i = 0; i < SEEDED; i++) {
    // Three payments per millisecond: ties are ordered by id.
    now = T0 + Math.floor(i / 3) * 60_000;
    const status = STATUSES[i % STATUSES.length] as PaymentStatus;
    const merchant = i % 3 === 0 ? 'brand-b' : 'brand-a';
    const id = keyspace.newPaymentId(ids);
    await store.create({
      id,
      machineVersion: 'card@1',
      kind: 'card',
      status,
      amount: 1000,
      currency: '978',
      captureMode: 'validation',
      amounts: amountsOf(status),
      snapshot: { value: status, context: {} },
      merchant: { id: merchant, orderId: `ord-${i}`, customerId: `cust-${i % 5}` },
      transactionReference: `SEED${i}`,
    });
    seeded.push({
      id,
      createdAt: now,
      merchant,
      status,
      orderId: `ord-${i}`,
      customerId: `cust-${i % 5}`,
    });
  }
  for (const [orderId, number] of [
    ['real-1', ACCEPTED_CARD],
    ['real-2', ACCEPTED_CARD],
    ['real-refused', REFUSED_CARD],
  ] as const) {
    const created = await call('/v1/payments', 'key-a', {
      method: 'POST',
      body: {
        amount: 2500,
        currency: 'EUR',
        orderId,
        customer: { id: 'real-customer' },
        card: { number, expiry: EXPIRY, csc: '123' },
      },
    });
    expect(created.status, created.text).toBe(201);
    real.push((created.json as { id: string }).id);
  }
  for (const id of real) await h.waitFor(id, settled, 20_000);
}, 60_000);

afterAll(async () => {
  await app?.close();
  await h?.close();
});

describe('GET /v1/payments', () => {
  it('pages newest first across shards, without a gap or a repeat', async () => {
    const { ids, pages } = await allPages('limit=7&createdTo=2024-01-16T00:00:00Z');
    const expected = [...seeded].sort(newestFirst).map((payment) => payment.id);
    expect(new Set(expected.map((id) => id.split('_')[1])).size).toBe(3);
    expect(ids).toEqual(expected);
    expect(pages).toBe(Math.ceil(SEEDED / 7));
    // Without a range: the real payments first, they are the newest.
    const first = (await call('/v1/payments?limit=3', 'key-root')).json as Page;
    expect(first.data.map((payment) => payment.id).sort()).toEqual([...real].sort());
  });

  it('filters by status, merchant, created range, orderId and customerId', async () => {
    const query = (q: string) => allPages(`limit=5&${q}`).then((result) => result.ids);
    const expect_ = (keep: (payment: Seeded) => boolean) =>
      seeded
        .filter(keep)
        .sort(newestFirst)
        .map((payment) => payment.id);
    expect(await query('status=authorized,captured&createdTo=2024-01-16T00:00:00Z')).toEqual(
      expect_((p) => p.status === 'authorized' || p.status === 'captured'),
    );
    expect(await query('merchant=brand-b&createdTo=2024-01-16T00:00:00Z')).toEqual(
      expect_((p) => p.merchant === 'brand-b'),
    );
    const from = T0 + 5 * 60_000;
    const to = T0 + 12 * 60_000;
    expect(
      await query(
        `createdFrom=${new Date(from).toISOString()}&createdTo=${encodeURIComponent('2024-01-15T11:12:00+01:00')}`,
      ),
    ).toEqual(expect_((p) => p.createdAt >= from && p.createdAt < to));
    expect(await query('orderId=ord-7')).toEqual(expect_((p) => p.orderId === 'ord-7'));
    expect(await query('customerId=cust-2&merchant=brand-a&status=received')).toEqual(
      expect_(
        (p) => p.customerId === 'cust-2' && p.merchant === 'brand-a' && p.status === 'received',
      ),
    );
    const mine = (await call('/v1/payments?customerId=real-customer', 'key-root')).json as Page;
    expect(mine.data).toHaveLength(3);
    const byId = (id: string | undefined) => mine.data.find((payment) => payment.id === id);
    const [first, second, refused] = real.map(byId);
    expect(first).toMatchObject({
      id: real[0],
      orderId: 'real-1',
      merchant: 'brand-a',
      customerId: 'real-customer',
      status: 'authorized',
      amount: 2500,
      currency: '978',
      maskedPan: expect.any(String),
    });
    expect(first).not.toHaveProperty('lastResponseCode');
    expect(second?.id).toBe(real[1]);
    expect(refused).toMatchObject({ id: real[2], status: 'refused', lastResponseCode: '05' });
  });

  it("never shows a merchant's payments to another merchant's key", async () => {
    const { ids } = await allPages('limit=50', 'key-b');
    const brandB = seeded.filter((p) => p.merchant === 'brand-b').map((p) => p.id);
    expect(ids.sort()).toEqual([...brandB].sort());
    for (const id of real) expect(ids).not.toContain(id);
    const refused = await call('/v1/payments?merchant=brand-a', 'key-b');
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ code: 'invalid_command', field: 'merchant' });
    const exported = await call('/v1/payments/export?format=jsonl', 'key-b');
    expect(exported.status).toBe(200);
    const exportedIds = exported.text
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { id: string }).id);
    expect(exportedIds.sort()).toEqual([...brandB].sort());
  });

  it('refuses bad filters with a problem naming the parameter', async () => {
    for (const [query, field] of [
      ['status=paid', 'status'],
      ['createdFrom=yesterday', 'createdFrom'],
      ['createdTo=2024-01-15', 'createdTo'],
      ['createdFrom=2024-01-16T00:00:00Z&createdTo=2024-01-15T00:00:00Z', 'createdTo'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['colour=blue', 'colour'],
    ] as const) {
      const answer = await call(`/v1/payments?${query}`, 'key-root');
      expect(answer.status, query).toBe(400);
      expect(answer.type).toContain('application/problem+json');
      expect(answer.json, query).toMatchObject({ code: 'invalid_command', field });
    }
    const format = await call('/v1/payments/export?format=xlsx', 'key-root');
    expect(format.json).toMatchObject({ code: 'invalid_command', field: 'format' });
    const paging = await call('/v1/payments/export?limit=5', 'key-root');
    expect(paging.json).toMatchObject({ code: 'invalid_command', field: 'limit' });
    // The static path is not taken for a payment id, nor an id for it.
    const missing = await call('/v1/payments/pay_0_nothing', 'key-root');
    expect(missing.json).toMatchObject({ code: 'payment_not_found' });
  });
});

describe('GET /v1/payments/export', () => {
  it('writes one CSV row per payment, amounts in minor units', async () => {
    const answer = await call('/v1/payments/export?format=csv&merchant=brand-a', 'key-root');
    expect(answer.status).toBe(200);
    expect(answer.type).toContain('text/csv');
    const lines = answer.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'id,merchant,orderId,customerId,createdAt,status,kind,currency,amount,authorized,captured,cancelled,refunded,transactionReference,lastResponseCode',
    );
    const brandA = seeded.filter((p) => p.merchant === 'brand-a');
    expect(lines).toHaveLength(1 + brandA.length + real.length);
    const rows = new Map(lines.slice(1).map((line) => [line.split(',')[0], line.split(',')]));
    const captured = brandA.find((p) => p.status === 'captured') as Seeded;
    expect(rows.get(captured.id)).toEqual([
      captured.id,
      'brand-a',
      captured.orderId,
      captured.customerId,
      new Date(captured.createdAt).toISOString(),
      'captured',
      'card',
      '978',
      '1000',
      '1000',
      '1000',
      '0',
      '0',
      expect.stringMatching(/^SEED/),
      '',
    ]);
    expect(rows.get(real[0] as string)?.at(-1)).toBe('');
    expect(rows.get(real[2] as string)?.at(-1)).toBe('05');
  });

  it('writes one JSON line per payment with the filters applied', async () => {
    const answer = await call('/v1/payments/export?format=jsonl&status=refused', 'key-root');
    expect(answer.type).toContain('application/jsonl');
    const lines = answer.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Seeded);
    const refused = seeded.filter((p) => p.status === 'refused').sort(newestFirst);
    // The real refused payment is the newest.
    expect(lines.map((line) => line.id)).toEqual([real[2], ...refused.map((p) => p.id)]);
  });
});

describe('GET /v1/reconciliation/{date}', () => {
  it("lists our amounts that differ from Sips' view of the same transaction", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const clean = await call(`/v1/reconciliation/${today}`, 'key-root');
    expect(clean.status, clean.text).toBe(200);
    expect(clean.json).toMatchObject({ date: today, payments: 3, compared: 3, mismatches: [] });
    // Our record says more was captured than Sips ever did.
    const { redis, keyspace } = testPortsOf(h.orchestrator);
    const tampered = real[0] as string;
    const amounts = JSON.parse(
      (await redis.hget(keyspace.paymentKey(tampered), 'amounts')) as string,
    ) as Amounts;
    await redis.hset(
      keyspace.paymentKey(tampered),
      'amounts',
      JSON.stringify({ ...amounts, captured: 700 }),
    );
    const report = (await call(`/v1/reconciliation/${today}`, 'key-root')).json as {
      mismatches: unknown[];
      totals: { currency: string; ours: Amounts; sips: Amounts }[];
    };
    expect(report.mismatches).toEqual([
      {
        paymentId: tampered,
        merchant: 'brand-a',
        currency: '978',
        field: 'captured',
        ours: 700,
        sips: amounts.captured,
      },
    ]);
    expect(report.totals[0]?.ours.captured).toBe(700 + amounts.captured);
    // The seeded day: transactions Sips never saw, so what we say was authorised differs.
    const seededDay = (await call('/v1/reconciliation/2024-01-15', 'key-root')).json as {
      payments: number;
      mismatches: { paymentId: string; field: string; sips: number }[];
    };
    expect(seededDay.payments).toBe(SEEDED);
    const authorised = seeded.filter((p) => p.status === 'authorized' || p.status === 'captured');
    expect(
      new Set(seededDay.mismatches.filter((m) => m.field === 'authorized').map((m) => m.paymentId)),
    ).toEqual(new Set(authorised.map((p) => p.id)));

    const out: string[] = [];
    const code = await runCli(['reconcile', '--date', today, '--api', base, '--key', 'key-root'], {
      readStdin: async () => '',
      stdout: (text) => out.push(text),
      stderr: (text) => out.push(text),
      env: {},
    });
    expect(code).toBe(1);
    expect(out.join('')).toContain(`DIFF ${tampered} captured: ours 700`);
    await redis.hset(keyspace.paymentKey(tampered), 'amounts', JSON.stringify(amounts));
  });

  it('refuses a malformed day and keys without the ops scope', async () => {
    const bad = await call('/v1/reconciliation/2024-02-30', 'key-root');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'invalid_command', field: 'date' });
    expect((await call('/v1/reconciliation/2024-01-15', 'key-b')).status).toBe(403);
  });
});

describe('the console', () => {
  it('lists payments with filters and shows the reconciliation of a day', async () => {
    const { cookie } = await consoleSession(app, 'key-root');
    const get = (url: string) => app.inject({ method: 'GET', url, headers: { cookie } });
    const listed = await get('/ops/payments?orderId=ord-7&createdFrom=2024-01-15');
    expect(listed.statusCode).toBe(200);
    const seven = seeded.find((p) => p.orderId === 'ord-7') as Seeded;
    expect(listed.body).toContain(`/ops/payments/${seven.id}`);
    expect(listed.body).not.toContain(`/ops/payments/${real[0]}`);
    const all = await get('/ops/payments');
    expect(all.body).toContain('Next page');
    const bad = await get('/ops/payments?status=paid');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('status must be statuses');
    const day = await get(`/ops/reconciliation?date=${new Date().toISOString().slice(0, 10)}`);
    expect(day.statusCode).toBe(200);
    expect(day.body).toContain('3 payment(s) created on');
    expect(day.body).toContain('No difference.');
  });
});

describe('payments of the previous version', () => {
  it('are added to the indexes at start-up, once', async () => {
    const fixture = readV1Fixture();
    expect(fixture.keys.some((entry) => entry.key.includes(':payments:by_created'))).toBe(false);
    const old = await startOrchestratorHarness({
      orchestrator: { workers: false, shards: fixture.redis.shards },
    });
    try {
      // The start-up pass over the empty namespace is over.
      await old.orchestrator.search.page({ limit: 1 }, 'all');
      const redis = old.ns.redis();
      await loadKeys(redis, fixture.keys, {
        prefix: { from: fixture.redis.keyPrefix, to: old.ns.ns },
        shiftBullmqMs: Date.now() - fixture.takenAt.wallClockMs,
      });
      const { keyspace } = testPortsOf(old.orchestrator);
      // Nothing was marked done on the empty namespace: the previous version left no marker.
      expect(
        await Promise.all(
          keyspace.allShards.map((shard) => redis.exists(keyspace.indexedMarkerKey(shard))),
        ),
      ).toEqual(keyspace.allShards.map(() => 0));
      await old.restart();
      await old.orchestrator.search.page({ limit: 1 }, 'all');
      expect(await redis.exists(keyspace.indexedMarkerKey(0))).toBe(1);
      const recordIds = fixture.keys
        .filter((entry) => entry.type === 'hash' && /\}:payment:pay_[^:]+$/.test(entry.key))
        .map((entry) => entry.key.split(':payment:')[1] as string);
      expect(recordIds.length).toBeGreaterThan(10);
      const page = await old.orchestrator.search.page({ limit: 200 }, 'all');
      expect(page.nextCursor).toBeNull();
      expect(page.data.map((payment) => payment.id).sort()).toEqual([...recordIds].sort());
      const times = page.data.map((payment) => Date.parse(payment.createdAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      // Run again: the same indexes.
      const sizes = async () =>
        Promise.all(
          keyspace.allShards.map((shard) => redis.zcard(keyspace.createdIndexKey(shard))),
        );
      const before = await sizes();
      expect(await old.orchestrator.search.backfill()).toBe(recordIds.length);
      expect(await sizes()).toEqual(before);
      expect(before.reduce((a, b) => a + b, 0)).toBe(recordIds.length);
    } finally {
      await old.close();
    }
  }, 30_000);
});
