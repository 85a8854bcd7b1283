/**
 * The API's limits on real sockets and the test Redis: a client trickling
 * its body or its headers is cut off, idle keep-alive sockets are closed,
 * connections beyond the cap are refused, and requests beyond the per-key
 * rate get a `rate_limited` problem with Retry-After, counted in Redis.
 */
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import {
  answerTimedOut,
  applyLimits,
  applyServerLimits,
  type ServerLimitSettings,
} from '../../src/api/limits.ts';
import {
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

const API_KEYS = parseApiKeys('shop:pay-secret:payments,other:other-secret:payments');

const TIMEOUTS: ServerLimitSettings = {
  requestTimeoutMs: 1_000,
  headersTimeoutMs: 500,
  keepAliveTimeoutMs: 500,
  maxConnections: 50,
};

let h: OrchestratorHarness;
let redis: Redis;
let apps: FastifyInstance[] = [];
let sockets: Socket[] = [];
let dispatcher: Agent;
let run = 0;

beforeAll(async () => {
  h = await startOrchestratorHarness();
  redis = h.ns.redis();
});

afterAll(async () => {
  redis?.disconnect();
  await h?.close();
});

beforeEach(() => {
  dispatcher = new Agent();
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets = [];
  await dispatcher.close();
  await Promise.all(apps.map((app) => app.close()));
  apps = [];
});

/** The API as buildApi makes it, with the limits applied, listening on a port of its own. */
async function startApi(
  server: ServerLimitSettings,
  rate?: { max: number; timeWindowMs: number; keyPrefix?: string },
): Promise<{ port: number; base: string; keyPrefix: string }> {
  const keyPrefix = rate?.keyPrefix ?? `${h.ns.ns}-limits-${++run}`;
  const app = buildApi({ orchestrator: h.orchestrator, apiKeys: API_KEYS });
  applyLimits(app, {
    server,
    ...(rate ? { rate: { redis, keyPrefix, apiKeys: API_KEYS, ...rate } } : {}),
  });
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || !address) throw new Error('not listening');
  return { port: address.port, base: `http://127.0.0.1:${address.port}`, keyPrefix };
}

interface RawClient {
  socket: Socket;
  /** Everything the server wrote. */
  received(): string;
  /** Resolves with the time from `connect` to the socket's close. */
  closed: Promise<number>;
}

async function rawClient(port: number): Promise<RawClient> {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => resolve(Date.now() - started)),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => text, closed };
}

/** Writes `chunk` every `everyMs` until the socket closes. */
function trickle(client: RawClient, chunk: string, everyMs: number): void {
  const timer = setInterval(() => {
    if (client.socket.writable) client.socket.write(chunk);
  }, everyMs);
  void client.closed.then(() => clearInterval(timer));
}

const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'still open'> =>
  Promise.race([promise, new Promise<'still open'>((r) => setTimeout(() => r('still open'), ms))]);

