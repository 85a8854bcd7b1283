/**
 * The OpenAPI description of searching and exporting payments, and of the
 * daily reconciliation report.
 */
import { PAYMENT_STATUSES } from '../../../machines/contract.ts';
import { CSV_COLUMNS } from '../../service/payment-export.ts';
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT } from '../../service/payment-search.ts';
import { amountsSchema, PAYMENT_SUMMARY_REQUIRED } from './payments.ts';
import { captureMode, instant, json, problem, ref, type Json } from './shared.ts';

const query = (name: string, description: string, schema: Json = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const filters = [
  query(
    'status',
    `Statuses, joined by commas: ${PAYMENT_STATUSES.join(', ')}. Checked on the records.`,
  ),
  query(
    'merchant',
    "Our id of the shop. A key bound to merchants may name only its own (another is 400 with `field` `merchant`); without it, the key's shops.",
  ),
  query('createdFrom', 'Created at or after (RFC 3339)', instant),
  query('createdTo', 'Created before (RFC 3339, exclusive)', {
    type: 'string',
    format: 'date-time',
  }),
  query('orderId', "The merchant's order id, exactly"),
  query('customerId', "The merchant's customer id (`customer.id` of the create), exactly"),
];

export function paymentSearchSchemas() {
  return {
    PaymentSummary: {
      type: 'object',
      description: 'A payment as listings show it: no timeline, no card data.',
      required: PAYMENT_SUMMARY_REQUIRED,
      properties: {
        id: { type: 'string' },
        status: { enum: [...PAYMENT_STATUSES] },
        final: { type: 'boolean' },
        kind: { type: 'string' },
        merchant: { type: 'string', description: 'our id of the shop' },
        orderId: { type: 'string' },
        customerId: { type: 'string' },
        amount: { type: 'integer', description: 'minor units' },
        currency: { type: 'string', description: 'ISO 4217 numeric' },
        captureMode: captureMode(),
        amounts: amountsSchema(),
        transactionReference: { type: 'string' },
        maskedPan: { type: 'string' },
        lastResponseCode: {
          type: 'string',
          description:
            "The responseCode of Sips' last answer about the payment that was not a success; absent when every answer was 00",
        },
        createdAt: instant,
        updatedAt: instant,
      },
    },
    PaymentPage: {
      type: 'object',
      required: ['data', 'nextCursor'],
      properties: {
        data: { type: 'array', items: ref('PaymentSummary') },
        nextCursor: {
          type: ['string', 'null'],
          description: 'Send it back as `cursor` for the next page; null when there is no more',
        },
      },
    },
    ReconciliationReport: {
      type: 'object',
      required: [
        'date',
        'generatedAt',
        'payments',
        'compared',
        'totals',
        'mismatches',
        'unavailable',
      ],
      properties: {
        date: { type: 'string', format: 'date' },
        generatedAt: instant,
        payments: { type: 'integer', description: 'payments created that day (UTC)' },
        compared: { type: 'integer', description: 'of them, those Sips answered about' },
        totals: {
          type: 'array',
          items: {
            type: 'object',
            required: ['currency', 'payments', 'ours', 'sips'],
            properties: {
              currency: { type: 'string' },
              payments: { type: 'integer' },
              ours: amountsSchema(),
              sips: { ...amountsSchema(), description: 'over the payments Sips answered about' },
            },
          },
        },
        mismatches: {
          type: 'array',
          items: {
            type: 'object',
            required: ['paymentId', 'merchant', 'currency', 'field', 'ours', 'sips'],
            properties: {
              paymentId: { type: 'string' },
              merchant: { type: 'string' },
              currency: { type: 'string' },
              field: { enum: ['authorized', 'captured', 'cancelled', 'refunded'] },
              ours: { type: 'integer' },
              sips: { type: 'integer' },
            },
          },
        },
        unavailable: {
          type: 'array',
          description: 'payments Sips gave no usable answer about: run the report again later',
          items: {
            type: 'object',
            required: ['paymentId', 'detail'],
            properties: { paymentId: { type: 'string' }, detail: { type: 'string' } },
          },
        },
      },
    },
  };
}

function searchOperation() {
  return {
    operationId: 'searchPayments',
    summary: 'Payments, newest first, by filters',
    description:
      "Newest first (creation time, then id). A key bound to merchants finds only its shops' payments. `status`, `orderId` and `customerId` are checked on the records, and a page examines a bounded number of payments: with such filters a page may hold fewer than `limit` payments while `nextCursor` is not null.",
    security: [{ apiKey: [] }],
    parameters: [
      ...filters,
      query('limit', `Payments per page (default ${DEFAULT_SEARCH_LIMIT})`, {
        type: 'integer',
        minimum: 1,
        maximum: MAX_SEARCH_LIMIT,
      }),
      query('cursor', "The previous page's `nextCursor`"),
    ],
    responses: { '200': json('A page', ref('PaymentPage')), '4XX': problem },
  };
}

/** Adds `GET /v1/payments` to the paths of the payments (which hold its POST). */
export function withPaymentSearch(paths: Record<string, Json>): Record<string, Json> {
  return {
    ...paths,
    '/v1/payments': { ...paths['/v1/payments'], get: searchOperation() },
    '/v1/payments/export': {
      get: {
        operationId: 'exportPayments',
        summary: 'Every payment matching the filters, as CSV or JSON Lines',
        description: `Streamed, newest first, with the search's filters (no \`limit\` or \`cursor\`). CSV columns: ${CSV_COLUMNS.join(', ')}; amounts in minor units. JSON Lines: one PaymentSummary per line.`,
        security: [{ apiKey: [] }],
        parameters: [
          query('format', 'csv (default) or jsonl', { enum: ['csv', 'jsonl'] }),
          ...filters,
        ],
        responses: {
          '200': {
            description: 'The export',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/jsonl': { schema: { type: 'string' } },
            },
          },
          '4XX': problem,
        },
      },
    },
  };
}

export function reconciliationPaths() {
  return {
    '/v1/reconciliation/{date}': {
      get: {
        operationId: 'getReconciliation',
        summary: "A UTC day's payments against what Sips holds for them (ops)",
        description:
          'For the payments created that day (UTC): our authorised, captured, cancelled and refunded amounts against those of the transaction as Sips holds it (getTransactionData), totals per currency, and every difference. Only reads; a key bound to merchants gets the report of its shops.',
        security: [{ apiKey: [] }],
        parameters: [
          {
            name: 'date',
            in: 'path',
            required: true,
            schema: { type: 'string', format: 'date' },
            description: 'YYYY-MM-DD',
          },
        ],
        responses: {
          '200': json('The report', ref('ReconciliationReport')),
          '4XX': problem,
        },
      },
    },
  };
}
