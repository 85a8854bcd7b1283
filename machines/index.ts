/**
 * The machines' public surface for the engine: start a payment, step it with
 * an event, read what the engine needs from a persisted snapshot. Pure: no
 * I/O, no clock, no randomness; the same snapshot and event always give the
 * same result.
 */
import { createActor, type ActionExecutor, type AnyActorScope } from 'xstate';
import { z } from 'zod';
import type {
  Amounts,
  Effect,
  GatewayView,
  Operation,
  PaymentEvent,
  PaymentInput,
  PaymentStatus,
  PersistedSnapshot,
  StepOutcome,
  StepResult,
} from './contract.ts';
import { OPERATIONS, PAYMENT_KINDS, PAYMENT_STATUSES } from './contract.ts';
import { CAPTURE_MODES, type PaymentContext, type PendingOperation } from './model.ts';
import { isObject, isValidAmount } from './checks.ts';
import { EFFECT_ACTIONS, PAYMENT_MACHINES, type PaymentMachine } from './payment-machine.ts';
import {
  COMMAND_OPERATIONS,
  OPERATION_STATUSES,
  REFUND_BEFORE_REMITTANCE,
  readOperations,
  readPendingLink,
  type OperationRecord,
} from './operations.ts';
import { explainRejection, waitForOf, type Stance } from './rules.ts';
import {
  REAUTHORIZATION_PHASES,
  readLimit,
  type CaptureLimitState,
  type Reauthorization,
} from './capture-limit.ts';
import {
  checkBeforeCall as checkContextBeforeCall,
  confirmMark,
  type CallPrecondition,
  type MarkConfirmation,
} from './settlement.ts';

export type { CallPrecondition, MarkConfirmation };

/**
 * Stored with every payment record and inside every snapshot. Bump it when a
 * snapshot written by the previous version would not mean the same thing.
 */
export const MACHINE_VERSION = 'payment-machines/2';
/**
 * Snapshots this version reads as they are: `/1` had no capture-limit state
 * in the context (it lived in the engine's facts, lifted by the engine at
 * the next step: see `withReauthorization`).
 */
const READABLE_VERSIONS: ReadonlySet<string> = new Set(['payment-machines/1', MACHINE_VERSION]);

type MachineSnapshot = ReturnType<PaymentMachine['resolveState']>;

const amountsSchema = z.object({
  authorized: z.number().int().nonnegative(),
  captured: z.number().int().nonnegative(),
  cancelled: z.number().int().nonnegative(),
  refunded: z.number().int().nonnegative(),
});

const persistedSchema = z.object({
  machineVersion: z.string(),
  value: z.union([z.string(), z.record(z.string(), z.string())]),
  context: z.object({
    kind: z.enum(PAYMENT_KINDS),
    currency: z.string(),
    captureMode: z.enum(CAPTURE_MODES),
    requestedAmount: z.number().int().positive(),
    amounts: amountsSchema,
    pending: z
      .object({
        operation: z.enum(OPERATIONS),
        amount: z.number().int().positive().optional(),
        resumeTo: z.enum(['authorized', 'challenged', 'captured', 'partially_refunded']).optional(),
        operationId: z.string().optional(),
        asRefund: z.literal(true).optional(),
        beforeRemittance: z.enum(REFUND_BEFORE_REMITTANCE).optional(),
      })
      .nullable(),
    operations: z
      .array(
        z.object({
          id: z.string(),
          type: z.enum(COMMAND_OPERATIONS),
          amount: z.number().int().positive(),
          status: z.enum(OPERATION_STATUSES),
          performedAs: z.enum(COMMAND_OPERATIONS),
          beforeRemittance: z.enum(REFUND_BEFORE_REMITTANCE).optional(),
          failure: z.object({ reason: z.string(), responseCode: z.string().optional() }).optional(),
        }),
      )
      .optional(),
    held: z.object({ csc: z.boolean(), card: z.boolean() }),
    limit: z
      .object({
        warned: z.literal(true).optional(),
        reauthorization: z
          .object({
            phase: z.enum(REAUTHORIZATION_PHASES),
            newPaymentId: z.string().optional(),
          })
          .optional(),
      })
      .optional(),
  }),
});

type Persisted = z.infer<typeof persistedSchema>;

const KINDS: ReadonlySet<unknown> = new Set(PAYMENT_KINDS);
const MODES: ReadonlySet<unknown> = new Set(CAPTURE_MODES);
const OPERATION_SET: ReadonlySet<unknown> = new Set(OPERATIONS);
const RESUME_POINTS: ReadonlySet<unknown> = new Set([
  'authorized',
  'challenged',
  'captured',
  'partially_refunded',
]);

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * `persistedSchema` checked by hand, for the hot path: the same rules, and
 * the same result (known keys only). Undefined when the snapshot breaks any
 * of them; `read` then lets zod say which.
 */
