/**
 * Every event type the orchestrator publishes on its event streams, with a
 * zod schema of its `data` and of its whole CloudEvents 1.0 envelope: what
 * webhook endpoints subscribe to, and what the OpenAPI `webhooks` section
 * documents (src/api/openapi/webhooks.ts).
 *
 * - `payment.*`: a payment's steps (machines/contract.ts
 *   `PAYMENT_EVENT_TYPES`, data in event-payloads.ts);
 * - `subscription.*` and `instalment_plan.*`: writes of the schedule records,
 *   typed `<kind>.<type>` from the `EventSpec`s of src/schedules, whose data
 *   always starts with the record's id as `<kind>Id`.
 */
import { z } from 'zod';
import { PAYMENT_EVENT_TYPES, type DomainEventName } from '../../machines/contract.ts';
import {
  PAYMENT_EVENT_CATALOGUE,
  isoTime,
  minorUnits,
  positiveAmount,
  type CatalogueEntry,
} from './event-payloads.ts';

export type { CatalogueEntry } from './event-payloads.ts';

function scheduleTypes<K extends string, const T extends readonly string[]>(
  kind: K,
  types: T,
): readonly `${K}.${T[number]}`[] {
  return types.map((type) => `${kind}.${type}` as `${K}.${T[number]}`);
}

export const SUBSCRIPTION_EVENT_TYPES = scheduleTypes('subscription', [
  'created',
  'activated',
  'paused',
  'resumed',
  'amount_changed',
  'cancelled',
  'failed',
  'occurrence_started',
  'occurrence_retried',
  'occurrence_paid',
  'occurrence_in_review',
  'occurrence_declined',
  'occurrence_failed',
]);
export type SubscriptionEventType = (typeof SUBSCRIPTION_EVENT_TYPES)[number];

export const INSTALMENT_PLAN_EVENT_TYPES = scheduleTypes('instalment_plan', [
  'created',
  'instalment_due',
  'instalment_paid',
  'instalment_in_review',
  'instalment_declined',
  'completed',
  'cancelled',
  'failed',
]);
export type InstalmentPlanEventType = (typeof INSTALMENT_PLAN_EVENT_TYPES)[number];

export type EventType = DomainEventName | SubscriptionEventType | InstalmentPlanEventType;

/** Every event type, payments first. */
export const EVENT_TYPES: readonly EventType[] = [
  ...PAYMENT_EVENT_TYPES,
  ...SUBSCRIPTION_EVENT_TYPES,
  ...INSTALMENT_PLAN_EVENT_TYPES,
];

const KNOWN: ReadonlySet<string> = new Set(EVENT_TYPES);

export function isEventType(value: string): value is EventType {
  return KNOWN.has(value);
}

const PAID_STATUSES = ['authorized', 'captured'] as const;
const DECLINED_STATUSES = ['refused', 'failed', 'expired', 'cancelled'] as const;

const subscription = (fields: z.ZodRawShape = {}) =>
  z.strictObject({ subscriptionId: z.string().describe('The subscription'), ...fields });

const period = () =>
  z
    .int()
    .nonnegative()
    .describe(
      'The occurrence: 0 is the first payment; interval schedules count periods, cron schedules give the instant (ms)',
    );

/** An attempt of an occurrence whose payment settled. */
const settledOccurrence = (statuses: readonly [string, ...string[]]) => ({
  period: period(),
  attempt: z.int().positive().describe('1 for the first payment of the occurrence'),
  paymentId: z.string(),
  status: z.enum(statuses).describe("The payment's status"),
});

