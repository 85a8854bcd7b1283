/**
 * Where a payment goes when an outcome is not known or not trusted, and how
 * it leaves: inquiries (Sips' view adopted, reconciled, or sent to a person),
 * a resend after 25, and the decisions of a person in review. Sips' view is
 * read through settlement.ts; amounts move only as that view says.
 */
import type { DomainEventName, GatewayView, Operation } from './contract.ts';
import {
  alert,
  begin,
  callPending,
  closeOperation,
  emit,
  review,
  type Args,
  type CloseParams,
  type EventOf,
} from './actions.ts';
import { answers } from './guards.ts';
import {
  isAuthorizationOperation,
  refundableRemainder,
  type PaymentContext,
  type PaymentFlow,
  type ResumePoint,
} from './model.ts';
import { commandHappened, isCommandOperation, operationsOf } from './operations.ts';
import {
  LANDINGS,
  arrivalEventName,
  isUnchanged,
  settleFromMark,
  settleFromInquiry,
  settleFromView,
  settlesOn,
  type Landing,
  type Position,
  type Settlement,
} from './settlement.ts';
import { TARGET } from './targets.ts';

type WithView = { view: GatewayView };

function positionOf(settlement: Settlement): Position {
  if (settlement.type !== 'position') throw new Error(`no position: ${settlement.reason}`);
  return settlement.position;
}

/** The pending command's outcome, from the position Sips' view or a person gives. */
function outcomeAt(context: PaymentContext, position: Position): CloseParams {
  const pending = context.pending;
  if (pending === null || !isCommandOperation(pending.operation)) return { outcome: 'failed' };
  const done = commandHappened(
    pending.operation,
    pending.amount ?? 0,
    context.amounts,
    position.amounts,
  );
  return done ? { outcome: 'succeeded' } : { outcome: 'failed', failure: { reason: 'not_done' } };
}

/** Land where `settle` says, emitting one event named by `name`. */
function settleTo<E>(
  landing: Landing,
  settle: (args: Args<E>) => Settlement,
  name: (args: Args<E>, position: Position) => DomainEventName,
  extra?: (args: Args<E>) => Record<string, unknown>,
) {
  return {
    guard: (args: Args<E>) => settlesOn(settle(args), landing),
    target: TARGET[landing],
    actions: [
      emit<E>(
        (args) => name(args, positionOf(settle(args))),
        (args) => ({ amounts: { ...positionOf(settle(args)).amounts }, ...extra?.(args) }),
      ),
      closeOperation<E>((args) => outcomeAt(args.context, positionOf(settle(args)))),
      {
        type: 'adoptPosition' as const,
        params: (args: Args<E>) => ({ amounts: positionOf(settle(args)).amounts }),
      },
    ],
  };
}

/** A person's adoption: Sips' view as it is (the person saw the evidence). */
const viewSettlement = ({ context, event }: Args<WithView>) => settleFromView(context, event.view);
/** An inquiry's adoption: only amounts our own commands explain (settlement.ts). */
const inquirySettlement = ({ context, event }: Args<WithView>) =>
  settleFromInquiry(context, event.view);
const markSettlement = ({ context, event }: Args<EventOf<'review.mark'>>) =>
  settleFromMark(context, event.status);

function landingStatus(landing: Landing): string {
  return landing === 'challenged' ? 'authorized' : landing;
}

/** An inquiry's view adopted: the event tells what happened to the pending operation. */
const adoptInquiry = LANDINGS.filter((landing) => landing !== 'failed').map((landing) =>
  settleTo<EventOf<'inquiry.found'>>(landing, inquirySettlement, ({ context }, position) =>
    arrivalEventName(context, position),
  ),
);

const resolveReview = {
  'review.adopt': LANDINGS.filter((landing) => landing !== 'failed').map((landing) =>
    settleTo<EventOf<'review.adopt'>>(
      landing,
      viewSettlement,
      () => 'payment.review_resolved',
      ({ event }) => ({
        decision: 'adopt',
        status: landingStatus(landing),
        view: { ...event.view },
        note: event.note,
      }),
    ),
  ),
  'review.mark': LANDINGS.map((landing) =>
    settleTo<EventOf<'review.mark'>>(
      landing,
      markSettlement,
      () => 'payment.review_resolved',
      ({ event }) => ({
        decision: 'mark',
        status: landingStatus(landing),
        note: event.note,
        ...(event.view === undefined ? {} : { view: { ...event.view } }),
        ...(event.forced === true ? { forced: true } : {}),
        ...(event.forced === true && event.reason ? { reason: event.reason } : {}),
      }),
    ),
  ),
};

