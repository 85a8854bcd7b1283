/**
 * The payment store: one Redis hash per payment, written only by Lua scripts
 * that compare-and-set on `version` (architecture §5).
 *
 * Every write is one script in one slot (see keys.ts), so it is atomic on a
 * single Redis and on Redis Cluster alike:
 * - `create` checks the idempotency key, writes the record at version 1, the
 *   key, the status index, the timeline and the events;
 * - `writeIntent` records the Sips call about to be sent, before it is sent;
 * - `commitStep` stores the machine's new snapshot, clears the intent, updates
 *   the status index and appends the events to the shard's stream: the event
 *   stream is the outbox, and a refused write appends nothing.
 *
 * Hash fields: `id shard version machineVersion kind status amount currency
 * captureMode amounts snapshot intent? card? maskedPan? merchant engine?
 * transactionReference createdAt updatedAt` (objects as JSON, numbers as
 * decimal text). The timeline is a list beside it.
 */
import { createHmac } from 'node:crypto';
import type {
  Amounts,
  CaptureMode,
  Operation,
  PaymentKind,
  PaymentStatus,
  PersistedSnapshot,
} from '../../machines/contract.ts';
import { PAYMENT_KINDS, PAYMENT_STATUSES } from '../../machines/contract.ts';
import type { Clock } from '../platform/clock.ts';
import { assertNoCardData } from './card-guard.ts';
import { PaymentsError } from './errors.ts';
import type { PaymentCloudEvent } from './events.ts';
import type { Keyspace } from './keys.ts';
import { defineScript, runScript, type RedisClient } from './lua.ts';

export interface MerchantRef {
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
  /** How long an idempotency key is remembered. @defaultValue 24 h */
  idempotencyTtlMs?: number;
  /**
   * Approximate MAXLEN of each shard's event stream (`XADD … MAXLEN ~`); `0`
   * turns trimming off (then run `trimAcknowledged` from event-consumer.ts).
   * Entries beyond it are dropped whether consumers read them or not.
   * @defaultValue 1 000 000
   */
  streamMaxLen?: number;
}

