/**
 * The loop of an event consumer on one shard stream, on its own connection:
 * reads new entries, claims idle ones, holds back the later entries of a
 * payment whose entry failed, and dead-letters what cannot be delivered. The
 * delivery rules are set out in event-consumer.ts.
 */
import type { Logger } from '../platform/logger.ts';
import type {
  ConsumerSettings,
  DeadLetterEntry,
  EventConsumerOptions,
} from './event-consumer-options.ts';
import {
  compareIds,
  ensureGroup,
  field,
  message,
  parseEvent,
  subjectOf,
  toEntries,
  type RawEntry,
} from './event-stream.ts';
import type { Keyspace } from './keys.ts';
import type { RedisClient } from './lua.ts';

/** What every shard loop of one consumer shares. */
export interface ConsumerRun extends ConsumerSettings {
  /** Read when used: `redis` to duplicate, the `deadLetter` hook to tell. */
  options: EventConsumerOptions;
  keyspace: Keyspace;
  group: string;
  consumer: string;
  handler: EventConsumerOptions['handler'];
  logger: Logger | undefined;
  /** Set once close() began, never unset. */
  stopping: boolean;
  /** Aborted by close(): cuts every pause short. */
  wakeUp: AbortController;
}

export interface RunnerState {
  /** `reading` while blocked in XREADGROUP: close() may cut the connection then. */
  phase: 'reading' | 'working';
}

/** One shard's loop: its connection, its streams and what it holds back in memory. */
export interface ShardContext {
  run: ConsumerRun;
  shard: number;
  conn: RedisClient;
  stream: string;
  deadStream: string;
  state: RunnerState;
  /** Payments whose oldest unfinished entry (`head`) failed, with later entries held back. */
  blocked: Map<string, { head: string; held: RawEntry[] }>;
  heldIds: Set<string>;
  lastErrors: Map<string, string>;
}

export function openShard(run: ConsumerRun, shard: number, conn: RedisClient): ShardContext {
  return {
    run,
    shard,
    conn,
    stream: run.keyspace.eventsStream(shard),
    deadStream: run.keyspace.deadLetterStream(shard),
    state: { phase: 'working' },
    blocked: new Map(),
    heldIds: new Set(),
    lastErrors: new Map(),
  };
}

