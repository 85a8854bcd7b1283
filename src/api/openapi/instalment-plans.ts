/** The OpenAPI description of instalment plans: the create command, the plan view, their paths. */
import { CreateInstalmentPlanCommand } from '../../schedules/commands.ts';
import {
  action,
  captureMode,
  create,
  json,
  list,
  merchant,
  ref,
  schemaOf,
  versioned,
} from './shared.ts';

export function instalmentPlanCommandSchemas() {
  return { CreateInstalmentPlan: schemaOf(CreateInstalmentPlanCommand) };
}

export function instalmentPlanSchema() {
  return {
    type: 'object',
    properties: {
      ...versioned,
      status: { enum: ['active', 'completed', 'failed', 'cancelled'] },
      method: { enum: ['card', 'card_3ds'] },
      amount: { type: 'integer', description: 'the total' },
      currency: { type: 'string' },
      captureMode: captureMode(),
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
  };
}

export function instalmentPlanPaths() {
  const plan = json('The instalment plan', ref('InstalmentPlan'));
  return {
    '/v1/instalment-plans': {
      post: create(
        'Create an instalment plan: the first instalment now, the others on their dates',
        'CreateInstalmentPlan',
        json('The plan and its first payment', {
          type: 'object',
          properties: { plan: ref('InstalmentPlan'), firstPayment: ref('Payment') },
        }),
      ),
      get: list('Instalment plans, newest first', 'InstalmentPlan'),
    },
    '/v1/instalment-plans/{id}': {
      get: action('Read an instalment plan and its instalments', plan),
    },
    '/v1/instalment-plans/{id}/cancel': {
      post: action('Cancel: instalments not yet due are not taken (idempotent)', plan),
    },
  };
}
