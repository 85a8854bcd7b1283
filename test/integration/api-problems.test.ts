/**
 * Problem answers in full: every invalid field of a command in `errors`,
 * `instance` on every problem, 405 with `Allow` for a path served with other
 * methods, and RFC 3339 instants on subscriptions and instalment plans.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

let h: OrchestratorHarness;
let app: FastifyInstance;

const PAY = { authorization: 'Bearer pay-secret' };
const card = { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' };

/** RFC 3339 date-time (section 5.6), as `Date.prototype.toISOString` writes it and more. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

beforeAll(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
    settleTimeoutMs: 5_000,
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

async function problemOf(request: InjectOptions) {
  const response = await app.inject(request);
  expect(response.headers['content-type'], response.body).toContain('application/problem+json');
  return { status: response.statusCode, headers: response.headers, problem: response.json() };
}

describe('every invalid field', () => {
  it('lists the three invalid fields of a payment command, the first one as `field`', async () => {
    const { status, problem } = await problemOf({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, 'idempotency-key': 'three-fields' },
      payload: { amount: -5, currency: 'nope', captureDay: 500, card },
    });
    expect(status).toBe(400);
    expect(problem).toMatchObject({ code: 'invalid_command', field: 'amount' });
    expect(problem.detail).toBe('amount must be positive');
    expect(problem.errors).toEqual([
      { field: 'amount', detail: 'amount must be positive', code: 'invalid_command' },
      { field: 'currency', detail: expect.stringMatching(/^currency /), code: 'invalid_command' },
      {
        field: 'captureDay',
        detail: expect.stringMatching(/^captureDay /),
        code: 'invalid_command',
      },
    ]);
  });

  it('names each unknown field, and keeps the code of a card refused up front', async () => {
    const { status, problem } = await problemOf({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, 'idempotency-key': 'unknown-fields' },
      payload: { amount: 1.5, card: { ...card, expiry: '202001' }, colour: 'red', size: 3 },
    });
    expect(status).toBe(400);
    expect(problem.code).toBe('invalid_command');
    expect(problem.errors).toEqual([
      expect.objectContaining({ field: 'amount', code: 'invalid_command' }),
      expect.objectContaining({ field: 'card.expiry', code: 'card_expired' }),
      { field: 'colour', detail: 'colour is not a known field', code: 'invalid_command' },
      { field: 'size', detail: 'size is not a known field', code: 'invalid_command' },
    ]);
    // A card refused alone answers with its own code, as before.
    const expired = await problemOf({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, 'idempotency-key': 'expired-only' },
      payload: { amount: 100, card: { ...card, expiry: '202001' } },
    });
    expect(expired.problem).toMatchObject({
      code: 'card_expired',
      field: 'card.expiry',
      errors: [expect.objectContaining({ field: 'card.expiry', code: 'card_expired' })],
    });
  });

  it('lists every invalid query parameter the API parses itself', async () => {
    const { status, problem } = await problemOf({
      method: 'GET',
      url: '/v1/webhook-endpoints/whe_x/deliveries?limit=0&before=yesterday&colour=red',
      headers: PAY,
    });
    expect(status).toBe(400);
    expect(problem.errors.map((entry: { field: string }) => entry.field)).toEqual([
      'limit',
      'before',
      'colour',
    ]);
  });

  it('lists the one field of a refusal that names one', async () => {
    const { problem } = await problemOf({
      method: 'POST',
      url: '/v1/payments',
      headers: PAY,
      payload: { amount: 100, card },
    });
    expect(problem).toMatchObject({
      code: 'missing_idempotency_key',
      field: 'Idempotency-Key',
      errors: [{ field: 'Idempotency-Key', code: 'missing_idempotency_key' }],
    });
  });
});

describe('instance', () => {
  it('names the path and the request on 400, 401, 404, 409 and 415', async () => {
    const subscription = (
      await app.inject({
        method: 'POST',
        url: '/v1/subscriptions',
        headers: { ...PAY, 'idempotency-key': 'instance-sub' },
        payload: { amount: 1_990, interval: '30s', card },
      })
    ).json().subscription as { id: string };
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/subscriptions/${subscription.id}/cancel`,
      headers: PAY,
    });
    expect(cancel.statusCode, cancel.body).toBe(200);
    const cases: { request: InjectOptions; status: number; path: string }[] = [
      {
        request: {
          method: 'POST',
          url: '/v1/payments?debug=1',
          headers: { ...PAY, 'idempotency-key': 'i400' },
          payload: { amount: -1, card },
        },
        status: 400,
        path: '/v1/payments',
      },
      {
        request: { method: 'GET', url: '/v1/payments/pay_0_NOPE' },
        status: 401,
        path: '/v1/payments/pay_0_NOPE',
      },
      {
        request: { method: 'GET', url: '/v1/payments/pay_0_NOPE', headers: PAY },
        status: 404,
        path: '/v1/payments/pay_0_NOPE',
      },
      {
        request: { method: 'GET', url: '/v1/nothing?x=1', headers: PAY },
        status: 404,
        path: '/v1/nothing',
      },
      {
        request: {
          method: 'POST',
          url: `/v1/subscriptions/${subscription.id}/resume`,
          headers: PAY,
        },
        status: 409,
        path: `/v1/subscriptions/${subscription.id}/resume`,
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...PAY, 'idempotency-key': 'i415', 'content-type': 'text/plain' },
          payload: 'amount=1',
        },
        status: 415,
        path: '/v1/payments',
      },
    ];
    const seen = new Set<string>();
    for (const testCase of cases) {
      const { status, problem } = await problemOf(testCase.request);
      expect(status, testCase.request.url as string).toBe(testCase.status);
      expect(problem.instance, testCase.request.url as string).toMatch(
        new RegExp(`^${testCase.path.replaceAll('.', '\\.')}#[A-Za-z0-9._~-]+$`),
      );
      seen.add(problem.instance);
    }
    // One occurrence each: the request id tells them apart.
    expect(seen.size).toBe(cases.length);
  });

  it('never carries a card number put in the path', async () => {
    const { problem } = await problemOf({
      method: 'GET',
      url: `/v1/payments/${ACCEPTED_CARD}`,
      headers: PAY,
    });
    expect(problem.instance).not.toContain(ACCEPTED_CARD);
    expect(problem.instance).toMatch(/^\/v1\/payments\/%5Bredacted%5D#/);
  });
});

describe('a path served with other methods', () => {
  it('answers 405 with Allow, and 404 for a path no route has', async () => {
    const byId = await problemOf({
      method: 'DELETE',
      url: '/v1/payments/pay_0_NOPE',
      headers: PAY,
    });
    expect(byId.status).toBe(405);
    expect(byId.headers.allow).toBe('GET, HEAD');
    expect(byId.problem).toMatchObject({ status: 405, code: 'method_not_allowed' });
    expect(byId.problem.instance).toMatch(/^\/v1\/payments\/pay_0_NOPE#/);

    const collection = await problemOf({ method: 'PUT', url: '/v1/payments', headers: PAY });
    expect(collection.status).toBe(405);
    expect(collection.headers.allow).toBe('GET, HEAD, POST');

    const subscriptions = await problemOf({
      method: 'DELETE',
      url: '/v1/subscriptions/sub_x?limit=1',
      headers: PAY,
    });
    expect(subscriptions.status).toBe(405);
    expect(subscriptions.headers.allow).toBe('GET, HEAD, PATCH');

    const unknown = await problemOf({ method: 'DELETE', url: '/v1/nothing/here', headers: PAY });
    expect(unknown.status).toBe(404);
    expect(unknown.problem.code).toBe('not_found');
    expect(unknown.headers.allow).toBeUndefined();
  });
});

describe('instants', () => {
  it('answers subscriptions and instalment plans with RFC 3339 times', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/subscriptions',
      headers: { ...PAY, 'idempotency-key': 'rfc3339-sub' },
      payload: { amount: 1_990, interval: '30s', card },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { subscription } = created.json();
    const read = (
      await app.inject({ url: `/v1/subscriptions/${subscription.id}`, headers: PAY })
    ).json();
    const listed = (await app.inject({ url: '/v1/subscriptions', headers: PAY })).json().items;
    for (const view of [subscription, read, ...listed]) {
      expect(view.createdAt).toMatch(RFC3339);
      expect(view.updatedAt).toMatch(RFC3339);
      expect(view.anchorAt).toMatch(RFC3339);
      if (view.nextRunAt !== undefined) expect(view.nextRunAt).toMatch(RFC3339);
      for (const occurrence of view.occurrences) {
        expect(occurrence.scheduledAt).toMatch(RFC3339);
        if (occurrence.nextRetryAt !== undefined) expect(occurrence.nextRetryAt).toMatch(RFC3339);
      }
    }
    expect(Date.parse(read.occurrences[0].scheduledAt)).toBe(Date.parse(read.anchorAt));

    const plan = await app.inject({
      method: 'POST',
      url: '/v1/instalment-plans',
      headers: { ...PAY, 'idempotency-key': 'rfc3339-plan' },
      payload: { amount: 9_001, count: 3, card },
    });
    expect(plan.statusCode, plan.body).toBe(201);
    const { plan: view } = plan.json();
    const plans = (await app.inject({ url: '/v1/instalment-plans', headers: PAY })).json().items;
    for (const entry of [view, ...plans]) {
      expect(entry.createdAt).toMatch(RFC3339);
      expect(entry.updatedAt).toMatch(RFC3339);
      for (const instalment of entry.instalments) {
        expect(instalment.dueAt).toMatch(RFC3339);
        expect(instalment.date).toMatch(/^\d{8}$/);
      }
    }
    const dues = view.instalments.map((entry: { dueAt: string }) => Date.parse(entry.dueAt));
    expect([...dues].sort((a, b) => a - b)).toEqual(dues);
  });
});
