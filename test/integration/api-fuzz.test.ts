/**
 * Malformed input thrown at the API, beyond the POST bodies of api.test.ts:
 * every method on every route, hostile paths, headers and bodies (prototype
 * poisoning, deep nesting, binary, oversize), then raw bytes over TCP that
 * are not HTTP at all. Never a 5xx, never a crash, and nothing written to
 * Redis: after the run the namespace holds only BullMQ's own housekeeping keys.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import {
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { testPortsOf } from '../../src/orchestrator.ts';
import { withoutEmptyStreams } from '../support/written-keys.ts';

let h: OrchestratorHarness;
let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
    settleTimeoutMs: 200,
    metrics: createMetrics(),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

/** Keys of the namespace other than those BullMQ keeps for an idle queue. */
async function writtenKeys(): Promise<string[]> {
  const redis = testPortsOf(h.orchestrator).redis;
  const keys = await redis.keys(`*${h.ns.ns}*`);
  const kept = keys.filter((key) => !/:(meta|stalled-check)$/.test(key));
  return (await withoutEmptyStreams(redis, kept)).sort();
}

const id = fc.oneof(
  fc.constant('pay_0_X'),
  fc.constant('pay_0_00000000000000000000'),
  fc.constant('sub_0_X'),
  fc.constant('plan_0_X'),
  fc.constant('sub_9999_X'),
  fc.constant('%ZZ'),
  fc.constant('..%2F..%2Fetc'),
  fc.constant('x'.repeat(2_000)),
  fc.string({ maxLength: 40 }).map((text) => encodeURIComponent(text)),
);

const path = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          '/v1/payments',
          '/v1/payments/:id',
          '/v1/payments/:id/captures',
          '/v1/payments/:id/cancellations',
          '/v1/payments/:id/refunds',
          '/v1/payments/:id/duplicates',
          '/v1/payments/:id/challenge/accept',
          '/v1/payments/:id/challenge/refuse',
          '/v1/payments/:id/authentication',
          '/v1/payments/:id/authentication/term',
          '/v1/payments/:id/authentication/return',
          '/v1/reviews',
          '/v1/reviews/:id',
          '/v1/reviews/:id/resolve',
          '/v1/subscriptions',
          '/v1/subscriptions/:id',
          '/v1/subscriptions/:id/pause',
          '/v1/subscriptions/:id/resume',
          '/v1/subscriptions/:id/cancel',
          '/v1/instalment-plans',
          '/v1/instalment-plans/:id',
          '/v1/instalment-plans/:id/cancel',
          '/v1/schedules',
          '/v1/alerts',
          '/v1/janitor/runs',
          '/ops/subscriptions',
          '/ops/subscriptions/:id',
          '/ops/subscriptions/:id/pause',
          '/ops/subscriptions/:id/cancel',
          '/ops/instalment-plans',
          '/ops/instalment-plans/:id',
          '/ops/instalment-plans/:id/cancel',
          '/ops/schedules',
          '/ops/alerts',
          '/ops/janitor/runs',
          '/healthz',
          '/metrics',
          '/openapi.json',
        ),
        id,
        fc.constantFrom('', '/', '?', '?a=1&a=2', '#x', '?__proto__[x]=1'),
      )
      .map(([template, value, suffix]) => template.replace(':id', value) + suffix),
  },
  {
    weight: 1,
    arbitrary: fc.string({ maxLength: 60 }).map((text) => `/${encodeURIComponent(text)}`),
  },
);

const json = fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value));

