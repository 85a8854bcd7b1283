/**
 * The payment store's public types: the record as read, what a create and a
 * step write carry, the write results and the store's interface.
 */
import type {
  Amounts,
  CaptureMode,
  Operation,
  PaymentKind,
  PaymentStatus,
  PersistedSnapshot,
} from '../../machines/contract.ts';
import type { Clock } from '../platform/clock.ts';
import type { PaymentCloudEvent } from './events.ts';
import type { Keyspace } from './keys.ts';
import type { RedisClient } from './lua.ts';

/** The shop of payments made before merchants existed, and of a deployment with one shop. */
export const DEFAULT_MERCHANT_ID = 'default';

/** Our id of the shop a record belongs to. */
export function merchantIdOf(merchant: Pick<MerchantRef, 'id'> | undefined): string {
  return merchant?.id ?? DEFAULT_MERCHANT_ID;
}

export interface MerchantRef {
  /**
   * Our id of the shop the payment belongs to (MERCHANTS_FILE); absent on
   * payments made before merchants existed, which belong to `default`.
   */
  id?: string;
  orderId?: string;
  customerId?: string;
  customerEmail?: string;
  customerIpAddress?: string;
  returnContext?: string;
  metadata?: Record<string, string>;
}

/** A Sips call about to be sent (or sent, with no outcome stored yet). */
export interface PaymentIntent {
  op: Operation;
  /** 1 for the first send of this operation, +1 for each deliberate resend. */
  attempt: number;
  /** Epoch ms when the intent was written. */
  at: number;
  /** The Sips transactionReference the call uses. */
  transactionReference: string;
  /** Minor units, for partial operations. */
  amount?: number;
  /** The step job that wrote the intent: its re-run recognises its own call. */
  jobId?: string;
  /** Sips answered 90/99 (not processed): the next attempt resends instead of inquiring. */
  answered?: 'not_processed';
}

export interface TimelineEntry {
  /** Epoch ms. */
  at: number;
  kind: string;
  detail?: Record<string, unknown>;
}

export interface PaymentRecord {
  id: string;
  shard: number;
  version: number;
  machineVersion: string;
  kind: PaymentKind;
  status: PaymentStatus;
  /** Requested amount, minor units. */
  amount: number;
  /** ISO 4217 numeric. */
  currency: string;
  captureMode: CaptureMode;
  amounts: Amounts;
  snapshot: PersistedSnapshot;
  intent?: PaymentIntent;
  /** Sealed by the card vault; absent once the card is no longer needed. */
  card?: string;
  maskedPan?: string;
  merchant: MerchantRef;
  /**
   * Engine bookkeeping (JSON text the engine owns: follow-ups, schedules).
   * Opaque to the store; like the snapshot, it never holds card data.
   */
  engine?: string;

  /** Sips transactionReference: letters and digits, at most 35. */
  transactionReference: string;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last write of any kind. */
  updatedAt: number;
  timeline: TimelineEntry[];
}

export interface NewPayment {
  id: string;
  machineVersion: string;
  kind: PaymentKind;
  status: PaymentStatus;
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  /** @defaultValue all zero */
  amounts?: Amounts;
  snapshot: PersistedSnapshot;
  card?: string;
  maskedPan?: string;
  merchant?: MerchantRef;
  transactionReference: string;
  timeline?: TimelineEntry[];
  /**
   * Engine bookkeeping (JSON text the engine owns: follow-ups, schedules).
   * Opaque to the store; like the snapshot, it never holds card data.
   */
  engine?: string;
}

export interface CreateOptions {
  idempotencyKey?: string;
  /** Required with `idempotencyKey`: see `createRequestHasher`. */
  requestHash?: string;
  /** Events of the creation; each with `sequence` 1 and `subject` = the payment id. */
  events?: readonly PaymentCloudEvent[];
}

export type CreateResult =
  | {
      created: true;
      conflict: false;
      id: string;
      version: 1;
      /** Epoch ms stored as `createdAt` and `updatedAt`. */
      createdAt: number;
    }
  /** The idempotency key was used before with the same request: its payment. */
  | { created: false; conflict: false; id: string }
  /** The idempotency key was used before with a different request. */
  | { created: false; conflict: true };

