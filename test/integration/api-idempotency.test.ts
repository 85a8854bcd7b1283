/**
 * The Idempotency-Key over HTTP, as the IETF draft and Stripe have it: a
 * replay answers the first status (201 with its `Location`, 202) with
 * `Idempotent-Replayed: true`; another request under a used key is
 * `422 idempotency_key_reused`; the key's lifetime is IDEMPOTENCY_KEY_TTL;
 * a key longer than 255 characters or with a character outside visible
 * ASCII is `400 invalid_idempotency_key`, whatever bytes carry it.
 */
import { connect } from 'node:net';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import {
  ACCEPTED_CARD,
  CHALLENGE_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

const PAY = { authorization: 'Bearer pay-secret' };
const API_KEYS = parseApiKeys('shop:pay-secret:payments');

const card = () => ({ number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' });
const paymentBody = (extra: Record<string, unknown> = {}) => ({
  amount: 2_500,
  currency: '978',
  card: card(),
  ...extra,
});
/** 30 s between occurrences: only the first payment is made while a test runs. */
const subscriptionBody = (extra: Record<string, unknown> = {}) => ({
  amount: 1_990,
  currency: '978',
  interval: '30s',
  card: card(),
  ...extra,
});
const planBody = (extra: Record<string, unknown> = {}) => ({
  amount: 9_001,
  currency: '978',
  count: 3,
  card: card(),
  ...extra,
});

async function startApi(
  orchestrator: NonNullable<Parameters<typeof startOrchestratorHarness>[0]>['orchestrator'] = {},
): Promise<{ h: OrchestratorHarness; app: FastifyInstance }> {
  const h = await startOrchestratorHarness({ orchestrator });
  const app = buildApi({ orchestrator: h.orchestrator, apiKeys: API_KEYS, settleTimeoutMs: 5_000 });
  await app.ready();
  return { h, app };
}

function post(app: FastifyInstance, url: string, key: string | undefined, payload: unknown) {
  return app.inject({
    method: 'POST',
    url,
    headers: key === undefined ? PAY : { ...PAY, 'idempotency-key': key },
    ...(payload === undefined ? {} : { payload: payload as NonNullable<InjectOptions['payload']> }),
  });
}

function expectFirst(answer: LightMyRequestResponse, status: number): void {
  expect(answer.statusCode, answer.body).toBe(status);
  expect(answer.headers['idempotent-replayed']).toBeUndefined();
}

function expectReplay(answer: LightMyRequestResponse, status: number): void {
  expect(answer.statusCode, answer.body).toBe(status);
  expect(answer.headers['idempotent-replayed']).toBe('true');
}

function expectReused(answer: LightMyRequestResponse): void {
  expect(answer.statusCode, answer.body).toBe(422);
  expect(answer.headers['content-type']).toContain('application/problem+json');
  expect(answer.json()).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
}

describe('replays and reused keys', () => {
  let h: OrchestratorHarness;
  let app: FastifyInstance;

  beforeAll(async () => {
    ({ h, app } = await startApi());
  });

  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('answers a payment replay 201 with its Location, marked, showing the payment as it is now', async () => {
    const first = await post(app, '/v1/payments', 'idem-pay-1', paymentBody());
    expectFirst(first, 201);
    const id = first.json().id as string;
    expect(first.headers.location).toBe(`/v1/payments/${id}`);
    expect(first.json().status).toBe('received');

    await h.waitFor(id, (p) => p.status === 'authorized');
    const replay = await post(app, '/v1/payments', 'idem-pay-1', paymentBody());
    expectReplay(replay, 201);
    expect(replay.headers.location).toBe(`/v1/payments/${id}`);
    // The same resource, as it is now: not a stored copy of the first body.
    expect(replay.json()).toMatchObject({ id, status: 'authorized', amount: 2_500 });
    expect(Object.keys(replay.json()).sort()).toEqual(
      expect.arrayContaining(Object.keys(first.json()).filter((k) => k !== 'redirection')),
    );

    expectReused(await post(app, '/v1/payments', 'idem-pay-1', paymentBody({ amount: 2_600 })));
    // Nothing was made twice.
    const payment = await h.orchestrator.payments.get(id);
    expect(h.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
  });

  it('answers a duplicate replay 201 with the new payment in Location; a create key reused on it is 422', async () => {
    const source = (await post(app, '/v1/payments', 'idem-dup-src', paymentBody())).json();
    await h.waitFor(source.id, (p) => p.status === 'authorized');
    const url = `/v1/payments/${source.id}/duplicates`;

    const first = await post(app, url, 'idem-dup-1', { amount: 700 });
    expectFirst(first, 201);
    const copy = first.json().id as string;
    expect(copy).not.toBe(source.id);
    expect(first.headers.location).toBe(`/v1/payments/${copy}`);

    const replay = await post(app, url, 'idem-dup-1', { amount: 700 });
    expectReplay(replay, 201);
    expect(replay.headers.location).toBe(`/v1/payments/${copy}`);
    expect(replay.json().id).toBe(copy);

    expectReused(await post(app, url, 'idem-dup-1', { amount: 800 }));
    // Payments and their duplicates share keys: the source's create key names another request.
    expectReused(await post(app, url, 'idem-dup-src', { amount: 700 }));
  });

  it('answers subscription and plan replays 201 with their Location; another body is 422', async () => {
    const first = await post(app, '/v1/subscriptions', 'idem-sub-1', subscriptionBody());
    expectFirst(first, 201);
    const subscription = first.json().subscription.id as string;
    expect(first.headers.location).toBe(`/v1/subscriptions/${subscription}`);
    const replay = await post(app, '/v1/subscriptions', 'idem-sub-1', subscriptionBody());
    expectReplay(replay, 201);
    expect(replay.headers.location).toBe(`/v1/subscriptions/${subscription}`);
    expect(replay.json().subscription.id).toBe(subscription);
    expect(replay.json().firstPayment.id).toBe(first.json().firstPayment.id);
    expectReused(
      await post(app, '/v1/subscriptions', 'idem-sub-1', subscriptionBody({ amount: 2_000 })),
    );

    const made = await post(app, '/v1/instalment-plans', 'idem-plan-1', planBody());
    expectFirst(made, 201);
    const plan = made.json().plan.id as string;
    expect(made.headers.location).toBe(`/v1/instalment-plans/${plan}`);
    const again = await post(app, '/v1/instalment-plans', 'idem-plan-1', planBody());
    expectReplay(again, 201);
    expect(again.headers.location).toBe(`/v1/instalment-plans/${plan}`);
    expect(again.json().plan.id).toBe(plan);
    expectReused(await post(app, '/v1/instalment-plans', 'idem-plan-1', planBody({ count: 4 })));
  });

  it('answers a replayed capture, refund or cancellation 202, marked, applied once', async () => {
    const created = (
      await post(app, '/v1/payments', 'idem-cmd-src', paymentBody({ captureMode: 'validation' }))
    ).json();
    await h.waitFor(created.id, (p) => p.status === 'authorized');
    const base = `/v1/payments/${created.id}`;

    const capture = await post(app, `${base}/captures`, 'idem-cap-1', { amount: 1_000 });
    expectFirst(capture, 202);
    await h.waitFor(created.id, (p) => p.status === 'captured');
    const capturedAgain = await post(app, `${base}/captures`, 'idem-cap-1', { amount: 1_000 });
    expectReplay(capturedAgain, 202);
    expect(capturedAgain.json().amounts.captured).toBe(1_000);
    expectReused(await post(app, `${base}/captures`, 'idem-cap-1', { amount: 900 }));
    // Another command under a key already used on this payment is another request.
    expectReused(await post(app, `${base}/refunds`, 'idem-cap-1', { amount: 1_000 }));

    const other = (
      await post(app, '/v1/payments', 'idem-cmd-src-2', paymentBody({ captureMode: 'validation' }))
    ).json();
    await h.waitFor(other.id, (p) => p.status === 'authorized');
    const cancel = await post(app, `/v1/payments/${other.id}/cancellations`, 'idem-can-1', {
      amount: 2_500,
    });
    expectFirst(cancel, 202);
    await h.waitFor(other.id, (p) => p.status === 'cancelled');
    expectReplay(
      await post(app, `/v1/payments/${other.id}/cancellations`, 'idem-can-1', { amount: 2_500 }),
      202,
    );
    // Without a key a command is never marked as a replay.
    const unkeyed = await post(app, `/v1/payments/${other.id}/cancellations`, undefined, {
      amount: 2_500,
    });
    expect(unkeyed.headers['idempotent-replayed']).toBeUndefined();

    // Refunds need remitted money: let the simulator's remittance run.
    h.sim.clock.advanceDays(1);
    await h.sim.control.runRemittance();
    const refund = await post(app, `${base}/refunds`, 'idem-ref-1', { amount: 300 });
    expectFirst(refund, 202);
    await h.waitFor(created.id, (p) => p.status === 'partially_refunded');
    expectReplay(await post(app, `${base}/refunds`, 'idem-ref-1', { amount: 300 }), 202);
    expectReused(await post(app, `${base}/refunds`, 'idem-ref-1', { amount: 301 }));
    expect((await h.orchestrator.payments.get(created.id)).amounts.refunded).toBe(300);
  });

  it('answers a replayed challenge decision 202, marked', async () => {
    const held = (
      await post(
        app,
        '/v1/payments',
        'idem-ch-src',
        paymentBody({ card: { ...card(), number: CHALLENGE_CARD } }),
      )
    ).json();
    await h.waitFor(held.id, (p) => p.status === 'authorized' && p.challenged === true);
    const url = `/v1/payments/${held.id}/challenge/accept`;
    expectFirst(await post(app, url, 'idem-ch-1', undefined), 202);
    await h.waitFor(held.id, (p) => p.status === 'authorized' && !p.challenged);
    expectReplay(await post(app, url, 'idem-ch-1', undefined), 202);
    expectReused(
      await post(app, `/v1/payments/${held.id}/challenge/refuse`, 'idem-ch-1', undefined),
    );
  });

  it('documents 201 with Location and Idempotent-Replayed, 202 marked, and 422', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of [
      '/v1/payments',
      '/v1/payments/{id}/duplicates',
      '/v1/subscriptions',
      '/v1/instalment-plans',
    ]) {
      const responses = document.paths[path].post.responses;
      expect(Object.keys(responses), path).not.toContain('200');
      expect(Object.keys(responses[201].headers), path).toEqual(
        expect.arrayContaining(['Location', 'Idempotent-Replayed']),
      );
      expect(responses[422], path).toBeDefined();
    }
    for (const action of ['captures', 'cancellations', 'refunds', 'challenge/accept']) {
      const operation = document.paths[`/v1/payments/{id}/${action}`].post;
      expect(Object.keys(operation.responses[202].headers), action).toContain(
        'Idempotent-Replayed',
      );
      expect(operation.responses[422], action).toBeDefined();
      const key = operation.parameters.find((p: { name: string }) => p.name === 'Idempotency-Key');
      expect(key.schema.maxLength).toBe(255);
    }
    expect(document.components.schemas.Problem.properties.code.enum).toContain(
      'idempotency_key_reused',
    );
    expect(document.components.schemas.Problem.properties.code.enum).not.toContain(
      'idempotency_conflict',
    );
  });
});

describe('the key rule', () => {
  let h: OrchestratorHarness;
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    ({ h, app } = await startApi());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  /** One request over a socket, the key's bytes as given: what a client on the wire may send. */
  function sendRaw(
    path: string,
    key: Buffer,
    payload: unknown,
  ): Promise<{ head: string; body: string }> {
    const body = JSON.stringify(payload);
    const request = Buffer.concat([
      Buffer.from(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer pay-secret\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          'Connection: close\r\nIdempotency-Key: ',
      ),
      key,
      Buffer.from(`\r\n\r\n${body}`),
    ]);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const split = text.indexOf('\r\n\r\n');
        resolve({ head: text.slice(0, split), body: text.slice(split + 4) });
      });
      socket.on('error', reject);
    });
  }

  it('takes a key of 255 visible ASCII characters on every create', async () => {
    const key = `${'k'.repeat(250)}!~{}:`;
    expect(key).toHaveLength(255);
    expectFirst(await post(app, '/v1/payments', key, paymentBody()), 201);
    expectReplay(await post(app, '/v1/payments', key, paymentBody()), 201);
    // A subscription's key is scoped in the store, and still takes 255 characters.
    const first = await post(app, '/v1/subscriptions', key, subscriptionBody());
    expectFirst(first, 201);
    const replay = await post(app, '/v1/subscriptions', key, subscriptionBody());
    expectReplay(replay, 201);
    expect(replay.json().subscription.id).toBe(first.json().subscription.id);
    expectReused(await post(app, '/v1/subscriptions', key, subscriptionBody({ amount: 5 })));
    expectFirst(await post(app, '/v1/instalment-plans', key, planBody()), 201);
  });

  it('refuses a key of 256 characters or with a space, a tab or a non-ASCII character with 400', async () => {
    const keys = ['k'.repeat(256), 'has space', 'tab\there', 'cl\u00e9', 'caf\u00e9-\u20ac'];
    for (const url of ['/v1/payments', '/v1/subscriptions', '/v1/instalment-plans']) {
      for (const key of keys) {
        const answer = await post(app, url, key, paymentBody());
        expect(answer.statusCode, `${url} ${JSON.stringify(key)}`).toBe(400);
        expect(answer.json()).toMatchObject({
          code: 'invalid_idempotency_key',
          field: 'Idempotency-Key',
        });
      }
    }
    const payment = (await post(app, '/v1/payments', 'rule-src', paymentBody())).json();
    const capture = await post(app, `/v1/payments/${payment.id}/captures`, 'k'.repeat(256), {
      amount: 100,
    });
    expect(capture.json()).toMatchObject({ status: 400, code: 'invalid_idempotency_key' });
  });

  it('answers the same over the wire, whatever bytes carry the key, and never a 500', async () => {
    const problems: Record<string, Buffer> = {
      '256 characters': Buffer.from('k'.repeat(256)),
      space: Buffer.from('a b'),
      tab: Buffer.from('a\tb'),
      'UTF-8': Buffer.from('cl\u00e9-1', 'utf8'),
      'Latin-1': Buffer.from('cl\u00e9-1', 'latin1'),
      'two headers': Buffer.from('a\r\nIdempotency-Key: b'),
    };
    for (const [name, bytes] of Object.entries(problems)) {
      const answer = await sendRaw('/v1/payments', bytes, paymentBody());
      expect(answer.head, name).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer.head.toLowerCase(), name).toContain('content-type: application/problem+json');
      expect(JSON.parse(answer.body), name).toMatchObject({
        code: 'invalid_idempotency_key',
        field: 'Idempotency-Key',
      });
    }
    // Control characters are refused by Node's HTTP parser before any route
    // runs: a problem all the same, and the connection closed.
    for (const bytes of ['a\u0001b', 'a\u007fb', 'a\u0000b']) {
      const answer = await sendRaw('/v1/payments', Buffer.from(bytes, 'latin1'), paymentBody());
      expect(answer.head, JSON.stringify(bytes)).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer.head.toLowerCase()).toContain('content-type: application/problem+json');
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'malformed_request' });
    }
  });
});

