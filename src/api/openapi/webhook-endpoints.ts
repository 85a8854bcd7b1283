/** The OpenAPI description of webhook endpoints, their delivery log and replay. */
import { EVENT_TYPES } from '../../payments/event-catalogue.ts';
import {
  ChangeEndpoint,
  CreateEndpoint,
  Replay,
  RotateSecret,
} from '../../webhooks/endpoint-input.ts';
import { id, instant, items, json, problem, ref, schemaOf, type Json } from './shared.ts';

const secured = { security: [{ apiKey: [] }] };
const body = (name: string, required = true) => ({
  required,
  content: { 'application/json': { schema: ref(name) } },
});

export function webhookEndpointSchemas(): Record<string, Json> {
  const endpoint = {
    type: 'object',
    required: ['id', 'merchant', 'url', 'eventTypes', 'enabled', 'createdAt', 'updatedAt'],
    properties: {
      id: { type: 'string', pattern: '^we_[A-Za-z0-9]+$' },
      merchant: { type: 'string' },
      url: { type: 'string', format: 'uri' },
      eventTypes: {
        type: 'array',
        items: { enum: ['*', ...EVENT_TYPES] },
        description: '`["*"]`: every event type',
      },
      enabled: { type: 'boolean' },
      description: { type: 'string' },
      disabledReason: {
        enum: ['gone', 'failing'],
        description: 'why delivery stopped on its own: 410 Gone, or failing for too long',
      },
      failingSince: { ...instant, description: 'the first failed attempt since the last delivery' },
      previousSecretExpiresAt: {
        ...instant,
        description: 'while a rotation overlaps: until when the replaced secret still signs',
      },
      createdAt: instant,
      updatedAt: instant,
    },
  };
  const withSecret = {
    allOf: [
      ref('WebhookEndpoint'),
      {
        type: 'object',
        required: ['secret'],
        properties: {
          secret: {
            type: 'string',
            pattern: '^whsec_',
            description: 'the signing secret, shown only in this answer',
          },
        },
      },
    ],
  };
  const delivery = {
    type: 'object',
    required: [
      'messageId',
      'eventType',
      'subject',
      'sequence',
      'status',
      'createdAt',
      'attemptCount',
      'attempts',
    ],
    properties: {
      messageId: { type: 'string', description: 'the `webhook-id` header: the event id' },
      eventType: { type: 'string' },
      subject: { type: 'string' },
      sequence: { type: 'integer' },
      status: { enum: ['pending', 'delivered', 'failed'] },
      createdAt: instant,
      attemptCount: { type: 'integer' },
      attempts: {
        type: 'array',
        items: {
          type: 'object',
          required: ['at', 'durationMs'],
          properties: {
            at: instant,
            durationMs: { type: 'integer' },
            statusCode: { type: 'integer' },
            error: { type: 'string' },
            responseBody: { type: 'string', description: 'truncated' },
          },
        },
      },
      nextAttemptAt: instant,
      deliveredAt: instant,
      failedReason: {
        enum: ['retries_exhausted', 'gone', 'endpoint_disabled', 'endpoint_deleted'],
      },
    },
  };
  return {
    CreateWebhookEndpoint: schemaOf(CreateEndpoint),
    ChangeWebhookEndpoint: schemaOf(ChangeEndpoint),
    RotateWebhookSecret: schemaOf(RotateSecret),
    ReplayWebhookMessages: schemaOf(Replay),
    WebhookEndpoint: endpoint,
    WebhookEndpointWithSecret: withSecret,
    WebhookDelivery: delivery,
  };
}

export function webhookEndpointPaths() {
  const messageId = { name: 'messageId', in: 'path', required: true, schema: { type: 'string' } };
  return {
    '/v1/webhook-endpoints': {
      post: {
        operationId: 'createWebhookEndpoint',
        summary: 'Add an endpoint; the answer shows its signing secret once',
        ...secured,
        requestBody: body('CreateWebhookEndpoint'),
        responses: {
          '201': {
            ...json('The endpoint and its secret', ref('WebhookEndpointWithSecret')),
            headers: { Location: { schema: { type: 'string' } } },
          },
          '4XX': problem,
        },
      },
      get: {
        operationId: 'listWebhookEndpoints',
        summary: "The key's merchants' endpoints",
        ...secured,
        responses: { '200': json('items', items('WebhookEndpoint')), '4XX': problem },
      },
    },
    '/v1/webhook-endpoints/{id}': {
      get: {
        operationId: 'getWebhookEndpoint',
        summary: 'One endpoint',
        ...secured,
        parameters: [id],
        responses: { '200': json('The endpoint', ref('WebhookEndpoint')), '4XX': problem },
      },
      patch: {
        operationId: 'changeWebhookEndpoint',
        summary: 'Change its url, event types, description, or enable / disable it',
        ...secured,
        parameters: [id],
        requestBody: body('ChangeWebhookEndpoint'),
        responses: { '200': json('The endpoint', ref('WebhookEndpoint')), '4XX': problem },
      },
      delete: {
        operationId: 'deleteWebhookEndpoint',
        summary: 'Remove it; messages still pending fail as endpoint_deleted',
        ...secured,
        parameters: [id],
        responses: { '204': { description: 'Removed' }, '4XX': problem },
      },
    },
    '/v1/webhook-endpoints/{id}/rotate-secret': {
      post: {
        operationId: 'rotateWebhookSecret',
        summary: 'A new signing secret; the old one keeps signing beside it during the overlap',
        ...secured,
        parameters: [id],
        requestBody: body('RotateWebhookSecret', false),
        responses: {
          '200': json('The endpoint and its new secret', ref('WebhookEndpointWithSecret')),
          '4XX': problem,
        },
      },
    },
    '/v1/webhook-endpoints/{id}/deliveries': {
      get: {
        operationId: 'listWebhookDeliveries',
        summary: 'The delivery log, newest first',
        ...secured,
        parameters: [
          id,
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 500 },
          },
          {
            name: 'before',
            in: 'query',
            required: false,
            schema: instant,
            description: 'the next page: messages created before it',
          },
        ],
        responses: { '200': json('items', items('WebhookDelivery')), '4XX': problem },
      },
    },
    '/v1/webhook-endpoints/{id}/deliveries/{messageId}/replay': {
      post: {
        operationId: 'replayWebhookMessage',
        summary: 'Send one message again (new attempts, the same webhook-id)',
        ...secured,
        parameters: [id, messageId],
        responses: {
          '202': json('The message, pending again', ref('WebhookDelivery')),
          '4XX': problem,
        },
      },
    },
    '/v1/webhook-endpoints/{id}/replay': {
      post: {
        operationId: 'replayWebhookMessagesSince',
        summary: 'Send again every message created since a time (or only those that failed)',
        ...secured,
        parameters: [id],
        requestBody: body('ReplayWebhookMessages'),
        responses: {
          '202': json('How many', {
            type: 'object',
            required: ['replayed'],
            properties: { replayed: { type: 'integer' } },
          }),
          '4XX': problem,
        },
      },
    },
  };
}
