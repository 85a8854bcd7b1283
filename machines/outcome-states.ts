/**
 * Where a payment goes when an outcome is not known or not trusted, and how
 * it leaves: inquiries (Sips' view adopted, reconciled, or sent to a person),
 * a resend after 25, and the decisions of a person in review. Sips' view is
 * read through settlement.ts; amounts move only as that view says.
 */
import type { DomainEventName, GatewayView, Operation } from './contract.ts';
import { alert, callPending, emit, review, type Args, type EventOf } from './actions.ts';
import { answers } from './guards.ts';
import { isAuthorizationOperation, type PaymentFlow, type ResumePoint } from './model.ts';
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
      { type: 'inquire' as const },
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

/** The engine inquires on its schedule; the pending operation is kept for the inquiry. */
export function outcomeUnknownState(flow: PaymentFlow) {
  return {
    on: {
      'inquiry.found': [
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
