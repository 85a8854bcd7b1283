/**
 * Card numbers at the API's edge: a card number in any field other than the
 * card fields (body, nested, query string, path) is refused 400
 * `invalid_command` naming the field, before the route's handler, with
 * nothing written to Redis and the value never quoted back; the card fields still take a card; a card
 * number failing Luhn and a past expiry are refused with their own codes
 * before anything is sent to Sips.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { cardNumberGuard } from '../../src/api/card-number-guard.ts';
import { testPortsOf } from '../../src/orchestrator.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

const PAY = { authorization: 'Bearer pay-secret' };
const OPS = { authorization: 'Bearer ops-secret' };
const PAN = '4539148803436467';
const DOTTED = '4539.1488.0343.6467';
const SPACED = '4539 1488 0343 6467';
const CARD = { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' };
const CARD_NUMBER_REFUSAL =
  / must not (contain a card number|have a card number as a property name)$/;

let h: OrchestratorHarness;
let app: FastifyInstance;
let paymentId: string;
let keyCount = 0;

const key = () => ({ 'idempotency-key': `card-guard-${process.pid}-${++keyCount}` });

beforeAll(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
    settleTimeoutMs: 2_000,
  });
  // On an instance that already has it, a second registration adds no second hook.
  await app.register(cardNumberGuard);
  await app.ready();
  const created = await app.inject({
    method: 'POST',
    url: '/v1/payments',
    headers: { ...PAY, ...key() },
    payload: {
      amount: 1_000,
      currency: '978',
      captureMode: 'validation',
      captureDay: 5,
      card: CARD,
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  paymentId = (created.json() as { id: string }).id;
  await h.waitFor(paymentId);
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

/** A digest of every key of the namespace, BullMQ's own housekeeping aside. */
async function redisDigest(): Promise<Map<string, string>> {
  const redis = testPortsOf(h.orchestrator).redis as Redis;
  const digest = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${h.ns.ns}*`, 'COUNT', 1000);
    cursor = next;
    for (const name of keys) {
      if (
        /:(stalled-check|marker|meta|metrics:.*|stalled|events)$/.test(name) &&
        !/\}:events$/.test(name)
      ) {
        continue;
      }
      const dumped = await redis.dumpBuffer(name);
      digest.set(
        name,
        createHash('sha256')
          .update(dumped ?? Buffer.alloc(0))
          .digest('hex'),
      );
    }
  } while (cursor !== '0');
  return digest;
}

/** The digest once it holds still for a moment: the work of earlier requests is done. */
async function settledDigest(): Promise<Map<string, string>> {
  let last = await redisDigest();
  for (let attempt = 0; attempt < 50; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await redisDigest();
    if (JSON.stringify([...next]) === JSON.stringify([...last])) return next;
    last = next;
  }
  throw new Error('Redis never held still');
}

interface Problem {
  code: string;
  field?: string;
  detail: string;
}

async function send(options: InjectOptions) {
  const response = await app.inject(options);
  return { status: response.statusCode, body: response.body, problem: response.json() as Problem };
}

function paymentBody(extra: Record<string, unknown>) {
  return { amount: 1_000, currency: '978', card: CARD, ...extra };
}

const provider = { method: 'provider', card: undefined, returnUrl: 'https://shop.example/r' };

/** [what, request, the field named] */
function leaks(): [string, InjectOptions, string][] {
  const post = (url: string, payload: unknown, headers: Record<string, string> = PAY) =>
    ({ method: 'POST', url, headers: { ...headers, ...key() }, payload }) as InjectOptions;
  return [
    [
      'payment returnUrl',
      post(
        '/v1/payments',
        paymentBody({
          ...provider,
          paymentMeanBrand: 'PAYPAL',
          returnUrl: `https://shop.example/return?c=${PAN}`,
        }),
      ),
      'returnUrl',
    ],
    ['payment orderId, dotted', post('/v1/payments', paymentBody({ orderId: DOTTED })), 'orderId'],
    [
      'payment paymentMeanBrand',
      post('/v1/payments', paymentBody({ ...provider, paymentMeanBrand: PAN })),
      'paymentMeanBrand',
    ],
    [
      'payment wallet.merchantWalletId',
      post(
        '/v1/payments',
        paymentBody({
          method: 'wallet',
          card: undefined,
          wallet: { merchantWalletId: PAN, paymentMeanId: '1' },
        }),
      ),
      'wallet.merchantWalletId',
    ],
    [
      'payment customer.email',
      post('/v1/payments', paymentBody({ customer: { email: `${PAN}@shop.example` } })),
      'customer.email',
    ],
    [
      'payment customer.id',
      post('/v1/payments', paymentBody({ customer: { id: SPACED } })),
      'customer.id',
    ],
    [
      'payment metadata value',
      post('/v1/payments', paymentBody({ metadata: { note: `card ${SPACED}` } })),
      'metadata.note',
    ],
    [
      'payment metadata key',
      post('/v1/payments', paymentBody({ metadata: { [PAN]: 'x' } })),
      'metadata',
    ],
    [
      'payment, card data at another place',
      post('/v1/payments', paymentBody({ metadata: { card: { number: PAN } } })),
      'metadata.card.number',
    ],
    [
      'payment, deep in an array',
      post('/v1/payments', paymentBody({ items: [{ x: 'a' }, { x: `4539-1488-0343-6467` }] })),
      'items.1.x',
    ],
    [
      'subscription orderId',
      post('/v1/subscriptions', { amount: 100, interval: '30d', card: CARD, orderId: DOTTED }),
      'orderId',
    ],
    [
      'subscription metadata',
      post('/v1/subscriptions', { amount: 100, interval: '30d', card: CARD, metadata: { n: PAN } }),
      'metadata.n',
    ],
    [
      'subscription customer.id',
      post('/v1/subscriptions', {
        amount: 100,
        interval: '30d',
        card: CARD,
        customer: { id: PAN },
      }),
      'customer.id',
    ],
    [
      'instalment plan returnUrl',
      post('/v1/instalment-plans', {
        amount: 900,
        count: 3,
        card: CARD,
        method: 'card_3ds',
        returnUrl: `https://shop.example/${PAN}`,
      }),
      'returnUrl',
    ],
    [
      'instalment plan orderId',
      post('/v1/instalment-plans', { amount: 900, count: 3, card: CARD, orderId: `ORD-${PAN}` }),
      'orderId',
    ],
    [
      'capture body',
      post(`/v1/payments/${paymentId}/captures`, { amount: 100, note: PAN }),
      'note',
    ],
    [
      'refund body',
      post(`/v1/payments/${paymentId}/refunds`, { amount: 100, reason: DOTTED }),
      'reason',
    ],
    [
      'duplicate orderId',
      post(`/v1/payments/${paymentId}/duplicates`, { amount: 100, orderId: SPACED }),
      'orderId',
    ],
    [
      'review resolve note',
      post(
        '/v1/reviews/review-x-1/resolve',
        { action: 'dismiss', note: `customer said ${PAN}` },
        OPS,
      ),
      'note',
    ],
    [
      'webhook endpoint description',
      post('/v1/webhook-endpoints', { url: 'https://hooks.example/in', description: SPACED }),
      'description',
    ],
    [
      'webhook endpoint url',
      post('/v1/webhook-endpoints', { url: `https://hooks.example/in/${DOTTED}` }),
      'url',
    ],
    [
      'webhook endpoint change',
      {
        method: 'PATCH',
        url: '/v1/webhook-endpoints/we_x',
        headers: PAY,
        payload: { description: PAN },
      },
      'description',
    ],
    [
      'query string',
      { method: 'GET', url: `/v1/subscriptions?limit=${PAN}`, headers: PAY },
      'limit',
    ],
    [
      'query string, any name',
      { method: 'GET', url: `/v1/payments/${paymentId}?c=${DOTTED}`, headers: PAY },
      'c',
    ],
    ['path id', { method: 'GET', url: `/v1/payments/${DOTTED}`, headers: PAY }, 'id'],
    ['path id of a command', post(`/v1/payments/${PAN}/captures`, { amount: 100 }), 'id'],
    [
      'path message id',
      {
        method: 'POST',
        url: `/v1/webhook-endpoints/we_x/deliveries/${PAN}/replay`,
        headers: PAY,
      },
      'messageId',
    ],
    [
      'browser return form',
      {
        method: 'POST',
        url: `/v1/payments/${paymentId}/authentication/return`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `redirectionData=${encodeURIComponent(SPACED)}&messageVersion=2.2.0`,
      },
      'redirectionData',
    ],
  ];
}

