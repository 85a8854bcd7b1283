/**
 * Shared by the machine tests: representative events for any state, and the
 * invariants every step must keep.
 */
import { expect } from 'vitest';
import {
  LIMIT_POLICIES,
  OPERATIONS,
  PAYMENT_STATUSES,
  type Amounts,
  type CaptureMode,
  type Effect,
  type GatewayView,
  type PaymentEvent,
  type PaymentInput,
  type PaymentKind,
  type PaymentStatus,
  type PersistedSnapshot,
  type StepOutcome,
  type StepResult,
} from '../../machines/contract.ts';
import { LIMIT_WAITS_IN } from '../../machines/capture-limit.ts';
import { amountsOf, pendingOperationOf, statusOf, stepPayment } from '../../machines/index.ts';
import {
  CARD_DATA_BY_KIND,
  IN_FLIGHT_STATUSES,
  isAuthorizationOperation,
  type PaymentContext,
} from '../../machines/model.ts';

export const AMOUNT = 100;
/** A partial amount small enough for several partial operations on AMOUNT. */
export const PARTIAL = 30;

/** The capture limit the timers of a VALIDATION authorisation carry. */
export const LIMIT_AT = '2026-12-10T20:00:00.000Z';
/** The id the policy `reauthorize` gives the new payment. */
export const NEW_PAYMENT_ID = 'pay_0000000000000000000000000r';
/** Another payment, whose news must never be taken for the new authorisation's. */
export const OTHER_PAYMENT_ID = 'pay_00000000000000000000000oth';
/** Why a new authorisation may not be made now (engine's verdict). */
export const NO_TIME_GAINED = 'a new authorisation made now would lapse no later';

export function inputFor(
  kind: PaymentKind,
  captureMode: CaptureMode = 'validation',
  amount = AMOUNT,
): PaymentInput {
  return { kind, amount, currency: '978', captureMode };
}

/** What a test may read from a snapshot (it is opaque to the engine, not to the tests). */
export interface Peek {
  value: unknown;
  context: PaymentContext;
}

export function peek(snapshot: PersistedSnapshot): Peek {
  return snapshot as unknown as Peek;
}

export function accepted(
  operation: (typeof OPERATIONS)[number],
  details: Extract<PaymentEvent, { type: 'sips.accepted' }>['details'] = {},
): PaymentEvent {
  return { type: 'sips.accepted', operation, details };
}