describe('the key lifetime (IDEMPOTENCY_KEY_TTL)', () => {
  let h: OrchestratorHarness;
  let app: FastifyInstance;

  beforeAll(async () => {
    ({ h, app } = await startApi({ idempotencyTtlMs: 1_000 }));
  });

  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('reads the setting as a duration, 24 h by default, at least 1 s', () => {
    expect(loadConfig({}).IDEMPOTENCY_KEY_TTL).toEqual([86_400_000]);
    expect(loadConfig({ IDEMPOTENCY_KEY_TTL: '90m' }).IDEMPOTENCY_KEY_TTL).toEqual([5_400_000]);
    expect(() => loadConfig({ IDEMPOTENCY_KEY_TTL: '500ms' })).toThrow(/IDEMPOTENCY_KEY_TTL/);
    expect(() => loadConfig({ IDEMPOTENCY_KEY_TTL: 'soon' })).toThrow(/IDEMPOTENCY_KEY_TTL/);
  });

  it('replays within the lifetime; after it the same key makes a new payment', async () => {
    const first = await post(app, '/v1/payments', 'ttl-1', paymentBody());
    expectFirst(first, 201);
    expectReplay(await post(app, '/v1/payments', 'ttl-1', paymentBody()), 201);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const later = await post(app, '/v1/payments', 'ttl-1', paymentBody());
    expectFirst(later, 201);
    expect(later.json().id).not.toBe(first.json().id);
  });

  it('forgets a subscription key after the lifetime: another body is a new subscription, not 422', async () => {
    const sub = await post(app, '/v1/subscriptions', 'ttl-2', subscriptionBody());
    expectFirst(sub, 201);
    const kept = await post(app, '/v1/subscriptions', 'ttl-3', subscriptionBody());
    expectFirst(kept, 201);
    expectReplay(await post(app, '/v1/subscriptions', 'ttl-2', subscriptionBody()), 201);
    expectReused(
      await post(app, '/v1/subscriptions', 'ttl-2', subscriptionBody({ amount: 2_000 })),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const later = await post(
      app,
      '/v1/subscriptions',
      'ttl-2',
      subscriptionBody({ amount: 2_000 }),
    );
    expectFirst(later, 201);
    expect(later.json().subscription.id).not.toBe(sub.json().subscription.id);
    // A subscription's id derives from its key and body: the same request
    // after the lifetime finds the first one again, never a second one.
    const same = await post(app, '/v1/subscriptions', 'ttl-3', subscriptionBody());
    expect(same.statusCode).toBe(201);
    expect(same.json().subscription.id).toBe(kept.json().subscription.id);
  });
});
