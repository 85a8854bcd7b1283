/**
 * Reads the payment event streams with a Redis consumer group (architecture §8):
 * at-least-once, in order per payment within one consumer.
 *
 * One loop per shard stream, each on its own duplicated connection (a cluster
 * cannot serve streams of different slots in one XREADGROUP, and a blocking
 * read holds its connection). A loop:
 * - reads new entries (`XREADGROUP … >`) and runs the handler on each, in
 *   stream order; success is acknowledged (`XACK`), failure leaves the entry
 *   pending;
 * - every `claimIdleMs / 2`, takes over entries pending longer than
 *   `claimIdleMs` (its own failures, or entries of a consumer that died) and
 *   runs them again; an entry delivered more than `maxDeliveries` times goes to
 *   the shard's dead-letter stream with its last error and is acknowledged.
 *
 * Order per payment: after a handler fails on an entry of payment P, later
 * entries of P that reach this consumer are held back in memory (still
 * pending in Redis) until that entry succeeds or is dead-lettered, then run in
 * order. Held entries are claimed with JUSTID so waiting does not count as a
 * delivery. Across consumers of one group there is no order: a group with
 * several consumers must order by the event's `sequence` itself.
 *
 * Handlers must be idempotent: a crash after the handler and before the XACK
 * delivers the entry again (dedupe on `source` + `id`, or `subject` + `sequence`).
 */
import type { Logger } from '../platform/logger.ts';
import type { PaymentCloudEvent } from './events.ts';
import type { Keyspace } from './keys.ts';
import type { RedisClient } from './lua.ts';

export interface Delivery {
  shard: number;
  streamId: string;
  /** 1 on the first delivery. */
  deliveries: number;
}

export interface DeadLetterEntry {
  shard: number;
  streamId: string;
  group: string;
  consumer: string;
  deliveries: number;
  error: string;
  /** The entry's `event` field as stored (JSON text), when it had one. */
  event?: string;
}

export interface EventConsumerOptions {
  /** Duplicated once per shard; the consumer closes its duplicates, never this one. */
  redis: RedisClient;
  keyspace: Keyspace;
  group: string;
  consumer: string;
  handler: (event: PaymentCloudEvent, delivery: Delivery) => Promise<void>;
  /** Entries per read or claim. @defaultValue 100 */
  batchSize?: number;
  /** How long a read waits for new entries. @defaultValue 2 000 ms */
  blockMs?: number;
  /** Pending entries idle this long are taken over and run again. @defaultValue 30 000 ms */
  claimIdleMs?: number;
  /** Deliveries after which an entry is dead-lettered instead of run. @defaultValue 5 */
  maxDeliveries?: number;
  /** Told about each dead-lettered entry, after it is in the dead-letter stream. */
  deadLetter?: (entry: DeadLetterEntry) => void | Promise<void>;
  /** Where a new group starts: `0` (everything kept) or `$` (new entries only). @defaultValue '0' */
  startId?: string;
  /** Held-back entries (per shard) above which new reads pause. @defaultValue 10 × batchSize */
  maxHeld?: number;
  logger?: Logger;
}

export interface EventConsumer {
  /** Creates the groups (idempotent) and starts reading. */
  start(): Promise<void>;
  /** Stops reading, waits for the handler in progress, closes the consumer's connections. */
  close(): Promise<void>;
}

interface RunnerState {
  /** `reading` while blocked in XREADGROUP: close() may cut the connection then. */
  phase: 'reading' | 'working';
}

interface RawEntry {
  id: string;
  fields: string[];
}

function compareIds(a: string, b: string): number {
  const [ams = '0', aseq = '0'] = a.split('-');
  const [bms = '0', bseq = '0'] = b.split('-');
  const ms = BigInt(ams) - BigInt(bms);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aseq) - BigInt(bseq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

function field(entry: RawEntry, name: string): string | undefined {
  for (let i = 0; i + 1 < entry.fields.length; i += 2) {
    if (entry.fields[i] === name) return entry.fields[i + 1];
  }
  return undefined;
}

function parseEvent(entry: RawEntry): PaymentCloudEvent | undefined {
  const text = field(entry, 'event');
  if (text === undefined) return undefined;
  try {
    const event = JSON.parse(text) as PaymentCloudEvent;
    return typeof event === 'object' && event !== null && typeof event.subject === 'string'
      ? event
      : undefined;
  } catch {
    return undefined;
  }
}

function toEntries(raw: unknown): RawEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: RawEntry[] = [];
  for (const item of raw) {
    // XCLAIM answers nil for entries deleted from the stream meanwhile.
    if (Array.isArray(item) && typeof item[0] === 'string' && Array.isArray(item[1])) {
      entries.push({ id: item[0], fields: item[1] as string[] });
    }
  }
  return entries;
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function ensureGroup(
  redis: RedisClient,
  stream: string,
  group: string,
  startId: string,
): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, startId, 'MKSTREAM');
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
  }
}

