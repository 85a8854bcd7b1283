/**
 * The payment machines: one per payment kind, built by one factory because
 * the kinds differ only in how they obtain the authorisation. Everything after
 * the authorisation (capture, cancel, refund, fraud challenge, inquiries,
 * review) is shared.
 *
 * The machines are pure. Effects are XState actions whose params describe
 * them; `transition()` returns them without running anything, and the step
 * function in index.ts hands them to the engine. The top-level state is the
 * payment status (`authorized` has two sub-states: `normal`, and `challenged`
 * while Sips holds the authorisation for a fraud check; `authorizing` tells a
 * resent authorisation from a challenge decision in flight).
 *
 * Money-safety rules the transitions below follow:
 * - one Sips call in flight per payment: commands are accepted only in stable
 *   statuses, and every answer must name the operation in flight;
 * - an answer we cannot trust (seal mismatch) never moves money or state
 *   forward: the payment goes to a person;
 * - a call whose outcome is unknown is never resent blindly: the engine
 *   inquires, and only "Sips does not know this transaction" (25) for an
 *   authorisation-family call allows sending it again;
 * - amounts move only on an accepted answer or on Sips' own view.
 */
import { assign, enqueueActions, setup, type EventObject } from 'xstate';
import type {
  Amounts,
  DomainEventName,
  Effect,
  Operation,
  PaymentEvent,
  PaymentInput,
  PaymentKind,
  AcceptedDetails,
  GatewayView,
} from './contract.ts';
import { PAYMENT_KINDS } from './contract.ts';
import {
  AUTHORISING_OPERATIONS,
  PAYMENT_FLOWS,
  REDIRECTING_OPERATIONS,
  initialContext,
  refundableRemainder,
  uncapturedRemainder,
  type PaymentContext,
  type PaymentFlow,
  type PendingOperation,
  type ResumePoint,
} from './model.ts';
import { refuseCommand, type Command, type Stance } from './rules.ts';
import {
  LANDINGS,
  arrivalEventName,
  isUnchanged,
  settleFromMark,
  settleFromView,
  settlesOn,
  type Landing,
  type Position,
  type Settlement,
} from './settlement.ts';

type CallParams = { operation: Operation; amount?: number };
type EmitParams = { name: DomainEventName; data: Record<string, unknown> };
type ReviewParams = { reason: Extract<Effect, { type: 'review' }>['reason'] };
type ForgetParams = { what: Extract<Effect, { type: 'forget' }>['what'] };

/** Action names that are effects for the engine; every other action only updates the context. */
export const EFFECT_ACTIONS: ReadonlySet<string> = new Set<Effect['type']>([
  'call',
  'inquire',
  'review',
  'emit',
  'forget',
]);

export const paymentSetup = setup({
  types: {
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
    input: {} as PaymentInput,
  },
  actions: {
    // Effects: descriptors only, carried out by the engine after the state is stored.
    call: (_, _params: CallParams) => {},
    inquire: () => {},
    review: (_, _params: ReviewParams) => {},
    emit: (_, _params: EmitParams) => {},
    forget: (_, _params: ForgetParams) => {},

    /** Sips agrees with us: the event is accepted and nothing changes. */
    viewAgrees: () => {},

    // Context updates.
    beginOperation: assign((_, params: PendingOperation) => ({ pending: params })),
    clearPending: assign({ pending: null }),
    recordAuthorisation: assign(({ context }) => ({
      amounts: { ...context.amounts, authorized: context.requestedAmount },
    })),
    /**
     * One validation per authorisation: Sips turns TO_VALIDATE into TO_CAPTURE
     * for the validated amount and releases the rest, which is therefore
     * counted as cancelled and can never be captured later.
     */
    recordCapture: assign(({ context }) => {
      const amount = context.pending?.amount ?? 0;
      const released = uncapturedRemainder(context.amounts) - amount;
      return {
        amounts: {
          ...context.amounts,
          captured: context.amounts.captured + amount,
          cancelled: context.amounts.cancelled + released,
        },
      };
    }),
    recordCancel: assign(({ context }) => ({
      amounts: {
        ...context.amounts,
        cancelled: context.amounts.cancelled + (context.pending?.amount ?? 0),
      },
    })),
    recordRefund: assign(({ context }) => ({
      amounts: {
        ...context.amounts,
        refunded: context.amounts.refunded + (context.pending?.amount ?? 0),
      },
    })),
    adoptPosition: assign((_, params: { amounts: Amounts }) => ({
      amounts: params.amounts,
      pending: null,
    })),
    /** Card data goes as soon as no authorisation call can be sent again (architecture §9). */
    forgetCardData: enqueueActions<
      PaymentContext,
      PaymentEvent,
      undefined,
      PaymentEvent,
      never,
      { type: 'forget'; params: ForgetParams },
      never,
      never,
      EventObject
    >(({ context, enqueue }) => {
      if (context.held.csc) enqueue({ type: 'forget', params: { what: 'csc' } });
      if (context.held.card) enqueue({ type: 'forget', params: { what: 'card' } });
      if (context.held.csc || context.held.card) {
        enqueue.assign({ held: { csc: false, card: false } });
      }
    }),
  },
});

