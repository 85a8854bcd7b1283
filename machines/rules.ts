/**
 * Which merchant commands a payment accepts, and why an event is not accepted.
 * The machines' guards call the same functions, so a rejection reason always
 * matches the rule that rejected it.
 */
import { LIMIT_WAITS_IN, isOwnReplacement, replacementPending } from './capture-limit.ts';
import { isValidAmount } from './checks.ts';
import type { PaymentEvent, PaymentStatus, WaitFor } from './contract.ts';
import {
  IN_FLIGHT_STATUSES,
  refundableRemainder,
  uncapturedRemainder,
  type PaymentContext,
} from './model.ts';
import { settleFromMark, settleFromView, type Settlement } from './settlement.ts';

/** Where a payment stands, as the rules need it. */
export interface Stance {
  status: PaymentStatus;
  /** Authorised but held for a fraud check (Sips TO_CHALLENGE). */
  challenged: boolean;
}

export type Command = Extract<
  PaymentEvent,
  { type: 'capture' | 'cancel' | 'refund' | 'accept_challenge' | 'refuse_challenge' }
>;

function amountProblem(amount: unknown, limit: number, what: string): string | null {
  if (!isValidAmount(amount)) {
    return `amount must be a positive integer in minor units (got ${String(amount)})`;
  }
  if (amount > limit) {
    return `amount ${amount} exceeds what can still be ${what} (${limit})`;
  }
  return null;
}

/** Why `command` is not accepted where the payment stands, or null when it is. */
export function refuseCommand(
  context: PaymentContext,
  stance: Stance,
  command: Command,
): string | null {
  const { status, challenged } = stance;
  const pending = context.pending;
  const replacement = replacementRefusal(context, command);
  if (replacement !== null) return replacement;
  if (pending !== null && IN_FLIGHT_STATUSES.has(status)) {
    return `${pending.operation} is in flight (status ${status}): commands on a payment are serialised`;
  }
  if (status === 'outcome_unknown') {
    return `the outcome of ${pending?.operation ?? 'the last call'} is unknown: commands wait until an inquiry or a review settles it`;
  }
  if (status === 'in_review') return 'the payment is in manual review';
  if (status === 'received' || status === 'awaiting_authentication') {
    return `the payment is not authorised yet (status ${status})`;
  }
  const settled = status === 'refused' || status === 'failed' || status === 'expired';
  if (settled || status === 'cancelled') return `the payment is ${status}`;

  const amounts = context.amounts;
  switch (command.type) {
    case 'capture':
      if (status !== 'authorized') {
        return 'already captured: Sips validates an authorisation once; what was not validated was released';
      }
      if (context.captureMode === 'author_capture') {
        return 'capture mode author_capture: Sips remits the payment by itself, there is nothing to capture';
      }
      if (challenged) {
        return 'the authorisation is held for a fraud check: accept the challenge first';
      }
      return amountProblem(command.amount, uncapturedRemainder(amounts), 'captured');
    case 'cancel':
      if (status !== 'authorized') {
        return `cannot cancel once captured (status ${status}): refund instead`;
      }
      return amountProblem(command.amount, uncapturedRemainder(amounts), 'cancelled');
    case 'refund':
      if (status === 'authorized') {
        // AUTHOR_CAPTURE: Sips remits by itself; until it has, the refund is
        // carried out by a cancel of that amount (follow-up-states.ts).
        if (context.captureMode !== 'author_capture') return 'nothing was captured: cancel instead';
        if (challenged) return 'the authorisation is held for a fraud check: cancel it or decide';
        return amountProblem(command.amount, uncapturedRemainder(amounts), 'refunded');
      }
      if (status === 'refunded') return 'the payment is fully refunded';
      return amountProblem(command.amount, refundableRemainder(amounts), 'refunded');
    case 'accept_challenge':
    case 'refuse_challenge':
      if (status !== 'authorized' || !challenged) return 'no fraud challenge is pending';
      return null;
  }
}

/**
 * Captures and cancels of an authorisation being replaced at its capture
 * limit wait for the new one; once replaced, they are refused: the customer's
 * card must never carry two capturable authorisations.
 */
function replacementRefusal(context: PaymentContext, command: Command): string | null {
  if (command.type !== 'capture' && command.type !== 'cancel') return null;
  const reauthorization = context.limit?.reauthorization;
  if (reauthorization?.phase === 'replaced') {
    return `this authorisation was replaced at its capture limit by ${reauthorization.newPaymentId}; capture that payment`;
  }
  if (replacementPending(context.limit)) {
    return `this authorisation is being replaced at its capture limit by ${reauthorization?.newPaymentId ?? 'a new authorisation being made'}`;
  }
  return null;
}

/**
 * Whether an event the machine did not accept may be accepted later, and
 * after what: timers and the hand-over wait for the payment's step or a
 * person; captures and cancels (and the deferred capture) wait for a
 * replacement in progress.
 */