function readFast(snapshot: PersistedSnapshot): Persisted | undefined {
  const { machineVersion, value, context } = snapshot;
  if (typeof machineVersion !== 'string' || !isObject(context)) return undefined;
  if (typeof value !== 'string') {
    if (!isObject(value)) return undefined;
    for (const key in value) if (typeof value[key] !== 'string') return undefined;
  }
  const { kind, currency, captureMode, requestedAmount, amounts, pending, held, limit } = context;
  if (!KINDS.has(kind) || typeof currency !== 'string' || !MODES.has(captureMode)) {
    return undefined;
  }
  if (!isValidAmount(requestedAmount) || !isObject(amounts) || !isObject(held)) return undefined;
  const { authorized, captured, cancelled, refunded } = amounts;
  if (!isCount(authorized) || !isCount(captured) || !isCount(cancelled) || !isCount(refunded)) {
    return undefined;
  }
  if (typeof held.csc !== 'boolean' || typeof held.card !== 'boolean') return undefined;
  let restored: Persisted['context']['pending'] = null;
  if (pending !== null) {
    if (!isObject(pending) || !OPERATION_SET.has(pending.operation)) return undefined;
    restored = { operation: pending.operation as Operation };
    if (pending.amount !== undefined) {
      if (!isValidAmount(pending.amount)) return undefined;
      restored.amount = pending.amount;
    }
    if (pending.resumeTo !== undefined) {
      if (!RESUME_POINTS.has(pending.resumeTo)) return undefined;
      restored.resumeTo = pending.resumeTo as NonNullable<typeof restored.resumeTo>;
    }
    const link = readPendingLink(pending);
    if (link === null) return undefined;
    Object.assign(restored, link);
  }
  const operations = readOperations(context.operations);
  if (operations === undefined) return undefined;
  const built: Persisted['context'] = {
    kind: kind as Persisted['context']['kind'],
    currency,
    captureMode: captureMode as Persisted['context']['captureMode'],
    requestedAmount,
    amounts: { authorized, captured, cancelled, refunded },
    pending: restored,
    held: { csc: held.csc, card: held.card },
  };
  if (operations.length > 0) built.operations = operations;
  if (limit !== undefined) {
    const copied = readLimit(limit);
    if (copied === undefined) return undefined;
    built.limit = copied;
  }
  return {
    machineVersion,
    value: typeof value === 'string' ? value : { ...(value as Record<string, string>) },
    context: built,
  };
}

function read(snapshot: PersistedSnapshot): Persisted {
  const fast = readFast(snapshot);
  if (fast !== undefined) {
    if (!READABLE_VERSIONS.has(fast.machineVersion)) {
      throw new TypeError(
        `snapshot written by ${fast.machineVersion}, this is ${MACHINE_VERSION}: migrate it first`,
      );
    }
    return fast;
  }
  const parsed = persistedSchema.safeParse(snapshot);
  if (!parsed.success) {
    throw new TypeError(`not a payment machine snapshot: ${parsed.error.message}`);
  }
  if (!READABLE_VERSIONS.has(parsed.data.machineVersion)) {
    throw new TypeError(
      `snapshot written by ${parsed.data.machineVersion}, this is ${MACHINE_VERSION}: migrate it first`,
    );
  }
  return { ...parsed.data, context: contextFromParsed(parsed.data.context) };
}

/** The zod result's context as a PaymentContext (`readFast` builds one directly). */
function contextFromParsed(context: Persisted['context']): PaymentContext {
  const { pending, limit, operations, ...parsed } = context;
  const rest: Omit<PaymentContext, 'pending'> = { ...parsed };
  if (limit !== undefined) rest.limit = readLimit(limit) as CaptureLimitState;
  const records = readOperations(operations);
  if (records !== undefined && records.length > 0) rest.operations = records;
  if (pending === null) return { ...rest, pending: null };
  const restored: PendingOperation = { operation: pending.operation };
  if (pending.amount !== undefined) restored.amount = pending.amount;
  if (pending.resumeTo !== undefined) restored.resumeTo = pending.resumeTo;
  Object.assign(restored, readPendingLink(pending));
  return { ...rest, pending: restored };
}

function contextOf(persisted: Persisted): PaymentContext {
  return persisted.context as PaymentContext;
}

