/**
 * The OpenAPI 3.1 `webhooks` section: one POST per event type, as the
 * orchestrator sends it to a merchant's endpoint subscribed to that type. The
 * body is the CloudEvent itself, its schema generated from the event
 * catalogue (src/payments/event-catalogue.ts); the requests are signed the
 * Standard Webhooks way.
 */
import { z } from 'zod';
import {
  EVENT_CATALOGUE,
  EVENT_TYPES,
  cloudEventSchema,
  type EventType,
} from '../../payments/event-catalogue.ts';
import type { Json } from './shared.ts';

/** A zod schema as the JSON Schema (2020-12, OpenAPI 3.1's dialect) of what is sent. */
function sentSchema(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'output',
    // `format: date-time` says it; the pattern zod adds only makes the page unreadable.
    override: ({ jsonSchema }) => {
      if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
    },
  }) as Json;
  delete json.$schema;
  return json;
}

/** The Standard Webhooks headers; new objects on each use (see shared.ts `captureMode`). */
function signatureHeaders() {
  return [
    {
      name: 'webhook-id',
      in: 'header',
      required: true,
      schema: { type: 'string' },
      description:
        'The message id: the same on every retry of this event to this endpoint. Deduplicate on it.',
    },
    {
      name: 'webhook-timestamp',
      in: 'header',
      required: true,
      schema: { type: 'string', pattern: '^[0-9]+$' },
      description:
        'When this attempt was signed, in seconds since the epoch. Refuse one too far from your clock (replays).',
    },
    {
      name: 'webhook-signature',
      in: 'header',
      required: true,
      schema: { type: 'string' },
      description:
        'Space-separated `v1,<signature>` entries, the signature being the base64 HMAC-SHA-256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the endpoint secret (the base64 after `whsec_`). Two entries while a secret rotation overlaps: accept the request when any one verifies.',
    },
  ];
}

function responses() {
  return {
    '2XX': { description: 'Delivered: the event is not sent again' },
    '410': { description: 'Gone: the endpoint is disabled and receives nothing more' },
    default: {
      description:
        'Anything else, or no answer in time: the event is sent again later, with backoff, then given up',
    },
  };
}

function operationIdOf(type: EventType): string {
  return `webhook_${type.replace(/[^A-Za-z0-9]+/g, '_')}`;
}

function webhook(type: EventType) {
  const { summary } = EVENT_CATALOGUE[type];
  return {
    post: {
      operationId: operationIdOf(type),
      summary,
      description: `Sent to the endpoints subscribed to \`${type}\` (or to \`*\`). The body is the CloudEvent as published on the event stream.`,
      // Signed with the endpoint secret (the webhook-signature header), not by a security scheme.
      security: [],
      parameters: signatureHeaders(),
      requestBody: {
        required: true,
        content: { 'application/json': { schema: sentSchema(cloudEventSchema(type)) } },
      },
      responses: responses(),
    },
  };
}

/** The `webhooks` object of the OpenAPI document: one entry per event type, keyed by it. */
export function webhooksSection(): Record<EventType, ReturnType<typeof webhook>> {
  return Object.fromEntries(EVENT_TYPES.map((type) => [type, webhook(type)])) as Record<
    EventType,
    ReturnType<typeof webhook>
  >;
}
