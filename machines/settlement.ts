/**
 * Settling a payment from what Sips says (an inquiry's GatewayView) or from
 * what a person decided (review). Pure functions shared by the machines, the
 * rejection reasons and the tests.
 *
 * The rule everywhere: Sips' view of the transaction is the truth about money.
 * We adopt it when it is coherent with what we know; when it contradicts what
 * money has already done (a refund undone, another amount, numbers that do not
 * add up) nobody guesses: the payment goes to a person.
 */
import type { Amounts, DomainEventName, GatewayView, PaymentEvent } from './contract.ts';
import {
  isAuthorizationOperation,
  sameAmounts,
  type PaymentContext,
  type ResumePoint,
} from './model.ts';

/** Where a settled payment lands: a stable status (`challenged` is authorised but held). */
export type Landing =
  | 'authorized'
  | 'challenged'
  | 'captured'
  | 'partially_refunded'
  | 'refunded'
  | 'cancelled'
  | 'refused'
  | 'expired'
  | 'failed';

export const LANDINGS: readonly Landing[] = [
  'authorized',
  'challenged',
  'captured',
  'partially_refunded',
  'refunded',
  'cancelled',
  'refused',
  'expired',
  'failed',
];

export interface Position {
  landing: Landing;
  amounts: Amounts;
}

export type Settlement =
  | { type: 'position'; position: Position }
  /** Sips has not decided yet, or the view cannot tell: ask again later. */
  | { type: 'inconclusive'; reason: string }
  /** The view contradicts what money already did: a person must look. */
  | { type: 'inconsistent'; reason: string };

function position(landing: Landing, amounts: Amounts): Settlement {
  return { type: 'position', position: { landing, amounts } };
}