function toReviewForConflict<E>(why: (args: Args<E>) => string) {
  return {
    target: TARGET.in_review,
    actions: [
      emit<E>('payment.in_review', (args) => ({ reason: 'conflict', detail: why(args) })),
      review('conflict'),
      alert<E>('inquiry_conflict', (args) => ({ detail: why(args) })),
    ],
  };
}

function settlementReason(settlement: Settlement): string {
  return settlement.type === 'position' ? '' : settlement.reason;
}

const viewIsInconsistent = (args: Args<EventOf<'inquiry.found'>>) =>
  inquirySettlement(args).type === 'inconsistent';

/** Sips' view contradicts what money already did: a person decides. */
const toReviewForInconsistentView = {
  guard: viewIsInconsistent,
  ...toReviewForConflict<EventOf<'inquiry.found'>>((args) =>
    settlementReason(inquirySettlement(args)),
  ),
};

/**
 * An inquiry in a stable status (reconciliation): AUTHOR_CAPTURE remittance,
 * an authorisation that expired, a back-office operation. Nothing changes
 * unless Sips' view differs from ours.
 */
export function reconcile(here: ResumePoint) {
  return [
    ...(here === 'captured' || here === 'partially_refunded' ? [sendHeldRefund(here)] : []),
    {
      guard: (args: Args<EventOf<'inquiry.found'>>) => {
        const settlement = inquirySettlement(args);
        return (
          settlement.type === 'inconclusive' ||
          (settlement.type === 'position' && isUnchanged(args.context, here, settlement.position))
        );
      },
      actions: ['viewAgrees' as const],
    },
    toReviewForInconsistentView,
    ...adoptInquiry,
  ];
}

/**
 * Answers whose outcome is not known, or not trustworthy: shared by every call.
 * The CSC is kept through `outcome_unknown` because a resend after 25 needs it.
 */
export const uncertainAnswers = {
  'sips.unknown': {
    guard: answers(),
    target: TARGET.outcome_unknown,
    actions: [
      emit<EventOf<'sips.unknown'>>('payment.outcome_unknown', ({ event }) => ({
        reason: event.reason,
      })),
      { type: 'inquire' as const },
    ],
  },
  'sips.conflict': {
    guard: answers(),
    target: TARGET.outcome_unknown,
    actions: [
      emit<EventOf<'sips.conflict'>>('payment.outcome_unknown', ({ event }) => ({
        reason: 'conflict',
        responseCode: event.responseCode,
      })),
      // 24 (a refund of money not remitted, a cancel of money remitted): ask at once.
      {
        type: 'inquire' as const,
        params: ({ event }: Args<EventOf<'sips.conflict'>>) =>
          event.responseCode === '24' ? { promptly: true as const } : {},
      },
    ],
  },
  // Probably our credentials; one inquiry tells (a forged 34 cannot fail a payment).
  'sips.credentials_refused': {
    guard: answers(),
    target: TARGET.outcome_unknown,
    actions: [
      emit<EventOf<'sips.credentials_refused'>>('payment.outcome_unknown', ({ event }) => ({
        reason: 'credentials_refused',
        responseCode: event.responseCode,
      })),
      { type: 'inquire' as const },
    ],
  },
  // Never retried, never moved forward: a person compares with the Sips back office.
  'sips.untrusted': {
    guard: answers(),
    target: TARGET.in_review,
    actions: [
      emit('payment.in_review', () => ({ reason: 'seal_mismatch' })),
      review('seal_mismatch'),
    ],
  },
};

/** Where a resent authorisation-family call waits for its answer. */
function resendTarget(flow: PaymentFlow, operation: Operation): string {
  if (operation === 'authorize' && !flow.redirect) return '#payment.authorizing.authorisation';
  if (flow.redirect && operation === flow.first) return '#payment.enrolling';
  if (flow.redirect && operation === flow.completion) return '#payment.authenticating';
  throw new Error(`${operation} is not resent in this flow`);
}

