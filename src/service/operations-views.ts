/**
 * Captures, cancels and refunds as resources: their ids, what callers see
 * of them, and the ids the commands give them. The records are the payment
 * machine's (machines/operations.ts); the times come from the payment's
 * timeline, where each command is written with its id.
 */
import { createHash } from 'node:crypto';
import { commandOperationsOf } from '../../machines/index.ts';
import type {
  CommandOperation,
  OperationFailure,
  OperationStatus,
} from '../../machines/operations.ts';
import type { PaymentRecord } from '../payments/store.ts';
import { tokenOf, type IdGenerator } from '../platform/ids.ts';

const PREFIXES: Record<CommandOperation, string> = { capture: 'cap', cancel: 'cnl', refund: 'ref' };

/** Our operation ids: `cap_…`, `cnl_…`, `ref_…` and 20 characters of base32. */
export const OPERATION_ID = /^(cap|cnl|ref)_[0-9A-Z]{20}$/;

/**
 * The id of the resource a command makes. Under an idempotency key it is
 * derived from the payment, the command and the key, so a retried request
 * names the same resource (and its Location) without storing anything more.
 */
export function operationIdFor(
  ids: IdGenerator,
  paymentId: string,
  type: CommandOperation,
  idempotencyKey: string | undefined,
): string {
  if (idempotencyKey === undefined) return ids.next(PREFIXES[type]);
  const digest = createHash('sha256').update(`${paymentId}\n${type}\n${idempotencyKey}`).digest();
  return `${PREFIXES[type]}_${tokenOf(digest)}`;
}

export interface OperationView {
  id: string;
  paymentId: string;
  type: CommandOperation;
  /** Minor units. */
  amount: number;
  currency: string;
  status: OperationStatus;
  /** The Sips operation that carries it out: a refund before remittance is a cancel. */
  performedAs: CommandOperation;
  failure?: OperationFailure;
  /** When the command was accepted (RFC 3339). */
  createdAt?: string;
}

/** When each operation's command was accepted, from the timeline's `command` entries. */
function acceptedAt(record: PaymentRecord): Map<string, number> {
  const times = new Map<string, number>();
  for (const entry of record.timeline) {
    const id = entry.kind === 'command' ? entry.detail?.operationId : undefined;
    if (typeof id === 'string' && !times.has(id)) times.set(id, entry.at);
  }
  return times;
}

/** The payment's captures, cancels and refunds, oldest first. */
export function operationViews(record: PaymentRecord): OperationView[] {
  const times = acceptedAt(record);
  return commandOperationsOf(record.snapshot).map((operation) => {
    const at = times.get(operation.id);
    return {
      id: operation.id,
      paymentId: record.id,
      type: operation.type,
      amount: operation.amount,
      currency: record.currency,
      status: operation.status,
      performedAs: operation.performedAs,
      ...(operation.failure ? { failure: { ...operation.failure } } : {}),
      ...(at === undefined ? {} : { createdAt: new Date(at).toISOString() }),
    };
  });
}
