/**
 * The capture-limit lifecycle's transitions (capture-limit.ts tells the
 * story): the timers of an authorisation in VALIDATION mode, and the policy
 * `reauthorize`'s claim, new authorisation and hand-over. The timers act only
 * on a plain authorisation (`authorized.normal`) with something uncaptured;
 * the reauthorisation's news is taken in any status, since the old payment
 * may have moved on (captured before the claim, lapsed) while the new one was
 * being made.
 */
import {
  alert,
  begin,
  callPending,
  emit,
  noteReauthorization,
  type Args,
  type EventOf,
} from './actions.ts';
import { isOwnReplacement } from './capture-limit.ts';
import type { LimitPolicy } from './contract.ts';
import { uncapturedRemainder } from './model.ts';

type PolicyDue = EventOf<'timer.limit_policy'>;
type Settled = EventOf<'reauthorization.settled'>;

const uncaptured = ({ context }: Args<unknown>): number => uncapturedRemainder(context.amounts);
const phaseOf = ({ context }: Args<unknown>) => context.limit?.reauthorization?.phase;

/**
 * A VALIDATION authorisation (AUTHOR_CAPTURE ones are remitted by Sips and
 * have no capture limit), something is left to protect, and no new
 * authorisation has taken over.
 */
function stillProtects(args: Args<unknown>): boolean {
  return (
    args.context.captureMode === 'validation' &&
    uncaptured(args) > 0 &&
    phaseOf(args) !== 'replaced'
  );
}

/** The policy's capture or cancel of what is still uncaptured, as the merchant's command would. */
function takeRemainder(operation: 'capture' | 'cancel', target: string) {
  return {
    target,
    actions: [
      begin<unknown>((args) => ({ operation, amount: uncaptured(args), resumeTo: 'authorized' })),
      emit(`payment.${operation}_requested`),
      callPending,
    ],
  };
}

const policyIs = (policy: LimitPolicy) => (args: Args<PolicyDue>) =>
  stillProtects(args) && phaseOf(args) === undefined && args.event.policy === policy;

const limitData = ({ event }: Args<{ captureLimitAt: string }>) => ({
  captureLimitAt: event.captureLimitAt,
});

const ownSettled = (outcome: Settled['outcome']) => (args: Args<Settled>) =>
  args.event.outcome === outcome && isOwnReplacement(args.context.limit, args.event.newPaymentId);

/**
 * The new one is authorised and nothing is left here to release (captured in
 * full before the claim, lapsed, challenged...). Taken in the stable statuses
 * only: in the others (LIMIT_WAITS_IN) the hand-over waits for the payment's
 * step or a person.
 */
export const settledReplaced = {
  guard: ownSettled('replaced'),
  actions: [
    noteReauthorization<Settled>(({ event }) => ({
      phase: 'replaced',
      newPaymentId: event.newPaymentId,
    })),
    emit('payment.reauthorization_settled', (args: Args<Settled>) => ({
      newPaymentId: args.event.newPaymentId,
      outcome: 'replaced',
    })),
  ],
};

