/**
 * Creating a payment: one script checks the idempotency record, then
 * writes it, the payment at version 1, its status index entry, its entries
 * in the indexes by creation time (all payments, its shop's), its timeline
 * and its events, all in the payment's slot.
 */
import { createHmac } from 'node:crypto';
import { PAYMENT_KINDS } from '../../machines/contract.ts';
import { assertNoCardData } from './card-guard.ts';
import { PaymentsError } from './errors.ts';
import { loadScript, runScript } from './lua.ts';
import {
  checkAmounts,
  checkStatus,
  checkTransactionReference,
  eventArgs,
  fieldArgs,
  invalid,
  timelineArgs,
} from './store-codec.ts';
import {
  merchantIdOf,
  type CreateOptions,
  type CreateResult,
  type NewPayment,
  type StoreContext,
} from './store-types.ts';

const CREATE = loadScript('payments.create', new URL('./lua/create.lua', import.meta.url));

const CURRENCY = /^\d{3}$/;

/**
 * An HMAC-SHA-256 of a request's canonical JSON (object keys sorted), for the
 * idempotency check. It is keyed because create requests hold card data: a
 * plain hash of a PAN is reversible by brute force (a BIN and the Luhn digit
 * leave about 10^9 candidates). Use one stable secret from configuration;
 * changing it makes retries within the idempotency window look like conflicts.
 */
export function createRequestHasher(secret: Buffer): (request: unknown) => string {
  if (secret.length < 16) throw new RangeError('the request hash secret needs 16 bytes or more');
  const key = Buffer.from(secret);
  return (request) => createHmac('sha256', key).update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function checkNewPayment(
  { keyspace }: StoreContext,
  payment: NewPayment,
  shard: number,
  { idempotencyKey, requestHash }: CreateOptions,
): void {
  if (idempotencyKey !== undefined) {
    if (!requestHash) throw invalid('an idempotency key needs a request hash');
    // The key and the record must share a slot for the check-and-write to be atomic.
    if (keyspace.shardForIdempotencyKey(idempotencyKey) !== shard) {
      throw invalid('the payment id was not made for this idempotency key', { id: payment.id });
    }
  }
  if (!PAYMENT_KINDS.includes(payment.kind)) throw invalid(`unknown kind ${payment.kind}`);
  checkStatus(payment.status);
  if (!Number.isSafeInteger(payment.amount) || payment.amount <= 0) {
    throw invalid('amount must be positive integer minor units');
  }
  if (!CURRENCY.test(payment.currency)) throw invalid('currency must be ISO 4217 numeric');
  checkTransactionReference(payment.transactionReference);
}

function recordFields(payment: NewPayment, shard: number, now: number): (string | number)[] {
  const amounts = payment.amounts ?? { authorized: 0, captured: 0, cancelled: 0, refunded: 0 };
  checkAmounts(amounts);
  const merchant = payment.merchant ?? {};
  assertNoCardData(merchant, 'merchant references');
  return fieldArgs({
    id: payment.id,
    shard: String(shard),
    version: '1',
    machineVersion: payment.machineVersion,
    kind: payment.kind,
    status: payment.status,
    amount: String(payment.amount),
    currency: payment.currency,
    captureMode: payment.captureMode,
    amounts: JSON.stringify(amounts),
    snapshot: JSON.stringify(payment.snapshot),
    card: payment.card,
    maskedPan: payment.maskedPan,
    merchant: JSON.stringify(merchant),
    engine: payment.engine,
    transactionReference: payment.transactionReference,
    createdAt: String(now),
    updatedAt: String(now),
  });
}

export async function createPayment(
  context: StoreContext,
  payment: NewPayment,
  options: CreateOptions = {},
): Promise<CreateResult> {
  const { redis, keyspace, clock } = context;
  const { id } = payment;
  const { idempotencyKey, requestHash } = options;
  const shard = keyspace.shardOf(id);
  checkNewPayment(context, payment, shard, options);
  const now = clock.now();
  const fields = recordFields(payment, shard, now);
  const paymentKey = keyspace.paymentKey(id);
  const reply = (await runScript(
    redis,
    CREATE,
    [
      idempotencyKey === undefined ? paymentKey : keyspace.idempotencyKey(idempotencyKey),
      paymentKey,
      keyspace.timelineKey(id),
      keyspace.eventsStream(shard),
      keyspace.statusIndexKey(shard, payment.status),
      keyspace.createdIndexKey(shard),
      keyspace.merchantIndexKey(shard, merchantIdOf(payment.merchant)),
    ],
    [
      id,
      idempotencyKey === undefined ? '' : (requestHash as string),
      context.idempotencyTtlMs,
      now,
      context.maxLen,
      ...fields,
      ...timelineArgs(payment.timeline),
      ...eventArgs(options.events ?? [], id, 1),
    ],
  )) as [string, string];
  const [outcome, existingId] = reply;
  switch (outcome) {
    case 'created':
      return { created: true, conflict: false, id, version: 1, createdAt: now };
    case 'existing':
      return { created: false, conflict: false, id: existingId };
    case 'conflict':
      return { created: false, conflict: true };
    case 'id_taken':
      throw new PaymentsError('payment_id_taken', `payment id ${id} is already used`);
    default:
      throw new Error(`unexpected create reply ${String(outcome)}`);
  }
}
