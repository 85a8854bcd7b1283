/**
 * API keys bound to merchants: every route of the OpenAPI document, called
 * with the key of another merchant, answers as if merchant A's records did
 * not exist (404, or an empty list), or 403 for the deployment-wide routes;
 * and nothing is written anywhere (Redis compared before and after).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { testPortsOf } from '../../src/orchestrator.ts';
import { brandMerchants } from '../support/brand-merchants.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

const KEYS = 'a:key-a:payments|ops:brand-a,b:key-b:payments|ops:brand-b,root:key-root:payments|ops';

let h: OrchestratorHarness;
let app: FastifyInstance;
let base: string;
let paymentId: string;
let webhookEndpointId: string;
let reviewJobId: string;

async function call(
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${key}`,
      'idempotency-key': `iso-${method}-${path}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Text answers (metrics) stay text.
  }
  return { status: response.statusCode, json };
}

/** A digest of every key of the namespace and its content (DUMP), BullMQ's bookkeeping aside. */
async function redisDigest(): Promise<Map<string, string>> {
  const redis = testPortsOf(h.orchestrator).redis;
  const digest = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = (await (redis as Redis).scan(
      cursor,
      'MATCH',
      `*${h.ns.ns}*`,
      'COUNT',
      1000,
    )) as [string, string[]];
    cursor = next;
    for (const key of keys) {
      // BullMQ's own housekeeping moves by itself (stalled checks, markers, metrics).
      if (
        /:(stalled-check|marker|meta|metrics:.*|stalled|events)$/.test(key) &&
        !/\}:events$/.test(key)
      ) {
        continue;
      }
      const dumped = await (redis as Redis).dumpBuffer(key);
      digest.set(
        key,
        createHash('sha256')
          .update(dumped ?? Buffer.alloc(0))
          .digest('hex'),
      );
    }
  } while (cursor !== '0');
  return digest;
}

