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
 * Money-safety rules the transitions follow:
 * - one Sips call in flight per payment: commands are accepted only in stable
 *   statuses, and every answer must name the operation in flight;
 * - an answer we cannot trust (seal mismatch) never moves money or state
 *   forward: the payment goes to a person;
 * - a call whose outcome is unknown is never resent blindly: the engine
 *   inquires, and only "Sips does not know this transaction" (25) for an
 *   authorisation-family call allows sending it again;
 * - amounts move only on an accepted answer or on Sips' own view.
 *
 * The states are built in modules by family: authorization-states.ts (how
 * each kind obtains the authorisation), follow-up-states.ts (capture, cancel,
 * refund, fraud challenge), outcome-states.ts (unknown outcomes, inquiries,
 * review); actions.ts holds the setup and action builders, guards.ts the
 * shared guards, targets.ts the state ids.
 */
import type { Effect, PaymentKind } from './contract.ts';
import { PAYMENT_KINDS } from './contract.ts';
import { callPending, emit, paymentSetup } from './actions.ts';
import { authorizationStates } from './authorization-states.ts';
import { limitTransitionsAnywhere, limitTransitionsWhenStable } from './capture-limit-states.ts';
import { challengeDecisionState, followUpStates } from './follow-up-states.ts';
import { PAYMENT_FLOWS, initialContext } from './model.ts';
import { inReviewState, outcomeUnknownState } from './outcome-states.ts';

/** Action names that are effects for the engine; every other action only updates the context. */
export const EFFECT_ACTIONS: ReadonlySet<string> = new Set<Effect['type']>([
  'call',
  'inquire',
  'review',
  'emit',
  'forget',
  'alert',
  'reauthorize',
]);

/** The machine for `kind`; its states are the payment statuses (contract.ts `PAYMENT_STATUSES`). */
export function createPaymentMachine(kind: PaymentKind) {
  const flow = PAYMENT_FLOWS[kind];
  const authorisation = authorizationStates(flow);

  return paymentSetup.createMachine({
    id: 'payment',
    context: ({ input }) => initialContext(input),
    entry: [emit('payment.received', () => ({ kind })), callPending],
    initial: 'received',
    on: limitTransitionsAnywhere,
    states: {
      ...authorisation.states,
      authorizing: {
        initial: 'challenge_decision',
        states: {
          ...authorisation.resent,
          challenge_decision: challengeDecisionState,
        },
      },
      ...followUpStates(),
      refunded: { entry: 'forgetCardData', on: limitTransitionsWhenStable },
      cancelled: { entry: 'forgetCardData', on: limitTransitionsWhenStable },
      refused: { entry: 'forgetCardData', on: limitTransitionsWhenStable },
      failed: { entry: 'forgetCardData', on: limitTransitionsWhenStable },
      expired: { entry: 'forgetCardData', on: limitTransitionsWhenStable },
      outcome_unknown: outcomeUnknownState(flow),
      in_review: inReviewState,
    },
  });
}

export type PaymentMachine = ReturnType<typeof createPaymentMachine>;

export const PAYMENT_MACHINES: Record<PaymentKind, PaymentMachine> = Object.fromEntries(
  PAYMENT_KINDS.map((kind) => [kind, createPaymentMachine(kind)]),
) as Record<PaymentKind, PaymentMachine>;