/** Transitions of `authorized.normal`. */
export const limitTransitionsWhenAuthorized = {
  'timer.capture': {
    // A capture held up past the policy time must not take the old
    // authorisation while a new one is being made: it waits, like a
    // merchant capture (rules.ts), and finds the old one cancelled if it
    // was replaced.
    guard: (args: Args<unknown>) =>
      stillProtects(args) && phaseOf(args) !== 'claimed' && phaseOf(args) !== 'made',
    ...takeRemainder('capture', '#payment.capturing'),
  },
  'timer.limit_warning': {
    guard: (args: Args<unknown>) => stillProtects(args) && args.context.limit?.warned !== true,
    actions: [
      'noteWarned' as const,
      alert('capture_limit_near', limitData),
      emit('payment.authorisation_expiring', (args: Args<EventOf<'timer.limit_warning'>>) => ({
        ...limitData(args),
        uncaptured: uncaptured(args),
      })),
    ],
  },
  'timer.limit_policy': [
    {
      // Claimed by an earlier try that stopped before the new payment was
      // made: it is made now, under the id recorded with the claim.
      guard: (args: Args<PolicyDue>) => stillProtects(args) && phaseOf(args) === 'claimed',
      actions: [
        noteReauthorization<PolicyDue>(({ context, event }) => ({
          phase: 'claimed',
          newPaymentId: context.limit?.reauthorization?.newPaymentId ?? event.newPaymentId,
        })),
        {
          type: 'reauthorize' as const,
          params: (args: Args<PolicyDue>) => ({
            newPaymentId:
              args.context.limit?.reauthorization?.newPaymentId ?? args.event.newPaymentId,
            amount: uncaptured(args),
          }),
        },
      ],
    },
    { guard: policyIs('capture'), ...takeRemainder('capture', '#payment.capturing') },
    { guard: policyIs('cancel'), ...takeRemainder('cancel', '#payment.cancelling') },
    {
      // The claim is written before the new payment is made: a capture
      // racing the policy makes this step's compare-and-set fail, and the
      // retry finds the payment captured.
      guard: (args: Args<PolicyDue>) =>
        policyIs('reauthorize')(args) && args.event.reauthorizeRefusal === undefined,
      actions: [
        noteReauthorization<PolicyDue>(({ event }) => ({
          phase: 'claimed',
          newPaymentId: event.newPaymentId,
        })),
        {
          type: 'reauthorize' as const,
          params: (args: Args<PolicyDue>) => ({
            newPaymentId: args.event.newPaymentId,
            amount: uncaptured(args),
          }),
        },
      ],
    },
    {
      // No policy, or no new authorisation may be made: the limit is near
      // and nothing will be done about it but telling.
      guard: (args: Args<PolicyDue>) => stillProtects(args) && phaseOf(args) === undefined,
      actions: [
        alert<PolicyDue>('capture_limit_reached', (args) => ({
          ...limitData(args),
          why: args.event.reauthorizeRefusal ?? 'no policy',
        })),
        emit('payment.authorisation_limit_reached', (args: Args<PolicyDue>) => ({
          ...limitData(args),
          uncaptured: uncaptured(args),
        })),
      ],
    },
  ],
  'reauthorization.settled': [
    {
      // The new one is authorised: what is left of this one is released, so
      // only the new one can be captured.
      guard: (args: Args<Settled>) =>
        args.event.outcome === 'replaced' &&
        isOwnReplacement(args.context.limit, args.event.newPaymentId) &&
        uncaptured(args) > 0,
      actions: [
        noteReauthorization<Settled>(({ event }) => ({
          phase: 'replaced',
          newPaymentId: event.newPaymentId,
        })),
        ...takeRemainder('cancel', '#payment.cancelling').actions,
      ],
      target: '#payment.cancelling',
    },
    settledReplaced,
  ],
};

/** `on` of a stable status other than `authorized.normal`. */
export const limitTransitionsWhenStable = { 'reauthorization.settled': settledReplaced };

/** Transitions of the whole machine (any status): news of the new authorisation. */
export const limitTransitionsAnywhere = {
  'reauthorization.made': {
    // Under the id recorded with the claim (any id for a claim recorded
    // before ids were chosen first).
    guard: (args: Args<EventOf<'reauthorization.made'>>) => {
      const reauthorization = args.context.limit?.reauthorization;
      return (
        reauthorization?.phase === 'claimed' &&
        (reauthorization.newPaymentId === undefined ||
          reauthorization.newPaymentId === args.event.newPaymentId)
      );
    },
    actions: [
      noteReauthorization<EventOf<'reauthorization.made'>>(({ event }) => ({
        phase: 'made',
        newPaymentId: event.newPaymentId,
      })),
      emit('payment.reauthorized', (args: Args<EventOf<'reauthorization.made'>>) => ({
        newPaymentId: args.event.newPaymentId,
        ...limitData(args),
      })),
    ],
  },
  'reauthorization.refused': {
    // Refused for good (not a race, not Redis): the claim is released, so
    // the merchant can still capture this one before it lapses.
    guard: (args: Args<unknown>) => phaseOf(args) === 'claimed',
    actions: [
      noteReauthorization(() => ({ phase: 'failed' })),
      alert<EventOf<'reauthorization.refused'>>('reauthorization_failed', (args) => ({
        ...limitData(args),
        code: args.event.code,
        reason: args.event.reason,
      })),
      emit('payment.reauthorization_settled', (args: Args<EventOf<'reauthorization.refused'>>) => ({
        outcome: 'failed',
        reason: args.event.code,
      })),
    ],
  },
  'reauthorization.settled': [
    {
      // Not authorised: this one is capturable again until it lapses.
      guard: ownSettled('failed'),
      actions: [
        noteReauthorization<Settled>(({ event }) => ({
          phase: 'failed',
          newPaymentId: event.newPaymentId,
        })),
        alert<Settled>('reauthorization_failed', (args) => ({
          ...limitData(args),
          newPaymentId: args.event.newPaymentId,
          status: args.event.status,
        })),
        emit('payment.reauthorization_settled', (args: Args<Settled>) => ({
          newPaymentId: args.event.newPaymentId,
          outcome: 'failed',
          status: args.event.status,
        })),
      ],
    },
  ],
};
