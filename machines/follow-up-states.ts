/**
 * The states after the authorisation, shared by every payment kind: the
 * stable statuses that take the merchant's commands (capture, cancel, refund,
 * the fraud-challenge decisions) and the states in which those calls are in
 * flight. A follow-up that Sips refused or could not process leaves the
 * payment where it was; amounts move only on an accepted answer.
 */
import type { DomainEventName } from './contract.ts';
import { begin, callPending, closeOperation, emit, type Args, type EventOf } from './actions.ts';
import {
  answers,
  commandAllowed,
  remainingContradicts,
  resumesTo,
  takesAll,
  type Answer,
} from './guards.ts';
import { isAuthorizationOperation, type PendingOperation, type ResumePoint } from './model.ts';
import {
  limitTransitionsWhenAuthorized,
  limitTransitionsWhenStable,
} from './capture-limit-states.ts';
import { reconcile, uncertainAnswers } from './outcome-states.ts';
import type { Command, Stance } from './rules.ts';
import type { OperationFailure } from './operations.ts';
import { RESUME_POINTS, TARGET } from './targets.ts';

/**
 * `payment.<operation>_failed` for the follow-up operation in flight; the
 * `resumesTo` guard admits only a pending follow-up operation.
 */
function failedEventName({ context }: Args<unknown>): DomainEventName {
  const operation = context.pending?.operation;
  if (operation === undefined || isAuthorizationOperation(operation)) {
    throw new Error(`no follow-up operation in flight (${operation ?? 'none'})`);
  }
  return `payment.${operation}_failed`;
}

/**
 * A follow-up operation that Sips refused or could not process: the payment
 * stays where it was (still authorised or captured); only the operation failed.
 */
function backWhereItWas<E extends Answer>(
  extra: (args: Args<E>) => Record<string, unknown>,
  failure: (args: Args<E>) => OperationFailure,
) {
  return RESUME_POINTS.map((point) => ({
    guard: resumesTo(point),
    target: TARGET[point],
    actions: [
      emit<E>(failedEventName, extra),
      closeOperation<E>((args) => ({ outcome: 'failed', failure: failure(args) })),
      'clearPending' as const,
    ],
  }));
}

const succeeded = closeOperation({ outcome: 'succeeded' });

/** A cancel carrying out a refund of a captured, not yet remitted payment. */
const cancelOfCapture = (args: Args<EventOf<'sips.accepted'>>): boolean =>
  answers(['cancel'])(args) &&
  args.context.pending?.asRefund === true &&
  args.context.pending.resumeTo === 'captured';

/**
 * What Sips still holds to remit after such a cancel must be what we
 * captured less its amount; anything else: inquire, and adopt Sips' view.
 */
const cancelOfCaptureContradicts = (args: Args<EventOf<'sips.accepted'>>): boolean => {
  const reported = args.event.details.remainingAmount;
  const { amounts, pending } = args.context;
  return reported !== undefined && reported !== amounts.captured - (pending?.amount ?? 0);
};

/** Answers to a refund carried out by a cancel of captured money (before remittance). */
const cancelOfCaptureAnswers = [
  {
    guard: (args: Args<EventOf<'sips.accepted'>>) =>
      cancelOfCapture(args) && cancelOfCaptureContradicts(args),
    target: TARGET.outcome_unknown,
    actions: [
      emit('payment.outcome_unknown', () => ({ reason: 'remaining_amount_mismatch' })),
      { type: 'inquire' as const },
    ],
  },
  {
    guard: (args: Args<EventOf<'sips.accepted'>>) =>
      cancelOfCapture(args) && args.context.pending?.amount === args.context.amounts.captured,
    target: TARGET.cancelled,
    actions: [
      'recordCancelOfCapture' as const,
      emit('payment.cancelled'),
      succeeded,
      'clearPending' as const,
    ],
  },
  {
    guard: cancelOfCapture,
    target: TARGET.captured,
    actions: [
      'recordCancelOfCapture' as const,
      emit('payment.partially_cancelled'),
      succeeded,
      'clearPending' as const,
    ],
  },
];

/** A follow-up operation Sips could not process: the event's data and the failure alike. */
const unavailable = ({ event }: Args<EventOf<'sips.unavailable'>>) => ({
  reason: 'sips_unavailable',
  responseCode: event.responseCode,
});

