/**
 * The OpenAPI 3.1 document of the HTTP API. Request bodies come from the same
 * zod schemas that parse the commands, so the document and the parser agree.
 */
import { z } from 'zod';
import { API_ERROR_CODES } from './problems.ts';
import { COMMAND_ERROR_CODES } from '../engine/errors.ts';
import { AmountCommand, CreatePaymentCommand, DuplicateCommand } from '../payments/commands.ts';
import { PAYMENT_STATUSES } from '../../machines/contract.ts';
import {
  ChangeSubscriptionCommand,
  CreateInstalmentPlanCommand,
  CreateSubscriptionCommand,
} from '../schedules/commands.ts';
import { SUBSCRIPTION_STATUSES } from '../schedules/subscriptions.ts';
import { MAX_LIST_LIMIT } from './params.ts';

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

const limit = {
  name: 'limit',
  in: 'query',
  required: false,
  schema: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT },
};

const json = (description: string, schema: Record<string, unknown>) => ({
  description,
  content: { 'application/json': { schema } },
});
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const items = (name: string) => ({
  type: 'object',
  properties: { items: { type: 'array', items: ref(name) } },
});

const subscription = json('The subscription', ref('Subscription'));
const plan = json('The instalment plan', ref('InstalmentPlan'));

/** POST /…/{id}/pause and the like: no body, the record as it now is. */
function action(summary: string, answer: Record<string, unknown>) {
  return {
    summary,
    security: [{ apiKey: [] }],
    parameters: [id],
    responses: { '200': answer, '4XX': problem },
  };
}

/** An id-less create with a required Idempotency-Key: 201, or 200 on replay. */
function create(summary: string, body: string, answer: Record<string, unknown>) {
  return {
    summary,
    security: [{ apiKey: [] }],
    parameters: [idempotencyKey(true)],
    requestBody: { required: true, content: { 'application/json': { schema: ref(body) } } },
    responses: { '201': answer, '200': answer, '4XX': problem },
  };
}

const versioned = {
  id: { type: 'string' },
  version: { type: 'integer' },
  createdAt: { type: 'integer', description: 'ms since the epoch' },
  updatedAt: { type: 'integer', description: 'ms since the epoch' },
};

