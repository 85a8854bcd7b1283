/**
 * The payment store: one Redis hash per payment, written only by Lua scripts
 * that compare-and-set on `version` (architecture §5).
 *
 * Every write is one script in one slot (see keys.ts), so it is atomic on a
 * single Redis and on Redis Cluster alike:
 * - `create` checks the idempotency key, writes the record at version 1, the
 *   key, the status index, the timeline and the events (store-create.ts);
 * - `writeIntent` records the Sips call about to be sent, before it is sent;
 * - `commitStep` stores the machine's new snapshot, clears the intent, updates
 *   the status index and appends the events to the shard's stream: the event
 *   stream is the outbox, and a refused write appends nothing
 *   (store-writes.ts).
 *
 * The record's fields and their encoding are in store-codec.ts, the scripts
 * in lua/.
 */
import { createPayment } from './store-create.ts';
import { getPayment, listByStatus } from './store-reads.ts';
import {
  DEFAULT_STREAM_MAX_LEN,
  type PaymentStore,
  type PaymentStoreOptions,
  type StoreContext,
} from './store-types.ts';
import { commitStep, readForCall, writeIntent } from './store-writes.ts';

export { createRequestHasher } from './store-create.ts';
export { DEFAULT_MERCHANT_ID, DEFAULT_STREAM_MAX_LEN, merchantIdOf } from './store-types.ts';
export type {
  CommitStep,
  CreateOptions,
  CreateResult,
  IntentResult,
  MerchantRef,
  NewPayment,
  PaymentIntent,
  PaymentRecord,
  PaymentStore,
  PaymentStoreOptions,
  StatusIndexEntry,
  TimelineEntry,
  WriteResult,
} from './store-types.ts';

const HOUR = 3_600_000;

export function createPaymentStore(options: PaymentStoreOptions): PaymentStore {
  const idempotencyTtlMs = options.idempotencyTtlMs ?? 24 * HOUR;
  if (!Number.isSafeInteger(idempotencyTtlMs) || idempotencyTtlMs < 1) {
    throw new RangeError('idempotencyTtlMs must be a positive integer');
  }
  const context: StoreContext = {
    redis: options.redis,
    keyspace: options.keyspace,
    clock: options.clock,
    idempotencyTtlMs,
    maxLen: String(options.streamMaxLen ?? DEFAULT_STREAM_MAX_LEN),
  };
  return {
    idempotencyTtlMs,
    create: (payment, createOptions) => createPayment(context, payment, createOptions),
    get: (id, getOptions) => getPayment(context, id, getOptions),
    writeIntent: (id, expectedVersion, intent, intentOptions) =>
      writeIntent(context, id, expectedVersion, intent, intentOptions),
    readForCall: (id, expectedVersion, intent) => readForCall(context, id, expectedVersion, intent),
    commitStep: (id, expectedVersion, step) => commitStep(context, id, expectedVersion, step),
    listByStatus: (status, listOptions) => listByStatus(context, status, listOptions),
  };
}
