/** Pieces of the OpenAPI document shared by the resources: parameters, answers, schema helpers. */
import { z } from 'zod';
import { MAX_LIST_LIMIT } from '../params.ts';

export type Json = Record<string, unknown>;

/** A zod schema as the JSON Schema of what a caller sends. */
export function schemaOf(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  delete json.$schema;
  return json;
}

export const problem = {
  description: 'application/problem+json with a stable `code`',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

export const payment = {
  description: 'The payment',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Payment' } } },
};

export const idempotencyKey = (required: boolean) => ({
  name: 'Idempotency-Key',
  in: 'header',
  required,
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]{1,255}$' },
  description:
    '1 to 255 visible ASCII characters (0x21-0x7E); otherwise 400 invalid_idempotency_key. ' +
    "Same key and body: the first answer's status again, with Idempotent-Replayed: true and the resource as it now is; " +
    'same key, other body: 422 idempotency_key_reused; while the first request still runs: 409 request_in_progress. ' +
    "A create's key is remembered for IDEMPOTENCY_KEY_TTL (24 h by default); a command's key for as long as its payment.",
});

/** Set on the answer to a replay: the same key and body as an earlier request. */
const replayedHeader = {
  'Idempotent-Replayed': {
    description:
      '`true` when this answers again a request made before with the same Idempotency-Key',
    schema: { const: 'true' },
  },
};

/** A 201 of a create: the new resource, where it lives, and whether this is a replay. */
export const created = (answer: Json) => ({
  ...answer,
  headers: {
    Location: {
      description: 'the path of the new resource (for a duplicate: the new payment)',
      schema: { type: 'string' },
    },
    ...replayedHeader,
  },
});

/** A 202 of a command on a payment: whether this is a replay. */
export const accepted = (answer: Json) => ({ ...answer, headers: { ...replayedHeader } });

/** 422: the Idempotency-Key was used for another request. */
export const keyReused = {
  ...problem,
  description: 'idempotency_key_reused: the Idempotency-Key was used for another request',
};

/** An instant: RFC 3339, UTC. */
export const instant = { type: 'string', format: 'date-time' } as const;

export const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

export const limit = {
  name: 'limit',
  in: 'query',
  required: false,
  schema: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT },
};

export const json = (description: string, schema: Json) => ({
  description,
  content: { 'application/json': { schema } },
});
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const items = (name: string) => ({
  type: 'object',
  required: ['items'],
  properties: { items: { type: 'array', items: ref(name) } },
});

/** POST /…/{id}/pause and the like: no body, the record as it now is. */
export function action(summary: string, answer: Json) {
  return {
    summary,
    security: [{ apiKey: [] }],
    parameters: [id],
    responses: { '200': answer, '4XX': problem },
  };
}

/**
 * An id-less create with a required Idempotency-Key: 201 with `Location`, a
 * replay 201 too with `Idempotent-Replayed: true`; 422 for a key reused.
 */
export function create(summary: string, body: string, answer: Json) {
  return {
    summary,
    security: [{ apiKey: [] }],
    parameters: [idempotencyKey(true)],
    requestBody: { required: true, content: { 'application/json': { schema: ref(body) } } },
    responses: { '201': created(answer), '422': keyReused, '4XX': problem },
  };
}

/** A command on one payment: its body, 202 with the payment (a replay too, marked). */
export function command(summary: string, body: string, required: boolean) {
  return {
    summary,
    security: [{ apiKey: [] }],
    parameters: [id, idempotencyKey(required)],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${body}` } } },
    },
    responses: { '202': accepted(payment), '422': keyReused, '4XX': problem },
  };
}

/** A list read by `?limit=`. */
export function list(summary: string, item: string) {
  return {
    summary,
    security: [{ apiKey: [] }],
    parameters: [limit],
    responses: { '200': json('items', items(item)), '4XX': problem },
  };
}

/** The fields of every versioned record of the schedules layer. */
export const versioned = {
  id: { type: 'string' },
  version: { type: 'integer' },
  createdAt: instant,
  updatedAt: instant,
};

export const merchant = {
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    customerId: { type: 'string' },
    customerEmail: { type: 'string' },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

/** A new object on each use: the YAML rendering writes a shared object as an anchor. */
export const captureMode = () => ({ enum: ['author_capture', 'validation'] });
