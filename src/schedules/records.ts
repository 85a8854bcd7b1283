/**
 * Versioned JSON records of the schedules layer (subscriptions, instalment
 * plans) with compare-and-set writes. Each write stores the record and
 * appends its events to the shard's event stream in one script, so a
 * consumer sees every change of a subscription exactly when it is stored.
 *
 * Keys (prefix `sog`, shard 2, kind `subscription`):
 * | key | type | what |
 * |---|---|---|
 * | `{sog:s2}:subscription:<id>` | hash | `version`, `record` (JSON) |
 * | `{sog:s2}:subscriptions` | sorted set | ids by creation time (ms) |
 * | `{sog:s2}:subscriptions:waiting` | sorted set | ids of records waiting for a payment to settle, by last write (ms) |
 */
import { DEFAULT_MERCHANT_ID } from '../engine/engine.ts';
import { createHash } from 'node:crypto';
import type { Keyspace } from '../payments/keys.ts';
import { DEFAULT_STREAM_MAX_LEN } from '../payments/store.ts';
import { loadScript, runScript, type RedisClient } from '../payments/lua.ts';
import type { Clock } from '../platform/clock.ts';
import type { IdGenerator } from '../platform/ids.ts';
import { uuid } from '../platform/ids.ts';
import { assertNoCardData } from '../payments/card-guard.ts';

export interface VersionedRecord {
  id: string;
  version: number;
  createdAt: number;
  updatedAt: number;
  /** The shop it belongs to; its events carry it (`merchant`), as payment events do. */
  merchant?: { id?: string };
}

/** A CloudEvent about a schedule record (subject = the record id). */
export interface ScheduleEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: `${string}.${string}`;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  sequence: number;
  /** Our id of the record's shop (a CloudEvents extension attribute). */
  merchant: string;
  data: Record<string, unknown>;
}

export type UpdateResult<T> =
  { ok: true; record: T } | { ok: false; reason: 'version_conflict' | 'not_found' };

export interface RecordStore<T extends VersionedRecord> {
  /** A new id; with a seed (an idempotency key and its request), always the same id for it. */
  newId(seed?: string): string;
  isId(value: string): boolean;
  /** The shard an id of this store carries. */
  shardOf(id: string): number;
  /** Stores a new record; when one with this id exists (a seeded id made again), returns it unchanged. */
  create(record: Omit<T, 'version' | 'createdAt' | 'updatedAt'>, events?: EventSpec[]): Promise<T>;
  get(id: string): Promise<T | undefined>;
  /** Newest first, across shards. */
  list(options?: { limit?: number }): Promise<T[]>;
  /**
   * Records waiting for a payment to settle (`waitsOnPayment`), least
   * recently written first (ties by id); a page starts after `after`, and
   * `next` (when the page is full) is where the following one starts.
   */
  listWaiting(options?: {
    limit?: number;
    after?: WaitingCursor;
  }): Promise<{ records: T[]; next?: WaitingCursor }>;
  /** Applies `change` to the record read at `expected.version`; retried by the caller on conflict. */
  update(expected: T, change: (record: T) => T, events?: EventSpec[]): Promise<UpdateResult<T>>;
}

/** A place in the waiting index: the entry's score (its last write, ms) and id. */
export interface WaitingCursor {
  score: number;
  id: string;
}

/** An event to append with a write: its type suffix and data. */
export interface EventSpec {
  type: string;
  data?: Record<string, unknown>;
}

/* Both scripts keep the waiting index with the record (see the files' headers). */
const CREATE = loadScript(
  'schedule-record-create',
  new URL('./lua/record-create.lua', import.meta.url),
);
const UPDATE = loadScript(
  'schedule-record-update',
  new URL('./lua/record-update.lua', import.meta.url),
);

export interface RecordStoreOptions<T> {
  redis: RedisClient;
  keyspace: Keyspace;
  clock: Clock;
  ids: IdGenerator;
  /** `subscription` → ids `sub_<shard>_<token>`, keys `…:subscription:<id>`. */
  kind: string;
  idPrefix: string;
  eventSource?: string;
  /** @defaultValue 1 000 000 */
  streamMaxLen?: number;
  /**
   * Whether a record waits for a payment to settle (an occurrence or an
   * instalment in progress): such records are listed by `listWaiting`, which
   * the janitor reads to find settled notices lost in a crash.
   */
  waitsOnPayment?: (record: T) => boolean;
}

/**
 * What every operation of a record store shares: its options and what is
 * derived from them once (the id pattern, the stream cap as a script argument).
 */
export interface RecordStoreContext<T extends VersionedRecord> {
  options: RecordStoreOptions<T>;
  /** An id of this store; group 1 is its shard. */
  pattern: RegExp;
  /** `streamMaxLen` as the scripts take it. */
  maxLen: string;
}

