/**
 * The HTTP API over a real orchestrator, simulator and Redis: every route,
 * every error, and a property test throwing malformed requests at it.
 */
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { createMetrics, type Metrics } from '../../src/api/metrics.ts';
import { runCli } from '../../src/cli/main.ts';
import { consoleSession } from '../support/console-login.ts';
import { parseHtmlForm } from '../support/simulator-harness.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { withoutEmptyStreams } from '../support/written-keys.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

let h: OrchestratorHarness;
let app: FastifyInstance;
let metrics: Metrics;

const PAY = { authorization: 'Bearer pay-secret' };
const OPS = { authorization: 'Bearer ops-secret' };

beforeEach(async () => {
  metrics = createMetrics();
  h = await startOrchestratorHarness({
    orchestrator: { onCall: (result) => metrics.onCall(result) },
  });
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
    settleTimeoutMs: 5_000,
    metrics,
  });
  await app.ready();
});

afterEach(async () => {
  await app?.close();
  await h?.close();
});

function body(card = ACCEPTED_CARD, extra: Record<string, unknown> = {}) {
  return {
    amount: 2500,
    currency: '978',
    card: { number: card, expiry: EXPIRY, csc: '123' },
    ...extra,
  };
}

/** Keys a payment command writes (records, idempotency keys, status indexes, events, jobs). */
async function namespaceKeys(): Promise<number> {
  const redis = testPortsOf(h.orchestrator).redis;
  const keys = await redis.keys(`*${h.ns.ns}*`);
  const written = keys.filter((key) =>
    /:(payment|idem|status|events)(:|$)|payments-s\d+:[^:]*pay_/.test(key),
  );
  return (await withoutEmptyStreams(redis, written)).length;
}

