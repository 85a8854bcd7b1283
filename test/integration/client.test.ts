/**
 * The typed client (clients/typescript) against a listening API: a payment
 * created, read, captured and refunded; webhook endpoints created, listed,
 * read and deleted; problems answered as typed errors with their stable code.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  type OrchestratorClient,
  type Payment,
  type Problem,
  type ProblemCode,
} from '../../clients/typescript/src/index.ts';
import { parseApiKeys } from '../../src/api/app.ts';
import { startApiOnPort } from '../support/api-on-port.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';

const KEYS = 'shop:pay-secret:payments,ops:ops-secret:ops';
const card = { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' };

let h: OrchestratorHarness;
let app: FastifyInstance;
let base: string;
let client: OrchestratorClient;

beforeAll(async () => {
  ({ h, app, base } = await startApiOnPort((_h, publicUrl) => ({
    apiKeys: parseApiKeys(KEYS),
    publicUrl,
  })));
  client = createClient({ baseUrl: `${base}/`, apiKey: 'pay-secret' });
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

/** The answer's body; fails the test with the problem otherwise. */
function dataOf<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    throw new Error(`${answer.response.status}: ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

/** The problem of an answer that must have failed. */
function problemOf(answer: { error?: Problem; response: Response }): Problem {
  if (answer.error === undefined) throw new Error(`${answer.response.status}: not a problem`);
  expect(answer.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return answer.error;
}

async function until(id: string, status: Payment['status']): Promise<Payment> {
  return pollUntil(
    async () => dataOf(await client.GET('/v1/payments/{id}', { params: { path: { id } } })),
    (payment) => payment.status === status,
    { timeoutMs: 10_000, describe: (payment) => `${id} is ${payment.status}, not ${status}` },
  );
}

describe('the typed client', () => {
  it('creates, reads, captures and refunds a payment', async () => {
    const created = await client.POST('/v1/payments', {
      params: { header: { 'Idempotency-Key': 'client-create-1' } },
      body: { amount: 10_000, captureMode: 'validation', card },
    });
    expect(created.response.status).toBe(201);
    const payment = dataOf(created);
    expect(created.response.headers.get('location')).toBe(`/v1/payments/${payment.id}`);
    expect(payment).toMatchObject({ amount: 10_000, captureMode: 'validation', kind: 'card' });

    const authorized = await until(payment.id, 'authorized');
    expect(authorized.amounts.authorized).toBe(10_000);
    expect(authorized.maskedPan).toMatch(/^4000#+02$/);

    const path = { id: payment.id };
    const capture = await client.POST('/v1/payments/{id}/captures', {
      params: { path },
      body: { amount: 6_000 },
    });
    expect(capture.response.status).toBe(202);
    expect(dataOf(capture).id).toBe(payment.id);
    expect((await until(payment.id, 'captured')).amounts.captured).toBe(6_000);

    // Refunds need remitted money: let the simulator's remittance run.
    h.sim.clock.advanceDays(1);
    await h.sim.control.runRemittance();
    const refund = await client.POST('/v1/payments/{id}/refunds', {
      params: { path, header: { 'Idempotency-Key': 'client-refund-1' } },
      body: { amount: 2_500 },
    });
    expect(refund.response.status).toBe(202);
    const refunded = await until(payment.id, 'partially_refunded');
    // A partial capture gives up the rest of the authorisation.
    expect(refunded.amounts).toEqual({
      authorized: 10_000,
      captured: 6_000,
      cancelled: 4_000,
      refunded: 2_500,
    });
    expect(refunded.timeline.length).toBeGreaterThan(0);
    expect(refunded.final).toBe(false);
  });

  it('creates, lists, reads and deletes a webhook endpoint', async () => {
    // Disabled: nothing is sent to it while the other tests run.
    const created = await client.POST('/v1/webhook-endpoints', {
      body: {
        url: 'https://hooks.example.com/client',
        eventTypes: ['payment.refunded'],
        enabled: false,
      },
    });
    expect(created.response.status).toBe(201);
    const endpoint = dataOf(created);
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect(endpoint).toMatchObject({ enabled: false, eventTypes: ['payment.refunded'] });

    const listed = dataOf(await client.GET('/v1/webhook-endpoints'));
    expect(listed.items.map((item) => item.id)).toContain(endpoint.id);
    const params = { path: { id: endpoint.id } };
    const shown = dataOf(await client.GET('/v1/webhook-endpoints/{id}', { params }));
    expect(shown.url).toBe('https://hooks.example.com/client');
    expect('secret' in shown).toBe(false);

    const removed = await client.DELETE('/v1/webhook-endpoints/{id}', { params });
    expect(removed.response.status).toBe(204);
    const gone = problemOf(await client.GET('/v1/webhook-endpoints/{id}', { params }));
    expect(gone.code).toBe('webhook_endpoint_not_found');
  });

  it('answers problems as typed errors with their stable code', async () => {
    const missing = await client.GET('/v1/payments/{id}', {
      params: { path: { id: 'pay_0_nope' } },
    });
    expect(missing.response.status).toBe(404);
    const notFound: ProblemCode = problemOf(missing).code;
    expect(notFound).toBe('payment_not_found');

    const invalid = problemOf(
      await client.POST('/v1/payments', {
        params: { header: { 'Idempotency-Key': 'client-invalid-1' } },
        body: { amount: -1, card },
      }),
    );
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_command', field: 'amount' });

    const first = await client.POST('/v1/payments', {
      params: { header: { 'Idempotency-Key': 'client-reused-1' } },
      body: { amount: 1_200, card },
    });
    expect(first.response.status).toBe(201);
    const reused = await client.POST('/v1/payments', {
      params: { header: { 'Idempotency-Key': 'client-reused-1' } },
      body: { amount: 1_201, card },
    });
    expect(reused.response.status).toBe(422);
    expect(problemOf(reused).code).toBe('idempotency_key_reused');

    const stranger = createClient({ baseUrl: base, apiKey: 'not-a-key' });
    const refused = await stranger.GET('/v1/payments/{id}', {
      params: { path: { id: dataOf(first).id } },
    });
    expect(refused.response.status).toBe(401);
    expect(problemOf(refused).code).toBe('unauthorized');
    await until(dataOf(first).id, 'authorized');
  });
});
