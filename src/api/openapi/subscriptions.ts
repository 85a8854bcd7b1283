/** The OpenAPI description of subscriptions: their commands, the Subscription view, their paths. */
import { ChangeSubscriptionCommand, CreateSubscriptionCommand } from '../../schedules/commands.ts';
import { SUBSCRIPTION_STATUSES } from '../../schedules/subscriptions.ts';
import {
  action,
  captureMode,
  create,
  id,
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
    properties: {
      ...versioned,
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
  };
}

export function subscriptionPaths() {
  const subscription = json('The subscription', ref('Subscription'));
  return {
    '/v1/subscriptions': {
      post: create(
        'Create a subscription: the first payment now, then one per interval or cron period',
        'CreateSubscription',
        json('The subscription and its first payment', {
          type: 'object',
          properties: { subscription: ref('Subscription'), firstPayment: ref('Payment') },
        }),
      ),
      get: list('Subscriptions, newest first', 'Subscription'),
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
  };
}
