/**
 * Captures, cancels and refunds as resources: each merchant command that
 * moves money gets an id (given by the engine with the command) and a record
 * in the payment's context, so its outcome can be read back, failures
 * included. A refund is the merchant's intent, and may be carried out by a
 * Sips cancel: while Sips still holds the money to capture (TO_CAPTURE, not
 * remitted yet) Sips refuses a refund (24), and cancelling that amount is
 * what keeps the money with the customer.
 */
import type { Amounts } from './contract.ts';
import { isObject, isValidAmount } from './checks.ts';

/** The merchant commands that are resources. */
export const COMMAND_OPERATIONS = ['capture', 'cancel', 'refund'] as const;
export type CommandOperation = (typeof COMMAND_OPERATIONS)[number];

export const OPERATION_STATUSES = ['pending', 'held', 'succeeded', 'failed'] as const;
/**
 * - `pending`: the Sips call is in flight, or its outcome is being established;
 * - `held`: a refund waiting for Sips to remit the payment (policy `hold`);
 * - `succeeded` / `failed`: what Sips did (amounts move only on success).
 */
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/** What a refund becomes while Sips has not remitted the payment yet. */
export const REFUND_BEFORE_REMITTANCE = ['cancel', 'hold'] as const;
export type RefundBeforeRemittance = (typeof REFUND_BEFORE_REMITTANCE)[number];

export interface OperationFailure {
  /** `declined`, `sips_unavailable`, `not_done` (an inquiry showed it did not happen). */
  reason: string;
  responseCode?: string;
}

export interface OperationRecord {
  id: string;
  type: CommandOperation;
  amount: number;
  status: OperationStatus;
  /** The Sips operation that carries it out (a refund before remittance is a cancel). */
  performedAs: CommandOperation;
  /** Refunds: what happens when Sips has not remitted the payment yet. */
  beforeRemittance?: RefundBeforeRemittance;
  failure?: OperationFailure;
}

/** The operation records of a context written before they existed: none. */
export function operationsOf(context: { operations?: OperationRecord[] }): OperationRecord[] {
  return context.operations ?? [];
}

export function findOperation(
  context: { operations?: OperationRecord[] },
  id: string | undefined,
): OperationRecord | undefined {
  if (id === undefined) return undefined;
  return operationsOf(context).find((operation) => operation.id === id);
}

/** `operations` with the record `id` replaced by `change(record)`. */
export function updateOperation(
  operations: readonly OperationRecord[],
  id: string,
  change: (record: OperationRecord) => OperationRecord,
): OperationRecord[] {
  return operations.map((record) => (record.id === id ? change(record) : record));
}

/**
 * Whether the pending command's money moved between `before` and `after`
 * (an inquiry's or a person's position): a capture captured more, a cancel
 * released its amount, a refund refunded it.
 */
export function commandHappened(
  operation: CommandOperation,
  amount: number,
  before: Amounts,
  after: Amounts,
): boolean {
  switch (operation) {
    case 'capture':
      return after.captured > before.captured;
    case 'cancel':
      return after.cancelled - before.cancelled >= amount;
    case 'refund':
      return after.refunded - before.refunded >= amount;
  }
}

export function isCommandOperation(value: unknown): value is CommandOperation {
  return (COMMAND_OPERATIONS as readonly unknown[]).includes(value);
}

const STATUSES: ReadonlySet<unknown> = new Set(OPERATION_STATUSES);
const POLICIES: ReadonlySet<unknown> = new Set(REFUND_BEFORE_REMITTANCE);

function readFailure(value: unknown): OperationFailure | undefined | null {
  if (value === undefined) return undefined;
  if (!isObject(value) || typeof value.reason !== 'string') return null;
  if (value.responseCode !== undefined && typeof value.responseCode !== 'string') return null;
  return {
    reason: value.reason,
    ...(value.responseCode === undefined ? {} : { responseCode: value.responseCode }),
  };
}

function readOperation(value: unknown): OperationRecord | undefined {
  if (!isObject(value) || typeof value.id !== 'string' || !isValidAmount(value.amount)) {
    return undefined;
  }
  const { type, status, performedAs, beforeRemittance } = value;
  if (!isCommandOperation(type) || !isCommandOperation(performedAs) || !STATUSES.has(status)) {
    return undefined;
  }
  if (beforeRemittance !== undefined && !POLICIES.has(beforeRemittance)) return undefined;
  const failure = readFailure(value.failure);
  if (failure === null) return undefined;
  return {
    id: value.id,
    type,
    amount: value.amount,
    status: status as OperationStatus,
    performedAs,
    ...(beforeRemittance === undefined
      ? {}
      : { beforeRemittance: beforeRemittance as RefundBeforeRemittance }),
    ...(failure === undefined ? {} : { failure }),
  };
}

/**
 * A snapshot's operation records checked and copied (known keys only), or
 * undefined when any is malformed. Snapshots written before operations were
 * resources have none: an empty list.
 */
export function readOperations(value: unknown): OperationRecord[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const records: OperationRecord[] = [];
  for (const item of value) {
    const record = readOperation(item);
    if (record === undefined) return undefined;
    records.push(record);
  }
  return records;
}

/** The pending call's link to its resource, checked and copied; null when malformed. */
export function readPendingLink(
  pending: Record<string, unknown>,
): { operationId?: string; asRefund?: true; beforeRemittance?: RefundBeforeRemittance } | null {
  const { operationId, asRefund, beforeRemittance } = pending;
  if (operationId !== undefined && typeof operationId !== 'string') return null;
  if (asRefund !== undefined && asRefund !== true) return null;
  if (beforeRemittance !== undefined && !POLICIES.has(beforeRemittance)) return null;
  return {
    ...(operationId === undefined ? {} : { operationId }),
    ...(asRefund === undefined ? {} : { asRefund }),
    ...(beforeRemittance === undefined
      ? {}
      : { beforeRemittance: beforeRemittance as RefundBeforeRemittance }),
  };
}