describe('time limits and the connection cap', () => {
  it('closes a connection whose body trickles in (with a key)', async () => {
    const { port } = await startApi(TIMEOUTS);
    const client = await rawClient(port);
    client.socket.write(
      'POST /v1/payments HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer pay-secret\r\n' +
        'Content-Type: application/json\r\nIdempotency-Key: slow-1\r\nContent-Length: 100\r\n\r\n',
    );
    trickle(client, ' ', 500);
    const elapsed = await within(client.closed, 3_000);
    expect(elapsed).not.toBe('still open');
    expect(elapsed as number).toBeGreaterThanOrEqual(900);
    expect(elapsed as number).toBeLessThan(2_500);
    expect(client.received()).toMatch(/^HTTP\/1\.1 4\d\d /);
  });

  it('closes a connection whose body trickles in without any key', async () => {
    const { port } = await startApi(TIMEOUTS);
    const client = await rawClient(port);
    client.socket.write(
      'POST /v1/payments HTTP/1.1\r\nHost: api\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    );
    trickle(client, ' ', 500);
    const elapsed = await within(client.closed, 3_000);
    expect(elapsed).not.toBe('still open');
    expect(elapsed as number).toBeLessThan(2_500);
  });

  it('cuts a client that never finishes its headers at the headers timeout', async () => {
    // The request timeout is far: only the headers timeout can close it this soon.
    const { port } = await startApi({ ...TIMEOUTS, requestTimeoutMs: 5_000 });
    const client = await rawClient(port);
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: api\r\n');
    trickle(client, 'X-Slow: a\r\n', 100);
    const elapsed = await within(client.closed, 3_000);
    expect(elapsed).not.toBe('still open');
    expect(elapsed as number).toBeGreaterThanOrEqual(400);
    expect(elapsed as number).toBeLessThan(1_800);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const { port } = await startApi(TIMEOUTS);
    const client = await rawClient(port);
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n');
    await expect.poll(() => client.received(), { timeout: 2_000 }).toMatch(/"status":"ok"/);
    const answered = Date.now();
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received()).toMatch(/keep-alive/i);
    const closed = await within(client.closed, 3_000);
    expect(closed).not.toBe('still open');
    // Node closes it one second after the advertised timeout, for clients racing it.
    const idle = Date.now() - answered;
    expect(idle).toBeGreaterThanOrEqual(350);
    expect(idle).toBeLessThan(2_500);
  });

  it('answers a timed-out request with 408 where the clientError handler asks', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    applyServerLimits(server, TIMEOUTS);
    server.on('clientError', (error: Error, socket) => {
      if (!answerTimedOut(error, socket)) socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = await rawClient((server.address() as AddressInfo).port);
      client.socket.write('POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 100\r\n\r\n');
      trickle(client, ' ', 500);
      expect(await within(client.closed, 3_000)).not.toBe('still open');
      expect(client.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses connections beyond the cap', async () => {
    const { port } = await startApi({ ...TIMEOUTS, keepAliveTimeoutMs: 5_000, maxConnections: 2 });
    const first = await rawClient(port);
    const second = await rawClient(port);
    // Let the server count them before the third arrives.
    await new Promise((r) => setTimeout(r, 100));
    const third = await rawClient(port).catch(() => undefined);
    if (third) {
      expect(await within(third.closed, 1_000)).not.toBe('still open');
      expect(third.received()).toBe('');
    }
    first.socket.write('GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n');
    await expect.poll(() => first.received(), { timeout: 2_000 }).toMatch(/^HTTP\/1\.1 200 /);
    expect(await within(second.closed, 100)).toBe('still open');
  });
});

describe('rate limit per API key', () => {
  const WINDOW = 1_500;

  async function get(base: string, path: string, key?: string) {
    const answer = await request(`${base}${path}`, {
      dispatcher,
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    const text = await answer.body.text();
    return { status: answer.statusCode, headers: answer.headers, text };
  }

  it('answers the request over the limit with a 429 problem and Retry-After, per key', async () => {
    const { base, keyPrefix } = await startApi(TIMEOUTS, { max: 5, timeWindowMs: WINDOW });
    for (let i = 0; i < 5; i++) {
      expect((await get(base, '/v1/payments/pay_unknown', 'pay-secret')).status).not.toBe(429);
    }
    const refused = await get(base, '/v1/payments/pay_unknown', 'pay-secret');
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(refused.text)).toMatchObject({
      status: 429,
      code: 'rate_limited',
      type: 'https://sogenactif-orchestrator.dev/problems/rate_limited',
    });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(WINDOW / 1000));

    // Another key has its own allowance.
    expect((await get(base, '/v1/payments/pay_unknown', 'other-secret')).status).not.toBe(429);
    // The count is in Redis, under the deployment's prefix and the key's name.
    expect(await redis.exists(`${keyPrefix}:rate-limit:key:shop`)).toBe(1);

    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    expect((await get(base, '/v1/payments/pay_unknown', 'pay-secret')).status).not.toBe(429);
  });

  it('counts requests without a known key by address, 401s included', async () => {
    const { base } = await startApi(TIMEOUTS, { max: 5, timeWindowMs: WINDOW });
    for (let i = 0; i < 5; i++) {
      const key = i % 2 === 0 ? undefined : `guess-${i}`;
      expect((await get(base, '/v1/payments/pay_unknown', key)).status).toBe(401);
    }
    const refused = await get(base, '/v1/payments/pay_unknown', 'guess-6');
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'rate_limited' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // A known key is counted on its own.
    expect((await get(base, '/v1/payments/pay_unknown', 'pay-secret')).status).not.toBe(429);
    // The browser endpoints of 3-D Secure count by address, whatever they carry.
    const browser = await get(base, '/v1/payments/pay_unknown/authentication', 'pay-secret');
    expect(browser.status).toBe(429);
  });

  it('never limits the health checks', async () => {
    const { base } = await startApi(TIMEOUTS, { max: 2, timeWindowMs: WINDOW });
    for (let i = 0; i < 8; i++) {
      expect((await get(base, '/healthz')).status).toBe(200);
      expect((await get(base, '/readyz')).status).not.toBe(429);
    }
    // The address still has its whole allowance.
    expect((await get(base, '/v1/payments/pay_unknown')).status).toBe(401);
  });

  it('shares one count between API processes on the same Redis', async () => {
    const one = await startApi(TIMEOUTS, { max: 5, timeWindowMs: WINDOW });
    const two = await startApi(TIMEOUTS, {
      max: 5,
      timeWindowMs: WINDOW,
      keyPrefix: one.keyPrefix,
    });
    for (let i = 0; i < 5; i++) {
      const base = i % 2 === 0 ? one.base : two.base;
      expect((await get(base, '/v1/payments/pay_unknown', 'pay-secret')).status).not.toBe(429);
    }
    expect((await get(two.base, '/v1/payments/pay_unknown', 'pay-secret')).status).toBe(429);
  });
});