/** Waits `ms`, or less when close() wakes every loop up. */
function pause(wakeUp: AbortController, ms: number): Promise<void> {
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

async function deadLetter(
  ctx: ShardContext,
  entry: RawEntry,
  deliveries: number,
  error: string,
): Promise<void> {
  const { run, shard, stream } = ctx;
  const { group, consumer } = run;
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
  await ctx.conn
    .multi()
    .xadd(
      ctx.deadStream,
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
  ctx.lastErrors.delete(entry.id);
  run.logger?.warn({ shard, streamId: entry.id, deliveries, group }, 'event dead-lettered');
  await run.options.deadLetter?.(record);
}

/** The head of `subject` is finished (acked, dead-lettered or gone): run what it held back. */
async function release(ctx: ShardContext, subject: string, id: string): Promise<void> {
  const block = ctx.blocked.get(subject);
  if (!block || block.head !== id) return;
  ctx.blocked.delete(subject);
  for (const entry of block.held) ctx.heldIds.delete(entry.id);
  for (const entry of block.held) await handleEntry(ctx, entry, 1);
}

function hold(ctx: ShardContext, subject: string, entry: RawEntry): void {
  const block = ctx.blocked.get(subject);
  if (!block || ctx.heldIds.has(entry.id)) return;
  const at = block.held.findIndex((other) => compareIds(other.id, entry.id) > 0);
  if (at === -1) block.held.push(entry);
  else block.held.splice(at, 0, entry);
  ctx.heldIds.add(entry.id);
}

/** Runs one entry, or holds it back behind its payment's failed head, or dead-letters it. */
async function handleEntry(ctx: ShardContext, entry: RawEntry, deliveries: number): Promise<void> {
  const { run, shard } = ctx;
  const subject = subjectOf(entry);
  const block = ctx.blocked.get(subject);
  if (block && block.head !== entry.id) return hold(ctx, subject, entry);
  const event = parseEvent(entry);
  if (!event) return deadLetter(ctx, entry, deliveries, 'not a CloudEvent entry');
  if (deliveries > run.maxDeliveries) {
    const error = ctx.lastErrors.get(entry.id) ?? 'delivery limit reached';
    await deadLetter(ctx, entry, deliveries, error);
    return release(ctx, subject, entry.id);
  }
  const { handler } = run;
  try {
    await handler(event, { shard, streamId: entry.id, deliveries });
  } catch (error) {
    ctx.lastErrors.set(entry.id, message(error));
    ctx.blocked.set(subject, { head: entry.id, held: block?.held ?? [] });
    run.logger?.warn({ shard, streamId: entry.id, deliveries, err: error }, 'event handler failed');
    return;
  }
  await ctx.conn.xack(ctx.stream, run.group, entry.id);
  ctx.lastErrors.delete(entry.id);
  await release(ctx, subject, entry.id);
}

async function forget(ctx: ShardContext, id: string): Promise<void> {
  // An entry left the group's pending list without us (trimmed, or acked by another consumer).
  ctx.lastErrors.delete(id);
  if (ctx.heldIds.delete(id)) {
    for (const block of ctx.blocked.values()) {
      block.held = block.held.filter((entry) => entry.id !== id);
    }
  }
  for (const [subject, block] of ctx.blocked) {
    if (block.head === id) await release(ctx, subject, id);
  }
}

async function dropForeignHeads(ctx: ShardContext): Promise<void> {
  const { conn, stream, run } = ctx;
  // Heads another consumer took over or acknowledged are no longer ours to wait for.
  for (const [, block] of [...ctx.blocked]) {
    const pending = (await conn.xpending(stream, run.group, block.head, block.head, 1)) as [
      string,
      string,
      number,
      number,
    ][];
    if (pending.length === 0 || pending[0]?.[1] !== run.consumer) await forget(ctx, block.head);
  }
}

/** How often each entry was delivered, as the group's pending list counts it. */
async function deliveryCounts(
  ctx: ShardContext,
  entries: RawEntry[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const pipeline = ctx.conn.pipeline();
  for (const entry of entries) pipeline.xpending(ctx.stream, ctx.run.group, entry.id, entry.id, 1);
  const replies = (await pipeline.exec()) ?? [];
  replies.forEach(([, reply], i) => {
    const row = (reply as [string, string, number, number][] | undefined)?.[0];
    const entry = entries[i];
    if (row && entry) counts.set(entry.id, Number(row[3]));
  });
  return counts;
}

/** Claims `ids` with their bodies and runs them in stream order; stops when close() began. */
async function runClaimed(ctx: ShardContext, ids: string[]): Promise<void> {
  const { conn, stream, run } = ctx;
  const entries = toEntries(await conn.xclaim(stream, run.group, run.consumer, 0, ...ids));
  const counts = await deliveryCounts(ctx, entries);
  entries.sort((a, b) => compareIds(a.id, b.id));
  for (const entry of entries) {
    if (run.stopping) return;
    await handleEntry(ctx, entry, counts.get(entry.id) ?? run.maxDeliveries + 1);
  }
}

/** Takes over entries pending longer than `claimIdleMs` and runs them again. */
async function claimPass(ctx: ShardContext): Promise<void> {
  const { conn, stream, run } = ctx;
  await dropForeignHeads(ctx);
  let cursor = '0-0';
  for (let round = 0; round < 100 && !run.stopping; round++) {
    const [next, ids, deleted] = (await conn.call(
      'XAUTOCLAIM',
      stream,
      run.group,
      run.consumer,
      run.claimIdleMs,
      cursor,
      'COUNT',
      run.batchSize,
      'JUSTID',
    )) as [string, string[], string[]?];
    for (const id of deleted ?? []) await forget(ctx, id);
    // JUSTID took ownership without counting a delivery; held entries stay as they are.
    const toRun = ids.filter((id) => !ctx.heldIds.has(id));
    if (toRun.length > 0) {
      await runClaimed(ctx, toRun);
      if (run.stopping) return;
    }
    cursor = next;
    if (cursor === '0-0') break;
  }
}

/** Reads new entries (`>`) until the next claim pass is due at the latest, and runs them. */
async function readNew(ctx: ShardContext, nextClaimAt: number): Promise<void> {
  const { run, state } = ctx;
  const block = Math.max(1, Math.min(run.blockMs, nextClaimAt - Date.now()));
  state.phase = 'reading';
  const reply = (await ctx.conn.xreadgroup(
    'GROUP',
    run.group,
    run.consumer,
    'COUNT',
    run.batchSize,
    'BLOCK',
    block,
    'STREAMS',
    ctx.stream,
    '>',
  )) as [string, unknown][] | null;
  state.phase = 'working';
  for (const entry of toEntries(reply?.[0]?.[1])) await handleEntry(ctx, entry, 1);
}

/** The shard's loop, until close(): claim passes between reads, backing off on errors. */
export async function runShard(ctx: ShardContext): Promise<void> {
  const { run, state } = ctx;
  let nextClaimAt = 0;
  let failures = 0;
  while (!run.stopping) {
    try {
      if (Date.now() >= nextClaimAt) {
        await claimPass(ctx);
        nextClaimAt = Date.now() + run.claimIntervalMs;
      }
      if (ctx.heldIds.size >= run.maxHeld) {
        await pause(run.wakeUp, nextClaimAt - Date.now());
        continue;
      }
      await readNew(ctx, nextClaimAt);
      failures = 0;
    } catch (error) {
      state.phase = 'working';
      if (run.stopping) break;
      if (error instanceof Error && error.message.startsWith('NOGROUP')) {
        await ensureGroup(ctx.conn, ctx.stream, run.group, run.startId).catch(() => undefined);
        continue;
      }
      failures++;
      run.logger?.error({ shard: ctx.shard, err: error }, 'event consumer loop failed');
      await pause(run.wakeUp, Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
    }
  }
}