/** Answers to capture, cancel, refund and the fraud-challenge decisions. */
const followUpAnswers = {
  'sips.accepted': [
    {
      guard: answers(['capture']),
      target: TARGET.captured,
      actions: [
        'recordCapture' as const,
        emit('payment.captured'),
        succeeded,
        'clearPending' as const,
      ],
    },
    ...cancelOfCaptureAnswers,
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
      actions: [
        'recordCancel' as const,
        emit('payment.cancelled'),
        succeeded,
        'clearPending' as const,
      ],
    },
    ...(['challenged', 'authorized'] as const).map((point) => ({
      guard: (args: Args<EventOf<'sips.accepted'>>) =>
        answers(['cancel'])(args) && args.context.pending?.resumeTo === point,
      target: TARGET[point],
      actions: [
        'recordCancel' as const,
        emit('payment.partially_cancelled'),
        succeeded,
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
      actions: [
        'recordRefund' as const,
        emit('payment.refunded'),
        succeeded,
        'clearPending' as const,
      ],
    },
    {
      guard: answers(['refund']),
      target: TARGET.partially_refunded,
      actions: [
        'recordRefund' as const,
        emit('payment.partially_refunded'),
        succeeded,
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
  'sips.declined': backWhereItWas<EventOf<'sips.declined'>>(
    ({ event }) => ({ responseCode: event.responseCode, invalid: event.invalid }),
    ({ event }) => ({
      reason: event.invalid ? 'invalid_request' : 'declined',
      responseCode: event.responseCode,
    }),
  ),
  'sips.unavailable': backWhereItWas<EventOf<'sips.unavailable'>>(unavailable, unavailable),
  ...uncertainAnswers,
};

const AUTHORIZED: Stance = { status: 'authorized', challenged: false };
const CHALLENGED: Stance = { status: 'authorized', challenged: true };

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

/** The command's resource id and, for a refund, its policy before remittance. */
function commandLink(
  event: Extract<Command, { amount: number }>,
): Pick<PendingOperation, 'operationId' | 'beforeRemittance'> {
  return {
    ...(event.operationId === undefined ? {} : { operationId: event.operationId }),
    ...(event.type === 'refund' && event.beforeRemittance
      ? { beforeRemittance: event.beforeRemittance }
      : {}),
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
    (event) => ({
      operation,
      amount: event.amount,
      resumeTo,
      ...commandLink(event),
    }),
    `payment.${operation}_requested`,
  );
}

/**
 * A refund of an AUTHOR_CAPTURE authorisation not seen remitted yet: Sips
 * holds it TO_CAPTURE, so the refund is carried out by a cancel of that
 * amount (the money never leaves the customer). Should Sips have remitted
 * it meanwhile, the cancel meets 24, and the inquiry that follows sends the
 * refund instead (outcome-states.ts).
 */
const refundAsCancel = requestCommand<Extract<Command, { type: 'refund' }>>(
  AUTHORIZED,
  '#payment.cancelling',
  (event) => ({
    operation: 'cancel',
    amount: event.amount,
    resumeTo: 'authorized',
    asRefund: true,
    ...commandLink(event),
  }),
  'payment.refund_requested',
);

/** accept_challenge or refuse_challenge is in flight (a sub-state of `authorizing`). */
export const challengeDecisionState = { on: followUpAnswers };

/** `authorized` (normal or challenged), the follow-ups in flight, `captured` and `partially_refunded`. */
export function followUpStates() {
  return {
    authorized: {
      entry: 'forgetCardData' as const,
      initial: 'normal',
      states: {
        normal: {
          on: {
            capture: amountCommand('capture', AUTHORIZED, 'authorized'),
            cancel: amountCommand('cancel', AUTHORIZED, 'authorized'),
            refund: refundAsCancel,
            'inquiry.found': reconcile('authorized'),
            ...limitTransitionsWhenAuthorized,
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
            ...limitTransitionsWhenStable,
          },
        },
      },
    },
    capturing: { on: followUpAnswers },
    cancelling: { on: followUpAnswers },
    refunding: { on: followUpAnswers },
    captured: {
      entry: 'forgetCardData' as const,
      on: {
        refund: amountCommand('refund', { status: 'captured', challenged: false }, 'captured'),
        'inquiry.found': reconcile('captured'),
        ...limitTransitionsWhenStable,
      },
    },
    partially_refunded: {
      entry: 'forgetCardData' as const,
      on: {
        refund: amountCommand(
          'refund',
          { status: 'partially_refunded', challenged: false },
          'partially_refunded',
        ),
        'inquiry.found': reconcile('partially_refunded'),
        ...limitTransitionsWhenStable,
      },
    },
  };
}