function statusOfValue(value: Persisted['value']): PaymentStatus {
  const top = typeof value === 'string' ? value : Object.keys(value)[0];
  const status = PAYMENT_STATUSES.find((candidate) => candidate === top);
  if (status === undefined) throw new TypeError(`unknown machine state ${JSON.stringify(value)}`);
  return status;
}

function stanceOf(value: Persisted['value']): Stance {
  const status = statusOfValue(value);
  return {
    status,
    challenged: typeof value !== 'string' && value[status] === 'challenged',
  };
}

/** Plain JSON: what `JSON.parse(JSON.stringify(x))` gives back unchanged. */
function persist(snapshot: MachineSnapshot): PersistedSnapshot {
  // Copied field by field (what `persistedSchema` keeps, undefined left out),
  // rather than through a JSON round trip.
  const value = snapshot.value as Persisted['value'];
  const context = snapshot.context;
  let pending: Persisted['context']['pending'] = null;
  if (context.pending) {
    pending = { operation: context.pending.operation };
    if (context.pending.amount !== undefined) pending.amount = context.pending.amount;
    if (context.pending.resumeTo !== undefined) pending.resumeTo = context.pending.resumeTo;
    Object.assign(pending, readPendingLink(context.pending as unknown as Record<string, unknown>));
  }
  const { authorized, captured, cancelled, refunded } = context.amounts;
  const persisted: Persisted = {
    machineVersion: MACHINE_VERSION,
    value: typeof value === 'string' ? value : { ...value },
    context: {
      kind: context.kind,
      currency: context.currency,
      captureMode: context.captureMode,
      requestedAmount: context.requestedAmount,
      amounts: { authorized, captured, cancelled, refunded },
      pending,
      held: { csc: context.held.csc, card: context.held.card },
    },
  };
  if (context.limit !== undefined) {
    persisted.context.limit = readLimit(context.limit) as CaptureLimitState;
  }
  if (context.operations !== undefined && context.operations.length > 0) {
    persisted.context.operations = context.operations.map((record) => ({ ...record }));
  }
  return persisted as unknown as PersistedSnapshot;
}

function effectsOf(actions: readonly { type: string; params?: unknown }[]): Effect[] {
  return actions
    .filter((action) => EFFECT_ACTIONS.has(action.type))
    .map((action) => ({ type: action.type, ...(action.params ?? {}) }) as Effect);
}

function resultOf(snapshot: MachineSnapshot, actions: { type: string; params?: unknown }[]) {
  return {
    snapshot: persist(snapshot),
    status: statusOfValue(snapshot.value as Persisted['value']),
    amounts: { ...snapshot.context.amounts },
    effects: effectsOf(actions),
  } satisfies StepResult;
}

function checkInput(input: PaymentInput): void {
  if (!PAYMENT_KINDS.includes(input.kind)) {
    throw new RangeError(`unknown payment kind ${String(input.kind)}`);
  }
  if (!isValidAmount(input.amount)) {
    throw new RangeError(`amount must be a positive integer in minor units (got ${input.amount})`);
  }
  if (!/^\d{3}$/.test(input.currency)) {
    throw new RangeError(`currency must be an ISO 4217 numeric code (got ${input.currency})`);
  }
  if (!CAPTURE_MODES.includes(input.captureMode)) {
    throw new RangeError(`unknown capture mode ${String(input.captureMode)}`);
  }
}

/**
 * What xstate's `transition` and `initialTransition` do, minus their cost:
 * each of those builds a fresh actor (whose constructor computes a throwaway
 * initial snapshot) only to use it as an inert scope. Here each machine gets
 * one inert scope, made once; it collects the actions of one synchronous
 * step instead of executing them. Steps never overlap (they are synchronous),
 * so the scope is never shared by two of them.
 */
interface InertScope {
  scope: AnyActorScope;
  actions: { type: string; params?: unknown }[];
}

const INERT_SCOPES = new Map<PaymentMachine, InertScope>();

function inertScopeOf(machine: PaymentMachine): InertScope {
  let inert = INERT_SCOPES.get(machine);
  if (inert === undefined) {
    // Never started: it only stands as `self` for the machine's step.
    const self = createActor(machine, {
      input: { kind: 'card', amount: 1, currency: '978', captureMode: 'author_capture' },
    });
    const actions: InertScope['actions'] = [];
    const actionExecutor: ActionExecutor = (action) => {
      actions.push(action as InertScope['actions'][number]);
    };
    const scope: AnyActorScope = {
      self,
      id: '',
      sessionId: '',
      logger: () => {},
      defer: () => {},
      emit: () => {},
      system: self.system,
      stopChild: () => {},
      actionExecutor,
    };
    inert = { scope, actions };
    INERT_SCOPES.set(machine, inert);
  }
  inert.actions.length = 0;
  return inert;
}

