/**
 * Entries of the payment event streams as Redis answers them (XREADGROUP,
 * XCLAIM), and the consumer group every reader of a stream belongs to.
 */
import type { PaymentCloudEvent } from './events.ts';
import type { RedisClient } from './lua.ts';

export interface RawEntry {
  id: string;
  fields: string[];
}

/** Orders stream ids (`<ms>-<seq>`) as Redis does. */
export function compareIds(a: string, b: string): number {
  const [ams = '0', aseq = '0'] = a.split('-');
  const [bms = '0', bseq = '0'] = b.split('-');
  const ms = BigInt(ams) - BigInt(bms);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aseq) - BigInt(bseq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

export function field(entry: RawEntry, name: string): string | undefined {
  for (let i = 0; i + 1 < entry.fields.length; i += 2) {
    if (entry.fields[i] === name) return entry.fields[i + 1];
  }
  return undefined;
}

export function parseEvent(entry: RawEntry): PaymentCloudEvent | undefined {
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

/** The payment an entry belongs to; an unreadable entry is its own subject. */
export function subjectOf(entry: RawEntry): string {
  return parseEvent(entry)?.subject ?? field(entry, 'subject') ?? `entry:${entry.id}`;
}

export function toEntries(raw: unknown): RawEntry[] {
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

export function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export async function ensureGroup(
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

/** One consumer group of a stream, as XINFO GROUPS tells it. */
export interface GroupInfo {
  name: string;
  lastDeliveredId: string;
  /** Entries not yet read; null when Redis cannot tell. */
  lag: number | null;
  /** Entries read and not acknowledged. */
  pending: number;
}

/** The consumer groups of a stream; none when the stream does not exist. */
export async function groupsOf(redis: RedisClient, stream: string): Promise<GroupInfo[]> {
  let raw: unknown;
  try {
    raw = await redis.xinfo('GROUPS', stream);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((entry) => {
    if (!Array.isArray(entry)) return [];
    // A flat list of name/value pairs.
    const field = (name: string): unknown => entry[entry.indexOf(name) + 1];
    const lag = field('lag');
    return [
      {
        name: String(field('name')),
        lastDeliveredId: String(field('last-delivered-id')),
        lag: lag === null || lag === undefined ? null : Number(lag),
        pending: Number(field('pending') ?? 0),
      },
    ];
  });
}

/**
 * The oldest entry of `stream` that some consumer group still needs (its
 * oldest pending entry, or the last one delivered to it) and that group's
 * name; undefined when the stream has no group.
 */
export async function slowestGroup(
  redis: RedisClient,
  stream: string,
): Promise<{ group: string; needed: string } | undefined> {
  let slowest: { group: string; needed: string } | undefined;
  for (const group of await groupsOf(redis, stream)) {
    const summary = (await redis.xpending(stream, group.name)) as [
      number,
      string | null,
      ...unknown[],
    ];
    const needed = summary[0] > 0 && summary[1] ? summary[1] : group.lastDeliveredId;
    if (!slowest || compareIds(needed, slowest.needed) < 0) slowest = { group: group.name, needed };
  }
  return slowest;
}
