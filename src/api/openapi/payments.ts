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

/** The fields every payment answer holds (src/service/views.ts `PaymentView`). */
const PAYMENT_REQUIRED = [
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
  'facts',
  'version',
  'createdAt',
  'updatedAt',
  'timeline',
];

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
      amounts: {
        type: 'object',
        required: ['authorized', 'captured', 'cancelled', 'refunded'],
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
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      timeline: {
        type: 'array',
        items: {
          type: 'object',
          required: ['at', 'kind'],
          properties: {
            at: { type: 'string', format: 'date-time' },
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
    '/v1/payments/{id}/captures': {
      post: {
        operationId: 'capturePayment',
        ...command('Capture (VALIDATION mode, partial allowed)', 'Amount', false),
      },
    },
    '/v1/payments/{id}/cancellations': {
      post: {
        operationId: 'cancelPayment',
        ...command('Cancel, partially or totally', 'Amount', false),
      },
    },
    '/v1/payments/{id}/refunds': {
      post: {
        operationId: 'refundPayment',
        ...command('Refund, partially, several times', 'Amount', false),
      },
    },
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