export interface CommitStep {
  snapshot: PersistedSnapshot;
  status: PaymentStatus;
  amounts: Amounts;
  /** @defaultValue true */
  clearIntent?: boolean;
  /** Each with `sequence` = expectedVersion + 1 and `subject` = the payment id. */
  events?: readonly PaymentCloudEvent[];
  timeline?: readonly TimelineEntry[];
  /** Absent: keep; a string: replace (e.g. `vault.withoutCsc`); null: erase. */
  card?: string | null;
  machineVersion?: string;
  transactionReference?: string;
  /** Absent: keep; a string: replace. */
  engine?: string;
  /**
   * The status the payment has at `expectedVersion`, when the caller knows it
   * (it read the record at that version): the write then names only two
   * status index keys instead of all of them. A payment found in another
   * status is refused with an error.
   */
  currentStatus?: PaymentStatus;
}

export type WriteResult =
  | { ok: true; version: number }
  | { ok: false; reason: 'version_conflict'; actualVersion: number }
  | { ok: false; reason: 'not_found' };

export type IntentResult =
  | WriteResult
  /** Another intent has no outcome yet: its call may be in flight. */
  | { ok: false; reason: 'intent_pending'; actualVersion: number; intent: PaymentIntent };

export interface StatusIndexEntry {
  id: string;
  /** Epoch ms of the create or commit that last wrote the status. */
  updatedAt: number;
}

export interface PaymentStoreOptions {
  redis: RedisClient;
  keyspace: Keyspace;
  clock: Clock;
  /** How long an idempotency key is remembered (IDEMPOTENCY_KEY_TTL). @defaultValue 24 h */
  idempotencyTtlMs?: number;
  /**
   * Approximate MAXLEN of each shard's event stream (`XADD … MAXLEN ~`): the
   * hard cap. Entries beyond it are dropped whether consumers read them or
   * not; the janitor keeps streams well below it (src/schedules/
   * stream-retention.ts) and raises an ops alert as one nears it. `0` turns
   * the cap off. @defaultValue {@link DEFAULT_STREAM_MAX_LEN}
   */
  streamMaxLen?: number;
}

/** The hard cap of each shard's event stream, in entries. */
export const DEFAULT_STREAM_MAX_LEN = 1_000_000;

export interface PaymentStore {
  /**
   * How long an idempotency record outlives the create that wrote it (ms):
   * the window in which a retried create is recognised. Other idempotent
   * creates (subscriptions, plans) keep their keys as long.
   */
  readonly idempotencyTtlMs: number;
  create(payment: NewPayment, options?: CreateOptions): Promise<CreateResult>;
  get(id: string, options?: { timeline?: boolean }): Promise<PaymentRecord | undefined>;
  writeIntent(
    id: string,
    expectedVersion: number,
    intent: PaymentIntent,
    options?: { replacePending?: boolean; timeline?: readonly TimelineEntry[] },
  ): Promise<IntentResult>;
  /**
   * Reads a payment (without its timeline) and, when it is at
   * `expectedVersion` with no intent, writes `intent` with the payment's
   * transactionReference in the same atomic step, as `writeIntent` would.
   * `record` is the payment as read, before that write; `intentVersion` is
   * the version the write produced, absent when nothing was written.
   */
  readForCall(
    id: string,
    expectedVersion: number,
    intent: Omit<PaymentIntent, 'transactionReference' | 'answered'>,
  ): Promise<{ record: PaymentRecord; intentVersion?: number } | undefined>;
  commitStep(id: string, expectedVersion: number, step: CommitStep): Promise<WriteResult>;
  /**
   * Oldest first, across shards; `olderThan` (epoch ms) keeps entries written
   * before it, `after` (epoch ms) those written after it.
   */
  listByStatus(
    status: PaymentStatus,
    options?: { olderThan?: number; after?: number; limit?: number },
  ): Promise<StatusIndexEntry[]>;
}

/** What the store's operations share (internal to the store's modules). */
export interface StoreContext {
  readonly redis: RedisClient;
  readonly keyspace: Keyspace;
  readonly clock: Clock;
  readonly idempotencyTtlMs: number;
  /** `streamMaxLen` as the scripts take it. */
  readonly maxLen: string;
}