const body = fc.oneof(
  json,
  fc.string({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(
    '{"__proto__": {"amount": 1}}',
    '{"amount": 100, "constructor": {"prototype": {"x": 1}}}',
    '{"amount": 100, "card": {"__proto__": {"number": "4000000000000002"}}}',
    `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
    `{"a":${'{"a":'.repeat(2_000)}1${'}'.repeat(2_001)}`,
    '{"amount": 1e400, "currency": "978"}',
    // Valid but for one field each (a valid body would rightly be written).
    '{"amount": "100", "currency": "978", "card": {"number": "4000000000000002", "expiry": "203012"}, "metadata": {"k": "\\ud800"}}',
    '{"amount": 100, "currency": "978", "captureMode": "later", "card": {"number": "4000000000000002", "expiry": "203012"}}',
    '{"amount": 100, "currency": "978", "card": {"number": "4000000000000002", "expiry": "203013"}}',
    '{"amount": 100, "currency": "978", "method": "card_3ds", "card": {"number": "4000000000000002", "expiry": "203012"}}',
    '{"amount": 100, "interval": "x", "card": {"number": "4000000000000002", "expiry": "203012"}}',
    '{"amount": 100, "interval": "30s", "cron": "0 9 1 * *", "card": {"number": "4000000000000002", "expiry": "203012"}}',
    '{"amount": 100, "count": 2, "amounts": [50, 50], "card": {"number": "4000000000000002", "expiry": "203012"}}',
    '{"amount": 100, "count": 200, "card": {"number": "4000000000000002", "expiry": "203012"}}',
    '{"amount": 10.5}',
    'PaRes=x&MD=pay_0_X&PaRes=y',
    'redirectionData=a&messageVersion=b&redirectionData=c',
    '',
  ),
  fc.constant('x'.repeat(70_000)),
);

const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-16',
      'application/json;;;',
      'APPLICATION/JSON',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/plain',
      'application/problem+json',
      '*/*',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant('Bearer pay-secret') },
  { weight: 1, arbitrary: fc.constant('Bearer ops-secret') },
  { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Basic', 'Basic ===', 'Bearer pay-secret x') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .string({ maxLength: 40 })
      .map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
  },
);

const method = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('GET', 'POST') },
  { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
);

type Example = [
  method: string,
  url: string,
  body: string | Buffer | undefined,
  contentType: string | undefined,
  authorization: string | undefined,
  idempotencyKey: string | undefined,
  contentEncoding: string | undefined,
];

function example(
  method: string,
  url: string,
  auth?: string,
  sent?: { body: string; type: string },
): Example {
  const key = method === 'POST' ? 'fuzz-example' : undefined;
  return [method, url, sent?.body, sent?.type, auth, key, undefined];
}

const shop = 'Bearer pay-secret';

/**
 * One request per layer, run before the random ones, so the coverage check
 * below does not depend on the seed: each is answered with the code it names.
 */
const layerExamples: Example[] = [
  example('GET', '/v1/payments/pay_0_X'), // unauthorized
  example('GET', '/v1/reviews', shop), // forbidden
  example('GET', '/v1/nowhere', shop), // not_found
  example('POST', '/v1/payments', shop, { body: 'amount=1', type: 'text/plain' }),
  example('POST', '/v1/payments', shop, { body: '{"amount":', type: 'application/json' }),
  example('POST', '/v1/payments', shop, { body: 'x'.repeat(70_000), type: 'application/json' }),
  example('POST', '/v1/payments', shop, { body: '{"amount": 10.5}', type: 'application/json' }),
  example('GET', '/v1/payments/pay_0_X', shop),
  example('GET', '/v1/subscriptions/sub_0_X', shop),
  example('GET', '/v1/instalment-plans/plan_0_X', shop),
];

describe('malformed requests on every route', () => {
  it('never answer 5xx and write nothing', async () => {
    expect(await writtenKeys()).toEqual([]);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        method,
        path,
        fc.option(body, { nil: undefined }),
        fc.option(contentType, { nil: undefined }),
        fc.option(authorization, { nil: undefined }),
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        fc.option(fc.constantFrom('gzip', 'br', 'identity', 'x-unknown'), { nil: undefined }),
        async (method, url, payload, type, auth, key, encoding) => {
          const headers: Record<string, string> = {};
          if (type !== undefined) headers['content-type'] = type;
          if (auth !== undefined) headers.authorization = auth;
          if (key !== undefined) headers['idempotency-key'] = key;
          if (encoding !== undefined) headers['content-encoding'] = encoding;
          const withBody = payload !== undefined && method !== 'GET' && method !== 'HEAD';
          const response = await app.inject({
            method,
            url,
            headers,
            ...(withBody ? { payload } : {}),
          });
          expect(response.statusCode, `${method} ${url}`).toBeLessThan(500);
          const apiPath = url.startsWith('/v1/');
          const htmlPage = /\/authentication\/?($|\?)/.test(url) && response.statusCode === 409;
          if (response.statusCode >= 400 && apiPath && !htmlPage && method !== 'HEAD') {
            expect(response.headers['content-type'], `${method} ${url}`).toContain(
              'application/problem+json',
            );
            const problem = response.json();
            expect(problem.status).toBe(response.statusCode);
            expect(typeof problem.code).toBe('string');
            seen.set(problem.code, (seen.get(problem.code) ?? 0) + 1);
          }
        },
      ),
      { numRuns: 1_500, examples: layerExamples },
    );
    // The run reached every layer: keys, body parsing, command parsing, the store.
    for (const code of [
      'unauthorized',
      'forbidden',
      'not_found',
      'unsupported_media_type',
      'malformed_json',
      'payload_too_large',
      'invalid_command',
      'payment_not_found',
      'subscription_not_found',
      'plan_not_found',
    ]) {
      expect(seen.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect(await writtenKeys()).toEqual([]);
    // Prototype poisoning attempts changed nothing.
    expect({} as Record<string, unknown>).not.toHaveProperty('amount');
    expect({} as Record<string, unknown>).not.toHaveProperty('x');
  });
});

/** Sends raw bytes and returns what came back before the server closed or 1 s passed. */
function raw(bytes: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 1_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', done);
    socket.on('error', done);
    socket.on('connect', () => socket.end(bytes));
  });
}

describe('bytes that are not HTTP', () => {
  it('get a 4xx or a closed connection, and the server keeps serving', async () => {
    const cases = [
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/9.9\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      'POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /v1/payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'GET /v1/payments/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer pay-secret\r\nIdempotency-Key: k\r\nContent-Length: 100\r\n\r\n{"amount":',
    ];
    for (const text of cases) {
      const answer = await raw(text);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      if (status !== undefined) expect(Number(status), JSON.stringify(text)).toBeLessThan(500);
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const answer = await raw(Buffer.from(bytes));
        const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
        if (status !== undefined) expect(Number(status)).toBeLessThan(500);
      }),
      { numRuns: 100 },
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await writtenKeys()).toEqual([]);
  });
});
