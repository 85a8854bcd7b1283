/**
 * The event catalogue against the code that emits: every name the machines
 * can emit (walked over every reachable state) is catalogued and its data,
 * with the identity fields the engine adds, fits the schema; the schedule
 * records' events made by their pure rules fit theirs; and the OpenAPI
 * `webhooks` section has one entry per type.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  PAYMENT_EVENT_TYPES,
  PAYMENT_KINDS,
  type DomainEventName,
  type Effect,
  type PaymentEvent,
  type PaymentKind,
  type PersistedSnapshot,
} from '../../machines/contract.ts';
import { startPayment, stepPayment } from '../../machines/index.ts';
import { webhooksSection } from '../../src/api/openapi/webhooks.ts';
import {
  EVENT_CATALOGUE,
  EVENT_TYPES,
  INSTALMENT_PLAN_EVENT_TYPES,
  SUBSCRIPTION_EVENT_TYPES,
  cloudEventSchema,
  isEventType,
  type EventType,
} from '../../src/payments/event-catalogue.ts';
import { buildEvent } from '../../src/payments/events.ts';
import { createManualClock } from '../../src/platform/clock.ts';
import * as plans from '../../src/schedules/instalment-model.ts';
import type { EventSpec } from '../../src/schedules/records.ts';
import { cancellationOf } from '../../src/schedules/subscription-commands.ts';
import type { SubscriptionsContext } from '../../src/schedules/subscription-context.ts';
import type { Subscription } from '../../src/schedules/subscription-model.ts';
import { occurrenceStart, retryStart } from '../../src/schedules/subscription-occurrences.ts';
import { settlementChange } from '../../src/schedules/subscription-settlement.ts';
import { inputFor, peek, representativeEvents } from './machines.support.ts';

const clock = createManualClock(Date.UTC(2026, 0, 15, 10, 0, 0));

/** Why `data` does not fit the catalogue's schema of `type`, or null when it does. */
function misfit(type: string, data: Record<string, unknown>): string | null {
  if (!isEventType(type)) return `${type} is not catalogued`;
  const parsed = EVENT_CATALOGUE[type].data.safeParse(data);
  return parsed.success
    ? null
    : `${type} ${z.prettifyError(parsed.error)} in ${JSON.stringify(data)}`;
}

