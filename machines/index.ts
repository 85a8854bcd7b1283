/**
 * The machines' public surface for the engine: start a payment, step it with
 * an event, read what the engine needs from a persisted snapshot. Pure: no
 * I/O, no clock, no randomness; the same snapshot and event always give the
 * same result.
 */
import { initialTransition, transition } from 'xstate';
import { z } from 'zod';
import type {
  Amounts,
  Effect,
  PaymentEvent,
  PaymentInput,
  PaymentStatus,
  PersistedSnapshot,
  StepOutcome,
  StepResult,
} from './contract.ts';
import { OPERATIONS, PAYMENT_KINDS, PAYMENT_STATUSES } from './contract.ts';
import {
  CAPTURE_MODES,
  isValidAmount,
  type PaymentContext,
  type PendingOperation,
} from './model.ts';
import { EFFECT_ACTIONS, PAYMENT_MACHINES, type PaymentMachine } from './payment-machine.ts';
import { explainRejection, type Stance } from './rules.ts';

/**
 * Stored with every payment record and inside every snapshot. Bump it when a
 * snapshot written by the previous version would not mean the same thing.
 */
export const MACHINE_VERSION = 'payment-machines/1';

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
      })
      .nullable(),
    held: z.object({ csc: z.boolean(), card: z.boolean() }),
  }),
});

type Persisted = z.infer<typeof persistedSchema>;

function read(snapshot: PersistedSnapshot): Persisted {
  const parsed = persistedSchema.safeParse(snapshot);
  if (!parsed.success) {
    throw new TypeError(`not a payment machine snapshot: ${parsed.error.message}`);
  }
  if (parsed.data.machineVersion !== MACHINE_VERSION) {
    throw new TypeError(
      `snapshot written by ${parsed.data.machineVersion}, this is ${MACHINE_VERSION}: migrate it first`,
    );
  }
  return parsed.data;
}

function contextOf(persisted: Persisted): PaymentContext {
  const { pending, ...rest } = persisted.context;
  if (pending === null) return { ...rest, pending: null };
  const restored: PendingOperation = { operation: pending.operation };
  if (pending.amount !== undefined) restored.amount = pending.amount;
  if (pending.resumeTo !== undefined) restored.resumeTo = pending.resumeTo;
  return { ...rest, pending: restored };
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
  return JSON.parse(
    JSON.stringify({
      machineVersion: MACHINE_VERSION,
      value: snapshot.value,
      context: snapshot.context,
    }),
  ) as PersistedSnapshot;
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
 * A new payment in `received`: its effects publish `payment.received` and send
 * the first call. Throws RangeError on input the engine should have rejected.
 */
export function startPayment(input: PaymentInput): StepResult {
  checkInput(input);
  const machine = PAYMENT_MACHINES[input.kind];
  const [snapshot, actions] = initialTransition(machine, input);
  return resultOf(snapshot, actions);
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
    return {
      accepted: false,
      status: stance.status,
      reason: explainRejection(context, stance, event),
    };
  }
  const [next, actions] = transition(machine, current, event);
  return { accepted: true, ...resultOf(next, actions) };
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