function uniqueByJson<T>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = JSON.stringify(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Views Sips could plausibly show for this payment: the pending operation done or not, and worse. */
export function plausibleViews(context: PaymentContext): GatewayView[] {
  const original = context.requestedAmount;
  const { cancelled, captured, refunded } = context.amounts;
  const pending = context.pending;
  const pendingAmount = pending?.amount ?? 0;
  const remitted = captured > 0 ? captured : original - cancelled;
  const views: GatewayView[] = [
    { state: 'awaiting_authorization', originalAmount: original, remainingAmount: original },
    { state: 'refused', originalAmount: original, remainingAmount: 0 },
    { state: 'expired', originalAmount: original, remainingAmount: 0 },
    { state: 'cancelled', originalAmount: original, remainingAmount: 0 },
    { state: 'challenge', originalAmount: original, remainingAmount: original - cancelled },
    { state: 'authorized', originalAmount: original, remainingAmount: original - cancelled },
    {
      state: 'authorized',
      originalAmount: original,
      remainingAmount: original - cancelled,
      awaitingValidation: true,
    },
    {
      state: 'captured',
      originalAmount: original,
      remainingAmount: remitted - refunded,
      refundedAmount: refunded,
    },
    // Another transaction, or a tampered view.
    { state: 'authorized', originalAmount: original + 1, remainingAmount: original + 1 },
  ];
  if (pending?.operation === 'cancel') {
    const left = original - cancelled - pendingAmount;
    views.push({
      state: left === 0 ? 'cancelled' : 'authorized',
      originalAmount: original,
      remainingAmount: left,
    });
  }
  if (pending?.operation === 'capture') {
    views.push(
      {
        state: 'authorized',
        originalAmount: original,
        remainingAmount: pendingAmount,
        awaitingValidation: false,
      },
      { state: 'authorized', originalAmount: original, remainingAmount: pendingAmount },
      { state: 'captured', originalAmount: original, remainingAmount: pendingAmount },
    );
  }
  if (pending?.operation === 'refund') {
    const left = remitted - refunded - pendingAmount;
    views.push({
      state: left === 0 ? 'refunded' : 'captured',
      originalAmount: original,
      remainingAmount: left,
      refundedAmount: refunded + pendingAmount,
    });
  }
  return uniqueByJson(views);
}

/**
 * Amounts for a command: the whole of what is left, a part, and wrong ones.
 * Without `partial`, only the whole and one too many: partial amounts are
 * walked before any capture-limit state, and walking each of their chains
 * again under every phase of a reauthorisation would add time, not cases.
 */
function amountsToTry(left: number, partial = true): number[] {
  if (!partial) return [left, left + 1];
  return uniqueByJson([left, PARTIAL < left ? PARTIAL : left, left + 1, 0, -1, 1.5]);
}

/** Every event type, with values chosen from where the payment stands. */
export function representativeEvents(state: { context: PaymentContext }): PaymentEvent[] {
  const { context } = state;
  const amounts = context.amounts;
  const uncaptured = amounts.authorized - amounts.cancelled - amounts.captured;
  // An AUTHOR_CAPTURE authorisation not seen remitted takes refunds as cancels.
  const refundable =
    context.captureMode === 'author_capture' && amounts.captured === 0
      ? uncaptured
      : amounts.captured - amounts.refunded;
  const pending = context.pending;
  const operations = uniqueByJson([
    ...(pending === null ? [] : [pending.operation]),
    pending?.operation === 'capture' ? ('refund' as const) : ('capture' as const),
  ]);
  const views = plausibleViews(context);
  const partial = context.limit === undefined;
  const events: PaymentEvent[] = [
    ...amountsToTry(uncaptured, partial).map((amount): PaymentEvent => ({
      type: 'capture',
      amount,
    })),
    ...amountsToTry(uncaptured, partial).map((amount): PaymentEvent => ({
      type: 'cancel',
      amount,
    })),
    ...amountsToTry(refundable, partial).map((amount): PaymentEvent => ({
      type: 'refund',
      amount,
    })),
    { type: 'accept_challenge' },
    { type: 'refuse_challenge' },
    { type: 'customer.returned' },
    { type: 'customer.abandoned' },
    { type: 'inquiry.not_found' },
    { type: 'inquiry.exhausted' },
    ...views.map((view): PaymentEvent => ({ type: 'inquiry.found', view })),
    ...views.map((view): PaymentEvent => ({ type: 'review.adopt', view, note: 'checked' })),
    ...(['refused', 'failed', 'authorized', 'captured', 'cancelled'] as const).map(
      (status): PaymentEvent => ({ type: 'review.mark', status, note: 'decided' }),
    ),
    ...captureLimitEvents(context),
  ];
  for (const operation of operations) {
    const left = operation === 'refund' ? refundable : uncaptured;
    const afterwards = left - (pending?.amount ?? 0);
    events.push(
      accepted(operation),
      accepted(operation, { challenge: true, authorisationId: 'A1' }),
      accepted(operation, { notEnrolled: true }),
      accepted(operation, { redirect: { url: 'https://acs.example/3ds', hasPaReq: false } }),
      accepted(operation, { remainingAmount: afterwards }),
      accepted(operation, { remainingAmount: afterwards + 1 }),
      { type: 'sips.declined', operation, responseCode: '05', invalid: false },
      { type: 'sips.declined', operation, responseCode: '12', invalid: true },
      { type: 'sips.unavailable', operation, responseCode: '90' },
      { type: 'sips.unknown', operation, reason: 'timeout' },
      { type: 'sips.conflict', operation, responseCode: '24' },
      { type: 'sips.untrusted', operation },
    );
  }
  return uniqueByJson(events);
}

/**
 * The timers of a VALIDATION authorisation, and news of a new authorisation
 * (ours, and another payment's). A warned payment behaves as an unwarned one
 * in everything else, so the walks take the warning and the policy
 * `reauthorize` apart (the warning before any reauthorisation, the
 * reauthorisation of an unwarned payment): together they would walk every
 * state of the lifecycle once more for nothing. The unit tests combine them.
 */
function captureLimitEvents(context: PaymentContext): PaymentEvent[] {
  const captureLimitAt = LIMIT_AT;
  const limit = context.limit;
  const policies = LIMIT_POLICIES.filter(
    (policy) => policy !== 'reauthorize' || limit?.warned !== true,
  );
  return [
    { type: 'timer.capture' },
    ...(limit?.reauthorization === undefined
      ? [{ type: 'timer.limit_warning', captureLimitAt } as const]
      : []),
    ...policies.map((policy): PaymentEvent => ({
      type: 'timer.limit_policy',
      policy,
      captureLimitAt,
      newPaymentId: NEW_PAYMENT_ID,
    })),
    {
      type: 'timer.limit_policy',
      policy: 'reauthorize',
      captureLimitAt,
      newPaymentId: NEW_PAYMENT_ID,
      reauthorizeRefusal: NO_TIME_GAINED,
    },
    { type: 'reauthorization.made', newPaymentId: NEW_PAYMENT_ID, captureLimitAt },
    { type: 'reauthorization.made', newPaymentId: OTHER_PAYMENT_ID, captureLimitAt },
    {
      type: 'reauthorization.refused',
      code: 'command_not_allowed',
      reason: 'the card cannot be authorised again',
      captureLimitAt,
    },
    {
      type: 'reauthorization.settled',
      newPaymentId: NEW_PAYMENT_ID,
      outcome: 'replaced',
      status: 'authorized',
      captureLimitAt,
    },
    {
      type: 'reauthorization.settled',
      newPaymentId: NEW_PAYMENT_ID,
      outcome: 'failed',
      status: 'refused',
      captureLimitAt,
    },
    {
      type: 'reauthorization.settled',
      newPaymentId: OTHER_PAYMENT_ID,
      outcome: 'replaced',
      status: 'captured',
      captureLimitAt,
    },
  ];
}

/** Statuses in which an authorisation-family call may still be sent: the CSC is still needed. */
function mayStillAuthorize(status: PaymentStatus, context: PaymentContext): boolean {
  if (status === 'awaiting_authentication') return true;
  const pending = context.pending;
  if (pending === null || !isAuthorizationOperation(pending.operation)) return false;
  return IN_FLIGHT_STATUSES.has(status) || status === 'outcome_unknown';
}

function checkAmounts(amounts: Amounts, requested: number): void {
  for (const value of Object.values(amounts)) {
    expect(Number.isSafeInteger(value) && value >= 0, `amounts ${JSON.stringify(amounts)}`).toBe(
      true,
    );
  }
  expect([0, requested]).toContain(amounts.authorized);
  expect(amounts.captured).toBeLessThanOrEqual(amounts.authorized);
  expect(amounts.refunded).toBeLessThanOrEqual(amounts.captured);
  expect(amounts.cancelled + amounts.captured).toBeLessThanOrEqual(amounts.authorized);
}

function checkEffectShapes(effects: Effect[]): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'call':
        expect(OPERATIONS).toContain(effect.operation);
        if (effect.amount !== undefined) {
          expect(Number.isSafeInteger(effect.amount) && effect.amount > 0).toBe(true);
        }
        break;
      case 'emit':
        expect(effect.name).toMatch(/^(payment|refund)\.[a-z_]+$/);
        expect(effect.data).toHaveProperty('amounts');
        break;
      case 'forget':
        expect(['csc', 'card']).toContain(effect.what);
        break;
      case 'review':
        expect(['seal_mismatch', 'unknown_outcome', 'conflict']).toContain(effect.reason);
        break;
      case 'inquire':
        break;
      case 'alert':
        expect([
          'capture_limit_near',
          'capture_limit_reached',
          'reauthorization_failed',
          'inquiry_conflict',
          'operation_failed',
        ]).toContain(effect.kind);
        expect(typeof effect.data).toBe('object');
        expect(Number.isSafeInteger(effect.data.uncaptured)).toBe(true);
        break;
      case 'reauthorize':
        expect(typeof effect.newPaymentId === 'string' && effect.newPaymentId.length > 0).toBe(
          true,
        );
        expect(Number.isSafeInteger(effect.amount) && effect.amount > 0).toBe(true);
        break;
      default:
        throw new Error(`unknown effect ${JSON.stringify(effect satisfies never)}`);
    }
  }
}

