/**
 * The OpenAPI 3.1 document of the HTTP API. Request bodies come from the same
 * zod schemas that parse the commands, so the document and the parser agree.
 */
import { z } from 'zod';
import { API_ERROR_CODES } from './problems.ts';
import { COMMAND_ERROR_CODES } from '../engine/errors.ts';
import { AmountCommand, CreatePaymentCommand, DuplicateCommand } from '../payments/commands.ts';
import { PAYMENT_STATUSES } from '../../machines/contract.ts';

function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete json.$schema;
  return json;
}

const problem = {
  description: 'application/problem+json with a stable `code`',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

const payment = {
  description: 'The payment',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Payment' } } },
};

const idempotencyKey = (required: boolean) => ({
  name: 'Idempotency-Key',
  in: 'header',
  required,
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description:
    'Same key and body: the same answer; same key, other body: 409 idempotency_conflict.',
});

const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

function command(summary: string, body: string, required: boolean) {
  return {
    summary,
    security: [{ apiKey: [] }],
    parameters: [id, idempotencyKey(required)],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${body}` } } },
    },
    responses: { '202': payment, '4XX': problem },
  };
}

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'sogenactif-orchestrator',
      version: '0.1.0',
      description:
        'Payment commands for the Sogenactif Office Server JSON API (Worldline Sips 2.0). Amounts are integer minor units.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
      schemas: {
        CreatePayment: schemaOf(CreatePaymentCommand),
        Amount: schemaOf(AmountCommand),
        Duplicate: schemaOf(DuplicateCommand),
        Payment: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            status: { enum: [...PAYMENT_STATUSES] },
            final: { type: 'boolean' },
            kind: { type: 'string' },
            amount: { type: 'integer' },
            currency: { type: 'string' },
            captureMode: { enum: ['author_capture', 'validation'] },
            amounts: {
              type: 'object',
              properties: {
                authorized: { type: 'integer' },
                captured: { type: 'integer' },
                cancelled: { type: 'integer' },
                refunded: { type: 'integer' },
              },
            },
            transactionReference: { type: 'string' },
            maskedPan: { type: 'string' },
            authorisationId: { type: 'string' },
            redirection: { type: 'object' },
            returnUrl: { type: 'string' },
            challenged: {
              const: true,
              description: 'Held for a fraud check: POST challenge/accept or challenge/refuse',
            },
            facts: { type: 'object', additionalProperties: { type: 'string' } },
            version: { type: 'integer' },
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
            timeline: { type: 'array', items: { type: 'object' } },
          },
        },
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code', 'detail'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            code: { enum: [...Object.keys(COMMAND_ERROR_CODES), ...Object.keys(API_ERROR_CODES)] },
            detail: { type: 'string' },
            field: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/v1/payments': {
        post: {
          summary: 'Create a payment (card, card_3ds, wallet, wallet_3ds, provider)',
          security: [{ apiKey: [] }],
          parameters: [idempotencyKey(true)],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/CreatePayment' } },
            },
          },
          responses: { '201': payment, '200': payment, '4XX': problem },
        },
      },
      '/v1/payments/{id}': {
        get: {
          summary: 'Read a payment: status, amounts, timeline',
          security: [{ apiKey: [] }],
          parameters: [id],
          responses: { '200': payment, '4XX': problem },
        },
      },
      '/v1/payments/{id}/captures': {
        post: command('Capture (VALIDATION mode, partial allowed)', 'Amount', false),
      },
      '/v1/payments/{id}/cancellations': {
        post: command('Cancel, partially or totally', 'Amount', false),
      },
      '/v1/payments/{id}/refunds': {
        post: command('Refund, partially, several times', 'Amount', false),
      },
      '/v1/payments/{id}/duplicates': {
        post: {
          ...command('A new payment from this one (RECURRING_N)', 'Duplicate', true),
          responses: { '201': payment, '200': payment, '4XX': problem },
        },
      },
      '/v1/payments/{id}/challenge/accept': {
        post: {
          summary: 'Accept a fraud challenge',
          security: [{ apiKey: [] }],
          parameters: [id],
          responses: { '202': payment, '4XX': problem },
        },
      },
      '/v1/payments/{id}/challenge/refuse': {
        post: {
          summary: 'Refuse a fraud challenge',
          security: [{ apiKey: [] }],
          parameters: [id],
          responses: { '202': payment, '4XX': problem },
        },
      },
      '/v1/payments/{id}/authentication': {
        get: {
          summary: 'Browser: the auto-submitting form to the ACS or the provider',
          parameters: [id],
          responses: { '200': { description: 'HTML' } },
        },
      },
      '/v1/payments/{id}/authentication/term': {
        post: {
          summary: 'Browser: TermUrl receiving PaRes and MD',
          parameters: [id],
          responses: { '303': { description: 'to the merchant returnUrl' } },
        },
      },
      '/v1/payments/{id}/authentication/return': {
        post: {
          summary: 'Browser: merchantReturnUrl receiving redirectionData and messageVersion',
          parameters: [id],
          responses: { '303': { description: 'to the merchant returnUrl' } },
        },
      },
      '/v1/reviews': {
        get: {
          summary: 'Open manual-review items (ops)',
          security: [{ apiKey: [] }],
          responses: { '200': { description: 'items' } },
        },
      },
      '/v1/reviews/{jobId}/resolve': {
        post: {
          summary: 'Resolve a review item: adopt, mark, reinquire, dismiss (ops)',
          security: [{ apiKey: [] }],
          responses: { '200': { description: 'item and payment' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (ops)',
          security: [{ apiKey: [] }],
          responses: { '200': { description: 'text' } },
        },
      },
      '/healthz': { get: { summary: 'Process up', responses: { '200': { description: 'ok' } } } },
      '/readyz': {
        get: {
          summary: 'Redis reachable',
          responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
        },
      },
    },
  };
}