describe('the event catalogue', () => {
  it('lists each type once, each with a summary and a data schema', () => {
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
    expect(Object.keys(EVENT_CATALOGUE).sort()).toEqual([...EVENT_TYPES].sort());
    for (const type of EVENT_TYPES) {
      expect(type).toMatch(/^(payment|refund|subscription|instalment_plan)\.[a-z_]+$/);
      const entry = EVENT_CATALOGUE[type];
      expect(entry.summary.length, type).toBeGreaterThan(10);
      expect(entry.data, type).toBeInstanceOf(z.ZodType);
      expect(cloudEventSchema(type), type).toBeInstanceOf(z.ZodType);
    }
  });

  it('holds every DomainEventName and every schedule type, and nothing else', () => {
    expectTypeOf<DomainEventName>().toExtend<EventType>();
    expect(
      EVENT_TYPES.filter((type) => type.startsWith('payment.') || type.startsWith('refund.')),
    ).toEqual([...PAYMENT_EVENT_TYPES]);
    expect(EVENT_TYPES).toEqual([
      ...PAYMENT_EVENT_TYPES,
      ...SUBSCRIPTION_EVENT_TYPES,
      ...INSTALMENT_PLAN_EVENT_TYPES,
    ]);
  });

  it('tells event types from anything else', () => {
    for (const type of EVENT_TYPES) expect(isEventType(type), type).toBe(true);
    for (const value of [
      '',
      '*',
      'payment',
      'payment.',
      'payment.step',
      'payment.operation_failed',
      'payment.authorize_failed',
      'Payment.authorized',
      'payment.authorized ',
      'subscription.activated.x',
      'instalment_plan.paid',
      'toString',
      '__proto__',
    ]) {
      expect(isEventType(value), value).toBe(false);
    }
  });

  it('describes every event the machines emit, in every reachable state', () => {
    const emitted = new Set<string>();
    const problems = new Set<string>();
    const check = (effects: Effect[], kind: PaymentKind, created: boolean) => {
      for (const effect of effects) {
        if (effect.type !== 'emit') continue;
        emitted.add(effect.name);
        const identity = { paymentId: 'pay_0_A', kind, currency: '978', transactionReference: 'A' };
        // As src/service/payment-create.ts and src/engine/step.ts `eventsOf` complete it.
        const data = created
          ? { ...effect.data, ...identity, amount: 100 }
          : { ...effect.data, ...identity, maskedPan: '4000########0002', authorisationId: 'A1' };
        const problem = misfit(effect.name, data);
        if (problem !== null) problems.add(problem);
      }
    };
    for (const kind of PAYMENT_KINDS) {
      for (const mode of ['validation', 'author_capture'] as const) {
        const start = startPayment(inputFor(kind, mode));
        check(start.effects, kind, true);
        const seen = new Set([JSON.stringify(start.snapshot)]);
        const queue: PersistedSnapshot[] = [start.snapshot];
        for (let snapshot = queue.shift(); snapshot; snapshot = queue.shift()) {
          for (const event of eventsToTry(snapshot)) {
            const outcome = stepPayment(snapshot, event);
            if (!outcome.accepted) continue;
            check(outcome.effects, kind, false);
            const key = JSON.stringify(outcome.snapshot);
            if (!seen.has(key)) {
              seen.add(key);
              queue.push(outcome.snapshot);
            }
          }
        }
      }
    }
    // Refunds as resources (their events need a command id and a policy): the
    // paths of machines.refunds.test.ts, under each policy.
    for (const path of refundPaths()) {
      let at = startPayment({ ...inputFor('card', path.mode), amount: 10_000 });
      for (const event of path.events) {
        const outcome = stepPayment(at.snapshot, event);
        if (!outcome.accepted) throw new Error(`${event.type} refused: ${outcome.reason}`);
        check(outcome.effects, 'card', false);
        at = outcome;
      }
    }
    expect([...problems]).toEqual([]);
    // No catalogued payment type is left that no machine emits.
    expect([...emitted].sort()).toEqual([...PAYMENT_EVENT_TYPES].sort());
  });

  it('describes the events of the subscription rules', () => {
    const specs = subscriptionSpecs();
    const types = specs.map((spec) => `subscription.${spec.type}`);
    const problems = specs
      .map((spec) =>
        misfit(`subscription.${spec.type}`, { subscriptionId: 'sub_0_A', ...spec.data }),
      )
      .filter((problem) => problem !== null);
    expect(problems).toEqual([]);
    expect(new Set(types)).toEqual(
      new Set(
        SUBSCRIPTION_EVENT_TYPES.filter(
          (type) =>
            // Written by the asynchronous commands: the integration test meets them.
            !['created', 'paused', 'resumed', 'amount_changed'].includes(type.split('.')[1]!),
        ),
      ),
    );
  });

  it('describes the events of the instalment plan rules', () => {
    const specs = instalmentPlanSpecs();
    const problems = specs
      .map((spec) =>
        misfit(`instalment_plan.${spec.type}`, { instalment_planId: 'plan_0_A', ...spec.data }),
      )
      .filter((problem) => problem !== null);
    expect(problems).toEqual([]);
    expect(new Set(specs.map((spec) => `instalment_plan.${spec.type}`))).toEqual(
      new Set(INSTALMENT_PLAN_EVENT_TYPES.filter((type) => type !== 'instalment_plan.created')),
    );
  });

  it('validates whole envelopes, strictly', () => {
    const event = buildEvent(
      {
        type: 'payment.capture_requested',
        paymentId: 'pay_0_A',
        sequence: 3,
        merchant: 'default',
        data: {
          paymentId: 'pay_0_A',
          kind: 'card',
          currency: '978',
          transactionReference: 'pay0A',
          operation: 'capture',
          amount: 1_000,
          amounts: { authorized: 2_500, captured: 0, cancelled: 0, refunded: 0 },
        },
      },
      { clock },
    );
    const schema = cloudEventSchema('payment.capture_requested');
    expect(schema.safeParse(event).success).toBe(true);
    expect(cloudEventSchema('payment.captured').safeParse(event).success).toBe(false);
    expect(schema.safeParse({ ...event, extension: 1 }).success).toBe(false);
    expect(schema.safeParse({ ...event, sequence: 0 }).success).toBe(false);
    expect(schema.safeParse({ ...event, time: 'yesterday' }).success).toBe(false);
    expect(schema.safeParse({ ...event, data: { ...event.data, cardNumber: 'x' } }).success).toBe(
      false,
    );
    const { amount: _amount, ...withoutAmount } = event.data;
    expect(schema.safeParse({ ...event, data: withoutAmount }).success).toBe(false);
  });
});