/**
 * The card never carries two capturable authorisations: while a replacement
 * is claimed or made nothing is captured or cancelled, once replaced nothing
 * is captured; the reauthorisation is asked for what is uncaptured, under the
 * id the claim records.
 */
function checkReplacement(before: PaymentContext, after: PaymentContext, effects: Effect[]): void {
  const phaseBefore = before.limit?.reauthorization?.phase;
  const reauthorization = after.limit?.reauthorization;
  const phaseAfter = reauthorization?.phase;
  const where = `${phaseBefore ?? 'none'} -> ${JSON.stringify(reauthorization)}: ${JSON.stringify(effects)}`;
  for (const effect of effects) {
    if (
      effect.type === 'call' &&
      (effect.operation === 'capture' || effect.operation === 'cancel')
    ) {
      expect(['claimed', 'made'], where).not.toContain(phaseAfter);
      if (effect.operation === 'capture') expect(phaseAfter, where).not.toBe('replaced');
    }
    if (effect.type === 'reauthorize') {
      expect(reauthorization, where).toEqual({
        phase: 'claimed',
        newPaymentId: effect.newPaymentId,
      });
      expect(effect.amount, where).toBe(
        before.amounts.authorized - before.amounts.cancelled - before.amounts.captured,
      );
      expect(before.captureMode, where).toBe('validation');
    }
  }
  // A replacement settled stays settled.
  if (phaseBefore === 'replaced' || phaseBefore === 'failed') {
    expect(phaseAfter, where).toBe(phaseBefore);
  }
}