function takeActions(inert: InertScope): { type: string; params?: unknown }[] {
  const actions = inert.actions.slice();
  inert.actions.length = 0;
  return actions;
}

/**
 * A new payment in `received`: its effects publish `payment.received` and send
 * the first call. Throws RangeError on input the engine should have rejected.
 */
export function startPayment(input: PaymentInput): StepResult {
  checkInput(input);
  const machine = PAYMENT_MACHINES[input.kind];
  const inert = inertScopeOf(machine);
  const snapshot = machine.getInitialSnapshot(inert.scope, input);
  return resultOf(snapshot, takeActions(inert));
}

/**
 * The next state for `event`. When the event is not allowed where the payment
 * stands (a command while another operation is in flight, an invalid amount,
 * a late answer...), nothing changes and `reason` says why. Throws TypeError
 * on a snapshot that is not ours or was written by another MACHINE_VERSION.
 */
export function stepPayment(snapshot: PersistedSnapshot, event: PaymentEvent): StepOutcome {
  const persisted = read(snapshot);
  const context = contextOf(persisted);
  const machine = PAYMENT_MACHINES[context.kind];
  const current = machine.resolveState({ value: persisted.value, context });
  if (!current.can(event)) {
    const stance = stanceOf(persisted.value);
    const waitFor = waitForOf(context, stance, event);
    return {
      accepted: false,
      status: stance.status,
      reason: explainRejection(context, stance, event),
      ...(waitFor === undefined ? {} : { waitFor }),
    };
  }
  const inert = inertScopeOf(machine);
  const next = machine.transition(current, event, inert.scope);
  return { accepted: true, ...resultOf(next, takeActions(inert)) };
}

export function statusOf(snapshot: PersistedSnapshot): PaymentStatus {
  return statusOfValue(read(snapshot).value);
}

export function amountsOf(snapshot: PersistedSnapshot): Amounts {
  return { ...read(snapshot).context.amounts };
}

/**
 * The operation in flight, or whose outcome an inquiry or a review is
 * establishing (`outcome_unknown`, `in_review`), with its amount; null when
 * none is.
 */
export function pendingOperationOf(
  snapshot: PersistedSnapshot,
): { operation: PendingOperation['operation']; amount?: number } | null {
  const pending = contextOf(read(snapshot)).pending;
  if (pending === null) return null;
  return pending.amount === undefined
    ? { operation: pending.operation }
    : { operation: pending.operation, amount: pending.amount };
}

/** True when the payment is authorised but held by Sips for a fraud check. */
export function isChallenged(snapshot: PersistedSnapshot): boolean {
  return stanceOf(read(snapshot).value).challenged;
}

/** What became of the capture limit of a VALIDATION authorisation so far. */
export function captureLimitOf(snapshot: PersistedSnapshot): CaptureLimitState {
  const limit = contextOf(read(snapshot)).limit;
  return limit === undefined ? {} : readLimit(limit)!;
}

/**
 * The snapshot with the reauthorisation set as given: how the engine lifts
 * the reauthorisation a payment kept in its facts before the machine kept it
 * (capture-limit.ts `reauthorizationFromFacts`), at the payment's next step.
 */
export function withReauthorization(
  snapshot: PersistedSnapshot,
  reauthorization: Reauthorization,
): PersistedSnapshot {
  const persisted = read(snapshot);
  const lifted: Persisted = {
    ...persisted,
    context: {
      ...persisted.context,
      limit: { ...persisted.context.limit, reauthorization: { ...reauthorization } },
    },
  };
  return lifted as unknown as PersistedSnapshot;
}

/**
 * Whether the pending call may be sent, given what Sips shows just before it
 * (`null`: Sips does not know the transaction). See settlement.ts.
 */
export function checkBeforeCall(
  snapshot: PersistedSnapshot,
  found: GatewayView | null,
): CallPrecondition {
  return checkContextBeforeCall(contextOf(read(snapshot)), found);
}

/**
 * Whether what Sips shows (`null`: Sips does not know the transaction)
 * confirms the status a person means to mark. See settlement.ts.
 */
export function confirmMarkAgainst(
  snapshot: PersistedSnapshot,
  status: Extract<PaymentEvent, { type: 'review.mark' }>['status'],
  found: GatewayView | null,
): MarkConfirmation {
  return confirmMark(contextOf(read(snapshot)), status, found);
}

/** The merchant's captures, cancels and refunds in a persisted snapshot, oldest first. */
export function commandOperationsOf(snapshot: PersistedSnapshot): OperationRecord[] {
  return contextOf(read(snapshot)).operations ?? [];
}
