/** The OpenAPI description of payments: their commands, the Payment view and their paths. */
import { PAYMENT_KINDS, PAYMENT_STATUSES } from '../../../machines/contract.ts';
import { AmountCommand, CreatePaymentCommand, DuplicateCommand } from '../../payments/commands.ts';
import {
  accepted,
  captureMode,
  command,
  create,
  created,
  id,
  idempotencyKey,
  instant,
  keyReused,
  payment,
  problem,
  schemaOf,
} from './shared.ts';

/** The request bodies of the payment commands, from the schemas that parse them. */
export function paymentCommandSchemas() {
  return {
    CreatePayment: schemaOf(CreatePaymentCommand),
    Amount: schemaOf(AmountCommand),
    Duplicate: schemaOf(DuplicateCommand),
  };
}

/** The fields a payment holds in listings too (src/service/payment-search.ts `PaymentSummary`). */
export const PAYMENT_SUMMARY_REQUIRED = [
  'id',
  'status',
  'final',
  'kind',
  'merchant',
  'amount',
  'currency',
  'captureMode',
  'amounts',
  'transactionReference',
  'createdAt',
  'updatedAt',
];

/** The fields every payment answer holds (src/service/views.ts `PaymentView`). */
const PAYMENT_REQUIRED = [
  ...PAYMENT_SUMMARY_REQUIRED,
  'facts',
  'version',
  'timeline',
  'operations',
];

/** A payment's amounts, in minor units. */
export const amountsSchema = () => ({
  type: 'object',
  required: ['authorized', 'captured', 'cancelled', 'refunded'],
  properties: {
    authorized: { type: 'integer' },
    captured: { type: 'integer' },
    cancelled: { type: 'integer' },
    refunded: { type: 'integer' },
  },
});

/** A capture, cancellation or refund (src/service/operations-views.ts `OperationView`). */
export function operationSchema() {
  return {
    type: 'object',
    required: ['id', 'paymentId', 'type', 'amount', 'currency', 'status', 'performedAs'],
    properties: {
      id: { type: 'string', description: '`cap_…`, `cnl_…` or `ref_…`' },
      paymentId: { type: 'string' },
      type: { enum: ['capture', 'cancel', 'refund'] },
      amount: { type: 'integer', description: 'Minor units' },
      currency: { type: 'string' },
      status: {
        enum: ['pending', 'held', 'succeeded', 'failed'],
        description:
          'pending: in flight or being established; held: a refund waiting for Sips to remit the payment (REFUND_BEFORE_REMITTANCE=hold)',
      },
      performedAs: {
        enum: ['capture', 'cancel', 'refund'],
        description:
          'The Sips operation that carries it out: a refund before remittance is a cancel of that amount',
      },
      failure: {
        type: 'object',
        required: ['reason'],
        properties: {
          reason: {
            type: 'string',
            description: 'declined, invalid_request, sips_unavailable or not_done',
          },
          responseCode: { type: 'string' },
        },
      },
      createdAt: instant,
    },
  };
}

const operation = {
  description: 'The capture, cancellation or refund',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Operation' } } },
};

const operationList = {
  description: 'The resources of this kind on the payment, oldest first',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['data'],
        properties: { data: { type: 'array', items: { $ref: '#/components/schemas/Operation' } } },
      },
    },
  },
};

const operationId = {
  name: 'operationId',
  in: 'path',
  required: true,
  schema: { type: 'string' },
};

/** A command that makes a resource: POST it, list them, read one. */
function commandResourcePaths(
  path: 'captures' | 'cancellations' | 'refunds',
  names: { post: string; list: string; get: string },
  summary: string,
  description?: string,
) {
  const posted = command(summary, 'Amount', false);
  const answer = accepted(payment) as { headers?: Record<string, unknown> };
  return {
    [`/v1/payments/{id}/${path}`]: {
      post: {
        operationId: names.post,
        ...posted,
        ...(description === undefined ? {} : { description }),
        responses: {
          ...posted.responses,
          '202': {
            ...answer,
            headers: {
              ...answer.headers,
              Location: {
                description: `/v1/payments/{id}/${path}/{operationId}: the resource this command made`,
                schema: { type: 'string' },
              },
            },
          },
        },
      },
      get: {
        operationId: names.list,
        summary: `The payment's ${path}`,
        security: [{ apiKey: [] }],
        parameters: [id],
        responses: { '200': operationList, '4XX': problem },
      },
    },
    [`/v1/payments/{id}/${path}/{operationId}`]: {
      get: {
        operationId: names.get,
        summary: `One of the payment's ${path}`,
        security: [{ apiKey: [] }],
        parameters: [id, operationId],
        responses: { '200': operation, '4XX': problem },
      },
    },
  };
}