/**
 * 25 for an authorisation-family call: Sips has no transaction under this
 * reference, so the earlier call never arrived and sending it again (same
 * transactionReference) cannot authorise twice; a duplicate would meet 94.
 */
function resends(flow: PaymentFlow) {
  const operations: Operation[] = flow.redirect ? [flow.first, flow.completion] : [flow.first];
  return operations.map((operation) => ({
    guard: ({ context }: Args<unknown>) => context.pending?.operation === operation,
    target: resendTarget(flow, operation),
    actions: [emit('payment.operation_resent'), callPending],
  }));
}

/** Enrolment or provider initialisation registered, but its redirection never reached us. */
function redirectionLost(flow: PaymentFlow) {
  if (!flow.redirect) return [];
  return [
    {
      guard: ({ context, event }: Args<EventOf<'inquiry.found'>>) =>
        context.pending?.operation === flow.first && event.view.state === 'awaiting_authorization',
      target: TARGET.failed,
      actions: [
        emit('payment.failed', () => ({ reason: 'redirection_lost' })),
        'clearPending' as const,
      ],
    },
  ];
}

type Found = Args<EventOf<'inquiry.found'>>;

/** Sips shows the money remitted (a VALIDATION capture not remitted yet also reads `captured`). */
const remittedView = (view: GatewayView): boolean =>
  (view.state === 'captured' || view.state === 'refunded') && view.remitted !== false;

/**
 * A refund Sips did not do because it has not remitted the payment yet
 * (24, then an inquiry showing TO_CAPTURE and nothing refunded).
 */
const refundBeforeRemittance = (args: Found): boolean => {
  const { context, event } = args;
  const pending = context.pending;
  // Only a refund the merchant sent under a policy: one carried on after
  // Sips showed the payment remitted never goes back to a cancel.
  if (
    pending?.operation !== 'refund' ||
    pending.beforeRemittance === undefined ||
    pending.resumeTo !== 'captured'
  ) {
    return false;
  }
  const settlement = inquirySettlement(args);
  return (
    event.view.remitted === false &&
    settlement.type === 'position' &&
    isUnchanged(context, 'captured', settlement.position)
  );
};

/**
 * A refund carried out by a cancel that Sips did not do because it had
 * remitted the payment meanwhile (24, then an inquiry showing it captured
 * with nothing cancelled): the money left, so it is refunded.
 */
const remittedBeforeCancel = (args: Found): boolean => {
  const { context, event } = args;
  const pending = context.pending;
  if (pending?.operation !== 'cancel' || pending.asRefund !== true) return false;
  const settlement = inquirySettlement(args);
  if (settlement.type !== 'position') return false;
  const { landing, amounts } = settlement.position;
  return (
    remittedView(event.view) &&
    (landing === 'captured' || landing === 'partially_refunded') &&
    amounts.cancelled === context.amounts.cancelled &&
    refundableRemainder(amounts) >= (pending.amount ?? 0)
  );
};

/** How a refund goes on when Sips' remittance state was not what we believed. */
const refundRedirections = [
  {
    guard: (args: Found) =>
      refundBeforeRemittance(args) && args.context.pending?.beforeRemittance === 'hold',
    target: TARGET.captured,
    actions: [closeOperation({ outcome: 'held' }), 'clearPending' as const],
  },
  {
    guard: refundBeforeRemittance,
    target: '#payment.cancelling',
    actions: [
      begin<EventOf<'inquiry.found'>>(({ context }) => ({
        ...(context.pending ?? { operation: 'refund' }),
        operation: 'cancel',
        asRefund: true,
      })),
      emit('payment.cancel_requested', () => ({ reason: 'not_remitted' })),
      callPending,
    ],
  },
  {
    guard: remittedBeforeCancel,
    target: '#payment.refunding',
    actions: [
      {
        type: 'adoptAmounts' as const,
        params: (args: Found) => ({ amounts: positionOf(inquirySettlement(args)).amounts }),
      },
      begin<EventOf<'inquiry.found'>>((args) => {
        // Remitted: the policy for before remittance no longer applies.
        const {
          asRefund: _cancel,
          beforeRemittance: _policy,
          ...pending
        } = args.context.pending ?? { operation: 'cancel' };
        const landing = positionOf(inquirySettlement(args)).landing;
        return {
          ...pending,
          operation: 'refund',
          resumeTo: landing === 'partially_refunded' ? 'partially_refunded' : 'captured',
        };
      }),
      emit('payment.refund_requested', () => ({ reason: 'remitted' })),
      callPending,
    ],
  },
];

