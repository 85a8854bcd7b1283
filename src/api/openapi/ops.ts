/**
 * The OpenAPI description of the ops resources: manual reviews, what runs
 * later, alerts, the janitor, metrics and the health checks.
 */
import { PAYMENT_STATUSES } from '../../../machines/contract.ts';
import { ResolveReviewBody } from '../../service/reviews.ts';
import { instant, items, json, list, problem, ref, schemaOf } from './shared.ts';

const fields = (description: string) => ({
  type: 'object',
  additionalProperties: true,
  description,
});

/** A review item: its evidence never holds card data or seals. */
const reviewItem = {
  type: 'object',
  required: ['jobId', 'paymentId', 'reason', 'state', 'evidence', 'enqueuedAt'],
  properties: {
    jobId: { type: 'string' },
    paymentId: { type: 'string' },
    version: { type: 'integer' },
    shard: { type: 'integer' },
    reason: { enum: ['seal_mismatch', 'unknown_outcome', 'conflict'] },
    state: { enum: ['open', 'resolved'] },
    enqueuedAt: instant,
    evidence: {
      type: 'object',
      properties: {
        request: fields('The fields sent; card data and seal left out'),
        response: fields('The fields received (untrusted); card data and seal left out'),
        seal: {
          type: 'object',
          description: 'What the seal check found; never a seal, computed or received',
          properties: {
            verified: { type: 'boolean' },
            reason: { enum: ['missing', 'mismatch'] },
            algorithm: { type: 'string', description: 'The seal algorithm checked first' },
          },
        },
        inquiries: { type: 'array', items: fields('A getTransactionData result') },
        note: { type: 'string' },
      },
    },
    resolution: {
      type: 'object',
      description: 'The decision, once resolved',
      properties: {
        action: { enum: ['adopt', 'mark', 'reinquire', 'dismiss'] },
        note: { type: 'string' },
        by: { type: 'string', description: 'The name of the API key that decided' },
        at: instant,
        details: fields(
          '`mark`: `status`, and `confirmed` with what Sips showed (`sips`), or `forced` and `reason`',
        ),
      },
    },
  },
};

export function opsSchemas() {
  return {
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
        runAt: instant,
        subject: { type: 'string', description: 'payment, subscription or plan id' },
        detail: { type: 'string' },
      },
    },
    OpsAlert: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        at: instant,
        kind: {
          enum: [
            'capture_limit_near',
            'capture_limit_reached',
            'janitor_escalated',
            'schedule_failed',
            'reauthorization_failed',
            'reauthorization_in_review',
            'merchant_credentials_invalid',
          ],
        },
        paymentId: { type: 'string' },
        subject: { type: 'string' },
        message: { type: 'string' },
      },
    },
    Merchant: {
      type: 'object',
      required: ['id', 'merchantId', 'baseUrl', 'keyVersion', 'acceptedKeyVersions'],
      properties: {
        id: { type: 'string', description: 'our id of the shop' },
        merchantId: { type: 'string', description: 'the Sips merchantId' },
        baseUrl: { type: 'string' },
        keyVersion: { type: 'string', description: 'the key version calls are sealed with' },
        acceptedKeyVersions: {
          type: 'array',
          items: { type: 'string' },
          description: 'older key versions still accepted on answers (a rotation)',
        },
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
    ReviewItem: reviewItem,
  };
}

const jobId = { name: 'jobId', in: 'path', required: true, schema: { type: 'string' } };

export function reviewPaths() {
  return {
    '/v1/reviews': {
      get: {
        operationId: 'listReviews',
        summary: 'Open manual-review items (ops)',
        security: [{ apiKey: [] }],
        responses: { '200': json('The open items', items('ReviewItem')), '4XX': problem },
      },
    },
    '/v1/reviews/{jobId}': {
      get: {
        operationId: 'getReview',
        summary: 'A review item, open or resolved (ops)',
        security: [{ apiKey: [] }],
        parameters: [jobId],
        responses: { '200': json('The item', ref('ReviewItem')), '4XX': problem },
      },
    },
    '/v1/reviews/{jobId}/resolve': {
      post: {
        operationId: 'resolveReview',
        summary: 'Resolve a review item: adopt, mark, reinquire, dismiss (ops)',
        description:
          "The decision is recorded under the name of the API key; a body naming anyone (`by`) is refused. `mark` first asks Sips (getTransactionData) and applies the status only when Sips' view confirms it: 409 `review_mark_disagrees` says what Sips shows, 503 `review_confirmation_unavailable` when Sips gave no usable answer (send again later). `force: true` with a `reason` marks without that confirmation, recorded as forced on the timeline and in `payment.review_resolved`.",
        security: [{ apiKey: [] }],
        parameters: [jobId],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: schemaOf(ResolveReviewBody) } },
        },
        responses: {
          '200': json('The item and the payment', {
            type: 'object',
            properties: { item: ref('ReviewItem'), payment: ref('Payment') },
          }),
          '4XX': problem,
          '503': problem,
        },
      },
    },
  };
}

/** Scheduled items, alerts and the janitor. */
export function operationPaths() {
  return {
    '/v1/schedules': {
      get: {
        operationId: 'listSchedules',
        ...list(
          'What runs later: timers, inquiries, occurrences, instalments (ops)',
          'ScheduledItem',
        ),
      },
    },
    '/v1/alerts': {
      get: { operationId: 'listAlerts', ...list('Ops alerts, newest first (ops)', 'OpsAlert') },
    },
    '/v1/janitor/runs': {
      post: {
        operationId: 'runJanitor',
        summary: 'Run the janitor now and get its report (ops)',
        security: [{ apiKey: [] }],
        responses: { '200': json('The report', ref('JanitorReport')), '4XX': problem },
      },
    },
    '/v1/merchants': {
      get: {
        operationId: 'listMerchants',
        summary: 'The shops served: ids, merchantIds, platforms, key versions; never keys (ops)',
        security: [{ apiKey: [] }],
        responses: { '200': json('The shops', items('Merchant')), '4XX': problem },
      },
    },
    '/v1/merchants/reload': {
      post: {
        operationId: 'reloadMerchants',
        summary:
          'Read MERCHANTS_FILE again and apply it; 422 names every problem of a refused file (ops)',
        security: [{ apiKey: [] }],
        responses: { '200': json('The shops now served', items('Merchant')), '4XX': problem },
      },
    },
  };
}

/** Metrics and the health checks. */
export function servicePaths() {
  return {
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (ops)',
        security: [{ apiKey: [] }],
        responses: { '200': { description: 'text' }, '4XX': problem },
      },
    },
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Process up',
        security: [],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readiness',
        summary: 'Redis reachable',
        security: [],
        responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
      },
    },
  };
}
