/**
 * The parts of a complete problem answer: every invalid field of a command
 * (parseCommand), `instance`, and 405 with `Allow` from the route table.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommandError } from '../../src/engine/errors.ts';
import { notFoundOrMethodNotAllowed, routePattern } from '../../src/api/method-not-allowed.ts';
import { sendError } from '../../src/api/problems.ts';
import { CreatePaymentCommand, parseCommand } from '../../src/payments/commands.ts';
import { parseOrThrow } from '../../src/service/parse.ts';

describe('parseCommand', () => {
  it('lists every invalid field once, unknown keys one each, the first one first', () => {
    const schema = z.strictObject({
      amount: z.number().int().positive(),
      name: z
        .string()
        .max(3)
        .regex(/^[a-z]+$/),
      nested: z.strictObject({ flag: z.boolean() }),
    });
    const parsed = parseCommand(schema, {
      amount: -1,
      name: 'TOO LONG',
      nested: { flag: 'yes', extra: 1 },
      colour: 'red',
      size: 2,
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.field).toBe('amount');
    expect(parsed.errors.map((entry) => entry.field)).toEqual([
      'amount',
      'name',
      'nested.flag',
      'nested.extra',
      'colour',
      'size',
    ]);
    expect(parsed.errors[0]).toEqual({ field: 'amount', detail: parsed.errors[0]?.detail });
    expect(parsed.errors[0]?.detail).toMatch(/^amount /);
    expect(parsed.errors.at(-1)).toEqual({ field: 'size', detail: 'size is not a known field' });
  });

  it('keeps the code of a card refused up front on its entry and, first, on the failure', () => {
    const parsed = parseCommand(CreatePaymentCommand, {
      amount: 100,
      card: { number: '4000000000000003', expiry: '202001' },
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.code).toBe('card_number_invalid');
    expect(parsed.errors).toEqual([
      expect.objectContaining({ field: 'card.number', code: 'card_number_invalid' }),
      expect.objectContaining({ field: 'card.expiry', code: 'card_expired' }),
    ]);
    let thrown: unknown;
    try {
      parseOrThrow(parsed);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CommandError);
    expect(thrown).toMatchObject({
      code: 'card_number_invalid',
      field: 'card.number',
      errors: parsed.errors,
    });
  });
});

describe('routePattern', () => {
  it('reads a declared URL as the router does', () => {
    expect(routePattern('/v1/payments/:id').test('/v1/payments/pay_1')).toBe(true);
    expect(routePattern('/v1/payments/:id').test('/v1/payments/pay_1/')).toBe(true);
    expect(routePattern('/v1/payments/:id').test('/v1/payments/')).toBe(false);
    expect(routePattern('/v1/payments/:id').test('/v1/payments/pay_1/captures')).toBe(false);
    expect(routePattern('/v1/payments').test('/v1/payments/')).toBe(true);
    expect(routePattern('/docs/static/*').test('/docs/static/a/b.js')).toBe(true);
    expect(routePattern('/files/:name(^\\d+).png').test('/files/12.png')).toBe(true);
    expect(routePattern('/files/:name(^\\d+).png').test('/files/ab.png')).toBe(false);
    expect(routePattern('/a::b').test('/a:b')).toBe(true);
  });
});

describe('the not-found handler', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function build(): Promise<FastifyInstance> {
    app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true } });
    app.setNotFoundHandler(notFoundOrMethodNotAllowed(app));
    app.setErrorHandler((error, request, reply) => sendError(reply, error as Error, request));
    await app.register(async (child) => {
      child.get('/v1/payments/:id', async () => ({ ok: true }));
      child.post('/v1/payments', async () => ({ ok: true }));
      child.route({ method: ['POST', 'PATCH'], url: '/v1/things/:id', handler: async () => ({}) });
    });
    await app.ready();
    return app;
  }

  it('answers 405 with Allow for a path served with other methods', async () => {
    const api = await build();
    const byId = await api.inject({ method: 'DELETE', url: '/v1/payments/pay_1?x=1' });
    expect(byId.statusCode).toBe(405);
    expect(byId.headers.allow).toBe('GET, HEAD');
    expect(byId.headers['content-type']).toContain('application/problem+json');
    expect(byId.json()).toMatchObject({
      status: 405,
      code: 'method_not_allowed',
      instance: expect.stringMatching(/^\/v1\/payments\/pay_1#/),
    });
    const collection = await api.inject({ method: 'GET', url: '/v1/payments' });
    expect(collection.statusCode).toBe(405);
    expect(collection.headers.allow).toBe('POST');
    const things = await api.inject({ method: 'PUT', url: '/v1/things/t_1' });
    expect(things.headers.allow).toBe('POST, PATCH');
  });

  it('answers 404 for a path no route has', async () => {
    const api = await build();
    const missing = await api.inject({ method: 'GET', url: '/v1/nothing' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers.allow).toBeUndefined();
    expect(missing.json()).toMatchObject({ code: 'not_found', instance: expect.any(String) });
  });
});