describe('a card number outside the card fields', () => {
  it('is refused 400 invalid_command naming the field, and nothing is stored', async () => {
    const before = await settledDigest();
    const requestsBefore = h.sim.ledger.totalRequests();
    for (const [what, options, field] of leaks()) {
      const { status, body, problem } = await send(options);
      expect(status, `${what}: ${body}`).toBe(400);
      expect(problem.code, what).toBe('invalid_command');
      // The guard's words: the routes' own checks would say "is not a known field" or 404.
      expect(problem.detail, what).toMatch(CARD_NUMBER_REFUSAL);
      expect(problem.field, what).toBe(field);
      expect(body, what).not.toMatch(/4539[ .-]?1488[ .-]?0343[ .-]?6467/);
    }
    expect(h.sim.ledger.totalRequests()).toBe(requestsBefore);
    expect(await redisDigest()).toEqual(before);
  });

  it('answers unauthenticated requests 401 first', async () => {
    const { status, problem } = await send({
      method: 'POST',
      url: '/v1/payments',
      payload: paymentBody({ orderId: DOTTED }),
    });
    expect([status, problem.code]).toEqual([401, 'unauthorized']);
  });

  it('lets ids, dates and UUIDs through', async () => {
    const replay = await send({
      method: 'POST',
      url: '/v1/webhook-endpoints/we_x/deliveries/123e4567-e89b-12d3-a456-426614174008/replay',
      headers: PAY,
    });
    expect(replay.problem.detail).not.toMatch(CARD_NUMBER_REFUSAL);
    const payment = await send({
      method: 'GET',
      url: `/v1/payments/${paymentId}?since=2026-04-15T10:00:00Z&t=1760000000008`,
      headers: PAY,
    });
    expect(payment.status, payment.body).toBe(200);
  });
});