export function waitForOf(
  context: PaymentContext,
  stance: Stance,
  event: PaymentEvent,
): WaitFor | undefined {
  const replacing = stance.status === 'authorized' && replacementPending(context.limit);
  // AUTHOR_CAPTURE authorisations have no capture limit: their timers never act.
  const timed = context.captureMode === 'validation';
  switch (event.type) {
    case 'capture':
    case 'cancel':
      // Refused by `replacementRefusal` first, whatever the status.
      return replacementPending(context.limit) ? 'replacement' : undefined;
    case 'timer.capture':
      if (!timed) return undefined;
      if (LIMIT_WAITS_IN.has(stance.status)) return 'step';
      // Timers leave an authorisation held for a fraud check alone.
      return replacing && !stance.challenged ? 'replacement' : undefined;
    case 'timer.limit_warning':
    case 'timer.limit_policy':
      return timed && LIMIT_WAITS_IN.has(stance.status) ? 'step' : undefined;
    case 'reauthorization.settled': {
      // Only the hand-over of this payment's own new authorisation waits.
      const own = isOwnReplacement(context.limit, event.newPaymentId);
      if (own && event.outcome === 'replaced' && LIMIT_WAITS_IN.has(stance.status)) return 'step';
      // A new payment made under no recorded id (a claim older than ids
      // chosen first): its maker notes it, and the hand-over waits for that.
      const reauthorization = context.limit?.reauthorization;
      return reauthorization?.phase === 'claimed' && reauthorization.newPaymentId === undefined
        ? 'replacement'
        : undefined;
    }
    default:
      return undefined;
  }
}

function settlementProblem(settlement: Settlement): string | null {
  return settlement.type === 'position' ? null : settlement.reason;
}

/** A clear reason for an event the machine did not accept where the payment stands. */
export function explainRejection(
  context: PaymentContext,
  stance: Stance,
  event: PaymentEvent,
): string {
  const { status } = stance;
  const pending = context.pending;
  switch (event.type) {
    case 'capture':
    case 'cancel':
    case 'refund':
    case 'accept_challenge':
    case 'refuse_challenge':
      return refuseCommand(context, stance, event) ?? `${event.type} is not allowed in ${status}`;
    case 'sips.accepted':
    case 'sips.declined':
    case 'sips.unavailable':
    case 'sips.unknown':
    case 'sips.conflict':
    case 'sips.untrusted':
    case 'sips.credentials_refused':
      if (pending === null || !IN_FLIGHT_STATUSES.has(status)) {
        return `no Sips call is in flight (status ${status}): a late or repeated answer for ${event.operation}`;
      }
      if (pending.operation !== event.operation) {
        return `an answer for ${event.operation} while ${pending.operation} is in flight`;
      }
      return `${event.type} for ${event.operation} is not expected in ${status}`;
    case 'customer.returned':
    case 'customer.abandoned':
      return `the customer is not expected to be away (status ${status})`;
    case 'inquiry.found':
    case 'inquiry.not_found':
    case 'inquiry.exhausted':
    case 'inquiry.credentials_refused':
      return `no inquiry is expected in ${status}`;
    case 'review.adopt':
      if (status !== 'outcome_unknown' && status !== 'in_review') {
        return `no review is open (status ${status})`;
      }
      return (
        settlementProblem(settleFromView(context, event.view)) ??
        `the view cannot be adopted in ${status}`
      );
    case 'review.mark':
      if (status !== 'outcome_unknown' && status !== 'in_review') {
        return `no review is open (status ${status})`;
      }
      return (
        settlementProblem(settleFromMark(context, event.status)) ??
        `${event.status} cannot be marked in ${status}`
      );
    case 'timer.capture':
    case 'timer.limit_warning':
    case 'timer.limit_policy':
      return limitTimerRejection(context, stance, event.type);
    case 'reauthorization.made':
    case 'reauthorization.refused':
    case 'reauthorization.settled': {
      const awaited = context.limit?.reauthorization;
      if (
        event.type !== 'reauthorization.refused' &&
        replacementPending(context.limit) &&
        awaited?.newPaymentId !== undefined &&
        awaited.newPaymentId !== event.newPaymentId
      ) {
        return `${event.newPaymentId} is not the new authorisation of this payment (${awaited.newPaymentId})`;
      }
      return `no new authorisation of this payment is awaited (${awaited?.phase ?? 'none claimed'})`;
    }
  }
}

function limitTimerRejection(
  context: PaymentContext,
  stance: Stance,
  timer: 'timer.capture' | 'timer.limit_warning' | 'timer.limit_policy',
): string {
  const name = timer.slice('timer.'.length);
  if (context.captureMode !== 'validation') {
    return `no capture limit: capture mode ${context.captureMode} (Sips remits the payment by itself)`;
  }
  if (LIMIT_WAITS_IN.has(stance.status)) return `${name} waits: the payment is ${stance.status}`;
  if (stance.status !== 'authorized' || stance.challenged) {
    return `nothing left to protect (status ${stance.status}${stance.challenged ? ', challenged' : ''})`;
  }
  const phase = context.limit?.reauthorization?.phase;
  if (phase === 'replaced') {
    return 'the authorisation was replaced: the new one is the one to capture';
  }
  if (timer === 'timer.capture' && replacementPending(context.limit)) {
    return 'capture waits: the authorisation is being replaced';
  }
  if (uncapturedRemainder(context.amounts) <= 0) return 'nothing left uncaptured';
  return `${name} acted already (${phase ?? (context.limit?.warned ? 'warned' : 'done')})`;
}
