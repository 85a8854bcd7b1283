/**
 * The OpenAPI 3.1 document of the HTTP API, assembled from each resource's
 * part. Request bodies come from the same zod schemas that parse the
 * commands, so the document and the parser agree.
 */
import { PROBLEM_CODES } from '../../platform/errors.ts';
import {
  instalmentPlanCommandSchemas,
  instalmentPlanPaths,
  instalmentPlanSchema,
} from './instalment-plans.ts';
import { operationPaths, opsSchemas, reviewPaths, servicePaths } from './ops.ts';
import { paymentSearchSchemas, reconciliationPaths, withPaymentSearch } from './payment-search.ts';
import {
  authenticationPaths,
  paymentCommandSchemas,
  paymentPaths,
  paymentSchema,
  operationSchema,
} from './payments.ts';
import {
  subscriptionCommandSchemas,
  subscriptionPaths,
  subscriptionSchema,
} from './subscriptions.ts';
import { webhooksSection } from './webhooks.ts';
import { webhookEndpointPaths, webhookEndpointSchemas } from './webhook-endpoints.ts';

function problemSchema() {
  return {
    type: 'object',
    required: ['type', 'title', 'status', 'code', 'detail', 'instance'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      code: { enum: [...PROBLEM_CODES] },
      detail: { type: 'string' },
      instance: {
        type: 'string',
        format: 'uri-reference',
        description:
          'This occurrence: the request path (no query string, card-number-like runs redacted) and the request id as the fragment, e.g. `/v1/payments/pay_1#req-2a`',
      },
      field: { type: 'string', description: 'The faulty field, dotted (the first of `errors`)' },
      errors: {
        type: 'array',
        description: 'With `field`: every faulty field, the first one first',
        items: {
          type: 'object',
          required: ['field', 'detail', 'code'],
          properties: {
            field: { type: 'string' },
            detail: { type: 'string' },
            code: { enum: [...PROBLEM_CODES] },
          },
        },
      },
    },
  };
}

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'sogenactif-orchestrator',
      version: '0.1.0',
      description:
        'Payment commands for the Sogenactif Office Server JSON API (Worldline Sips 2.0). Amounts are integer minor units.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    // Relative: the origin this document is served from.
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...paymentCommandSchemas(),
        ...subscriptionCommandSchemas(),
        ...instalmentPlanCommandSchemas(),
        Subscription: subscriptionSchema(),
        InstalmentPlan: instalmentPlanSchema(),
        ...opsSchemas(),
        ...webhookEndpointSchemas(),
        Payment: paymentSchema(),
        Operation: operationSchema(),
        ...paymentSearchSchemas(),
        Problem: problemSchema(),
      },
    },
    paths: {
      ...withPaymentSearch(paymentPaths()),
      ...reconciliationPaths(),
      ...authenticationPaths(),
      ...reviewPaths(),
      ...subscriptionPaths(),
      ...instalmentPlanPaths(),
      ...operationPaths(),
      ...servicePaths(),
      ...webhookEndpointPaths(),
    },
    webhooks: webhooksSection(),
  };
}