describe('the card fields', () => {
  // First: the payments the next tests make keep moving in the background.
  it('refuse a number failing Luhn and a past expiry with their codes, before Sips', async () => {
    const before = await settledDigest();
    const requestsBefore = h.sim.ledger.totalRequests();
    const cases: [string, Record<string, unknown>, string, string][] = [
      [
        '/v1/payments',
        paymentBody({ card: { number: '4000000000000003', expiry: EXPIRY } }),
        'card_number_invalid',
        'card.number',
      ],
      [
        '/v1/payments',
        paymentBody({ card: { number: '4000 0000 0000', expiry: EXPIRY } }),
        'card_number_invalid',
        'card.number',
      ],
      [
        '/v1/payments',
        paymentBody({ card: { number: '1234', expiry: EXPIRY } }),
        'invalid_command',
        'card.number',
      ],
      [
        '/v1/payments',
        paymentBody({ card: { number: ACCEPTED_CARD, expiry: '202001' } }),
        'card_expired',
        'card.expiry',
      ],
      [
        '/v1/payments',
        paymentBody({ card: { number: ACCEPTED_CARD, expiry: '01/20' } }),
        'card_expired',
        'card.expiry',
      ],
      [
        '/v1/subscriptions',
        { amount: 100, interval: '30d', card: { number: '4539148803436468', expiry: EXPIRY } },
        'card_number_invalid',
        'card.number',
      ],
      [
        '/v1/subscriptions',
        { amount: 100, interval: '30d', card: { number: ACCEPTED_CARD, expiry: '202412' } },
        'card_expired',
        'card.expiry',
      ],
      [
        '/v1/instalment-plans',
        { amount: 900, count: 3, card: { number: '4539148803436468', expiry: EXPIRY } },
        'card_number_invalid',
        'card.number',
      ],
      [
        '/v1/instalment-plans',
        { amount: 900, count: 3, card: { number: ACCEPTED_CARD, expiry: '202001' } },
        'card_expired',
        'card.expiry',
      ],
    ];
    for (const [url, payload, code, field] of cases) {
      const { status, body, problem } = await send({
        method: 'POST',
        url,
        headers: { ...PAY, ...key() },
        payload,
      });
      expect(status, `${url}: ${body}`).toBe(400);
      expect(problem.code, body).toBe(code);
      expect(problem.field, body).toBe(field);
      expect(problem.detail, body).toMatch(new RegExp(`^${field.replace('.', '\\.')} `));
    }
    expect(h.sim.ledger.totalRequests()).toBe(requestsBefore);
    expect(await redisDigest()).toEqual(before);
  });

  it('still take a card, spaced or not, for payments, subscriptions and instalment plans', async () => {
    const payment = await send({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, ...key() },
      payload: paymentBody({
        card: { number: '4000 0000 0000 0002', expiry: '12/30', csc: '123' },
        orderId: 'ORD-2026-000123',
        metadata: { placed: '2026-04-15T10:00:00Z', phone: '+33 6 12 34 56 78' },
      }),
    });
    expect(payment.status, payment.body).toBe(201);
    const subscription = await send({
      method: 'POST',
      url: '/v1/subscriptions',
      headers: { ...PAY, ...key() },
      payload: { amount: 100, interval: '30d', card: CARD },
    });
    expect(subscription.status, subscription.body).toBe(201);
    const plan = await send({
      method: 'POST',
      url: '/v1/instalment-plans',
      headers: { ...PAY, ...key() },
      payload: { amount: 900, count: 3, card: CARD },
    });
    expect(plan.status, plan.body).toBe(201);
  });

  it('take the simulator 3-D Secure cards, whose check digit is wrong', async () => {
    const payment = await send({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...PAY, ...key() },
      payload: paymentBody({
        method: 'card_3ds',
        card: { number: THREE_DS_SUCCESS_CARD, expiry: EXPIRY },
        returnUrl: 'https://shop.example/return',
      }),
    });
    expect(payment.status, payment.body).toBe(201);
  });
});