export function createEventConsumer(options: EventConsumerOptions): EventConsumer {
  const { keyspace, group, consumer, handler, logger } = options;
  const batchSize = options.batchSize ?? 100;
  const blockMs = options.blockMs ?? 2_000;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const claimIntervalMs = Math.max(10, Math.floor(claimIdleMs / 2));
  const maxDeliveries = options.maxDeliveries ?? 5;
  const maxHeld = options.maxHeld ?? 10 * batchSize;
  const startId = options.startId ?? '0';

  let stopping = false;
  let started = false;
  const wakeUp = new AbortController();
  const runners: Array<{ conn: RedisClient; state: RunnerState; done: Promise<void> }> = [];

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (wakeUp.signal.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        wakeUp.signal.removeEventListener('abort', done);
        resolve();
      }
      wakeUp.signal.addEventListener('abort', done);
    });
  }

  function runShard(shard: number, conn: RedisClient, state: RunnerState) {
    const stream = keyspace.eventsStream(shard);
    const deadStream = keyspace.deadLetterStream(shard);
    /** Payments whose oldest unfinished entry (`head`) failed, with later entries held back. */
    const blocked = new Map<string, { head: string; held: RawEntry[] }>();
    const heldIds = new Set<string>();
    const lastErrors = new Map<string, string>();

    const subjectOf = (entry: RawEntry): string =>
      parseEvent(entry)?.subject ?? field(entry, 'subject') ?? `entry:${entry.id}`;

    async function deadLetter(entry: RawEntry, deliveries: number, error: string): Promise<void> {
      const event = field(entry, 'event');
      const record: DeadLetterEntry = {
        shard,
        streamId: entry.id,
        group,
        consumer,
        deliveries,
        error,
        ...(event === undefined ? {} : { event }),
      };
      // One transaction, one slot: the entry is in the dead-letter stream if and only if acked.
      await conn
        .multi()
        .xadd(
          deadStream,
          '*',
          'stream',
          stream,
          'streamId',
          entry.id,
          'group',
          group,
          'consumer',
          consumer,
          'deliveries',
          String(deliveries),
          'error',
          error,
          'event',
          event ?? '',
        )
        .xack(stream, group, entry.id)
        .exec();
      lastErrors.delete(entry.id);
      logger?.warn({ shard, streamId: entry.id, deliveries, group }, 'event dead-lettered');
      await options.deadLetter?.(record);
    }

    /** The head of `subject` is finished (acked, dead-lettered or gone): run what it held back. */
    async function release(subject: string, id: string): Promise<void> {
      const block = blocked.get(subject);
      if (!block || block.head !== id) return;
      blocked.delete(subject);
      for (const entry of block.held) heldIds.delete(entry.id);
      for (const entry of block.held) await handle(entry, 1);
    }

    function hold(subject: string, entry: RawEntry): void {
      const block = blocked.get(subject);
      if (!block || heldIds.has(entry.id)) return;
      const at = block.held.findIndex((other) => compareIds(other.id, entry.id) > 0);
      if (at === -1) block.held.push(entry);
      else block.held.splice(at, 0, entry);
      heldIds.add(entry.id);
    }

    async function handle(entry: RawEntry, deliveries: number): Promise<void> {
      const subject = subjectOf(entry);
      const block = blocked.get(subject);
      if (block && block.head !== entry.id) return hold(subject, entry);
      const event = parseEvent(entry);
      if (!event) return deadLetter(entry, deliveries, 'not a CloudEvent entry');
      if (deliveries > maxDeliveries) {
        await deadLetter(entry, deliveries, lastErrors.get(entry.id) ?? 'delivery limit reached');
        return release(subject, entry.id);
      }
      try {
        await handler(event, { shard, streamId: entry.id, deliveries });
      } catch (error) {
        lastErrors.set(entry.id, message(error));
        blocked.set(subject, { head: entry.id, held: block?.held ?? [] });
        logger?.warn({ shard, streamId: entry.id, deliveries, err: error }, 'event handler failed');
        return;
      }
      await conn.xack(stream, group, entry.id);
      lastErrors.delete(entry.id);
      await release(subject, entry.id);
    }

    async function forget(id: string): Promise<void> {
      // An entry left the group's pending list without us (trimmed, or acked by another consumer).
      lastErrors.delete(id);
      if (heldIds.delete(id)) {
        for (const block of blocked.values()) {
          block.held = block.held.filter((entry) => entry.id !== id);
        }
      }
      for (const [subject, block] of blocked) {
        if (block.head === id) await release(subject, id);
      }
    }

    async function claimPass(): Promise<void> {
      // Heads another consumer took over or acknowledged are no longer ours to wait for.
      for (const [, block] of [...blocked]) {
        const pending = (await conn.xpending(stream, group, block.head, block.head, 1)) as [
          string,
          string,
          number,
          number,
        ][];
        if (pending.length === 0 || pending[0]?.[1] !== consumer) await forget(block.head);
      }
      let cursor = '0-0';
      for (let round = 0; round < 100 && !stopping; round++) {
        const [next, ids, deleted] = (await conn.call(
          'XAUTOCLAIM',
          stream,
          group,
          consumer,
          claimIdleMs,
          cursor,
          'COUNT',
          batchSize,
          'JUSTID',
        )) as [string, string[], string[]?];
        for (const id of deleted ?? []) await forget(id);
        // JUSTID took ownership without counting a delivery; held entries stay as they are.
        const toRun = ids.filter((id) => !heldIds.has(id));
        if (toRun.length > 0) {
          const entries = toEntries(await conn.xclaim(stream, group, consumer, 0, ...toRun));
          const counts = new Map<string, number>();
          const pipeline = conn.pipeline();
          for (const entry of entries) pipeline.xpending(stream, group, entry.id, entry.id, 1);
          const replies = (await pipeline.exec()) ?? [];
          replies.forEach(([, reply], i) => {
            const row = (reply as [string, string, number, number][] | undefined)?.[0];
            const entry = entries[i];
            if (row && entry) counts.set(entry.id, Number(row[3]));
          });
          entries.sort((a, b) => compareIds(a.id, b.id));
          for (const entry of entries) {
            if (stopping) return;
            await handle(entry, counts.get(entry.id) ?? maxDeliveries + 1);
          }
        }
        cursor = next;
        if (cursor === '0-0') break;
      }
    }

    return async function loop(): Promise<void> {
      let nextClaimAt = 0;
      let failures = 0;
      while (!stopping) {
        try {
          if (Date.now() >= nextClaimAt) {
            await claimPass();
            nextClaimAt = Date.now() + claimIntervalMs;
          }
          if (heldIds.size >= maxHeld) {
            await pause(nextClaimAt - Date.now());
            continue;
          }
          const block = Math.max(1, Math.min(blockMs, nextClaimAt - Date.now()));
          state.phase = 'reading';
          const reply = (await conn.xreadgroup(
            'GROUP',
            group,
            consumer,
            'COUNT',
            batchSize,
            'BLOCK',
            block,
            'STREAMS',
            stream,
            '>',
          )) as [string, unknown][] | null;
          state.phase = 'working';
          for (const entry of toEntries(reply?.[0]?.[1])) await handle(entry, 1);
          failures = 0;
        } catch (error) {
          state.phase = 'working';
          if (stopping) break;
          if (error instanceof Error && error.message.startsWith('NOGROUP')) {
            await ensureGroup(conn, stream, group, startId).catch(() => undefined);
            continue;
          }
          failures++;
          logger?.error({ shard, err: error }, 'event consumer loop failed');
          await pause(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
        }
      }
    };
  }

  return {
    async start() {
      if (started) throw new Error('the event consumer is already started');
      started = true;
      for (const shard of keyspace.allShards) {
        const conn = options.redis.duplicate();
        await ensureGroup(conn, keyspace.eventsStream(shard), group, startId);
        const state: RunnerState = { phase: 'working' };
        runners.push({ conn, state, done: runShard(shard, conn, state)() });
      }
    },

    async close() {
      stopping = true;
      wakeUp.abort();
      // A blocked read is cut short; a handler in progress runs to its end.
      for (const runner of runners) if (runner.state.phase === 'reading') runner.conn.disconnect();
      await Promise.all(runners.map((runner) => runner.done));
      for (const runner of runners) runner.conn.disconnect();
    },
  };
}

/**
 * Trims each shard's event stream below the oldest entry some group still
 * needs (its oldest pending entry, or its last delivered one), so consumers
 * lose nothing. Streams without groups are left alone. Returns entries removed.
 */
export async function trimAcknowledged(redis: RedisClient, keyspace: Keyspace): Promise<number> {
  let removed = 0;
  for (const shard of keyspace.allShards) {
    const stream = keyspace.eventsStream(shard);
    let groups: unknown[];
    try {
      groups = (await redis.xinfo('GROUPS', stream)) as unknown[];
    } catch {
      continue;
    }
    let floor: string | undefined;
    for (const raw of groups) {
      const info = raw as (string | number)[];
      const get = (name: string) => info[info.indexOf(name) + 1];
      const name = String(get('name'));
      const summary = (await redis.xpending(stream, name)) as [number, string | null, ...unknown[]];
      const needed = summary[0] > 0 && summary[1] ? summary[1] : String(get('last-delivered-id'));
      if (floor === undefined || compareIds(needed, floor) < 0) floor = needed;
    }
    if (floor !== undefined && floor !== '0-0') {
      removed += Number(await redis.xtrim(stream, 'MINID', floor));
    }
  }
  return removed;
}
