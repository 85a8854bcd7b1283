/**
 * Guards shared by the machine's states: an answer must name the call in
 * flight, a command must be allowed where the payment stands (rules.ts), and
 * follow-up answers are told apart by what is left to act on.
 */
import type { AcceptedDetails, Operation } from './contract.ts';
import type { Args, EventOf } from './actions.ts';
import { refundableRemainder, uncapturedRemainder, type ResumePoint } from './model.ts';
import { refuseCommand, type Command, type Stance } from './rules.ts';

export type Answer = { operation: Operation };

/** The event answers the call in flight (and only calls of `operations`, when given). */
export function answers(operations?: readonly Operation[]) {
  return ({ context, event }: Args<Answer>): boolean =>
    context.pending !== null &&
    context.pending.operation === event.operation &&
    (operations === undefined || operations.includes(event.operation));
}

export function accepted(
  operations: readonly Operation[],
  when: (details: AcceptedDetails) => boolean,
) {
  const answered = answers(operations);
  return (args: Args<EventOf<'sips.accepted'>>): boolean =>
    answered(args) && when(args.event.details);
}

export function commandAllowed(stance: Stance) {
  return ({ context, event }: Args<Command>): boolean =>
    refuseCommand(context, stance, event) === null;
}

/** The pending follow-up operation has this exact amount left to act on. */
export function takesAll(operation: 'cancel' | 'refund') {
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
export function remainingContradicts(operation: 'cancel' | 'refund') {
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

export function resumesTo(point: ResumePoint) {
  return (args: Args<Answer>): boolean =>
    answers()(args) && args.context.pending?.resumeTo === point;
}