/**
 * Held refunds (policy `hold`) go once an inquiry shows the payment
 * remitted: the oldest first, one call at a time.
 */
export function sendHeldRefund(here: 'captured' | 'partially_refunded') {
  const heldRefund = (context: PaymentContext) =>
    operationsOf(context).find(
      (operation) => operation.status === 'held' && operation.type === 'refund',
    );
  return {
    guard: (args: Found) => {
      const held = heldRefund(args.context);
      if (held === undefined) return false;
      const settlement = inquirySettlement(args);
      return (
        remittedView(args.event.view) &&
        settlement.type === 'position' &&
        isUnchanged(args.context, here, settlement.position) &&
        refundableRemainder(args.context.amounts) >= held.amount
      );
    },
    target: '#payment.refunding',
    actions: [
      begin<EventOf<'inquiry.found'>>(({ context }) => {
        const held = heldRefund(context);
        return {
          operation: 'refund',
          amount: held?.amount ?? 0,
          resumeTo: here,
          ...(held === undefined ? {} : { operationId: held.id }),
        };
      }),
      emit('payment.refund_requested', () => ({ reason: 'remitted' })),
      callPending,
    ],
  };
}

/** The engine inquires on its schedule; the pending operation is kept for the inquiry. */
export function outcomeUnknownState(flow: PaymentFlow) {
  return {
    on: {
      'inquiry.found': [
        ...refundRedirections,
        ...redirectionLost(flow),
        toReviewForInconsistentView,
        // Not decided yet: stay, and let the engine inquire again on its schedule.
        {
          guard: (args: Args<EventOf<'inquiry.found'>>) =>
            inquirySettlement(args).type === 'inconclusive',
          actions: [{ type: 'inquire' as const }],
        },
        ...adoptInquiry,
      ],
      'inquiry.not_found': [
        ...resends(flow),
        // Sips does not know a transaction it answered for before: a person must look.
        toReviewForConflict<EventOf<'inquiry.not_found'>>(
          () => 'Sips does not know the transaction (25)',
        ),
      ],
      'inquiry.credentials_refused': [
        // Sips refused the authorisation and the inquiry alike: nothing was
        // authorised, the payment fails and ops learn which credentials to fix.
        {
          guard: ({ context }: Args<EventOf<'inquiry.credentials_refused'>>) =>
            context.pending !== null && isAuthorizationOperation(context.pending.operation),
          target: TARGET.failed,
          actions: [
            emit<EventOf<'inquiry.credentials_refused'>>('payment.failed', ({ event }) => ({
              reason: 'merchant_credentials_invalid',
              responseCode: event.responseCode,
            })),
            alert<EventOf<'inquiry.credentials_refused'>>(
              'merchant_credentials_invalid',
              ({ event }) => ({ responseCode: event.responseCode }),
            ),
            'clearPending' as const,
          ],
        },
        // A capture, cancel or refund refused for our credentials did not
        // happen, but money is held: a person decides once they are fixed.
        {
          ...toReviewForConflict<EventOf<'inquiry.credentials_refused'>>(
            ({ event }) =>
              `Sips refused our credentials (${event.responseCode}) for the call and the inquiry`,
          ),
        },
      ],
      'inquiry.exhausted': {
        target: TARGET.in_review,
        actions: [
          emit('payment.in_review', () => ({ reason: 'unknown_outcome' })),
          review('unknown_outcome'),
        ],
      },
      ...resolveReview,
    },
  };
}

/** A person decides; card data is forgotten since no call will be resent from here. */
export const inReviewState = {
  entry: 'forgetCardData' as const,
  on: resolveReview,
};