const SUBSCRIPTION_EVENTS: Record<SubscriptionEventType, CatalogueEntry> = {
  'subscription.created': {
    summary: 'A subscription was created; its first, customer-initiated payment is being made',
    data: subscription({ amount: positiveAmount(), currency: z.string() }),
  },
  'subscription.activated': {
    summary: 'The first payment was paid: the subscription runs on its schedule',
    data: subscription(),
  },
  'subscription.paused': { summary: 'The subscription was paused', data: subscription() },
  'subscription.resumed': { summary: 'The subscription was resumed', data: subscription() },
  'subscription.amount_changed': {
    summary: 'The amount of the next occurrences changed',
    data: subscription({ from: positiveAmount(), to: positiveAmount() }),
  },
  'subscription.cancelled': {
    summary: 'The subscription was cancelled: no payment will follow',
    data: subscription(),
  },
  'subscription.failed': {
    summary: 'The subscription ended: its first payment was declined or could not be made',
    data: subscription({ reason: z.string() }),
  },
  'subscription.occurrence_started': {
    summary: "A period fell due: its occurrence's payment is being made",
    data: subscription({ period: period(), amount: positiveAmount(), paymentId: z.string() }),
  },
  'subscription.occurrence_retried': {
    summary: 'A declined occurrence is tried again with a new payment',
    data: subscription({
      period: period(),
      attempt: z.int().positive(),
      paymentId: z.string().describe('The payment of this attempt'),
    }),
  },
  'subscription.occurrence_paid': {
    summary: "An occurrence's payment was authorised or captured",
    data: subscription(settledOccurrence(PAID_STATUSES)),
  },
  'subscription.occurrence_in_review': {
    summary: "An occurrence's payment waits for a person's decision",
    data: subscription(settledOccurrence(['in_review'])),
  },
  'subscription.occurrence_declined': {
    summary: "An occurrence's payment was declined; it will be tried again",
    data: subscription({
      ...settledOccurrence(DECLINED_STATUSES),
      retryAt: isoTime().describe('When the next attempt is made'),
    }),
  },
  'subscription.occurrence_failed': {
    summary: 'An occurrence will not be paid: declined for good, or its retry given up',
    data: z.union([
      subscription(settledOccurrence(DECLINED_STATUSES)),
      subscription({
        period: period(),
        reason: z
          .string()
          .describe('Why its retry was given up (subscription paused or cancelled)'),
      }),
    ]),
  },
};

const plan = (fields: z.ZodRawShape = {}) =>
  z.strictObject({
    instalment_planId: z.string().describe('The instalment plan'),
    ...fields,
  });

const index = () => z.int().nonnegative().describe('The instalment, 0 for the first');

const settledInstalment = (statuses: readonly [string, ...string[]]) =>
  plan({
    index: index(),
    paymentId: z.string(),
    amount: positiveAmount(),
    status: z.enum(statuses).describe("The payment's status"),
  });

const INSTALMENT_PLAN_EVENTS: Record<InstalmentPlanEventType, CatalogueEntry> = {
  'instalment_plan.created': {
    summary: 'An instalment plan was created; its first instalment is being paid',
    data: plan({
      amount: positiveAmount().describe('The total (minor units)'),
      currency: z.string(),
      amounts: z.array(minorUnits()).describe('Each instalment, in order (minor units)'),
    }),
  },
  'instalment_plan.instalment_due': {
    summary: 'An instalment fell due: its payment is being made',
    data: plan({ index: index(), amount: positiveAmount(), paymentId: z.string() }),
  },
  'instalment_plan.instalment_paid': {
    summary: "An instalment's payment was authorised or captured",
    data: settledInstalment(PAID_STATUSES),
  },
  'instalment_plan.instalment_in_review': {
    summary: "An instalment's payment waits for a person's decision",
    data: settledInstalment(['in_review']),
  },
  'instalment_plan.instalment_declined': {
    summary: "An instalment's payment was declined",
    data: settledInstalment(DECLINED_STATUSES),
  },
  'instalment_plan.completed': {
    summary: 'Every instalment was paid',
    data: plan(),
  },
  'instalment_plan.cancelled': {
    summary: 'The plan was cancelled: the instalments not yet due are never taken',
    data: plan(),
  },
  'instalment_plan.failed': {
    summary: 'The plan ended unpaid: an instalment was declined, or the first could not be made',
    data: plan({ reason: z.string().optional() }),
  },
};

export const EVENT_CATALOGUE: Record<EventType, CatalogueEntry> = {
  ...PAYMENT_EVENT_CATALOGUE,
  ...SUBSCRIPTION_EVENTS,
  ...INSTALMENT_PLAN_EVENTS,
};

const envelopes = new Map<EventType, z.ZodType>();

/** The whole CloudEvents 1.0 event of `type`, as published on the streams and sent to webhooks. */
export function cloudEventSchema(type: EventType): z.ZodType {
  let schema = envelopes.get(type);
  if (schema === undefined) {
    schema = z
      .strictObject({
        specversion: z.literal('1.0'),
        id: z.string().min(1).describe('Unique per event: consumers deduplicate on (source, id)'),
        source: z.string().min(1).describe('The orchestrator instance, `sogenactif-orchestrator`'),
        type: z.literal(type),
        subject: z.string().describe('The payment, subscription or instalment plan'),
        time: isoTime().describe('When it happened (ISO 8601)'),
        datacontenttype: z.literal('application/json'),
        sequence: z
          .int()
          .positive()
          .describe("The subject's version after the write: order per subject by it"),
        merchant: z.string().optional().describe('Our id of the shop (payment events)'),
        data: EVENT_CATALOGUE[type].data,
      })
      .describe(EVENT_CATALOGUE[type].summary);
    envelopes.set(type, schema);
  }
  return schema;
}