// ---------------------------------------------------------------------------
// Helpers building transition parts. Argument types are spelled out so the
// helpers can be shared by several states.

type Args<E = PaymentEvent> = { context: PaymentContext; event: E };
type EventOf<T extends PaymentEvent['type']> = Extract<PaymentEvent, { type: T }>;
type Answer = { operation: Operation };
type WithView = { view: GatewayView };

const TARGET: Record<Landing | 'outcome_unknown' | 'in_review', string> = {
  authorized: '#payment.authorized.normal',
  challenged: '#payment.authorized.challenged',
  captured: '#payment.captured',
  partially_refunded: '#payment.partially_refunded',
  refunded: '#payment.refunded',
  cancelled: '#payment.cancelled',
  refused: '#payment.refused',
  expired: '#payment.expired',
  failed: '#payment.failed',
  outcome_unknown: '#payment.outcome_unknown',
  in_review: '#payment.in_review',
};

const RESUME_POINTS: readonly ResumePoint[] = [
  'authorized',
  'challenged',
  'captured',
  'partially_refunded',
];

function pendingData(pending: PendingOperation | null): Record<string, unknown> {
  if (pending === null) return {};
  return pending.amount === undefined
    ? { operation: pending.operation }
    : { operation: pending.operation, amount: pending.amount };
}

/** A domain event; its data always carries the amounts, the currency and the operation at hand. */
function emit<E>(
  name: DomainEventName | ((args: Args<E>) => DomainEventName),
  extra?: (args: Args<E>) => Record<string, unknown>,
) {
  return {
    type: 'emit' as const,
    params: (args: Args<E>): EmitParams => ({
      name: typeof name === 'function' ? name(args) : name,
      data: {
        amounts: { ...args.context.amounts },
        currency: args.context.currency,
        ...pendingData(args.context.pending),
        ...extra?.(args),
      },
    }),
  };
}

/** The Sips call for the pending operation (set just before by `beginOperation`). */
const callPending = {
  type: 'call' as const,
  params: ({ context }: Args<unknown>): CallParams => {
    const pending = context.pending;
    if (pending === null) throw new Error('callPending without a pending operation');
    return pending.amount === undefined
      ? { operation: pending.operation }
      : { operation: pending.operation, amount: pending.amount };
  },
};

function begin<E>(operation: (args: Args<E>) => PendingOperation) {
  return { type: 'beginOperation' as const, params: operation };
}

function review(reason: ReviewParams['reason']) {
  return { type: 'review' as const, params: { reason } };
}

/** The event answers the call in flight (and only calls of `operations`, when given). */
function answers(operations?: readonly Operation[]) {
  return ({ context, event }: Args<Answer>): boolean =>
    context.pending !== null &&
    context.pending.operation === event.operation &&
    (operations === undefined || operations.includes(event.operation));
}

