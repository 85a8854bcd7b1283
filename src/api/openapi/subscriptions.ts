/** The OpenAPI description of subscriptions: their commands, the Subscription view, their paths. */
import { ChangeSubscriptionCommand, CreateSubscriptionCommand } from '../../schedules/commands.ts';
import { SUBSCRIPTION_STATUSES } from '../../schedules/subscriptions.ts';
import {
  action,
  captureMode,
  create,
  id,
  instant,
  json,
  list,
  merchant,
  problem,
  ref,
  schemaOf,
  versioned,
} from './shared.ts';

export function subscriptionCommandSchemas() {
  return {
    CreateSubscription: schemaOf(CreateSubscriptionCommand),
    ChangeSubscription: schemaOf(ChangeSubscriptionCommand),
  };
}

export function subscriptionSchema() {
  return {
    type: 'object',
    required: [
      ...Object.keys(versioned),
      'status',
      'method',
      'amount',
      'currency',
      'captureMode',
      'captureDay',
      'schedule',
      'anchorAt',
      'retryOnDeclineDays',
      'merchant',
      'firstPaymentId',
      'occurrences',
    ],
    properties: {
      ...versioned,
      createdAt: instant,
      updatedAt: instant,
      status: { enum: [...SUBSCRIPTION_STATUSES] },
      method: { type: 'string' },
      amount: { type: 'integer', description: 'of the next occurrences' },
      currency: { type: 'string' },
      captureMode: captureMode(),
      captureDay: { type: 'integer' },
      schedule: {
        type: 'object',
        properties: {
          intervalMs: { type: 'integer' },
          cron: { type: 'string' },
          timezone: { type: 'string' },
        },
      },
      anchorAt: { ...instant, description: 'when period 0 (the first payment) was made' },
      retryOnDeclineDays: { type: 'array', items: { type: 'integer' } },
      merchant,
      firstPaymentId: { type: 'string' },
      occurrences: {
        type: 'array',
        items: {
          type: 'object',
          required: ['period', 'scheduledAt', 'amount', 'status', 'paymentIds'],
          properties: {
            period: { type: 'integer' },
            scheduledAt: instant,
            amount: { type: 'integer' },
            status: { enum: ['processing', 'paid', 'retrying', 'failed', 'in_review'] },
            paymentIds: { type: 'array', items: { type: 'string' } },
            nextRetryAt: instant,
          },
        },
      },
      nextRunAt: instant,
      reason: { type: 'string' },
    },
  };
}

export function subscriptionPaths() {
  const subscription = json('The subscription', ref('Subscription'));
  return {
    '/v1/subscriptions': {
      post: {
        operationId: 'createSubscription',
        ...create(
          'Create a subscription: the first payment now, then one per interval or cron period',
          'CreateSubscription',
          json('The subscription and its first payment', {
            type: 'object',
            required: ['subscription', 'firstPayment'],
            properties: { subscription: ref('Subscription'), firstPayment: ref('Payment') },
          }),
        ),
      },
      get: {
        operationId: 'listSubscriptions',
        ...list('Subscriptions, newest first', 'Subscription'),
      },
    },
    '/v1/subscriptions/{id}': {
      get: {
        operationId: 'getSubscription',
        ...action('Read a subscription: status, schedule, occurrences, next run', subscription),
      },
      patch: {
        operationId: 'changeSubscription',
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
      post: {
        operationId: 'pauseSubscription',
        ...action('Pause (no payment while paused; idempotent)', subscription),
      },
    },
    '/v1/subscriptions/{id}/resume': {
      post: {
        operationId: 'resumeSubscription',
        ...action('Resume from the next period (missed periods are not charged)', subscription),
      },
    },
    '/v1/subscriptions/{id}/cancel': {
      post: {
        operationId: 'cancelSubscription',
        ...action('Cancel: no further occurrence (idempotent)', subscription),
      },
    },
  };
}
