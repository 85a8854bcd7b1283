/**
 * The HTTP API routes beyond the main flows of api.test.ts: challenge
 * decisions, provider payments returning through /authentication/return, the
 * browser endpoints' edge cases, reviews, readiness, API key parsing and the
 * access log.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import type { PaymentView } from '../../src/orchestrator.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { parseHtmlForm } from '../support/simulator-harness.ts';
import {
  ACCEPTED_CARD,
  CHALLENGE_CARD,
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { testPortsOf } from '../../src/orchestrator.ts';
import { startApiOnPort } from '../support/api-on-port.ts';

const PAY = { authorization: 'Bearer pay-secret' };
const OPS = { authorization: 'Bearer ops-secret' };
const KEYS = 'shop:pay-secret:payments,ops:ops-secret:ops';

let h: OrchestratorHarness | undefined;
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
  await h?.close();
  h = undefined;
});

/** Orchestrator, simulator and a listening API whose public URL the engine knows. */
async function start(
  extra: Partial<Parameters<typeof buildApi>[0]> = {},
): Promise<{ h: OrchestratorHarness; app: FastifyInstance; base: string }> {
  const started = await startApiOnPort((_h, base) => ({
    apiKeys: parseApiKeys(KEYS),
    settleTimeoutMs: 5_000,
    publicUrl: base,
    ...extra,
  }));
  h = started.h;
  app = started.app;
  return started;
}

async function postForm(url: string, fields: Record<string, string>) {
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
}