/** A payment position as the tests track it. */
export type Position = Pick<StepResult, 'snapshot' | 'status' | 'amounts'>;

/**
 * The invariants of one step: amounts conserved, one domain event per status
 * change, no call while another is in flight, card data forgotten once and in
 * time, a valid status, plain-JSON snapshots, rejections that change nothing.
 */
export function checkStep(before: Position, event: PaymentEvent, outcome: StepOutcome): void {
  const beforeContext = peek(before.snapshot).context;
  if (!outcome.accepted) {
    expect(outcome.reason.length, `reason for ${event.type}`).toBeGreaterThan(0);
    expect(outcome.status).toBe(before.status);
    // A refusal waits only for what can change it: the payment's step, or its replacement.
    const waits = `${event.type} refused in ${before.status} waits for ${outcome.waitFor}`;
    if (outcome.waitFor === 'step') expect(LIMIT_WAITS_IN.has(before.status), waits).toBe(true);
    if (outcome.waitFor === 'replacement') {
      expect(['claimed', 'made'], waits).toContain(beforeContext.limit?.reauthorization?.phase);
    }
    return;
  }
  const after = outcome;
  const afterContext = peek(after.snapshot).context;
  const effects = after.effects;
  const where = `${before.status} --${JSON.stringify(event)}--> ${after.status}: ${JSON.stringify(effects)}`;

  // A valid status, consistent with the snapshot; plain JSON.
  expect(PAYMENT_STATUSES, where).toContain(after.status);
  expect(statusOf(after.snapshot)).toBe(after.status);
  expect(amountsOf(after.snapshot)).toEqual(after.amounts);
  expect(JSON.parse(JSON.stringify(after.snapshot))).toEqual(after.snapshot);
  checkAmounts(after.amounts, afterContext.requestedAmount);
  checkEffectShapes(effects);
  checkReplacement(beforeContext, afterContext, effects);

  // Money already moved never moves back without a cancel of a validated amount.
  expect(after.amounts.refunded, where).toBeGreaterThanOrEqual(before.amounts.refunded);

  // Exactly one domain event per status change, never more than one per step
  // (a refund resource's outcome, `refund.*`, goes with the payment's own).
  const emits = effects.filter(
    (effect) => effect.type === 'emit' && !effect.name.startsWith('refund.'),
  );
  if (emits.length === 0) {
    emits.push(...effects.filter((effect) => effect.type === 'emit'));
  }
  expect(emits.length, where).toBeLessThanOrEqual(1);
  if (after.status !== before.status) expect(emits.length, where).toBe(1);

  // One call at a time; it is what the payment now waits for.
  const calls = effects.filter((effect) => effect.type === 'call');
  expect(calls.length, where).toBeLessThanOrEqual(1);
  const call = calls[0];
  if (call !== undefined) {
    const pendingAfter = pendingOperationOf(after.snapshot);
    const calledFor = pendingAfter && {
      operation: pendingAfter.operation,
      ...(pendingAfter.amount === undefined ? {} : { amount: pendingAfter.amount }),
    };
    expect(calledFor, where).toEqual(
      call.amount === undefined
        ? { operation: call.operation }
        : { operation: call.operation, amount: call.amount },
    );
    expect(IN_FLIGHT_STATUSES.has(after.status), where).toBe(true);
    const pendingBefore = beforeContext.pending;
    if (IN_FLIGHT_STATUSES.has(before.status)) {
      // Only the answer to the call in flight may lead to the next call (enrolment → completion).
      expect(event.type, where).toBe('sips.accepted');
      expect(call.operation, where).not.toBe(pendingBefore?.operation);
    }
    if (pendingBefore !== null && call.operation === pendingBefore.operation) {
      // The same call again: only when Sips said the first one never arrived.
      expect(event.type, where).toBe('inquiry.not_found');
      expect(isAuthorizationOperation(call.operation), where).toBe(true);
    }
  }
  if (IN_FLIGHT_STATUSES.has(after.status)) {
    expect(pendingOperationOf(after.snapshot), where).not.toBeNull();
  }

  // Inquiries and reviews go with their statuses.
  if (effects.some((effect) => effect.type === 'inquire')) {
    expect(after.status, where).toBe('outcome_unknown');
  }
  if (effects.some((effect) => effect.type === 'review')) {
    expect(after.status, where).toBe('in_review');
    expect(before.status, where).not.toBe('in_review');
  }

  // Card data: forgotten once, and as soon as no authorisation call can be sent again.
  for (const what of ['csc', 'card'] as const) {
    const forgotten = effects.filter((effect) => effect.type === 'forget' && effect.what === what);
    expect(forgotten.length, where).toBeLessThanOrEqual(beforeContext.held[what] ? 1 : 0);
    if (!mayStillAuthorize(after.status, afterContext)) {
      expect(afterContext.held[what], `${what} still held: ${where}`).toBe(false);
    }
  }
  if (!CARD_DATA_BY_KIND[afterContext.kind].csc) {
    expect(effects.filter((effect) => effect.type === 'forget')).toEqual([]);
  }
}

/** Steps through `events`, each of which must be accepted and keep the invariants. */
export function drive(start: StepResult, ...events: PaymentEvent[]): StepResult {
  let current = start;
  for (const event of events) {
    const outcome = stepPayment(current.snapshot, event);
    checkStep(current, event, outcome);
    if (!outcome.accepted) {
      throw new Error(`${event.type} rejected in ${current.status}: ${outcome.reason}`);
    }
    current = outcome;
  }
  return current;
}