function accepted(operations: readonly Operation[], when: (details: AcceptedDetails) => boolean) {
  const answered = answers(operations);
  return (args: Args<EventOf<'sips.accepted'>>): boolean =>
    answered(args) && when(args.event.details);
}

function commandAllowed(stance: Stance) {
  return ({ context, event }: Args<Command>): boolean =>
    refuseCommand(context, stance, event) === null;
}

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

const viewSettlement = ({ context, event }: Args<WithView>) => settleFromView(context, event.view);
const markSettlement = ({ context, event }: Args<EventOf<'review.mark'>>) =>
  settleFromMark(context, event.status);

function landingStatus(landing: Landing): string {
  return landing === 'challenged' ? 'authorized' : landing;
}

/** An inquiry's view adopted: the event tells what happened to the pending operation. */
const adoptInquiry = LANDINGS.filter((landing) => landing !== 'failed').map((landing) =>
  settleTo<EventOf<'inquiry.found'>>(landing, viewSettlement, ({ context }, position) =>
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
      ({ event }) => ({ decision: 'mark', status: landingStatus(landing), note: event.note }),
    ),
  ),
};

function toReviewForConflict<E>(why: (args: Args<E>) => string) {
  return {
    target: TARGET.in_review,
    actions: [
      emit<E>('payment.in_review', (args) => ({ reason: 'conflict', detail: why(args) })),
      review('conflict'),
    ],
  };
}

function settlementReason(settlement: Settlement): string {
  return settlement.type === 'position' ? '' : settlement.reason;
}

const viewIsInconsistent = (args: Args<EventOf<'inquiry.found'>>) =>
  viewSettlement(args).type === 'inconsistent';

/** Sips' view contradicts what money already did: a person decides. */
const toReviewForInconsistentView = {
  guard: viewIsInconsistent,
  ...toReviewForConflict<EventOf<'inquiry.found'>>((args) =>
    settlementReason(viewSettlement(args)),
  ),
};

/**
 * An inquiry in a stable status (reconciliation): AUTHOR_CAPTURE remittance,
 * an authorisation that expired, a back-office operation. Nothing changes
 * unless Sips' view differs from ours.
 */
