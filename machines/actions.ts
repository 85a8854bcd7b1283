/**
 * The machines' setup (context, events, input and named actions) and the
 * builders of the actions their transitions list. Effects are actions whose
 * params describe them: `transition()` returns them without running anything,
 * and the step function in index.ts hands them to the engine.
 */
import { assign, enqueueActions, setup, type EventObject } from 'xstate';
import type {
  Amounts,
  DomainEventName,
  Effect,
  Operation,
  PaymentEvent,
  PaymentInput,
} from './contract.ts';
import type { Reauthorization } from './capture-limit.ts';
import { uncapturedRemainder, type PaymentContext, type PendingOperation } from './model.ts';
import {
  findOperation,
  isCommandOperation,
  operationsOf,
  updateOperation,
  type OperationFailure,
  type OperationRecord,
} from './operations.ts';

type CallParams = { operation: Operation; amount?: number };
type EmitParams = { name: DomainEventName; data: Record<string, unknown> };
type ReviewParams = { reason: Extract<Effect, { type: 'review' }>['reason'] };
type ForgetParams = { what: Extract<Effect, { type: 'forget' }>['what'] };
type AlertParams = Omit<Extract<Effect, { type: 'alert' }>, 'type'>;
type ReauthorizeParams = Omit<Extract<Effect, { type: 'reauthorize' }>, 'type'>;
export type CloseParams = {
  outcome: 'succeeded' | 'failed' | 'held';
  failure?: OperationFailure;
};

/**
 * The operation records once `pending` starts: a new command's record, or
 * (a refund carried out by a cancel, or the other way round) its record
 * with the Sips operation now doing it.
 */
function openOperation(context: PaymentContext, pending: PendingOperation): OperationRecord[] {
  const operations = operationsOf(context);
  const id = pending.operationId;
  if (id === undefined || !isCommandOperation(pending.operation)) return operations;
  const performedAs = pending.operation;
  if (findOperation(context, id) !== undefined) {
    return updateOperation(operations, id, (record) => {
      const { failure: _settled, ...open } = record;
      return { ...open, performedAs, status: 'pending' };
    });
  }
  const record: OperationRecord = {
    id,
    type: pending.asRefund ? 'refund' : performedAs,
    amount: pending.amount ?? 0,
    status: 'pending',
    performedAs,
    ...(pending.beforeRemittance ? { beforeRemittance: pending.beforeRemittance } : {}),
  };
  return [...operations, record];
}