async function create(
  api: FastifyInstance,
  key: string,
  payload: Record<string, unknown>,
): Promise<{ id: string }> {
  const response = await api.inject({
    method: 'POST',
    url: '/v1/payments',
    headers: { ...PAY, 'idempotency-key': key },
    payload,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

const card = (number: string) => ({ number, expiry: EXPIRY, csc: '123' });

describe('challenge decisions', () => {
  it('accepts and refuses an orange-scored authorisation through the API', async () => {
    const { h, app } = await start();
    const accepted = await create(app, 'ch-1', { amount: 1200, card: card(CHALLENGE_CARD) });
    const refused = await create(app, 'ch-2', { amount: 1300, card: card(CHALLENGE_CARD) });
    const challenged = (p: PaymentView) => p.status === 'authorized' && p.challenged === true;
    await h.waitFor(accepted.id, challenged);
    await h.waitFor(refused.id, challenged);

    const accept = await app.inject({
      method: 'POST',
      url: `/v1/payments/${accepted.id}/challenge/accept`,
      headers: { ...PAY, 'idempotency-key': 'ch-1-accept' },
    });
    expect(accept.statusCode, accept.body).toBe(202);
    const refuse = await app.inject({
      method: 'POST',
      url: `/v1/payments/${refused.id}/challenge/refuse`,
      headers: PAY,
    });
    expect(refuse.statusCode, refuse.body).toBe(202);
    await h.waitFor(accepted.id, (p) => p.status === 'authorized' && !p.challenged);
    expect((await h.waitFor(refused.id, (p) => p.status === 'refused')).status).toBe('refused');

    // Nothing left to decide: the command is not allowed any more.
    const again = await app.inject({
      method: 'POST',
      url: `/v1/payments/${refused.id}/challenge/accept`,
      headers: PAY,
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('command_not_allowed');
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/payments/pay_0_NOPE/challenge/refuse',
      headers: PAY,
    });
    expect(unknown.json()).toMatchObject({ status: 404, code: 'payment_not_found' });
  });
});

describe('browser endpoints', () => {
  it('sends a provider payment to the provider page and back through /authentication/return', async () => {
    const { h, app, base } = await start();
    const payment = await create(app, 'prov-1', {
      method: 'provider',
      paymentMeanBrand: 'PAYPAL',
      amount: 4200,
      returnUrl: 'https://shop.example/back?cart=7',
    });
    await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');

    const page = await request(`${base}/v1/payments/${payment.id}/authentication`);
    expect(page.headers['content-type']).toContain('text/html');
    const html = await page.body.text();
    expect(html).toContain('<noscript>');
    expect(html).toContain('document.downloadForm.submit()');
    const form = parseHtmlForm(html);
    expect(form.action).toBe(`${h.sim.url}/provider`);
    expect(Object.keys(form.fields).sort()).toEqual(['message_version', 'redirection_data']);

    const choice = parseHtmlForm((await postForm(form.action, form.fields)).text);
    const back = parseHtmlForm(
      (
        await postForm(new URL(choice.action, h.sim.url).toString(), {
          ...choice.fields,
          outcome: 'APPROVED',
        })
      ).text,
    );
    // The engine gave Sips our endpoint as merchantReturnUrl, not the shop's page.
    expect(back.action).toBe(`${base}/v1/payments/${payment.id}/authentication/return`);

    const missing = await postForm(back.action, { merchantId: back.fields.merchantId ?? '' });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toMatchObject({ code: 'invalid_command' });

    const returned = await postForm(back.action, back.fields);
    expect(returned.status).toBe(303);
    expect(returned.headers.location).toBe(
      `https://shop.example/back?cart=7&paymentId=${payment.id}&status=authorized`,
    );
    // A second post (refresh, back button) is sent on with the same outcome.
    const twice = await postForm(back.action, back.fields);
    expect(twice.status).toBe(303);
    expect(twice.headers.location).toBe(returned.headers.location);
  });

  it('builds the TermUrl on the public URL and sends a replayed PaRes on with the outcome', async () => {
    const { h, app, base } = await start();
    const payment = await create(app, '3ds-1', {
      method: 'card_3ds',
      amount: 2500,
      card: card(THREE_DS_SUCCESS_CARD),
      returnUrl: 'https://shop.example/done',
    });
    await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    const page = await app.inject({
      method: 'GET',
      url: `/v1/payments/${payment.id}/authentication`,
      headers: { host: 'attacker.example' },
    });
    expect(page.headers['cache-control']).toBe('no-store');
    const form = parseHtmlForm(page.body);
    // The Host header a browser sent does not choose where the ACS posts back.
    expect(form.fields.TermUrl).toBe(`${base}/v1/payments/${payment.id}/authentication/term`);
    expect(form.fields.MD).toBe(payment.id);
    expect(form.fields.MD).toMatch(/^[\x20-\x7e]{1,1024}$/);
    expect(page.body).not.toContain(THREE_DS_SUCCESS_CARD);

    const acs = parseHtmlForm((await postForm(form.action, form.fields)).text);
    const back = parseHtmlForm(
      (
        await postForm(new URL(acs.action, h.sim.url).toString(), {
          ...acs.fields,
          outcome: 'SUCCESS',
        })
      ).text,
    );
    const noPaRes = await postForm(back.action, { MD: payment.id });
    expect(noPaRes.status).toBe(400);
    expect(JSON.parse(noPaRes.text)).toMatchObject({ code: 'invalid_command', field: 'PaRes' });
    const first = await postForm(back.action, back.fields);
    expect(first.status).toBe(303);
    const replay = await postForm(back.action, back.fields);
    expect(replay.status).toBe(303);
    expect(replay.headers.location).toBe(
      `https://shop.example/done?paymentId=${payment.id}&status=authorized`,
    );

    // Nothing pending any more: the page says so instead of posting to the ACS.
    const done = await app.inject({
      method: 'GET',
      url: `/v1/payments/${payment.id}/authentication`,
    });
    expect(done.statusCode).toBe(409);
    expect(done.headers['content-type']).toContain('text/html');
    expect(done.body).toContain('authorized');
    const unknown = await app.inject({
      method: 'GET',
      url: '/v1/payments/pay_0_NOPE/authentication',
    });
    expect(unknown.json()).toMatchObject({ status: 404, code: 'payment_not_found' });
  });
});

describe('reviews over the API', () => {
  it('refuses unknown items and malformed decisions', async () => {
    const { app } = await start();
    expect((await app.inject({ method: 'GET', url: '/v1/reviews', headers: OPS })).json()).toEqual({
      items: [],
    });
    const missing = await app.inject({ method: 'GET', url: '/v1/reviews/nope', headers: OPS });
    expect(missing.json()).toMatchObject({ status: 404, code: 'not_found' });
    const cases = [
      [{ action: 'approve', note: 'x' }, 'action'],
      [{ action: 'adopt' }, 'note'],
      [{ action: 'adopt', note: '   ' }, 'note'],
    ] as const;
    for (const [payload, field] of cases) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/reviews/nope/resolve',
        headers: OPS,
        payload,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'invalid_command', field });
    }
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/reviews/nope/resolve',
      headers: OPS,
      payload: { action: 'dismiss', note: 'duplicate' },
    });
    expect(unknown.json()).toMatchObject({ status: 404, code: 'not_found' });
    const payments = await app.inject({
      method: 'POST',
      url: '/v1/reviews/nope/resolve',
      headers: PAY,
      payload: { action: 'dismiss', note: 'x' },
    });
    expect(payments.json()).toMatchObject({ status: 403, code: 'forbidden' });
  });
});