/** What the test reads of a generated JSON Schema. */
interface JsonSchema {
  $schema?: string;
  type?: string;
  const?: unknown;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  additionalProperties?: unknown;
}

interface WebhookPost {
  operationId: string;
  summary: string;
  parameters: { name: string; in: string; required: boolean }[];
  responses: Record<string, unknown>;
  requestBody: { required: boolean; content: Record<string, { schema: JsonSchema }> };
}

describe('the webhooks section', () => {
  const section = webhooksSection() as unknown as Record<string, { post: WebhookPost }>;

  it('has one entry per event type, each a signed POST of the CloudEvent', () => {
    expect(Object.keys(section)).toEqual([...EVENT_TYPES]);
    const operationIds = new Set<string>();
    for (const type of EVENT_TYPES) {
      const post = section[type]!.post;
      expect(post.operationId).toBe(`webhook_${type.replace('.', '_')}`);
      operationIds.add(post.operationId);
      expect(post.summary).toBe(EVENT_CATALOGUE[type].summary);
      expect(post.parameters.map((parameter) => [parameter.in, parameter.name])).toEqual([
        ['header', 'webhook-id'],
        ['header', 'webhook-timestamp'],
        ['header', 'webhook-signature'],
      ]);
      expect(Object.keys(post.responses).sort()).toEqual(['2XX', '410', 'default']);
      const body = post.requestBody.content['application/json']!.schema;
      expect(body.$schema).toBeUndefined();
      expect(body.type).toBe('object');
      expect(body.additionalProperties).toBe(false);
      expect(body.required).toEqual(expect.arrayContaining(['type', 'data', 'sequence']));
      expect(body.properties?.type?.const).toBe(type);
      const data = body.properties?.data;
      expect(data, type).toBeDefined();
      for (const variant of data?.anyOf ?? [data]) {
        expect(variant?.type, type).toBe('object');
        expect(variant?.additionalProperties, type).toBe(false);
      }
    }
    expect(operationIds.size).toBe(EVENT_TYPES.length);
    // Date-times are documented by their format, without zod's long pattern.
    expect(JSON.stringify(section)).not.toContain('"pattern":"^(?:');
  });
});

/** Representative events of the machine tests, and the answers they leave out. */
/** Paths through a refund before and after remittance, under each policy, and its failure. */
function refundPaths(): { mode: 'validation' | 'author_capture'; events: PaymentEvent[] }[] {
  const captured: PaymentEvent[] = [
    { type: 'sips.accepted', operation: 'authorize', details: {} },
    { type: 'capture', amount: 8_000, operationId: 'cap_1' },
    { type: 'sips.accepted', operation: 'capture', details: {} },
  ];
  const view = (remitted: boolean): PaymentEvent => ({
    type: 'inquiry.found',
    view: { state: 'captured', originalAmount: 10_000, remainingAmount: 8_000, remitted },
  });
  const refund = (beforeRemittance: 'cancel' | 'hold'): PaymentEvent[] => [
    { type: 'refund', amount: 3_000, operationId: 'ref_1', beforeRemittance },
    { type: 'sips.conflict', operation: 'refund', responseCode: '24' },
    view(false),
  ];
  return [
    {
      mode: 'validation',
      events: [
        ...captured,
        ...refund('cancel'),
        { type: 'sips.accepted', operation: 'cancel', details: { remainingAmount: 5_000 } },
      ],
    },
    {
      mode: 'validation',
      events: [
        ...captured,
        ...refund('hold'),
        view(true),
        { type: 'sips.declined', operation: 'refund', responseCode: '05', invalid: false },
      ],
    },
  ];
}

function eventsToTry(snapshot: PersistedSnapshot): PaymentEvent[] {
  const state = peek(snapshot);
  const pending = state.context.pending;
  return [
    ...representativeEvents(state),
    { type: 'inquiry.credentials_refused', responseCode: '34' },
    ...(pending === null
      ? []
      : ([
          { type: 'sips.credentials_refused', operation: pending.operation, responseCode: '34' },
          {
            type: 'sips.accepted',
            operation: pending.operation,
            details: { authorisationId: 'A1', schemeTransactionIdentifier: 'S1' },
          },
          {
            type: 'sips.accepted',
            operation: pending.operation,
            details: { challenge: true, authorisationId: 'A1', schemeTransactionIdentifier: 'S1' },
          },
          {
            type: 'sips.accepted',
            operation: pending.operation,
            details: {
              redirect: { url: 'https://acs.example', hasPaReq: true, messageVersion: '2.2.0' },
            },
          },
        ] satisfies PaymentEvent[])),
  ];
}