beforeAll(async () => {
  h = await startOrchestratorHarness();
  await h.restart(0, { merchants: brandMerchants(h.sim.url) });
  app = buildApi({
    metrics: createMetrics(),
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys(KEYS),
    settleTimeoutMs: 5_000,
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
  const inReview = await call('POST', '/v1/payments', 'key-a', {
    amount: 1_000,
    captureMode: 'validation',
    card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
  });
  expect(inReview.status).toBe(201);
  paymentId = (inReview.json as { id: string }).id;
  // Disabled: nothing is delivered (nor written) while the probes run.
  const endpoint = await call('POST', '/v1/webhook-endpoints', 'key-a', {
    url: 'https://hooks.example.com/brand-a',
    enabled: false,
  });
  expect(endpoint.status).toBe(201);
  webhookEndpointId = (endpoint.json as { id: string }).id;
  await h.waitFor(paymentId, (payment) => payment.status === 'in_review', 30_000);
  // The review item is queued right after the status is stored: wait for it.
  for (let tries = 0; tries < 200 && reviewJobId === undefined; tries++) {
    const reviews = await call('GET', '/v1/reviews', 'key-a');
    reviewJobId = (reviews.json as { items: { jobId: string; paymentId: string }[] }).items.find(
      (item) => item.paymentId === paymentId,
    )?.jobId as string;
    if (reviewJobId === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(reviewJobId).toBeDefined();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await h?.close();
});

/** What the other merchant's key must get on each route. */
function expectation(
  method: string,
  path: string,
): 'not_found' | 'forbidden' | 'empty' | 'refused' | 'skip' {
  if (path.includes('/authentication')) return 'skip'; // browser routes: the payment id is the capability
  if (['/healthz', '/readyz', '/openapi.json', '/docs'].includes(path)) return 'skip';
  if (
    [
      '/metrics',
      '/v1/janitor/runs',
      '/v1/schedules',
      '/v1/merchants',
      '/v1/merchants/reload',
    ].includes(path)
  ) {
    return 'forbidden';
  }
  if (
    method === 'get' &&
    [
      '/v1/reviews',
      '/v1/alerts',
      '/v1/subscriptions',
      '/v1/instalment-plans',
      '/v1/webhook-endpoints',
      '/v1/payments',
      '/v1/payments/export',
      '/v1/reconciliation/{date}',
    ].includes(path)
  ) {
    return 'empty';
  }
  if (
    method === 'post' &&
    ['/v1/payments', '/v1/subscriptions', '/v1/instalment-plans', '/v1/webhook-endpoints'].includes(
      path,
    )
  ) {
    return 'refused';
  }
  return 'not_found';
}

describe('a key bound to merchant B', () => {
  it('finds nothing of merchant A on any route, and writes nothing', async () => {
    const document = (await call('GET', '/openapi.json', 'key-b')).json as {
      paths: Record<string, Record<string, unknown>>;
    };
    const before = await redisDigest();
    const seen: string[] = [];
    for (const [template, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) {
        if (!['get', 'post', 'patch', 'delete'].includes(method)) continue;
        const expected = expectation(method, template);
        if (expected === 'skip') continue;
        const path = template
          .replace(
            '{id}',
            template.startsWith('/v1/payments')
              ? paymentId
              : template.startsWith('/v1/webhook-endpoints')
                ? webhookEndpointId
                : 'sub_0_x',
          )
          .replace('{jobId}', reviewJobId)
          .replace('{date}', new Date().toISOString().slice(0, 10));
        const body =
          expected === 'refused'
            ? {
                merchant: 'brand-a',
                amount: 100,
                currency: 'EUR',
                interval: '1d',
                card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
              }
            : template.endsWith('/resolve')
              ? { action: 'dismiss', note: 'probe' }
              : method === 'post' || method === 'patch'
                ? { amount: 100 }
                : undefined;
        const answer = await call(method.toUpperCase(), path, 'key-b', body);
        seen.push(`${method} ${template} ${answer.status}`);
        const detail = `${method} ${path}: ${JSON.stringify(answer.json)}`;
        switch (expected) {
          case 'not_found':
            expect(answer.status, detail).toBe(404);
            break;
          case 'forbidden':
            expect(answer.status, detail).toBe(403);
            break;
          case 'empty':
            expect(answer.status, detail).toBe(200);
            expect(JSON.stringify(answer.json), detail).not.toContain(paymentId);
            expect(JSON.stringify(answer.json), detail).not.toContain(webhookEndpointId);
            break;
          case 'refused':
            expect(answer.status, detail).toBe(400);
            break;
        }
      }
    }
    expect(seen.length).toBeGreaterThan(15);
    expect(await redisDigest()).toEqual(before);
  });

  it('answers a record of merchant A exactly as a missing one', async () => {
    const other = await call('GET', `/v1/payments/${paymentId}`, 'key-b');
    const missing = await call('GET', `/v1/payments/${paymentId.slice(0, -2)}zz`, 'key-b');
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    // The ids differ, and so does the request each `instance` names.
    const strip = (json: unknown) =>
      JSON.stringify(json)
        .replaceAll(/pay_[A-Za-z0-9_-]+/g, 'ID')
        .replaceAll(/#[^"]*"/g, '#REQUEST"');
    expect(strip(other.json)).toBe(strip(missing.json));
    // Merchant A and the platform key still see it.
    expect((await call('GET', `/v1/payments/${paymentId}`, 'key-a')).status).toBe(200);
    expect((await call('GET', `/v1/payments/${paymentId}`, 'key-root')).status).toBe(200);
  });

  it('scopes idempotency keys per merchant', async () => {
    const body = { amount: 700, card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' } };
    const send = (key: string) =>
      request(`${base}/v1/payments`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'idempotency-key': 'shared-key-1',
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
    const fromA = await send('key-a');
    const fromB = await send('key-b');
    const a = (await fromA.body.json()) as { id: string; merchant: string };
    const b = (await fromB.body.json()) as { id: string; merchant: string };
    expect([fromA.statusCode, fromB.statusCode]).toEqual([201, 201]);
    expect(a.id).not.toBe(b.id);
    expect([a.merchant, b.merchant]).toEqual(['brand-a', 'brand-b']);
    const replay = await send('key-b');
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(((await replay.body.json()) as { id: string }).id).toBe(b.id);
  });
});