describe('payments API', () => {
  it('creates a payment, replays it by Idempotency-Key and refuses another body with it', async () => {
    const first = await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, 'idempotency-key': 'order-1' },
      payload: body(),
    });
    expect(first.statusCode).toBe(201);
    const created = first.json();
    expect(created.id).toMatch(/^pay_/);
    expect(JSON.stringify(created)).not.toContain(ACCEPTED_CARD);

    const replay = await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, 'idempotency-key': 'order-1' },
      payload: body(),
    });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(`/v1/payments/${created.id}`);
    expect(replay.json().id).toBe(created.id);

    const conflict = await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, 'idempotency-key': 'order-1' },
      payload: body(ACCEPTED_CARD, { amount: 2600 }),
    });
    expect(conflict.statusCode).toBe(422);
    expect(conflict.headers['content-type']).toContain('application/problem+json');
    expect(conflict.json().code).toBe('idempotency_key_reused');

    const done = await h.waitFor(created.id);
    expect(done.status).toBe('authorized');
    const read = await app.inject({
      method: 'GET',
      url: `/v1/payments/${created.id}`,
      headers: PAY,
    });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ status: 'authorized', maskedPan: '4000##########02' });
  });

  it('captures, refunds and cancels through their routes', async () => {
    const created = (
      await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...PAY, 'idempotency-key': 'order-2' },
        payload: body(ACCEPTED_CARD, { amount: 5000, captureMode: 'validation' }),
      })
    ).json();
    await h.waitFor(created.id);
    const capture = await app.inject({
      method: 'POST',
      url: `/v1/payments/${created.id}/captures`,
      headers: PAY,
      payload: { amount: 4000 },
    });
    expect(capture.statusCode).toBe(202);
    expect((await h.waitFor(created.id)).status).toBe('captured');
    const tooMuch = await app.inject({
      method: 'POST',
      url: `/v1/payments/${created.id}/refunds`,
      headers: PAY,
      payload: { amount: 4001 },
    });
    expect(tooMuch.statusCode).toBe(409);
    expect(tooMuch.json().code).toBe('command_not_allowed');
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/payments/${created.id}/cancellations`,
      headers: PAY,
      payload: { amount: 100 },
    });
    expect(cancel.statusCode).toBe(409);
    const duplicate = await app.inject({
      method: 'POST',
      url: `/v1/payments/${created.id}/duplicates`,
      headers: { ...PAY, 'idempotency-key': 'dup-1' },
      payload: { amount: 700 },
    });
    expect(duplicate.statusCode).toBe(201);
    expect((await h.waitFor(duplicate.json().id)).status).toBe('authorized');
  });

  it('answers every error as problem+json with a stable code and the faulty field', async () => {
    const cases: { request: InjectOptions; status: number; code: string; field?: string }[] = [
      {
        request: { method: 'POST', url: '/v1/payments', payload: body() },
        status: 401,
        code: 'unauthorized',
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...OPS, 'idempotency-key': 'k' },
          payload: body(),
        },
        status: 403,
        code: 'forbidden',
      },
      {
        request: { method: 'POST', url: '/v1/payments', headers: PAY, payload: body() },
        status: 400,
        code: 'missing_idempotency_key',
        field: 'Idempotency-Key',
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...PAY, 'idempotency-key': 'k' },
          payload: body(ACCEPTED_CARD, { amount: 25.5 }),
        },
        status: 400,
        code: 'invalid_command',
        field: 'amount',
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...PAY, 'idempotency-key': 'k' },
          payload: { amount: 100, card: { number: '123', expiry: EXPIRY } },
        },
        status: 400,
        code: 'invalid_command',
        field: 'card.number',
      },
      {
        // A card number in free text would be stored and published: refused, never a 500.
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...PAY, 'idempotency-key': 'k' },
          payload: body(ACCEPTED_CARD, { orderId: ACCEPTED_CARD }),
        },
        status: 400,
        code: 'invalid_command',
        field: 'orderId',
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...PAY, 'idempotency-key': 'k', 'content-type': 'application/json' },
          payload: '{"amount": ',
        },
        status: 400,
        code: 'malformed_json',
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...PAY, 'idempotency-key': 'k', 'content-type': 'text/plain' },
          payload: 'amount=1',
        },
        status: 415,
        code: 'unsupported_media_type',
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments',
          headers: { ...PAY, 'idempotency-key': 'k', 'content-type': 'application/json' },
          payload: JSON.stringify({ ...body(), metadata: { big: 'x'.repeat(100_000) } }),
        },
        status: 413,
        code: 'payload_too_large',
      },
      {
        request: { method: 'GET', url: '/v1/payments/pay_0_NOPE', headers: PAY },
        status: 404,
        code: 'payment_not_found',
      },
      {
        request: { method: 'GET', url: '/v1/nothing', headers: PAY },
        status: 404,
        code: 'not_found',
      },
      {
        request: {
          method: 'POST',
          url: '/v1/payments/pay_0_NOPE/captures',
          headers: PAY,
          payload: { amount: 1 },
        },
        status: 404,
        code: 'payment_not_found',
      },
      {
        request: { method: 'GET', url: '/v1/reviews', headers: PAY },
        status: 403,
        code: 'forbidden',
      },
    ];
    for (const testCase of cases) {
      const response = await app.inject(testCase.request);
      expect(response.statusCode, JSON.stringify(testCase.request.url)).toBe(testCase.status);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const problem = response.json();
      expect(problem.code).toBe(testCase.code);
      expect(problem.status).toBe(testCase.status);
      if (testCase.field) expect(problem.field).toBe(testCase.field);
    }
    expect(await namespaceKeys()).toBe(0);
  });

  it('survives thousands of malformed requests: no 5xx, nothing written', async () => {
    const before = await namespaceKeys();
    const json = fc.jsonValue({ maxDepth: 3 });
    const headerValue = fc.oneof(fc.string({ maxLength: 40 }), fc.constant('Bearer pay-secret'));
    const route = fc.constantFrom(
      '/v1/payments',
      '/v1/payments/pay_0_X/captures',
      '/v1/payments/pay_0_X/refunds',
      '/v1/payments/pay_0_X/cancellations',
      '/v1/payments/pay_0_X/duplicates',
      '/v1/payments/%ZZ',
      '/v1/payments/pay_0_X/authentication/term',
    );
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.oneof(
          json.map((value) => JSON.stringify(value)),
          fc.string({ maxLength: 200 }),
          // Bodies that look like a payment but are wrong somewhere.
          fc
            .record({
              amount: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)),
              currency: fc.oneof(fc.string({ maxLength: 5 }), fc.constant('978')),
              card: fc.oneof(
                fc.constant(undefined),
                fc.record({ number: fc.string(), expiry: fc.string() }),
              ),
              captureMode: fc.string({ maxLength: 12 }),
            })
            .map((value) => JSON.stringify(value)),
        ),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''),
        headerValue,
        fc.option(fc.string({ maxLength: 300 })),
        async (url, payload, contentType, authorization, key) => {
          const response = await app.inject({
            method: 'POST',
            url,
            payload,
            headers: {
              ...(contentType ? { 'content-type': contentType } : {}),
              authorization,
              ...(key === null ? {} : { 'idempotency-key': key }),
            },
          });
          expect(response.statusCode).toBeLessThan(500);
          if (response.statusCode >= 400 && !url.endsWith('/term')) {
            expect(response.headers['content-type']).toContain('application/problem+json');
          }
        },
      ),
      { numRuns: 2_000 },
    );
    // A valid payment could in principle be generated; none of these bodies is one.
    expect(await namespaceKeys()).toBe(before);
  });

  it('exposes Sips calls, the acceptance rate and the queues as Prometheus metrics', async () => {
    for (const [key, card] of [
      ['m-1', ACCEPTED_CARD],
      ['m-2', '4000000000000119'],
    ] as const) {
      const created = await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...PAY, 'idempotency-key': key },
        payload: body(card),
      });
      await h.waitFor(created.json().id);
    }
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: PAY })).statusCode).toBe(
      403,
    );
    const response = await app.inject({ method: 'GET', url: '/metrics', headers: OPS });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(
      'sips_calls_total{merchant_id="201040040170001",service="cardOrder",outcome="ok",response_code="00"} 1',
    );
    expect(response.body).toContain(
      'sips_calls_total{merchant_id="201040040170001",service="cardOrder",outcome="refused",response_code="05"} 1',
    );
    expect(response.body).toContain('sips_acceptance_rate 0.5');
    expect(response.body).toMatch(/step_queue_jobs\{shard="0",state="waiting"\} \d+/);
    expect(response.body).toContain('manual_review_backlog 0');
    // The webhook delivery group reads every shard's stream: its lag is a metric.
    expect(response.body).toMatch(
      /event_stream_consumer_lag\{shard="0",group="webhooks"\} (-1|\d+)/,
    );
    expect(response.body).toMatch(
      /event_stream_consumer_pending\{shard="0",group="webhooks"\} \d+/,
    );
  });

  it('publishes its OpenAPI document and a docs page', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/payments', '/v1/payments/{id}', '/v1/payments/{id}/refunds']),
    );
    expect(document.components.schemas.CreatePayment.properties.amount.type).toBe('integer');
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });

  it('serves the ops console and the queue board to logged-in ops keys only', async () => {
    const denied = await app.inject({ method: 'GET', url: '/ops' });
    expect(denied.statusCode).toBe(303);
    expect(denied.headers.location).toBe('/ops/login?next=%2Fops');
    expect(denied.headers['www-authenticate']).toBeUndefined();
    // An API key in a header does not open the console; only its login does.
    for (const headers of [PAY, OPS]) {
      expect((await app.inject({ method: 'GET', url: '/ops', headers })).statusCode).toBe(303);
      expect((await app.inject({ method: 'GET', url: '/ops/queues', headers })).statusCode).toBe(
        303,
      );
    }
    await expect(consoleSession(app, 'pay-secret')).rejects.toThrow('403');
    const session = await consoleSession(app);
    const overview = await app.inject({ method: 'GET', url: '/ops', headers: session });
    expect(overview.statusCode).toBe(200);
    expect(overview.body).toContain('Manual review');
    const board = await app.inject({ method: 'GET', url: '/ops/queues', headers: session });
    expect(board.statusCode).toBe(200);
    expect(board.body.toLowerCase()).toContain('<html');
  });

  it('answers health and readiness', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('ops CLI over the API', () => {
  it('lists a seal-mismatch review item, resolves it by adopting the Sips status, shows the payment', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
    const { payment } = await h.orchestrator.payments.create(body(), { idempotencyKey: 'cli-1' });
    await h.waitFor(payment.id, (p) => p.status === 'in_review');

    const run = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli([...args, '--api', api], {
        readStdin: async () => '',
        stdout: (text) => out.push(text),
        stderr: (text) => err.push(text),
        env: { SOGENACTIF_API_KEY: 'ops-secret' },
      });
      return { code, out: out.join(''), err: err.join('') };
    };
    let listed = await run('review', 'list');
    for (let tries = 0; tries < 500 && !listed.out.includes(payment.id); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      listed = await run('review', 'list');
    }
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(payment.id);
    expect(listed.out).toContain('seal_mismatch');
    const jobId = listed.out.split('  ')[0] as string;
    const resolved = await run(
      'review',
      'resolve',
      jobId,
      '--action',
      'adopt',
      '--note',
      'checked',
    );
    expect(resolved.code).toBe(0);
    expect(JSON.parse(resolved.out).payment.status).toBe('authorized');
    const denied = await run('payments', 'show', payment.id);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('forbidden');
    expect(denied.out + denied.err).not.toContain('ops-secret');
  });
});

describe('3-D Secure browser endpoints', () => {
  it('renders the ACS form, receives PaRes on the TermUrl and sends the customer back to the merchant', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const created = await request(`${base}/v1/payments`, {
      method: 'POST',
      headers: { ...PAY, 'idempotency-key': 'order-3ds', 'content-type': 'application/json' },
      body: JSON.stringify(
        body(THREE_DS_SUCCESS_CARD, { method: 'card_3ds', returnUrl: 'https://shop.example/done' }),
      ),
    });
    const payment = (await created.body.json()) as { id: string };
    await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');

    const page = await request(`${base}/v1/payments/${payment.id}/authentication`);
    const html = await page.body.text();
    expect(html).toContain('<noscript>');
    const form = parseHtmlForm(html);
    expect(form.action).toBe(`${h.sim.url}/acs`);
    expect(form.fields.MD).toBe(payment.id);
    expect(form.fields.TermUrl).toBe(`${base}/v1/payments/${payment.id}/authentication/term`);

    const post = async (url: string, fields: Record<string, string>) => {
      const response = await request(url, {
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      return {
        status: response.statusCode,
        headers: response.headers,
        text: await response.body.text(),
      };
    };
    const acs = parseHtmlForm((await post(form.action, form.fields)).text);
    const back = parseHtmlForm(
      (await post(new URL(acs.action, h.sim.url).toString(), { ...acs.fields, outcome: 'SUCCESS' }))
        .text,
    );
    expect(back.action).toBe(form.fields.TermUrl);

    const wrongMd = await post(back.action, { ...back.fields, MD: 'pay_0_OTHER' });
    expect(wrongMd.status).toBe(400);

    const term = await post(back.action, back.fields);
    expect(term.status).toBe(303);
    expect(term.headers.location).toBe(
      `https://shop.example/done?paymentId=${payment.id}&status=authorized`,
    );
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('authorized');
  });
});
