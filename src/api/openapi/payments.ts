/** The OpenAPI description of payments: their commands, the Payment view and their paths. */
import { PAYMENT_STATUSES } from '../../../machines/contract.ts';
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

export function paymentSchema() {
  return {
    type: 'object',
    properties: {
      id: { type: 'string' },
      status: { enum: [...PAYMENT_STATUSES] },
      final: { type: 'boolean' },
      kind: { type: 'string' },
      merchant: {
        type: 'string',
        description: 'our id of the shop (MERCHANTS_FILE), default otherwise',
      },
      amount: { type: 'integer' },
      currency: { type: 'string' },
      captureMode: captureMode(),
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
  };
}

function challenge(summary: string) {
  return {
    post: {
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
      post: create(
        'Create a payment (card, card_3ds, wallet, wallet_3ds, provider)',
        'CreatePayment',
        payment,
      ),
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
        responses: { '201': created(payment), '422': keyReused, '4XX': problem },
      },
    },
    '/v1/payments/{id}/challenge/accept': challenge('Accept a fraud challenge'),
    '/v1/payments/{id}/challenge/refuse': challenge('Refuse a fraud challenge'),
  };
}

/** The browser's 3-D Secure and provider pages. */
export function authenticationPaths() {
  const back = () => ({ '303': { description: 'to the merchant returnUrl' } });
  return {
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
        responses: back(),
      },
    },
    '/v1/payments/{id}/authentication/return': {
      post: {
        summary: 'Browser: merchantReturnUrl receiving redirectionData and messageVersion',
        parameters: [id],
        responses: back(),
      },
    },
  };
}
