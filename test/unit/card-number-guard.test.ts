import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { cardNumberGuard } from '../../src/api/card-number-guard.ts';
import { ApiError } from '../../src/api/problems.ts';

const PAN = '4539148803436467';

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A bare instance: one encapsulated route plugin, the guard registered after it (twice). */
async function build(): Promise<{ app: FastifyInstance; calls: () => number }> {
  let handled = 0;
  const instance = Fastify({ logger: false });
  void instance.register(async (child) => {
    child.route({
      method: ['GET', 'POST'],
      url: '/things/:id',
      handler: async () => {
        handled++;
        return { ok: true };
      },
    });
  });
  void instance.register(cardNumberGuard);
  void instance.register(cardNumberGuard);
  instance.setErrorHandler((error, _request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(400).send({ code: error.code, field: error.field, detail: error.message });
    }
    return reply.code(500).send({ message: String(error) });
  });
  await instance.ready();
  app = instance;
  return { app: instance, calls: () => handled };
}

describe('cardNumberGuard', () => {
  it('names the field and never reaches the handler', async () => {
    const { app, calls } = await build();
    const cases: [unknown, string][] = [
      [{ merchant: { metadata: { note: `4539 1488 0343 6467` } } }, 'merchant.metadata.note'],
      [{ items: [{ x: 'a' }, { x: '4539.1488.0343.6467' }] }, 'items.1.x'],
      [{ metadata: { [PAN]: 'x' } }, 'metadata'],
      [{ nested: { card: { number: PAN } } }, 'nested.card.number'],
      [{ card: { number: '4000000000000002', holder: PAN } }, 'card.holder'],
      [[PAN], '0'],
      [JSON.stringify(PAN), '(body)'],
    ];
    for (const [payload, field] of cases) {
      const response = await app.inject({
        method: 'POST',
        url: '/things/1',
        headers: { 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ code: 'invalid_command', field });
      expect(response.json().detail).toMatch(
        / must not (contain a card number|have a card number as a property name)$/,
      );
      expect(response.body).not.toContain(PAN);
    }
    expect(calls()).toBe(0);
  });

  it('reads query and path parameters', async () => {
    const { app } = await build();
    const query = await app.inject({ method: 'GET', url: `/things/1?q=x&r=${PAN}` });
    expect(query.json()).toMatchObject({ field: 'r' });
    expect(query.json().detail).toMatch(/^query parameter r /);
    const path = await app.inject({ method: 'GET', url: `/things/4539-1488-0343-6467` });
    expect(path.json()).toMatchObject({ field: 'id' });
  });

  it('lets the card fields at the top of a body through', async () => {
    const { app, calls } = await build();
    const response = await app.inject({
      method: 'POST',
      url: '/things/1',
      payload: {
        card: { number: '4539 1488 0343 6467', expiry: '203012', csc: '123' },
        n: 4539148803436467,
      },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(calls()).toBe(1);
  });

  it('walks a deeply nested body without running out of stack', async () => {
    const { app } = await build();
    const depth = 20_000;
    const payload = `${'['.repeat(depth)}"${PAN}"${']'.repeat(depth)}`;
    const response = await app.inject({
      method: 'POST',
      url: '/things/1',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    // Fastify's JSON parser may refuse the nesting itself; never a 500.
    expect(response.statusCode).toBe(400);
  });
});

describe('our own ids in a path', () => {
  it('are reachable even when their random digits form a Luhn-valid run', async () => {
    const { app: api, calls } = await build();
    // A subscription id whose token happens to hold a run that passes Luhn.
    for (const id of [`sub_0_${PAN}AB`, `plan_3_X${PAN}`, `pay_0_${PAN}`, `we_${PAN}Z`]) {
      const answer = await api.inject({ method: 'GET', url: `/things/${id}` });
      expect(answer.statusCode, id).toBe(200);
    }
    expect(calls()).toBe(4);
    // A card number that is not one of our ids is still refused.
    const refused = await api.inject({ method: 'GET', url: `/things/x${PAN}` });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ field: 'id' });
  });
});
