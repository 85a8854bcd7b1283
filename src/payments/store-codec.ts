/**
 * The payment record's encoding: checks of what is written, the script
 * arguments (hash fields, timeline entries, events, the intent's members)
 * and the decoding of a stored hash back into a record.
 *
 * Stored hash fields: `id shard version machineVersion kind status amount
 * currency captureMode amounts snapshot intent? card? maskedPan? merchant
 * engine? transactionReference createdAt updatedAt` (objects as JSON,
 * numbers as decimal text). The timeline is a list of JSON entries beside it.
 */
import type {
  Amounts,
  CaptureMode,
  PaymentKind,
  PaymentStatus,
  PersistedSnapshot,
} from '../../machines/contract.ts';
import { PAYMENT_STATUSES } from '../../machines/contract.ts';
import { assertNoCardData } from './card-guard.ts';
import { PaymentsError } from './errors.ts';
import type { PaymentCloudEvent } from './events.ts';
import type {
  MerchantRef,
  PaymentIntent,
  PaymentRecord,
  TimelineEntry,
  WriteResult,
} from './store-types.ts';

const TRANSACTION_REFERENCE = /^[A-Za-z0-9]{1,35}$/;

export function invalid(message: string, details?: Record<string, unknown>): PaymentsError {
  return new PaymentsError(
    'payment_record_invalid',
    message,
    details === undefined ? {} : { details },
  );
}

export function isMinor(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function checkAmounts(amounts: Amounts): void {
  for (const name of ['authorized', 'captured', 'cancelled', 'refunded'] as const) {
    if (!isMinor(amounts[name])) throw invalid(`amounts.${name} must be integer minor units`);
  }
}

export function checkStatus(status: string): void {
  if (!(PAYMENT_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`unknown status ${status}`);
  }
}

export function checkTransactionReference(reference: string): void {
  if (!TRANSACTION_REFERENCE.test(reference)) {
    throw invalid('transactionReference must be 1 to 35 letters or digits');
  }
}

export function checkIntentAmount(amount: number | undefined): void {
  if (amount !== undefined && !isMinor(amount)) {
    throw invalid('an intent amount is integer minor units');
  }
}

/** The events section: each event must name the payment and the version the write produces. */
export function eventArgs(
  events: readonly PaymentCloudEvent[],
  id: string,
  sequence: number,
): (string | number)[] {
  const args: (string | number)[] = [events.length];
  for (const event of events) {
    if (event.subject !== id || event.sequence !== sequence) {
      throw invalid('an event must name the payment and the version the write produces', {
        type: event.type,
        subject: event.subject,
        sequence: event.sequence,
        expected: sequence,
      });
    }
    args.push(event.type, event.subject, String(event.sequence), JSON.stringify(event));
  }
  return args;
}

/** The timeline section: one JSON entry each. */
export function timelineArgs(entries: readonly TimelineEntry[] | undefined): (string | number)[] {
  const list = entries ?? [];
  for (const entry of list) assertNoCardData(entry, 'a timeline entry');
  return [list.length, ...list.map((entry) => JSON.stringify(entry))];
}

/** The hash fields section: the pairs whose value is given. */
export function fieldArgs(fields: Record<string, string | undefined>): (string | number)[] {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) pairs.push(name, value);
  }
  return [pairs.length / 2, ...pairs];
}

/**
 * An intent's members in the order `writeIntent` stores them, each a name
 * and its JSON value, for the script to join into the intent's JSON with
 * the stored transactionReference in its place (its value is left empty).
 */
export function intentMembers(
  intent: Omit<PaymentIntent, 'transactionReference' | 'answered'>,
): string[] {
  const members: [string, string][] = [
    ['op', JSON.stringify(intent.op)],
    ['attempt', JSON.stringify(intent.attempt)],
    ['at', JSON.stringify(intent.at)],
    ['transactionReference', ''],
  ];
  if (intent.jobId !== undefined) members.push(['jobId', JSON.stringify(intent.jobId)]);
  if (intent.amount !== undefined) members.push(['amount', JSON.stringify(intent.amount)]);
  return members.flat();
}

/** A hash as HGETALL returns it inside a script: names and values, flat. */
export function hashOf(flat: readonly string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  return hash;
}

function parseJson<T>(text: string | undefined, field: string, id: string): T {
  if (text === undefined) {
    throw new PaymentsError('payment_record_corrupt', `payment ${id} has no ${field}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new PaymentsError('payment_record_corrupt', `payment ${id} has unreadable ${field}`, {
      cause: error,
    });
  }
}

export function decode(hash: Record<string, string>, timeline: string[]): PaymentRecord {
  const id = hash.id ?? '?';
  const record: PaymentRecord = {
    id,
    shard: Number(hash.shard),
    version: Number(hash.version),
    machineVersion: hash.machineVersion ?? '',
    kind: hash.kind as PaymentKind,
    status: hash.status as PaymentStatus,
    amount: Number(hash.amount),
    currency: hash.currency ?? '',
    captureMode: hash.captureMode as CaptureMode,
    amounts: parseJson<Amounts>(hash.amounts, 'amounts', id),
    snapshot: parseJson<PersistedSnapshot>(hash.snapshot, 'snapshot', id),
    merchant: parseJson<MerchantRef>(hash.merchant, 'merchant', id),
    transactionReference: hash.transactionReference ?? '',
    createdAt: Number(hash.createdAt),
    updatedAt: Number(hash.updatedAt),
    timeline: timeline.map((entry) => parseJson<TimelineEntry>(entry, 'timeline', id)),
  };
  if (hash.intent !== undefined) {
    record.intent = parseJson<PaymentIntent>(hash.intent, 'intent', id);
  }
  if (hash.card !== undefined) record.card = hash.card;
  if (hash.maskedPan !== undefined) record.maskedPan = hash.maskedPan;
  if (hash.engine !== undefined) record.engine = hash.engine;
  if (!Number.isInteger(record.version) || record.version < 1) {
    throw new PaymentsError('payment_record_corrupt', `payment ${id} has no valid version`);
  }
  return record;
}

export function writeResult(reply: unknown): WriteResult {
  const [outcome, value] = reply as [string, string | number | undefined];
  switch (outcome) {
    case 'ok':
      return { ok: true, version: Number(value) };
    case 'version_conflict':
      return { ok: false, reason: 'version_conflict', actualVersion: Number(value) };
    case 'not_found':
      return { ok: false, reason: 'not_found' };
    default:
      throw new Error(`unexpected script reply ${String(outcome)}`);
  }
}