describe('authentication and idempotency keys', () => {
  it('takes Bearer keys only, never Basic, and refuses malformed Idempotency-Keys', async () => {
    const { app } = await start();
    const viaBearer = await app.inject({
      method: 'GET',
      url: '/v1/payments/pay_0_NOPE',
      headers: PAY,
    });
    expect(viaBearer.json().code).toBe('payment_not_found');
    expect(viaBearer.headers['cache-control']).toBe('no-store');
    const basic = `Basic ${Buffer.from('anyone:pay-secret').toString('base64')}`;
    for (const authorization of [
      'Bearer wrong',
      'Bearer',
      'Token pay-secret',
      'Basic !!!',
      basic,
    ]) {
      const response = await app.inject({
        method: 'GET',
        url: '/v1/payments/pay_0_NOPE',
        headers: { authorization },
      });
      expect(response.json()).toMatchObject({ status: 401, code: 'unauthorized' });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="sogenactif"');
    }
    for (const key of ['has space', 'x'.repeat(256), 'tab\there', 'é']) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...PAY, 'idempotency-key': key },
        payload: { amount: 100, card: card(ACCEPTED_CARD) },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        code: 'invalid_idempotency_key',
        field: 'Idempotency-Key',
      });
    }
    const duplicate = await app.inject({
      method: 'POST',
      url: '/v1/payments/pay_0_NOPE/duplicates',
      headers: PAY,
      payload: { amount: 100 },
    });
    expect(duplicate.json()).toMatchObject({ status: 400, code: 'missing_idempotency_key' });
  });

  it('answers concurrent first requests with one 201 and the others replayed or asked to retry', async () => {
    const { h, app } = await start();
    const send = () =>
      app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...PAY, 'idempotency-key': 'race-1' },
        payload: { amount: 900, card: card(ACCEPTED_CARD) },
      });
    const answers = await Promise.all(Array.from({ length: 8 }, send));
    const made = answers.filter(
      (answer) => answer.statusCode === 201 && answer.headers['idempotent-replayed'] === undefined,
    );
    expect(made).toHaveLength(1);
    const ids = new Set<string>();
    for (const answer of answers) {
      expect([201, 409]).toContain(answer.statusCode);
      if (answer.statusCode === 409) {
        expect(answer.json().code).toBe('request_in_progress');
        expect(answer.headers['retry-after']).toBe('1');
      } else {
        ids.add(answer.json().id);
      }
    }
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    expect((await h.waitFor(id)).status).toBe('authorized');
    const later = await send();
    expect(later.statusCode).toBe(201);
    expect(later.headers['idempotent-replayed']).toBe('true');
  });

  it('tells a capture of an authorisation being replaced when to come back (Retry-After)', async () => {
    const { h, app } = await start();
    const { payment } = await h.orchestrator.payments.create({
      amount: 1_200,
      captureMode: 'validation',
      captureDay: 5,
      card: card(ACCEPTED_CARD),
    });
    await h.waitFor(payment.id);
    // Claimed by the capture-limit policy, as its own write would.
    const { engine, store } = testPortsOf(h.orchestrator);
    const claimed = await engine.annotate((await store.get(payment.id))!, {
      timeline: [{ at: Date.now(), kind: 'capture_limit.reauthorizing' }],
      update: (data) => {
        data.facts.reauthorizing = 'true';
      },
    });
    expect(claimed.ok).toBe(true);
    const answer = await app.inject({
      method: 'POST',
      url: `/v1/payments/${payment.id}/captures`,
      headers: { ...PAY, 'idempotency-key': 'capture-while-replaced' },
      payload: { amount: 1_200 },
    });
    expect(answer.statusCode).toBe(409);
    expect(answer.json()).toMatchObject({ code: 'reauthorization_in_progress' });
    expect(answer.headers['retry-after']).toBe('2');
  });

  it('parses API_KEYS without ever repeating a secret in an error', () => {
    const keys = parseApiKeys(' a:s1:payments , b:s2:payments|ops ,c:s3');
    expect(keys.map((key) => [key.name, [...key.scopes]])).toEqual([
      ['a', ['payments']],
      ['b', ['payments', 'ops']],
      ['c', ['payments']],
    ]);
    expect(keys.every((key) => key.hash.length === 32)).toBe(true);
    for (const [text, secret] of [
      ['a:top:s3cr3t:ops', 's3cr3t'],
      ['a:hunter2:admin', 'hunter2'],
      ['a:hunter2:', 'hunter2'],
      [':hunter2:ops', 'hunter2'],
      ['a:hunter2:ops|root', 'hunter2'],
    ] as const) {
      let message = '';
      try {
        parseApiKeys(text);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, text).toMatch(/^API_KEYS/);
      expect(message).not.toContain(secret);
      expect(message).not.toContain('admin');
    }
    expect(() => parseApiKeys(' , ')).toThrow(/no key/);
  });
});

