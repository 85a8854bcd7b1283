/**
 * Which merchant commands a payment accepts, and why an event is not accepted.
 * The machines' guards call the same functions, so a rejection reason always
 * matches the rule that rejected it.
 */
import type { PaymentEvent, PaymentStatus } from './contract.ts';
import {
  IN_FLIGHT_STATUSES,
  isValidAmount,
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
        return context.captureMode === 'author_capture'
          ? 'the remittance is not confirmed yet (Sips refunds remitted payments only): cancel instead, or wait for an inquiry to show it captured'
          : 'nothing was captured: cancel instead';
      }
      if (status === 'refunded') return 'the payment is fully refunded';
      return amountProblem(command.amount, refundableRemainder(amounts), 'refunded');
    case 'accept_challenge':
    case 'refuse_challenge':
      if (status !== 'authorized' || !challenged) return 'no fraud challenge is pending';
      return null;
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
  }
}