function isMinorUnits(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function checkViewNumbers(context: PaymentContext, view: GatewayView): string | null {
  if (!isMinorUnits(view.originalAmount) || !isMinorUnits(view.remainingAmount)) {
    return 'amounts in the view are not non-negative integers';
  }
  if (view.refundedAmount !== undefined && !isMinorUnits(view.refundedAmount)) {
    return 'refunded amount in the view is not a non-negative integer';
  }
  if (view.remainingAmount > view.originalAmount) {
    return `remaining ${view.remainingAmount} exceeds original ${view.originalAmount}`;
  }
  // Another amount means another transaction or a tampered view: never adopt it.
  if (view.originalAmount !== context.requestedAmount) {
    return `original amount ${view.originalAmount} is not the payment's ${context.requestedAmount}`;
  }
  return null;
}

/** What our status and amounts become if we adopt `view`. */
export function settleFromView(context: PaymentContext, view: GatewayView): Settlement {
  const problem = checkViewNumbers(context, view);
  if (problem !== null) return { type: 'inconsistent', reason: problem };

  const known = context.amounts;
  const original = view.originalAmount;
  const remaining = view.remainingAmount;
  const moneyCaptured = known.captured > 0;
  const cancelOfCapture = cancelledBeforeRemittance(context, view);
  if (cancelOfCapture !== null) return cancelOfCapture;

  switch (view.state) {
    case 'awaiting_authorization':
      if (known.authorized > 0) {
        return { type: 'inconsistent', reason: 'Sips shows no authorisation but we hold one' };
      }
      return { type: 'inconclusive', reason: 'Sips has not authorised the transaction (yet)' };

    case 'refused':
    case 'expired':
      // A captured payment can neither be refused nor expire afterwards.
      if (moneyCaptured) {
        return { type: 'inconsistent', reason: `Sips shows ${view.state} after a capture` };
      }
      // Nothing was moved: the amounts stay as they were, the status says nothing stands.
      return position(view.state, known);

    case 'cancelled':
      if (known.refunded > 0) {
        return { type: 'inconsistent', reason: 'Sips shows cancelled after a refund' };
      }
      // A total cancel, possibly of a validated amount before remittance: no money moved.
      return position('cancelled', {
        authorized: original,
        captured: 0,
        cancelled: original,
        refunded: 0,
      });

    case 'challenge':
      if (moneyCaptured) {
        return { type: 'inconsistent', reason: 'Sips shows a fraud challenge after a capture' };
      }
      return position('challenged', {
        authorized: original,
        captured: 0,
        cancelled: original - remaining,
        refunded: 0,
      });

    case 'authorized':
      return settleAuthorizedView(context, view);

    case 'captured':
    case 'refunded':
      return settleRemittedView(context, view);
  }
}

/**
 * A refund carried out by a cancel of captured, not yet remitted money,
 * seen done: Sips still holds the rest to remit (a total one shows the
 * transaction cancelled, settled as any cancel).
 */
function cancelledBeforeRemittance(context: PaymentContext, view: GatewayView): Settlement | null {
  const known = context.amounts;
  const pending = context.pending;
  if (pending?.operation !== 'cancel' || pending.asRefund !== true) return null;
  if (pending.amount === undefined || known.captured <= 0 || view.remitted === true) return null;
  if (view.state !== 'captured' && view.state !== 'authorized') return null;
  if (view.remainingAmount !== known.captured - pending.amount) return null;
  return position('captured', {
    ...known,
    captured: view.remainingAmount,
    cancelled: known.cancelled + pending.amount,
  });
}

function settleAuthorizedView(context: PaymentContext, view: GatewayView): Settlement {
  const known = context.amounts;
  const original = view.originalAmount;
  const remaining = view.remainingAmount;
  if (known.refunded > 0) {
    return { type: 'inconsistent', reason: 'Sips shows not remitted after a refund' };
  }
  if (known.captured > 0) {
    // Validated, not remitted yet (TO_CAPTURE): what remains must be what we validated.
    if (remaining !== known.captured) {
      return {
        type: 'inconsistent',
        reason: `Sips shows ${remaining} to remit, we validated ${known.captured}`,
      };
    }
    return position('captured', known);
  }
  if (context.captureMode === 'validation') {
    if (view.awaitingValidation === false) {
      // Validated (TO_CAPTURE): Sips released the part that was not validated.
      return position('captured', {
        authorized: original,
        captured: remaining,
        cancelled: original - remaining,
        refunded: 0,
      });
    }
    if (view.awaitingValidation === undefined && context.pending?.operation === 'capture') {
      // TO_VALIDATE and TO_CAPTURE look alike here; the remittance run will tell.
      return {
        type: 'inconclusive',
        reason: 'the view does not say whether the transaction was validated',
      };
    }
  }
  return position('authorized', {
    authorized: original,
    captured: 0,
    cancelled: original - remaining,
    refunded: 0,
  });
}

function settleRemittedView(context: PaymentContext, view: GatewayView): Settlement {
  const known = context.amounts;
  const original = view.originalAmount;
  const remaining = view.remainingAmount;
  // What we validated is authoritative; otherwise (AUTHOR_CAPTURE, or a validate we
  // never heard back from) the remitted amount is what remains plus what was refunded.
  const captured = known.captured > 0 ? known.captured : remaining + (view.refundedAmount ?? 0);
  const refunded = view.refundedAmount ?? captured - remaining;
  if (captured <= 0) {
    return { type: 'inconsistent', reason: 'Sips shows a remittance of nothing' };
  }
  if (captured > original) {
    return { type: 'inconsistent', reason: `remitted ${captured} exceeds original ${original}` };
  }
  if (refunded < 0 || captured - refunded !== remaining) {
    return {
      type: 'inconsistent',
      reason: `captured ${captured}, refunded ${refunded} and remaining ${remaining} do not add up`,
    };
  }
  // A refund cannot be undone: a view with less refunded than we recorded is wrong or stale.
  if (refunded < known.refunded) {
    return {
      type: 'inconsistent',
      reason: `Sips shows ${refunded} refunded, we recorded ${known.refunded}`,
    };
  }
  if (view.state === 'refunded' && refunded === 0) {
    return { type: 'inconsistent', reason: 'Sips shows refunded with nothing refunded' };
  }
  const landing: Landing =
    refunded === 0 ? 'captured' : remaining === 0 ? 'refunded' : 'partially_refunded';
  return position(landing, {
    authorized: original,
    captured,
    cancelled: original - captured,
    refunded,
  });
}

/**
 * How much of each kind of money our own commands can account for once the
 * pending operation is done: what we recorded, plus the pending operation's
 * amount (a validation also releases what it does not take).
 */
function explainedAmounts(context: PaymentContext): Omit<Amounts, 'authorized'> {
  const known = context.amounts;
  const pending = context.pending;
  const amount = pending?.amount ?? 0;
  const left = known.authorized > 0 ? known.authorized : context.requestedAmount;
  const validating = pending?.operation === 'capture' && context.captureMode === 'validation';
  return {
    captured:
      context.captureMode === 'author_capture'
        ? left - known.cancelled
        : known.captured + (validating ? amount : 0),
    cancelled:
      known.cancelled +
      (pending?.operation === 'cancel' ? amount : 0) +
      (validating ? left - known.cancelled - known.captured - amount : 0),
    refunded: known.refunded + (pending?.operation === 'refund' ? amount : 0),
  };
}

/**
 * An inquiry's settlement, adopted without a person only when our own
 * commands explain every amount in it: Sips showing more captured, cancelled
 * or refunded than we asked for (a call sent twice after Redis lost its
 * intent, a back-office operation) goes to review with both figures, never
 * silently into our books.
 */
export function settleFromInquiry(context: PaymentContext, view: GatewayView): Settlement {
  const settlement = settleFromView(context, view);
  if (settlement.type !== 'position') return settlement;
  const next = settlement.position.amounts;
  const explained = explainedAmounts(context);
  for (const kind of ['captured', 'cancelled', 'refunded'] as const) {
    if (next[kind] > explained[kind]) {
      return {
        type: 'inconsistent',
        reason: `Sips shows ${next[kind]} ${kind}; our commands explain ${explained[kind]}`,
      };
    }
  }
  return settlement;
}

type ReviewMark = Extract<PaymentEvent, { type: 'review.mark' }>['status'];

/**
 * The position a person's decision puts the payment in. Amounts follow from
 * what we know; a decision that would undo money already captured is refused
 * (adopt Sips' view instead).
 */
export function settleFromMark(context: PaymentContext, status: ReviewMark): Settlement {
  const known = context.amounts;
  const authorized = known.authorized > 0 ? known.authorized : context.requestedAmount;
  const moneyCaptured = known.captured > 0;
  switch (status) {
    case 'captured': {
      if (moneyCaptured) {
        // The pending operation (a refund) did not happen.
        const landing: Landing = known.refunded > 0 ? 'partially_refunded' : 'captured';
        return position(landing, known);
      }
      const pending = context.pending;
      const captured =
        pending?.operation === 'capture' && pending.amount !== undefined
          ? pending.amount
          : authorized - known.cancelled;
      if (captured <= 0) {
        return { type: 'inconsistent', reason: 'nothing is left to capture' };
      }
      return position('captured', {
        authorized,
        captured,
        cancelled: authorized - captured,
        refunded: 0,
      });
    }
    case 'authorized':
      if (moneyCaptured) {
        return { type: 'inconsistent', reason: 'money was captured: it cannot be authorised only' };
      }
      return position('authorized', { ...known, authorized });
    case 'cancelled':
      if (moneyCaptured) {
        return { type: 'inconsistent', reason: 'money was captured: refund it instead' };
      }
      return position('cancelled', { authorized, captured: 0, cancelled: authorized, refunded: 0 });
    case 'refused':
    case 'failed':
      if (moneyCaptured) {
        return { type: 'inconsistent', reason: `money was captured: it cannot be ${status}` };
      }
      return position(status, known);
  }
}

/** Whether Sips' view of the transaction confirms a status a person means to mark. */
export type MarkConfirmation = { agrees: true } | { agrees: false; shows: string };

/**
 * A mark is confirmed when Sips' view settles the payment where the mark
 * would, with the same amounts (the same reading `review.adopt` makes of the
 * view; a fraud challenge counts as authorised). `refused` and `failed` say
 * nothing was authorised: Sips refusing the transaction, or not knowing it
 * (`found` null), confirms them. A view that cannot be settled confirms
 * nothing.
 */
export function confirmMark(
  context: PaymentContext,
  status: ReviewMark,
  found: GatewayView | null,
): MarkConfirmation {
  const nothingAuthorised = status === 'refused' || status === 'failed';
  if (found === null) {
    return nothingAuthorised
      ? { agrees: true }
      : { agrees: false, shows: 'Sips does not know the transaction' };
  }
  const shown = settleFromView(context, found);
  if (shown.type !== 'position') {
    return { agrees: false, shows: `Sips shows the transaction ${found.state} (${shown.reason})` };
  }
  const { landing, amounts } = shown.position;
  const landed = landing === 'challenged' ? 'authorized' : landing;
  const shows = `Sips shows the payment ${landed} (${describeAmounts(amounts)})`;
  if (nothingAuthorised) return landed === 'refused' ? { agrees: true } : { agrees: false, shows };
  const marked = settleFromMark(context, status);
  if (marked.type !== 'position') return { agrees: false, shows: `${shows}; ${marked.reason}` };
  return landed === marked.position.landing && sameAmounts(amounts, marked.position.amounts)
    ? { agrees: true }
    : { agrees: false, shows };
}

export function settlesOn(settlement: Settlement, landing: Landing): boolean {
  return settlement.type === 'position' && settlement.position.landing === landing;
}

/** The stable place the payment was in before the pending operation was sent. */
export function resumePosition(context: PaymentContext): Position | null {
  const resumeTo = context.pending?.resumeTo;
  return resumeTo === undefined ? null : { landing: resumeTo, amounts: context.amounts };
}

export function isUnchanged(
  context: PaymentContext,
  current: ResumePoint,
  next: Position,
): boolean {
  return next.landing === current && sameAmounts(context.amounts, next.amounts);
}

/**
 * The domain event for arriving at `next` from an inquiry. A follow-up
 * operation whose view shows the payment exactly where it was did not happen:
 * `payment.<operation>_failed`, like a declined call.
 */
export function arrivalEventName(context: PaymentContext, next: Position): DomainEventName {
  const pending = context.pending;
  if (pending !== null && !isAuthorizationOperation(pending.operation)) {
    const resumeTo = pending.resumeTo;
    if (resumeTo !== undefined && isUnchanged(context, resumeTo, next)) {
      return `payment.${pending.operation}_failed`;
    }
  }
  const wasAuthorized = context.amounts.authorized > 0;
  const cancelledMore = next.amounts.cancelled > context.amounts.cancelled;
  switch (next.landing) {
    case 'authorized':
      return wasAuthorized && cancelledMore ? 'payment.partially_cancelled' : 'payment.authorized';
    case 'challenged':
      return wasAuthorized && cancelledMore ? 'payment.partially_cancelled' : 'payment.challenged';
    default:
      return `payment.${next.landing}`;
  }
}

/** Whether a call may be sent, given what Sips shows just before it (REDIS_DURABILITY=verify). */
export type CallPrecondition = { send: true } | { send: false; reason: string };

function describeAmounts(amounts: Amounts): string {
  return `captured ${amounts.captured}, cancelled ${amounts.cancelled}, refunded ${amounts.refunded}`;
}

/**
 * Before a call Sips does not deduplicate, Sips must still show the
 * transaction where our record holds it. Anything else means an earlier
 * attempt may already have been processed (an intent Redis lost, a call that
 * answered late): the call is not sent and the payment inquires instead.
 * `found` is null when Sips does not know the transaction.
 */
export function checkBeforeCall(
  context: PaymentContext,
  found: GatewayView | null,
): CallPrecondition {
  const pending = context.pending;
  if (pending === null) return { send: false, reason: 'no operation is pending' };
  if (isAuthorizationOperation(pending.operation)) {
    // Finishing an authentication or a provider payment authorises: Sips
    // must not hold an authorisation of this reference yet.
    if (found === null || found.state === 'awaiting_authorization') return { send: true };
    return { send: false, reason: `Sips already shows the transaction ${found.state}` };
  }
  if (found === null) return { send: false, reason: 'Sips does not know the transaction' };
  const settlement = settleFromView(context, found);
  if (settlement.type !== 'position') return { send: false, reason: settlement.reason };
  const { landing, amounts } = settlement.position;
  if (!sameAmounts(amounts, context.amounts)) {
    return {
      send: false,
      reason: `Sips shows ${describeAmounts(amounts)}; we recorded ${describeAmounts(context.amounts)}`,
    };
  }
  if (pending.resumeTo !== undefined && landing !== pending.resumeTo) {
    return {
      send: false,
      reason: `Sips shows the payment ${landing}, we hold it ${pending.resumeTo}`,
    };
  }
  return { send: true };
}