export interface PaymentStore {
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

const HOUR = 3_600_000;
const TRANSACTION_REFERENCE = /^[A-Za-z0-9]{1,35}$/;
const CURRENCY = /^\d{3}$/;

/*
 * Shared Lua: ARGV is read from `pos` on in sections, each a count followed
 * by count * width strings.
 */
const LUA_SECTIONS = `
local pos = FIRST_SECTION
local function section(width)
  local n = tonumber(ARGV[pos])
  pos = pos + 1
  local items = {}
  for k = 1, n * width do items[k] = ARGV[pos + k - 1] end
  pos = pos + n * width
  return items, n
end
local function append_events(stream, maxlen)
  local ev, n = section(4)
  for e = 0, n - 1 do
    local b = e * 4
    if maxlen ~= '0' then
      redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', ev[b + 1], 'subject', ev[b + 2],
        'sequence', ev[b + 3], 'event', ev[b + 4])
    else
      redis.call('XADD', stream, '*', 'type', ev[b + 1], 'subject', ev[b + 2],
        'sequence', ev[b + 3], 'event', ev[b + 4])
    end
  end
end
`;

/**
 * create
 * KEYS: 1 idempotency key (the payment key when there is none), 2 payment,
 *       3 timeline, 4 events stream, 5 status index of the initial status
 * ARGV: 1 id, 2 request hash ('' = no idempotency key), 3 idempotency TTL ms,
 *       4 status score (createdAt), 5 stream maxlen ('0' = none),
 *       sections: hash fields (pairs), timeline entries, events (type, subject, sequence, json)
 * Returns {'created', id} | {'existing', id} | {'conflict', id} | {'id_taken', id}
 */
const CREATE = defineScript(
  'payments.create',
  LUA_SECTIONS.replace('FIRST_SECTION', '6') +
    `
if ARGV[2] ~= '' then
  local current = redis.call('HMGET', KEYS[1], 'id', 'requestHash')
  if current[1] then
    if current[2] == ARGV[2] then return {'existing', current[1]} end
    return {'conflict', current[1]}
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'id_taken', ARGV[1]} end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'requestHash', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
local fields = section(2)
redis.call('HSET', KEYS[2], unpack(fields))
local timeline, n = section(1)
if n > 0 then redis.call('RPUSH', KEYS[3], unpack(timeline)) end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
append_events(KEYS[4], ARGV[5])
return {'created', ARGV[1]}
`,
);

/**
 * writeIntent
 * KEYS: 1 payment, 2 timeline
 * ARGV: 1 expected version, 2 intent JSON, 3 updatedAt, 4 '1' to replace a pending intent,
 *       section: timeline entries
 * Returns {'ok', version} | {'not_found'} | {'version_conflict', version}
 *       | {'intent_pending', version, intent JSON}
 */
const WRITE_INTENT = defineScript(
  'payments.writeIntent',
  LUA_SECTIONS.replace('FIRST_SECTION', '5') +
    `
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return {'not_found'} end
if version ~= ARGV[1] then return {'version_conflict', version} end
if ARGV[4] ~= '1' then
  local pending = redis.call('HGET', KEYS[1], 'intent')
  if pending then return {'intent_pending', version, pending} end
end
local next_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'version', string.format('%d', next_version), 'intent', ARGV[2],
  'updatedAt', ARGV[3])
local timeline, n = section(1)
if n > 0 then redis.call('RPUSH', KEYS[2], unpack(timeline)) end
return {'ok', next_version}
`,
);

/**
 * readForCall
 * KEYS: 1 payment
 * ARGV: 1 expected version, 2 the intent's JSON up to its transactionReference value,
 *       3 the rest of the intent's JSON, 4 updatedAt
 * Returns {hash fields and values (flat)}, with the new version when the intent was written:
 * only at the expected version, with no intent, and a transactionReference Sips accepts.
 */
const READ_FOR_CALL = defineScript(
  'payments.readForCall',
  `
local hash = redis.call('HGETALL', KEYS[1])
local version, intent, reference
for k = 1, #hash, 2 do
  local name = hash[k]
  if name == 'version' then version = hash[k + 1]
  elseif name == 'intent' then intent = hash[k + 1]
  elseif name == 'transactionReference' then reference = hash[k + 1] end
end
if version ~= ARGV[1] or intent or not reference or #reference > 35
    or not string.match(reference, '^[A-Za-z0-9]+$') then
  return {hash}
end
local next_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'version', string.format('%d', next_version),
  'intent', ARGV[2] .. '"' .. reference .. '"' .. ARGV[3], 'updatedAt', ARGV[4])
return {hash, next_version}
`,
);

/**
 * commitStep
 * KEYS: 1 payment, 2 timeline, 3 events stream, 4.. status index keys of the shard: every one,
 *       or only those of the current status and the new one
 * ARGV: 1 expected version, 2 new status, 3 updatedAt, 4 stream maxlen ('0' = none),
 *       5 '1' to clear the intent, 6 card action (keep | set | erase), 7 new sealed card,
 *       sections: hash fields (pairs), timeline entries, events (type, subject, sequence, json)
 * Returns {'ok', version} | {'not_found'} | {'version_conflict', version}
 */
const COMMIT_STEP = defineScript(
  'payments.commitStep',
  LUA_SECTIONS.replace('FIRST_SECTION', '8') +
    `
local current = redis.call('HMGET', KEYS[1], 'version', 'id', 'status')
local version = current[1]
if not version then return {'not_found'} end
if version ~= ARGV[1] then return {'version_conflict', version} end
local index = {}
for k = 4, #KEYS do
  local status = string.match(KEYS[k], ':status:([%w_]+)$')
  if status then index[status] = KEYS[k] end
end
if not index[ARGV[2]] then return redis.error_reply('ERR unknown status ' .. ARGV[2]) end
if current[3] and not index[current[3]] then
  return redis.error_reply('ERR no status index key for the current status ' .. current[3])
end
local next_version = tonumber(version) + 1
local set = {'version', string.format('%d', next_version), 'status', ARGV[2], 'updatedAt', ARGV[3]}
local fields, n_fields = section(2)
for k = 1, n_fields * 2 do set[#set + 1] = fields[k] end
if ARGV[6] == 'set' then
  set[#set + 1] = 'card'
  set[#set + 1] = ARGV[7]
end
redis.call('HSET', KEYS[1], unpack(set))
if ARGV[5] == '1' and ARGV[6] == 'erase' then
  redis.call('HDEL', KEYS[1], 'intent', 'card')
elseif ARGV[5] == '1' then
  redis.call('HDEL', KEYS[1], 'intent')
elseif ARGV[6] == 'erase' then
  redis.call('HDEL', KEYS[1], 'card')
end
if current[3] and current[3] ~= ARGV[2] then redis.call('ZREM', index[current[3]], current[2]) end
redis.call('ZADD', index[ARGV[2]], ARGV[3], current[2])
local timeline, n = section(1)
if n > 0 then redis.call('RPUSH', KEYS[2], unpack(timeline)) end
append_events(KEYS[3], ARGV[4])
return {'ok', next_version}
`,
);

/**
 * read
 * KEYS: 1 payment, 2 timeline
 * Returns {hash fields and values (flat), timeline entries}
 */
const READ = defineScript(
  'payments.read',
  `return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}`,
);

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

function invalid(message: string, details?: Record<string, unknown>): PaymentsError {
  return new PaymentsError(
    'PAYMENT_RECORD_INVALID',
    message,
    details === undefined ? {} : { details },
  );
}

function isMinor(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function checkAmounts(amounts: Amounts): void {
  for (const name of ['authorized', 'captured', 'cancelled', 'refunded'] as const) {
    if (!isMinor(amounts[name])) throw invalid(`amounts.${name} must be integer minor units`);
  }
}

function checkStatus(status: string): void {
  if (!(PAYMENT_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`unknown status ${status}`);
  }
}

function checkEvents(
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

function timelineArgs(entries: readonly TimelineEntry[] | undefined): (string | number)[] {
  const list = entries ?? [];
  for (const entry of list) assertNoCardData(entry, 'a timeline entry');
  return [list.length, ...list.map((entry) => JSON.stringify(entry))];
}

function fieldArgs(fields: Record<string, string | undefined>): (string | number)[] {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) pairs.push(name, value);
  }
  return [pairs.length / 2, ...pairs];
}

function parseJson<T>(text: string | undefined, field: string, id: string): T {
  if (text === undefined) {
    throw new PaymentsError('PAYMENT_RECORD_CORRUPT', `payment ${id} has no ${field}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new PaymentsError('PAYMENT_RECORD_CORRUPT', `payment ${id} has unreadable ${field}`, {
      cause: error,
    });
  }
}

function decode(hash: Record<string, string>, timeline: string[]): PaymentRecord {
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
    throw new PaymentsError('PAYMENT_RECORD_CORRUPT', `payment ${id} has no valid version`);
  }
  return record;
}

function writeResult(reply: unknown): WriteResult {
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

export function createPaymentStore(options: PaymentStoreOptions): PaymentStore {
  const { redis, keyspace, clock } = options;
  const idempotencyTtlMs = options.idempotencyTtlMs ?? 24 * HOUR;
  const maxLen = String(options.streamMaxLen ?? 1_000_000);
  if (!Number.isSafeInteger(idempotencyTtlMs) || idempotencyTtlMs < 1) {
    throw new RangeError('idempotencyTtlMs must be a positive integer');
  }

  async function create(payment: NewPayment, createOptions: CreateOptions = {}) {
    const { id } = payment;
    const shard = keyspace.shardOf(id);
    const { idempotencyKey, requestHash } = createOptions;
    if (idempotencyKey !== undefined) {
      if (!requestHash) throw invalid('an idempotency key needs a request hash');
      // The key and the record must share a slot for the check-and-write to be atomic.
      if (keyspace.shardForIdempotencyKey(idempotencyKey) !== shard) {
        throw invalid('the payment id was not made for this idempotency key', { id });
      }
    }
    if (!PAYMENT_KINDS.includes(payment.kind)) throw invalid(`unknown kind ${payment.kind}`);
    checkStatus(payment.status);
    if (!Number.isSafeInteger(payment.amount) || payment.amount <= 0) {
      throw invalid('amount must be positive integer minor units');
    }
    if (!CURRENCY.test(payment.currency)) throw invalid('currency must be ISO 4217 numeric');
    if (!TRANSACTION_REFERENCE.test(payment.transactionReference)) {
      throw invalid('transactionReference must be 1 to 35 letters or digits');
    }
    const amounts = payment.amounts ?? { authorized: 0, captured: 0, cancelled: 0, refunded: 0 };
    checkAmounts(amounts);
    const merchant = payment.merchant ?? {};
    assertNoCardData(merchant, 'merchant references');

    const now = clock.now();
    const fields = fieldArgs({
      id,
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
      ],
      [
        id,
        idempotencyKey === undefined ? '' : (requestHash as string),
        idempotencyTtlMs,
        now,
        maxLen,
        ...fields,
        ...timelineArgs(payment.timeline),
        ...checkEvents(createOptions.events ?? [], id, 1),
      ],
    )) as [string, string];
    const [outcome, existingId] = reply;
    switch (outcome) {
      case 'created':
        return { created: true, conflict: false, id, version: 1, createdAt: now } as const;
      case 'existing':
        return { created: false, conflict: false, id: existingId } as const;
      case 'conflict':
        return { created: false, conflict: true } as const;
      case 'id_taken':
        throw new PaymentsError('PAYMENT_ID_TAKEN', `payment id ${id} is already used`);
      default:
        throw new Error(`unexpected create reply ${String(outcome)}`);
    }
  }

  async function get(id: string, getOptions: { timeline?: boolean } = {}) {
    // One command either way (no MULTI): a single HGETALL is atomic, and the
    // script reads the hash and the timeline in one atomic step.
    if (getOptions.timeline === false) {
      const hash = await redis.hgetall(keyspace.paymentKey(id));
      return Object.keys(hash).length === 0 ? undefined : decode(hash, []);
    }
    const [flat, timeline] = (await runScript(
      redis,
      READ,
      [keyspace.paymentKey(id), keyspace.timelineKey(id)],
      [],
    )) as [string[], string[]];
    if (flat.length === 0) return undefined;
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
    return decode(hash, timeline);
  }

  async function writeIntent(
    id: string,
    expectedVersion: number,
    intent: PaymentIntent,
    intentOptions: { replacePending?: boolean; timeline?: readonly TimelineEntry[] } = {},
  ): Promise<IntentResult> {
    if (!TRANSACTION_REFERENCE.test(intent.transactionReference)) {
      throw invalid('transactionReference must be 1 to 35 letters or digits');
    }
    if (intent.amount !== undefined && !isMinor(intent.amount)) {
      throw invalid('an intent amount is integer minor units');
    }
    const reply = (await runScript(
      redis,
      WRITE_INTENT,
      [keyspace.paymentKey(id), keyspace.timelineKey(id)],
      [
        String(expectedVersion),
        JSON.stringify(intent),
        clock.now(),
        intentOptions.replacePending ? '1' : '0',
        ...timelineArgs(intentOptions.timeline),
      ],
    )) as [string, string | number, string?];
    if (reply[0] === 'intent_pending') {
      return {
        ok: false,
        reason: 'intent_pending',
        actualVersion: Number(reply[1]),
        intent: JSON.parse(reply[2] ?? '{}') as PaymentIntent,
      };
    }
    return writeResult(reply);
  }

  async function readForCall(
    id: string,
    expectedVersion: number,
    intent: Omit<PaymentIntent, 'transactionReference' | 'answered'>,
  ): Promise<{ record: PaymentRecord; intentVersion?: number } | undefined> {
    if (intent.amount !== undefined && !isMinor(intent.amount)) {
      throw invalid('an intent amount is integer minor units');
    }
    // The same JSON as writeIntent's, the stored transactionReference going in between.
    const head = `${JSON.stringify({ op: intent.op, attempt: intent.attempt, at: intent.at }).slice(0, -1)},"transactionReference":`;
    const rest: Record<string, unknown> = {};
    if (intent.jobId !== undefined) rest.jobId = intent.jobId;
    if (intent.amount !== undefined) rest.amount = intent.amount;
    const tail = Object.keys(rest).length === 0 ? '}' : `,${JSON.stringify(rest).slice(1)}`;
    const [flat, intentVersion] = (await runScript(
      redis,
      READ_FOR_CALL,
      [keyspace.paymentKey(id)],
      [String(expectedVersion), head, tail, clock.now()],
    )) as [string[], number | undefined];
    if (flat.length === 0) return undefined;
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
    const record = decode(hash, []);
    return intentVersion === undefined
      ? { record }
      : { record, intentVersion: Number(intentVersion) };
  }

  async function commitStep(id: string, expectedVersion: number, step: CommitStep) {
    checkStatus(step.status);
    if (step.currentStatus !== undefined) checkStatus(step.currentStatus);
    checkAmounts(step.amounts);
    if (
      step.transactionReference !== undefined &&
      !TRANSACTION_REFERENCE.test(step.transactionReference)
    ) {
      throw invalid('transactionReference must be 1 to 35 letters or digits');
    }
    const shard = keyspace.shardOf(id);
    const cardAction = step.card === undefined ? 'keep' : step.card === null ? 'erase' : 'set';
    const reply = await runScript(
      redis,
      COMMIT_STEP,
      [
        keyspace.paymentKey(id),
        keyspace.timelineKey(id),
        keyspace.eventsStream(shard),
        ...(step.currentStatus === undefined
          ? keyspace.statusIndexKeys(shard)
          : [
              keyspace.statusIndexKey(shard, step.currentStatus),
              keyspace.statusIndexKey(shard, step.status),
            ]),
      ],
      [
        String(expectedVersion),
        step.status,
        clock.now(),
        maxLen,
        step.clearIntent === false ? '0' : '1',
        cardAction,
        typeof step.card === 'string' ? step.card : '',
        ...fieldArgs({
          snapshot: JSON.stringify(step.snapshot),
          amounts: JSON.stringify(step.amounts),
          machineVersion: step.machineVersion,
          transactionReference: step.transactionReference,
          engine: step.engine,
        }),
        ...timelineArgs(step.timeline),
        ...checkEvents(step.events ?? [], id, expectedVersion + 1),
      ],
    );
    return writeResult(reply);
  }

  async function listByStatus(
    status: PaymentStatus,
    listOptions: { olderThan?: number; after?: number; limit?: number } = {},
  ): Promise<StatusIndexEntry[]> {
    checkStatus(status);
    const limit = listOptions.limit ?? 100;
    const max = listOptions.olderThan === undefined ? '+inf' : `(${listOptions.olderThan}`;
    const min = listOptions.after === undefined ? '-inf' : `(${listOptions.after}`;
    const perShard = await Promise.all(
      keyspace.allShards.map((shard) =>
        redis.zrangebyscore(
          keyspace.statusIndexKey(shard, status),
          min,
          max,
          'WITHSCORES',
          'LIMIT',
          0,
          limit,
        ),
      ),
    );
    const entries: StatusIndexEntry[] = [];
    for (const flat of perShard) {
      for (let i = 0; i + 1 < flat.length; i += 2) {
        entries.push({ id: flat[i] as string, updatedAt: Number(flat[i + 1]) });
      }
    }
    entries.sort((a, b) => a.updatedAt - b.updatedAt || (a.id < b.id ? -1 : 1));
    return entries.slice(0, limit);
  }

  return { create, get, writeIntent, readForCall, commitStep, listByStatus };
}
