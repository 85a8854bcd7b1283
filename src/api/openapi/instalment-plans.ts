/** The OpenAPI description of instalment plans: the create command, the plan view, their paths. */
import { CreateInstalmentPlanCommand } from '../../schedules/commands.ts';
import {
  action,
  captureMode,
  create,
  instant,
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
    required: [
      ...Object.keys(versioned),
      'status',
      'method',
      'amount',
      'currency',
      'captureMode',
      'intervalDays',
      'merchant',
      'instalments',
    ],
    properties: {
      ...versioned,
      createdAt: instant,
      updatedAt: instant,
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
          required: [
            'index',
            'amount',
            'date',
            'dueAt',
            'paymentId',
            'transactionReference',
            'status',
          ],
          properties: {
            index: { type: 'integer' },
            amount: { type: 'integer' },
            date: { type: 'string', description: 'YYYYMMDD' },
            dueAt: { ...instant, description: 'when the instalment is taken' },
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
      post: {
        operationId: 'createInstalmentPlan',
        ...create(
          'Create an instalment plan: the first instalment now, the others on their dates',
          'CreateInstalmentPlan',
          json('The plan and its first payment', {
            type: 'object',
            required: ['plan', 'firstPayment'],
            properties: { plan: ref('InstalmentPlan'), firstPayment: ref('Payment') },
          }),
        ),
      },
      get: {
        operationId: 'listInstalmentPlans',
        ...list('Instalment plans, newest first', 'InstalmentPlan'),
      },
    },
    '/v1/instalment-plans/{id}': {
      get: {
        operationId: 'getInstalmentPlan',
        ...action('Read an instalment plan and its instalments', plan),
      },
    },
    '/v1/instalment-plans/{id}/cancel': {
      post: {
        operationId: 'cancelInstalmentPlan',
        ...action('Cancel: instalments not yet due are not taken (idempotent)', plan),
      },
    },
  };
}