const merchant = {
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    customerId: { type: 'string' },
    customerEmail: { type: 'string' },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

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
        CreateSubscription: schemaOf(CreateSubscriptionCommand),
        ChangeSubscription: schemaOf(ChangeSubscriptionCommand),
        CreateInstalmentPlan: schemaOf(CreateInstalmentPlanCommand),
        Subscription: {
          type: 'object',
          properties: {
            ...versioned,
            status: { enum: [...SUBSCRIPTION_STATUSES] },
            method: { type: 'string' },
            amount: { type: 'integer', description: 'of the next occurrences' },
            currency: { type: 'string' },
            captureMode: { enum: ['author_capture', 'validation'] },
            captureDay: { type: 'integer' },
            schedule: {
              type: 'object',
              properties: {
                intervalMs: { type: 'integer' },
                cron: { type: 'string' },
                timezone: { type: 'string' },
              },
            },
            anchorAt: { type: 'integer', description: 'when period 0 was made (ms)' },
            retryOnDeclineDays: { type: 'array', items: { type: 'integer' } },
            merchant,
            firstPaymentId: { type: 'string' },
            occurrences: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  period: { type: 'integer' },
                  scheduledAt: { type: 'integer' },
                  amount: { type: 'integer' },
                  status: { enum: ['processing', 'paid', 'retrying', 'failed', 'in_review'] },
                  paymentIds: { type: 'array', items: { type: 'string' } },
                  nextRetryAt: { type: 'integer' },
                },
              },
            },
            nextRunAt: { type: 'string', format: 'date-time' },
            reason: { type: 'string' },
          },
        },
        InstalmentPlan: {
          type: 'object',
          properties: {
            ...versioned,
            status: { enum: ['active', 'completed', 'failed', 'cancelled'] },
            method: { enum: ['card', 'card_3ds'] },
            amount: { type: 'integer', description: 'the total' },
            currency: { type: 'string' },
            captureMode: { enum: ['author_capture', 'validation'] },
            intervalDays: { type: 'integer' },
            merchant,
            instalments: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  index: { type: 'integer' },
                  amount: { type: 'integer' },
                  date: { type: 'string', description: 'YYYYMMDD' },
                  dueAt: { type: 'integer' },
                  paymentId: { type: 'string' },
                  transactionReference: { type: 'string' },
                  status: {
                    enum: ['scheduled', 'processing', 'paid', 'declined', 'in_review', 'cancelled'],
                  },
                },
              },
            },
            reason: { type: 'string' },
          },
        },
        ScheduledItem: {
          type: 'object',
          properties: {
            kind: {
              enum: [
                'timer',
                'inquiry',
                'abandon',
                'occurrence',
                'retry',
                'instalment',
                'janitor',
                'other',
              ],
            },
            jobId: { type: 'string' },
            runAt: { type: 'string', format: 'date-time' },
            subject: { type: 'string', description: 'payment, subscription or plan id' },
            detail: { type: 'string' },
          },
        },
        OpsAlert: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            at: { type: 'string', format: 'date-time' },
            kind: {
              enum: [
                'capture_limit_near',
                'capture_limit_reached',
                'janitor_escalated',
                'schedule_failed',
                'reauthorization_failed',
                'reauthorization_in_review',
              ],
            },
            paymentId: { type: 'string' },
            subject: { type: 'string' },
            message: { type: 'string' },
          },
        },
        JanitorReport: {
          type: 'object',
          properties: {
            checked: { type: 'integer' },
            verdicts: { type: 'object', additionalProperties: { type: 'integer' } },
            payments: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  status: { enum: [...PAYMENT_STATUSES] },
                  verdict: { type: 'string' },
                  detail: { type: 'string' },
                },
              },
            },
          },
        },
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
      '/v1/subscriptions': {
        post: create(
          'Create a subscription: the first payment now, then one per interval or cron period',
          'CreateSubscription',
          json('The subscription and its first payment', {
            type: 'object',
            properties: { subscription: ref('Subscription'), firstPayment: ref('Payment') },
          }),
        ),
        get: {
          summary: 'Subscriptions, newest first',
          security: [{ apiKey: [] }],
          parameters: [limit],
          responses: { '200': json('items', items('Subscription')), '4XX': problem },
        },
      },
      '/v1/subscriptions/{id}': {
        get: action('Read a subscription: status, schedule, occurrences, next run', subscription),
        patch: {
          summary: 'Change the amount of the next occurrences',
          security: [{ apiKey: [] }],
          parameters: [id],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('ChangeSubscription') } },
          },
          responses: { '200': subscription, '4XX': problem },
        },
      },
      '/v1/subscriptions/{id}/pause': {
        post: action('Pause (no payment while paused; idempotent)', subscription),
      },
      '/v1/subscriptions/{id}/resume': {
        post: action('Resume from the next period (missed periods are not charged)', subscription),
      },
      '/v1/subscriptions/{id}/cancel': {
        post: action('Cancel: no further occurrence (idempotent)', subscription),
      },
      '/v1/instalment-plans': {
        post: create(
          'Create an instalment plan: the first instalment now, the others on their dates',
          'CreateInstalmentPlan',
          json('The plan and its first payment', {
            type: 'object',
            properties: { plan: ref('InstalmentPlan'), firstPayment: ref('Payment') },
          }),
        ),
        get: {
          summary: 'Instalment plans, newest first',
          security: [{ apiKey: [] }],
          parameters: [limit],
          responses: { '200': json('items', items('InstalmentPlan')), '4XX': problem },
        },
      },
      '/v1/instalment-plans/{id}': {
        get: action('Read an instalment plan and its instalments', plan),
      },
      '/v1/instalment-plans/{id}/cancel': {
        post: action('Cancel: instalments not yet due are not taken (idempotent)', plan),
      },
      '/v1/schedules': {
        get: {
          summary: 'What runs later: timers, inquiries, occurrences, instalments (ops)',
          security: [{ apiKey: [] }],
          parameters: [limit],
          responses: { '200': json('items', items('ScheduledItem')), '4XX': problem },
        },
      },
      '/v1/alerts': {
        get: {
          summary: 'Ops alerts, newest first (ops)',
          security: [{ apiKey: [] }],
          parameters: [limit],
          responses: { '200': json('items', items('OpsAlert')), '4XX': problem },
        },
      },
      '/v1/janitor/runs': {
        post: {
          summary: 'Run the janitor now and get its report (ops)',
          security: [{ apiKey: [] }],
          responses: { '200': json('The report', ref('JanitorReport')), '4XX': problem },
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
