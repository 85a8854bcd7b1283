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
import { createHash } from 'node:crypto';
import type { Keyspace } from '../payments/keys.ts';
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

export function createRecordStore<T extends VersionedRecord>(
  options: RecordStoreOptions<T>,
): RecordStore<T> {
  const { redis, keyspace, clock, kind, idPrefix } = options;
  const pattern = new RegExp(`^${idPrefix}_(\\d{1,4})_[A-Za-z0-9]{1,40}$`);
  const maxLen = String(options.streamMaxLen ?? 1_000_000);
  const shardOf = (id: string): number => Number(pattern.exec(id)?.[1] ?? -1);
  const recordKey = (id: string): string => `${keyspace.hashTag(shardOf(id))}:${kind}:${id}`;
  const indexKey = (shard: number): string => `${keyspace.hashTag(shard)}:${kind}s`;
  const waitingKey = (shard: number): string => `${indexKey(shard)}:waiting`;
  const waitingFlag = (record: T): string => (options.waitsOnPayment?.(record) ? '1' : '0');

  async function readAll(ids: readonly string[]): Promise<T[]> {
    const records: T[] = [];
    for (const id of ids) {
      const record = await get(id);
      if (record) records.push(record);
    }
    return records;
  }

  function eventArgs(id: string, sequence: number, events: EventSpec[]): string[] {
    const args: string[] = [];
    for (const spec of events) {
      const data = spec.data ?? {};
      assertNoCardData(data, `event ${kind}.${spec.type}`);
      const event: ScheduleEvent = {
        specversion: '1.0',
        id: uuid(),
        source: options.eventSource ?? 'sogenactif-orchestrator',
        type: `${kind}.${spec.type}`,
        subject: id,
        time: new Date(clock.now()).toISOString(),
        datacontenttype: 'application/json',
        sequence,
        data: { [`${kind}Id`]: id, ...data },
      };
      args.push(event.type, JSON.stringify(event));
    }
    return args;
  }

  function isId(value: string): boolean {
    const shard = shardOf(value);
    return pattern.test(value) && shard >= 0 && shard < keyspace.shards;
  }

  async function get(id: string): Promise<T | undefined> {
    if (!isId(id)) return undefined;
    const [version, json] = await redis.hmget(recordKey(id), 'version', 'record');
    if (!version || !json) return undefined;
    return { ...(JSON.parse(json) as T), version: Number(version) };
  }

  return {
    newId(seed) {
      const token =
        seed === undefined
          ? options.ids.next().replace(/[^A-Za-z0-9]/g, '')
          : createHash('sha256').update(`${kind}:${seed}`).digest('hex').slice(0, 24).toUpperCase();
      return `${idPrefix}_${keyspace.shardForText(token)}_${token}`;
    },
    isId,
    shardOf,
    async create(fields, events = []) {
      const now = clock.now();
      const record = { ...fields, version: 1, createdAt: now, updatedAt: now } as T;
      const created = await runScript(
        redis,
        CREATE,
        [
          recordKey(record.id),
          indexKey(shardOf(record.id)),
          keyspace.eventsStream(shardOf(record.id)),
          waitingKey(shardOf(record.id)),
        ],
        [
          JSON.stringify(record),
          now,
          record.id,
          maxLen,
          waitingFlag(record),
          ...eventArgs(record.id, 1, events),
        ],
      );
      if (created !== 1) {
        const existing = await get(record.id);
        if (!existing) throw new Error(`${kind} ${record.id} could not be stored`);
        return existing;
      }
      return record;
    },
    get,
    async list(listOptions = {}) {
      const limit = listOptions.limit ?? 100;
      const ids: { id: string; at: number }[] = [];
      for (const shard of keyspace.allShards) {
        const entries = await redis.zrevrange(indexKey(shard), 0, limit - 1, 'WITHSCORES');
        for (let k = 0; k < entries.length; k += 2) {
          ids.push({ id: entries[k] as string, at: Number(entries[k + 1]) });
        }
      }
      ids.sort((a, b) => b.at - a.at);
      return readAll(ids.slice(0, limit).map(({ id }) => id));
    },
    async listWaiting(listOptions = {}) {
      const limit = listOptions.limit ?? 100;
      const after = listOptions.after;
      const entries: WaitingCursor[] = [];
      const collect = (flat: string[], keep: (entry: WaitingCursor) => boolean = () => true) => {
        for (let k = 0; k < flat.length; k += 2) {
          const entry = { id: flat[k] as string, score: Number(flat[k + 1]) };
          if (keep(entry)) entries.push(entry);
        }
      };
      for (const shard of keyspace.allShards) {
        const key = waitingKey(shard);
        if (after === undefined) {
          collect(await redis.zrangebyscore(key, '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, limit));
          continue;
        }
        // Entries of the cursor's own score that sort after it, then the later scores.
        collect(
          await redis.zrangebyscore(key, after.score, after.score, 'WITHSCORES'),
          (entry) => entry.id > after.id,
        );
        collect(
          await redis.zrangebyscore(
            key,
            `(${after.score}`,
            '+inf',
            'WITHSCORES',
            'LIMIT',
            0,
            limit,
          ),
        );
      }
      entries.sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const page = entries.slice(0, limit);
      const last = page.at(-1);
      return {
        records: await readAll(page.map(({ id }) => id)),
        ...(entries.length >= limit && last ? { next: last } : {}),
      };
    },
    async update(expected, change, events = []) {
      const next = {
        ...change(structuredClone(expected)),
        version: expected.version + 1,
        updatedAt: clock.now(),
      };
      const written = await runScript(
        redis,
        UPDATE,
        [
          recordKey(expected.id),
          keyspace.eventsStream(shardOf(expected.id)),
          waitingKey(shardOf(expected.id)),
        ],
        [
          String(expected.version),
          JSON.stringify(next),
          expected.id,
          maxLen,
          waitingFlag(next),
          next.updatedAt,
          ...eventArgs(expected.id, next.version, events),
        ],
      );
      if (written === -1) return { ok: false, reason: 'not_found' };
      if (written === -2) return { ok: false, reason: 'version_conflict' };
      return { ok: true, record: next };
    },
  };
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