const DAY = 86_400_000;

function aSubscription(change: Partial<Subscription> = {}): Subscription {
  return {
    id: 'sub_0_A',
    version: 2,
    createdAt: 0,
    updatedAt: 0,
    status: 'active',
    method: 'card',
    amount: 1_990,
    currency: 'EUR',
    captureMode: 'author_capture',
    captureDay: 0,
    schedule: { intervalMs: DAY },
    anchorAt: 0,
    retryOnDeclineDays: [1],
    merchant: {},
    firstPaymentId: 'pay_0_P0',
    occurrences: [
      { period: 0, scheduledAt: 0, amount: 1_990, status: 'paid', paymentIds: ['pay_0_P0'] },
    ],
    ...change,
  };
}

/** The event specs the subscription rules write, over their branches. */
function subscriptionSpecs(): EventSpec[] {
  const ctx = { payments: { newPaymentId: () => 'pay_0_N' } } as unknown as SubscriptionsContext;
  const processing = (period: number, paymentIds = ['pay_0_X']) => ({
    period,
    scheduledAt: period * DAY,
    amount: 1_990,
    status: 'processing' as const,
    paymentIds,
  });
  const settle = (subscription: Subscription, period: number, attempt: number, status: string) =>
    settlementChange(
      subscription,
      {
        link: { type: 'subscription', id: subscription.id, period, attempt },
        paymentId: subscription.occurrences.find((o) => o.period === period)!.paymentIds.at(-1)!,
        status: status as never,
        facts: { schemeTransactionIdentifier: 'S1' },
        transactionReference: 'pay0X',
      },
      DAY,
    )?.events ?? [];
  const first = aSubscription({ status: 'pending', occurrences: [processing(0)] });
  const later = aSubscription({ occurrences: [processing(1)] });
  const retrying = aSubscription({
    occurrences: [{ ...processing(1), status: 'retrying', nextRetryAt: 2 * DAY }],
  });
  return [
    ...settle(first, 0, 1, 'authorized'),
    ...settle(first, 0, 1, 'refused'),
    ...settle(later, 1, 1, 'in_review'),
    ...settle(later, 1, 1, 'refused'),
    ...settle(later, 1, 2, 'expired'),
    ...(cancellationOf(retrying)?.events ?? []),
    ...(occurrenceStart(ctx, aSubscription(), 3, 3 * DAY)?.events ?? []),
    ...(retryStart(ctx, retrying, {
      task: 'retry',
      subscriptionId: 'sub_0_A',
      period: 1,
      attempt: 2,
    })?.events ?? []),
  ];
}

/** The event specs the instalment plan rules write, over their branches. */
function instalmentPlanSpecs(): EventSpec[] {
  const instalment = (index: number, status: plans.Instalment['status']): plans.Instalment => ({
    index,
    amount: 3_000,
    date: '20260115',
    dueAt: index * DAY,
    paymentId: `pay_0_I${index}`,
    transactionReference: `pay0I${index}`,
    status,
  });
  const plan = (statuses: plans.Instalment['status'][]): plans.InstalmentPlan => ({
    id: 'plan_0_A',
    version: 2,
    createdAt: 0,
    updatedAt: 0,
    status: 'active',
    method: 'card',
    amount: 3_000 * statuses.length,
    currency: 'EUR',
    captureMode: 'author_capture',
    intervalDays: 30,
    merchant: {},
    instalments: statuses.map((status, index) => instalment(index, status)),
  });
  const settle = (current: plans.InstalmentPlan, index: number, status: string) =>
    plans.settlementChange(
      current,
      { type: 'instalments', id: current.id, index },
      `pay_0_I${index}`,
      status as never,
      {},
    )?.events ?? [];
  return [
    ...settle(plan(['processing', 'scheduled']), 0, 'authorized'),
    ...settle(plan(['processing', 'scheduled']), 0, 'refused'),
    ...settle(plan(['paid', 'processing']), 1, 'in_review'),
    ...settle(plan(['paid', 'processing']), 1, 'captured'),
    ...settle(plan(['paid', 'declined', 'processing']), 2, 'captured'),
    ...(plans.dueChange(plan(['paid', 'scheduled']), 1)?.events ?? []),
    ...(plans.cancellationOf(plan(['paid', 'scheduled']))?.events ?? []),
    ...plans.failureOfFirst(plan(['processing']), 'the first instalment could not be created')
      .events,
  ];
}