export function paymentSchema() {
  return {
    type: 'object',
    required: PAYMENT_REQUIRED,
    properties: {
      id: { type: 'string' },
      status: { enum: [...PAYMENT_STATUSES] },
      final: { type: 'boolean' },
      kind: { enum: [...PAYMENT_KINDS] },
      merchant: {
        type: 'string',
        description: 'our id of the shop (MERCHANTS_FILE), default otherwise',
      },
      amount: { type: 'integer' },
      currency: { type: 'string' },
      captureMode: captureMode(),
      amounts: amountsSchema(),
      transactionReference: { type: 'string' },
      maskedPan: { type: 'string' },
      authorisationId: { type: 'string' },
      redirection: {
        type: 'object',
        description: 'Where the customer is sent to authenticate, while the payment waits for it',
        properties: {
          url: { type: 'string' },
          paReq: { type: 'string', description: '3-D Secure v1: PaReq, TermUrl and MD are posted' },
          redirectionData: { type: 'string' },
          messageVersion: { type: 'string' },
        },
      },
      returnUrl: { type: 'string' },
      challenged: {
        const: true,
        description: 'Held for a fraud check: POST challenge/accept or challenge/refuse',
      },
      facts: { type: 'object', additionalProperties: { type: 'string' } },
      version: { type: 'integer' },
      createdAt: instant,
      updatedAt: instant,
      operations: {
        type: 'array',
        description: 'The captures, cancellations and refunds asked for, oldest first',
        items: { $ref: '#/components/schemas/Operation' },
      },
      timeline: {
        type: 'array',
        items: {
          type: 'object',
          required: ['at', 'kind'],
          properties: {
            at: instant,
            kind: { type: 'string' },
            detail: { type: 'object', additionalProperties: true },
          },
        },
      },
    },
  };
}

function challenge(operationId: string, summary: string) {
  return {
    post: {
      operationId,
      summary,
      security: [{ apiKey: [] }],
      parameters: [id, idempotencyKey(false)],
      responses: { '202': accepted(payment), '422': keyReused, '4XX': problem },
    },
  };
}

export function paymentPaths() {
  return {
    '/v1/payments': {
      post: {
        operationId: 'createPayment',
        ...create(
          'Create a payment (card, card_3ds, wallet, wallet_3ds, provider)',
          'CreatePayment',
          payment,
        ),
      },
    },
    '/v1/payments/{id}': {
      get: {
        operationId: 'getPayment',
        summary: 'Read a payment: status, amounts, timeline',
        security: [{ apiKey: [] }],
        parameters: [id],
        responses: { '200': payment, '4XX': problem },
      },
    },
    ...commandResourcePaths(
      'captures',
      { post: 'capturePayment', list: 'listCaptures', get: 'getCapture' },
      'Capture (VALIDATION mode, partial allowed)',
    ),
    ...commandResourcePaths(
      'cancellations',
      { post: 'cancelPayment', list: 'listCancellations', get: 'getCancellation' },
      'Cancel, partially or totally',
    ),
    ...commandResourcePaths(
      'refunds',
      { post: 'refundPayment', list: 'listRefunds', get: 'getRefund' },
      'Refund, partially, several times',
      'Works whatever Sips remitted: before remittance (Sips holds the money TO_CAPTURE) the refund is carried out by a cancel of that amount (`performedAs: cancel`), or held until remittance (REFUND_BEFORE_REMITTANCE=hold); after, by a Sips refund.',
    ),
    '/v1/payments/{id}/duplicates': {
      post: {
        operationId: 'duplicatePayment',
        ...command('A new payment from this one (RECURRING_N)', 'Duplicate', true),
        responses: { '201': created(payment), '422': keyReused, '4XX': problem },
      },
    },
    '/v1/payments/{id}/challenge/accept': challenge(
      'acceptPaymentChallenge',
      'Accept a fraud challenge',
    ),
    '/v1/payments/{id}/challenge/refuse': challenge(
      'refusePaymentChallenge',
      'Refuse a fraud challenge',
    ),
  };
}

/** The browser's 3-D Secure and provider pages. */
export function authenticationPaths() {
  const back = () => ({ '303': { description: 'to the merchant returnUrl' }, '4XX': problem });
  return {
    '/v1/payments/{id}/authentication': {
      get: {
        operationId: 'authenticationPage',
        summary: 'Browser: the auto-submitting form to the ACS or the provider',
        security: [],
        parameters: [id],
        responses: {
          '200': { description: 'HTML' },
          '409': { description: 'HTML: no authentication is pending' },
          '4XX': problem,
        },
      },
    },
    '/v1/payments/{id}/authentication/term': {
      post: {
        operationId: 'authenticationTerm',
        summary: 'Browser: TermUrl receiving PaRes and MD',
        security: [],
        parameters: [id],
        responses: back(),
      },
    },
    '/v1/payments/{id}/authentication/return': {
      post: {
        operationId: 'authenticationReturn',
        summary: 'Browser: merchantReturnUrl receiving redirectionData and messageVersion',
        security: [],
        parameters: [id],
        responses: back(),
      },
    },
  };
}