export const paymentSetup = setup({
  types: {
    context: {} as PaymentContext,
    events: {} as PaymentEvent,
    input: {} as PaymentInput,
  },
  actions: {
    // Effects: descriptors only, carried out by the engine after the state is stored.
    call: (_, _params: CallParams) => {},
    inquire: (_, _params?: { promptly?: true }) => {},
    review: (_, _params: ReviewParams) => {},
    emit: (_, _params: EmitParams) => {},
    forget: (_, _params: ForgetParams) => {},
    alert: (_, _params: AlertParams) => {},
    reauthorize: (_, _params: ReauthorizeParams) => {},

    /** Sips agrees with us: the event is accepted and nothing changes. */
    viewAgrees: () => {},

    // Context updates.
    beginOperation: assign(({ context }, params: PendingOperation) =>
      params.operationId === undefined
        ? { pending: params }
        : { pending: params, operations: openOperation(context, params) },
    ),
    /**
     * The pending command's outcome on its record, before `clearPending`:
     * a refund's outcome is also its own event, and a failure an ops alert
     * (nothing the merchant asked for is dropped without a trace).
     */
    closeOperation: enqueueActions<
      PaymentContext,
      PaymentEvent,
      CloseParams,
      PaymentEvent,
      never,
      { type: 'emit'; params: EmitParams } | { type: 'alert'; params: AlertParams },
      never,
      never,
      EventObject
    >(({ context, enqueue }, params: CloseParams) => {
      const record = findOperation(context, context.pending?.operationId);
      if (record === undefined || record.status !== 'pending') return;
      const closed: OperationRecord = {
        ...record,
        status: params.outcome,
        ...(params.failure ? { failure: params.failure } : {}),
      };
      enqueue.assign({
        operations: updateOperation(operationsOf(context), record.id, () => closed),
      });
      const data = {
        operationId: closed.id,
        type: closed.type,
        performedAs: closed.performedAs,
        amount: closed.amount,
        currency: context.currency,
        ...(closed.failure ?? {}),
      };
      if (closed.type === 'refund') {
        const event: EmitParams = {
          name: `refund.${params.outcome}`,
          data: { ...data, amounts: { ...context.amounts } },
        };
        enqueue({ type: 'emit', params: event });
      }
      if (params.outcome === 'failed') {
        const raised: AlertParams = {
          kind: 'operation_failed',
          data: { uncaptured: uncapturedRemainder(context.amounts), ...data },
        };
        enqueue({ type: 'alert', params: raised });
      }
    }),
    clearPending: assign({ pending: null }),
    recordAuthorization: assign(({ context }) => ({
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
    /**
     * A refund carried out by a cancel before remittance: Sips removes the
     * amount from what it will remit, so it is no longer captured.
     */
    recordCancelOfCapture: assign(({ context }) => {
      const amount = context.pending?.amount ?? 0;
      return {
        amounts: {
          ...context.amounts,
          captured: context.amounts.captured - amount,
          cancelled: context.amounts.cancelled + amount,
        },
      };
    }),
    recordRefund: assign(({ context }) => ({
      amounts: {
        ...context.amounts,
        refunded: context.amounts.refunded + (context.pending?.amount ?? 0),
      },
    })),
    /** The capture limit's warning was given. */
    noteWarned: assign(({ context }) => ({ limit: { ...context.limit, warned: true as const } })),
    /** Where the policy `reauthorize`'s new authorisation stands (capture-limit.ts). */
    noteReauthorization: assign(({ context }, params: Reauthorization) => ({
      limit: { ...context.limit, reauthorization: params },
    })),
    /** Sips' amounts adopted while the pending operation goes on (another call follows). */
    adoptAmounts: assign((_, params: { amounts: Amounts }) => ({ amounts: params.amounts })),
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

// Argument types are spelled out so the builders can be shared by several states.

/** What an action's params or a guard receive. */
export type Args<E = PaymentEvent> = { context: PaymentContext; event: E };
export type EventOf<T extends PaymentEvent['type']> = Extract<PaymentEvent, { type: T }>;

function pendingData(pending: PendingOperation | null): Record<string, unknown> {
  if (pending === null) return {};
  return {
    operation: pending.operation,
    ...(pending.amount === undefined ? {} : { amount: pending.amount }),
    ...(pending.operationId === undefined ? {} : { operationId: pending.operationId }),
  };
}

/** A domain event; its data always carries the amounts, the currency and the operation at hand. */
export function emit<E>(
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
export const callPending = {
  type: 'call' as const,
  params: ({ context }: Args<unknown>): CallParams => {
    const pending = context.pending;
    if (pending === null) throw new Error('callPending without a pending operation');
    return pending.amount === undefined
      ? { operation: pending.operation }
      : { operation: pending.operation, amount: pending.amount };
  },
};

export function begin<E>(operation: (args: Args<E>) => PendingOperation) {
  return { type: 'beginOperation' as const, params: operation };
}

/** The pending command's record closes with `params` (a function of the transition's args). */
export function closeOperation<E>(params: CloseParams | ((args: Args<E>) => CloseParams)) {
  return {
    type: 'closeOperation' as const,
    params: typeof params === 'function' ? params : () => params,
  };
}

export function review(reason: ReviewParams['reason']) {
  return { type: 'review' as const, params: { reason } };
}

/** An ops alert; its data always carries what is still uncaptured. */
export function alert<E>(
  kind: AlertParams['kind'],
  data: (args: Args<E>) => Record<string, unknown>,
) {
  return {
    type: 'alert' as const,
    params: (args: Args<E>): AlertParams => ({
      kind,
      data: { uncaptured: uncapturedRemainder(args.context.amounts), ...data(args) },
    }),
  };
}

export function noteReauthorization<E>(next: (args: Args<E>) => Reauthorization) {
  return { type: 'noteReauthorization' as const, params: next };
}