function reconcile(here: ResumePoint) {
  return [
    {
      guard: (args: Args<EventOf<'inquiry.found'>>) => {
        const settlement = viewSettlement(args);
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
const uncertainAnswers = {
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

/** Answers to the calls that obtain the authorisation. */
function authorisationAnswers(flow: PaymentFlow) {
  const redirecting = flow.redirect
    ? [
        ...(flow.mayBeNotEnrolled
          ? [
              {
                guard: accepted(['enroll'], (details) => details.notEnrolled === true),
                target: '#payment.authenticating',
                actions: [
                  begin(() => ({ operation: flow.completion })),
                  emit('payment.authentication_skipped', () => ({ reason: 'not_enrolled' })),
                  callPending,
                ],
              },
            ]
          : []),
        {
          guard: accepted(REDIRECTING_OPERATIONS, (details) => details.redirect !== undefined),
          target: '#payment.awaiting_authentication',
          actions: [
            emit<EventOf<'sips.accepted'>>('payment.authentication_required', ({ event }) => ({
              redirect: { ...event.details.redirect },
            })),
            'clearPending' as const,
          ],
        },
        // Nowhere to send the customer: nothing was authorised, the payment cannot go on.
        {
          guard: answers(REDIRECTING_OPERATIONS),
          target: TARGET.failed,
          actions: [
            emit('payment.failed', () => ({ reason: 'no_redirection' })),
            'clearPending' as const,
          ],
        },
      ]
    : [];
  return {
    'sips.accepted': [
      ...redirecting,
      {
        guard: accepted(AUTHORISING_OPERATIONS, (details) => details.challenge === true),
        target: TARGET.challenged,
        actions: [
          'recordAuthorisation' as const,
          emit<EventOf<'sips.accepted'>>('payment.challenged', ({ event }) =>
            authorisationData(event.details),
          ),
          'clearPending' as const,
        ],
      },
      {
        guard: answers(AUTHORISING_OPERATIONS),
        target: TARGET.authorized,
        actions: [
          'recordAuthorisation' as const,
          emit<EventOf<'sips.accepted'>>('payment.authorized', ({ event }) =>
            authorisationData(event.details),
          ),
          'clearPending' as const,
        ],
      },
    ],
    'sips.declined': [
      {
        guard: (args: Args<EventOf<'sips.declined'>>) => answers()(args) && args.event.invalid,
        target: TARGET.failed,
        actions: [
          emit<EventOf<'sips.declined'>>('payment.failed', ({ event }) => ({
            reason: 'invalid_request',
            responseCode: event.responseCode,
          })),
          'clearPending' as const,
        ],
      },
      {
        guard: answers(),
        target: TARGET.refused,
        actions: [
          emit<EventOf<'sips.declined'>>('payment.refused', ({ event }) => ({
            responseCode: event.responseCode,
          })),
          'clearPending' as const,
        ],
      },
    ],
    // Sips said it did not process the call and the attempts ran out: nothing was authorised.
    'sips.unavailable': {
      guard: answers(),
      target: TARGET.failed,
      actions: [
        emit<EventOf<'sips.unavailable'>>('payment.failed', ({ event }) => ({
          reason: 'sips_unavailable',
          responseCode: event.responseCode,
        })),
        'clearPending' as const,
      ],
    },
    ...uncertainAnswers,
  };
}

function authorisationData(details: AcceptedDetails): Record<string, unknown> {
  return {
    ...(details.authorisationId === undefined ? {} : { authorisationId: details.authorisationId }),
    ...(details.schemeTransactionIdentifier === undefined
      ? {}
      : { schemeTransactionIdentifier: details.schemeTransactionIdentifier }),
  };
}

/** The pending follow-up operation has this exact amount left to act on. */
function takesAll(operation: 'cancel' | 'refund') {
  return ({ context }: Args<unknown>): boolean => {
    const pending = context.pending;
    if (pending?.operation !== operation || pending.amount === undefined) return false;
    const left =
      operation === 'cancel'
        ? uncapturedRemainder(context.amounts)
        : refundableRemainder(context.amounts);
    return pending.amount === left;
  };
}

/**
 * Sips reported a remaining amount that is not what our books expect after
 * this operation: it was accepted, but something else moved money. Do not
 * guess: inquire, and adopt Sips' view.
 */
function remainingContradicts(operation: 'cancel' | 'refund') {
  return (args: Args<EventOf<'sips.accepted'>>): boolean => {
    const { context, event } = args;
    const pending = context.pending;
    if (!answers([operation])(args) || pending?.amount === undefined) return false;
    const reported = event.details.remainingAmount;
    if (reported === undefined) return false;
    const left =
      operation === 'cancel'
        ? uncapturedRemainder(context.amounts)
        : refundableRemainder(context.amounts);
    return reported !== left - pending.amount;
  };
}

function resumesTo(point: ResumePoint) {
  return (args: Args<Answer>): boolean =>
    answers()(args) && args.context.pending?.resumeTo === point;
}

/**
 * A follow-up operation that Sips refused or could not process: the payment
 * stays where it was (still authorised or captured); only the operation failed.
 */
function backWhereItWas<E extends Answer>(extra: (args: Args<E>) => Record<string, unknown>) {
  return RESUME_POINTS.map((point) => ({
    guard: resumesTo(point),
    target: TARGET[point],
    actions: [
      emit<E>(
        ({ context }) => `payment.${context.pending?.operation ?? 'operation'}_failed`,
        extra,
      ),
      'clearPending' as const,
    ],
  }));
}

/** Answers to capture, cancel, refund and the fraud-challenge decisions. */
const followUpAnswers = {
  'sips.accepted': [
    {
      guard: answers(['capture']),
      target: TARGET.captured,
      actions: ['recordCapture' as const, emit('payment.captured'), 'clearPending' as const],
    },
    {
      guard: remainingContradicts('cancel'),
      target: TARGET.outcome_unknown,
      actions: [
        emit('payment.outcome_unknown', () => ({ reason: 'remaining_amount_mismatch' })),
        { type: 'inquire' as const },
      ],
    },
    {
      guard: (args: Args<EventOf<'sips.accepted'>>) =>
        answers(['cancel'])(args) && takesAll('cancel')(args),
      target: TARGET.cancelled,
      actions: ['recordCancel' as const, emit('payment.cancelled'), 'clearPending' as const],
    },
    ...(['challenged', 'authorized'] as const).map((point) => ({
      guard: (args: Args<EventOf<'sips.accepted'>>) =>
        answers(['cancel'])(args) && args.context.pending?.resumeTo === point,
      target: TARGET[point],
      actions: [
        'recordCancel' as const,
        emit('payment.partially_cancelled'),
        'clearPending' as const,
      ],
    })),
    {
      guard: remainingContradicts('refund'),
      target: TARGET.outcome_unknown,
      actions: [
        emit('payment.outcome_unknown', () => ({ reason: 'remaining_amount_mismatch' })),
        { type: 'inquire' as const },
      ],
    },
    {
      guard: (args: Args<EventOf<'sips.accepted'>>) =>
        answers(['refund'])(args) && takesAll('refund')(args),
      target: TARGET.refunded,
      actions: ['recordRefund' as const, emit('payment.refunded'), 'clearPending' as const],
    },
    {
      guard: answers(['refund']),
      target: TARGET.partially_refunded,
      actions: [
        'recordRefund' as const,
        emit('payment.partially_refunded'),
        'clearPending' as const,
      ],
    },
    {
      guard: answers(['accept_challenge']),
      target: TARGET.authorized,
      actions: [
        emit('payment.authorized', () => ({ challenge: 'accepted' })),
        'clearPending' as const,
      ],
    },
    {
      guard: answers(['refuse_challenge']),
      target: TARGET.refused,
      actions: [emit('payment.refused', () => ({ challenge: 'refused' })), 'clearPending' as const],
    },
  ],
  'sips.declined': backWhereItWas<EventOf<'sips.declined'>>(({ event }) => ({
    responseCode: event.responseCode,
    invalid: event.invalid,
  })),
  'sips.unavailable': backWhereItWas<EventOf<'sips.unavailable'>>(({ event }) => ({
    reason: 'sips_unavailable',
    responseCode: event.responseCode,
  })),
  ...uncertainAnswers,
};

function requestCommand<E extends Command>(
  stance: Stance,
  target: string,
  operation: (event: E) => PendingOperation,
  name: DomainEventName,
) {
  return {
    guard: commandAllowed(stance),
    target,
    actions: [begin<E>(({ event }) => operation(event)), emit(name), callPending],
  };
}

function amountCommand(
  operation: 'capture' | 'cancel' | 'refund',
  stance: Stance,
  resumeTo: ResumePoint,
) {
  const target = {
    capture: '#payment.capturing',
    cancel: '#payment.cancelling',
    refund: '#payment.refunding',
  }[operation];
  return requestCommand<Extract<Command, { amount: number }>>(
    stance,
    target,
    (event) => ({ operation, amount: event.amount, resumeTo }),
    `payment.${operation}_requested`,
  );
}

const AUTHORIZED: Stance = { status: 'authorized', challenged: false };
const CHALLENGED: Stance = { status: 'authorized', challenged: true };

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

export function createPaymentMachine(kind: PaymentKind) {
  const flow = PAYMENT_FLOWS[kind];
  const answersForAuthorisation = authorisationAnswers(flow);

  const redirectStates = flow.redirect
    ? {
        /** A resent enrolment / provider initialisation is in flight. */
        enrolling: { on: answersForAuthorisation },
        /** The customer is at the ACS or the provider; nothing is in flight. */
        awaiting_authentication: {
          on: {
            'customer.returned': {
              target: '#payment.authenticating',
              actions: [
                begin(() => ({ operation: flow.completion })),
                emit('payment.customer_returned'),
                callPending,
              ],
            },
            'customer.abandoned': {
              target: TARGET.expired,
              actions: [emit('payment.expired', () => ({ reason: 'customer_did_not_return' }))],
            },
          },
        },
        /** The call that completes the authentication and authorises is in flight. */
        authenticating: { on: answersForAuthorisation },
      }
    : {};

  return paymentSetup.createMachine({
    id: 'payment',
    context: ({ input }) => initialContext(input),
    entry: [emit('payment.received', () => ({ kind })), callPending],
    initial: 'received',
    states: {
      /** Created; the first call (authorize, enroll or initialize_provider) is in flight. */
      received: { on: answersForAuthorisation },
      ...redirectStates,
      authorizing: {
        initial: 'challenge_decision',
        states: {
          ...(flow.redirect ? {} : { authorisation: { on: answersForAuthorisation } }),
          /** accept_challenge or refuse_challenge is in flight. */
          challenge_decision: { on: followUpAnswers },
        },
      },
      authorized: {
        entry: 'forgetCardData',
        initial: 'normal',
        states: {
          normal: {
            on: {
              capture: amountCommand('capture', AUTHORIZED, 'authorized'),
              cancel: amountCommand('cancel', AUTHORIZED, 'authorized'),
              'inquiry.found': reconcile('authorized'),
            },
          },
          /** Held by Sips for a fraud check (TO_CHALLENGE): cancel or decide. */
          challenged: {
            on: {
              cancel: amountCommand('cancel', CHALLENGED, 'challenged'),
              accept_challenge: requestCommand(
                CHALLENGED,
                '#payment.authorizing.challenge_decision',
                () => ({ operation: 'accept_challenge', resumeTo: 'challenged' }),
                'payment.challenge_acceptance_requested',
              ),
              refuse_challenge: requestCommand(
                CHALLENGED,
                '#payment.authorizing.challenge_decision',
                () => ({ operation: 'refuse_challenge', resumeTo: 'challenged' }),
                'payment.challenge_refusal_requested',
              ),
              'inquiry.found': reconcile('challenged'),
            },
          },
        },
      },
      capturing: { on: followUpAnswers },
      cancelling: { on: followUpAnswers },
      refunding: { on: followUpAnswers },
      captured: {
        entry: 'forgetCardData',
        on: {
          refund: amountCommand('refund', { status: 'captured', challenged: false }, 'captured'),
          'inquiry.found': reconcile('captured'),
        },
      },
      partially_refunded: {
        entry: 'forgetCardData',
        on: {
          refund: amountCommand(
            'refund',
            { status: 'partially_refunded', challenged: false },
            'partially_refunded',
          ),
          'inquiry.found': reconcile('partially_refunded'),
        },
      },
      refunded: { entry: 'forgetCardData' },
      cancelled: { entry: 'forgetCardData' },
      refused: { entry: 'forgetCardData' },
      failed: { entry: 'forgetCardData' },
      expired: { entry: 'forgetCardData' },
      /** The engine inquires on its schedule; the pending operation is kept for the inquiry. */
      outcome_unknown: {
        on: {
          'inquiry.found': [
            ...redirectionLost(flow),
            toReviewForInconsistentView,
            // Not decided yet: stay, and let the engine inquire again on its schedule.
            {
              guard: (args: Args<EventOf<'inquiry.found'>>) =>
                viewSettlement(args).type === 'inconclusive',
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
          'inquiry.exhausted': {
            target: TARGET.in_review,
            actions: [
              emit('payment.in_review', () => ({ reason: 'unknown_outcome' })),
              review('unknown_outcome'),
            ],
          },
          ...resolveReview,
        },
      },
      /** A person decides; card data is forgotten since no call will be resent from here. */
      in_review: {
        entry: 'forgetCardData',
        on: resolveReview,
      },
    },
  });
}

export type PaymentMachine = ReturnType<typeof createPaymentMachine>;

export const PAYMENT_MACHINES: Record<PaymentKind, PaymentMachine> = Object.fromEntries(
  PAYMENT_KINDS.map((kind) => [kind, createPaymentMachine(kind)]),
) as Record<PaymentKind, PaymentMachine>;