describe('readiness', () => {
  it('reports Redis and every shard queue, and 503 when Redis does not answer in time', async () => {
    const { h, app } = await start();
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ready',
      redis: 'ok',
      queues: [{ shard: 0, paused: false }],
    });

    // Redis stops answering (ping hangs): not ready, while the process stays healthy.
    const redis = testPortsOf(h.orchestrator).redis;
    const ping = redis.ping;
    redis.ping = (() => new Promise(() => undefined)) as typeof redis.ping;
    const impatient = buildApi({
      orchestrator: h.orchestrator,
      apiKeys: [],
      readinessTimeoutMs: 50,
    });
    try {
      const down = await impatient.inject({ method: 'GET', url: '/readyz' });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toMatchObject({ status: 'unavailable', redis: 'unreachable' });
      expect((await impatient.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      redis.ping = ping;
      await impatient.close();
    }
  });
});

describe('access log', () => {
  it('logs method, path and status, never the key, the body or a card number', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const { app } = await start({ logger: createLogger({ level: 'debug' }, sink) });
    await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, 'idempotency-key': 'log-1' },
      payload: { amount: 100, card: card(ACCEPTED_CARD) },
    });
    await app.inject({ method: 'GET', url: `/v1/payments/${ACCEPTED_CARD}?csc=123`, headers: PAY });
    const text = lines.join('');
    expect(text).toContain('"path":"/v1/payments"');
    expect(text).toContain('"status":201');
    expect(text).toContain('"path":"/v1/payments/[redacted]"');
    expect(text).not.toContain('pay-secret');
    expect(text).not.toContain(ACCEPTED_CARD);
    expect(text).not.toContain('csc');
  });
});