export function recordStoreContext<T extends VersionedRecord>(
  options: RecordStoreOptions<T>,
): RecordStoreContext<T> {
  return {
    options,
    pattern: new RegExp(`^${options.idPrefix}_(\\d{1,4})_[A-Za-z0-9]{1,40}$`),
    maxLen: String(options.streamMaxLen ?? DEFAULT_STREAM_MAX_LEN),
  };
}

export function createRecordStore<T extends VersionedRecord>(
  options: RecordStoreOptions<T>,
): RecordStore<T> {
  const ctx = recordStoreContext(options);
  return {
    newId: (seed) => newRecordId(ctx, seed),
    isId: (value) => isRecordId(ctx, value),
    shardOf: (id) => recordShardOf(ctx, id),
    create: (fields, events) => createRecord(ctx, fields, events),
    get: (id) => getRecord(ctx, id),
    list: (listOptions) => listRecords(ctx, listOptions),
    listWaiting: (listOptions) => listWaitingRecords(ctx, listOptions),
    update: (expected, change, events) => updateRecord(ctx, expected, change, events),
  };
}

/** The shard an id carries; -1 when it is not an id of this store. */
export function recordShardOf<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  id: string,
): number {
  return Number(ctx.pattern.exec(id)?.[1] ?? -1);
}

function recordKey<T extends VersionedRecord>(ctx: RecordStoreContext<T>, id: string): string {
  const { keyspace, kind } = ctx.options;
  return `${keyspace.hashTag(recordShardOf(ctx, id))}:${kind}:${id}`;
}

function indexKey<T extends VersionedRecord>(ctx: RecordStoreContext<T>, shard: number): string {
  const { keyspace, kind } = ctx.options;
  return `${keyspace.hashTag(shard)}:${kind}s`;
}

function waitingKey<T extends VersionedRecord>(ctx: RecordStoreContext<T>, shard: number): string {
  return `${indexKey(ctx, shard)}:waiting`;
}

function waitingFlag<T extends VersionedRecord>(ctx: RecordStoreContext<T>, record: T): string {
  return ctx.options.waitsOnPayment?.(record) ? '1' : '0';
}

/** The script arguments of `events` (type, JSON pairs), numbered `sequence`. */
function eventArgs<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  record: T,
  sequence: number,
  events: EventSpec[],
): string[] {
  const id = record.id;
  const { kind, clock } = ctx.options;
  const args: string[] = [];
  for (const spec of events) {
    const data = spec.data ?? {};
    assertNoCardData(data, `event ${kind}.${spec.type}`);
    const event: ScheduleEvent = {
      specversion: '1.0',
      id: uuid(),
      source: ctx.options.eventSource ?? 'sogenactif-orchestrator',
      type: `${kind}.${spec.type}`,
      subject: id,
      time: new Date(clock.now()).toISOString(),
      datacontenttype: 'application/json',
      sequence,
      merchant: record.merchant?.id ?? DEFAULT_MERCHANT_ID,
      data: { [`${kind}Id`]: id, ...data },
    };
    args.push(event.type, JSON.stringify(event));
  }
  return args;
}

export function newRecordId<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  seed?: string,
): string {
  const { ids, keyspace, kind, idPrefix } = ctx.options;
  const token =
    seed === undefined
      ? ids.next().replace(/[^A-Za-z0-9]/g, '')
      : createHash('sha256').update(`${kind}:${seed}`).digest('hex').slice(0, 24).toUpperCase();
  return `${idPrefix}_${keyspace.shardForText(token)}_${token}`;
}

export function isRecordId<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  value: string,
): boolean {
  const shard = recordShardOf(ctx, value);
  return ctx.pattern.test(value) && shard >= 0 && shard < ctx.options.keyspace.shards;
}

export async function getRecord<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  id: string,
): Promise<T | undefined> {
  if (!isRecordId(ctx, id)) return undefined;
  const [version, json] = await ctx.options.redis.hmget(recordKey(ctx, id), 'version', 'record');
  if (!version || !json) return undefined;
  return { ...(JSON.parse(json) as T), version: Number(version) };
}

/** The records of `ids` in that order, skipping those gone. */
async function readAll<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  ids: readonly string[],
): Promise<T[]> {
  const records: T[] = [];
  for (const id of ids) {
    const record = await getRecord(ctx, id);
    if (record) records.push(record);
  }
  return records;
}

export async function createRecord<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  fields: Omit<T, 'version' | 'createdAt' | 'updatedAt'>,
  events: EventSpec[] = [],
): Promise<T> {
  const { redis, keyspace, clock, kind } = ctx.options;
  const now = clock.now();
  const record = { ...fields, version: 1, createdAt: now, updatedAt: now } as T;
  const shard = recordShardOf(ctx, record.id);
  const created = await runScript(
    redis,
    CREATE,
    [
      recordKey(ctx, record.id),
      indexKey(ctx, shard),
      keyspace.eventsStream(shard),
      waitingKey(ctx, shard),
    ],
    [
      JSON.stringify(record),
      now,
      record.id,
      ctx.maxLen,
      waitingFlag(ctx, record),
      ...eventArgs(ctx, record, 1, events),
    ],
  );
  if (created !== 1) {
    const existing = await getRecord(ctx, record.id);
    if (!existing) throw new Error(`${kind} ${record.id} could not be stored`);
    return existing;
  }
  return record;
}

export async function listRecords<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  listOptions: { limit?: number } = {},
): Promise<T[]> {
  const { redis, keyspace } = ctx.options;
  const limit = listOptions.limit ?? 100;
  const ids: { id: string; at: number }[] = [];
  for (const shard of keyspace.allShards) {
    const entries = await redis.zrevrange(indexKey(ctx, shard), 0, limit - 1, 'WITHSCORES');
    for (let k = 0; k < entries.length; k += 2) {
      ids.push({ id: entries[k] as string, at: Number(entries[k + 1]) });
    }
  }
  ids.sort((a, b) => b.at - a.at);
  return readAll(
    ctx,
    ids.slice(0, limit).map(({ id }) => id),
  );
}

export async function listWaitingRecords<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  listOptions: { limit?: number; after?: WaitingCursor } = {},
): Promise<{ records: T[]; next?: WaitingCursor }> {
  const limit = listOptions.limit ?? 100;
  const after = listOptions.after;
  const entries: WaitingCursor[] = [];
  for (const shard of ctx.options.keyspace.allShards) {
    await collectWaitingOfShard(ctx, shard, limit, after, entries);
  }
  entries.sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = entries.slice(0, limit);
  const last = page.at(-1);
  return {
    records: await readAll(
      ctx,
      page.map(({ id }) => id),
    ),
    ...(entries.length >= limit && last ? { next: last } : {}),
  };
}

/**
 * Adds to `entries` up to `limit` entries of one shard's waiting index past
 * `after` (and those tied with it).
 */
async function collectWaitingOfShard<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  shard: number,
  limit: number,
  after: WaitingCursor | undefined,
  entries: WaitingCursor[],
): Promise<void> {
  const { redis } = ctx.options;
  const key = waitingKey(ctx, shard);
  if (after === undefined) {
    collectWaiting(
      entries,
      await redis.zrangebyscore(key, '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, limit),
    );
    return;
  }
  // Entries of the cursor's own score that sort after it, then the later scores.
  collectWaiting(
    entries,
    await redis.zrangebyscore(key, after.score, after.score, 'WITHSCORES'),
    (entry) => entry.id > after.id,
  );
  collectWaiting(
    entries,
    await redis.zrangebyscore(key, `(${after.score}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit),
  );
}

/** Adds to `entries` those of a flat `WITHSCORES` reply that `keep` accepts. */
function collectWaiting(
  entries: WaitingCursor[],
  flat: string[],
  keep: (entry: WaitingCursor) => boolean = () => true,
): void {
  for (let k = 0; k < flat.length; k += 2) {
    const entry = { id: flat[k] as string, score: Number(flat[k + 1]) };
    if (keep(entry)) entries.push(entry);
  }
}

export async function updateRecord<T extends VersionedRecord>(
  ctx: RecordStoreContext<T>,
  expected: T,
  change: (record: T) => T,
  events: EventSpec[] = [],
): Promise<UpdateResult<T>> {
  const { redis, keyspace, clock } = ctx.options;
  const next = {
    ...change(structuredClone(expected)),
    version: expected.version + 1,
    updatedAt: clock.now(),
  };
  const shard = recordShardOf(ctx, expected.id);
  const written = await runScript(
    redis,
    UPDATE,
    [recordKey(ctx, expected.id), keyspace.eventsStream(shard), waitingKey(ctx, shard)],
    [
      String(expected.version),
      JSON.stringify(next),
      expected.id,
      ctx.maxLen,
      waitingFlag(ctx, next),
      next.updatedAt,
      ...eventArgs(ctx, next, next.version, events),
    ],
  );
  if (written === -1) return { ok: false, reason: 'not_found' };
  if (written === -2) return { ok: false, reason: 'version_conflict' };
  return { ok: true, record: next };
}

/** Reads and changes a record, re-reading on a lost race. */
export async function updateWithRetry<T extends VersionedRecord>(
  store: RecordStore<T>,
  id: string,
  change: (record: T) => { record: T; events?: EventSpec[] } | undefined,
): Promise<T | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await store.get(id);
    if (!current) return undefined;
    const planned = change(structuredClone(current));
    if (!planned) return current;
    const written = await store.update(current, () => planned.record, planned.events);
    if (written.ok) return written.record;
    if (written.reason === 'not_found') return undefined;
  }
  throw new Error(`${id} kept changing`);
}
