/**
 * Keeps each shard's event stream bounded without taking an event from a
 * consumer that still needs it (architecture §8):
 *
 * - an entry goes once every consumer group (webhook delivery included) is
 *   past it, and it is older than the retention, which keeps a day of events
 *   for the console's charts and for a consumer that starts late;
 * - a stream without groups is trimmed by age alone;
 * - the appends cap every stream (`MAXLEN ~`, the hard cap); a group that
 *   stops reading holds its stream back until it nears the cap, and from
 *   `alertShare` of the cap on, ops are told which group it is, once an
 *   hour, before the cap drops anything.
 *
 * The janitor runs it on each pass.
 */
import { compareIds, slowestGroup } from '../payments/event-stream.ts';
import type { Keyspace } from '../payments/keys.ts';
import type { RedisClient } from '../payments/lua.ts';
import { DEFAULT_STREAM_MAX_LEN } from '../payments/store.ts';
import type { Alerts } from './alerts.ts';

export interface StreamRetentionOptions {
  /** Entries younger than this stay, acknowledged or not. @defaultValue 24 h */
  minRetentionMs?: number;
  /** The appends' cap (the store's `streamMaxLen`). @defaultValue 1 000 000 */
  maxLen?: number;
  /** Share of the cap from which ops are alerted. @defaultValue 0.8 */
  alertShare?: number;
}

export interface StreamRetentionReport {
  /** Entries removed, all shards. */
  trimmed: number;
  /** Shards whose stream is past `alertShare` of the cap. */
  nearCap: number[];
}

const HOUR = 3_600_000;

export async function keepEventStreams(
  deps: { redis: RedisClient; keyspace: Keyspace; alerts: Alerts },
  options: StreamRetentionOptions = {},
): Promise<StreamRetentionReport> {
  const { redis, keyspace } = deps;
  const minRetentionMs = options.minRetentionMs ?? 24 * HOUR;
  const maxLen = options.maxLen ?? DEFAULT_STREAM_MAX_LEN;
  const alertAt = Math.floor(maxLen * (options.alertShare ?? 0.8));
  const report: StreamRetentionReport = { trimmed: 0, nearCap: [] };
  // Entry ids carry the Redis server's time: the age is read on its clock.
  const [seconds, micros] = await redis.time();
  const serverNow = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
  const byAge = `${Math.max(0, serverNow - minRetentionMs)}-0`;
  for (const shard of keyspace.allShards) {
    const stream = keyspace.eventsStream(shard);
    const slowest = await slowestGroup(redis, stream);
    const floor = slowest && compareIds(slowest.needed, byAge) < 0 ? slowest.needed : byAge;
    if (floor !== '0-0') report.trimmed += Number(await redis.xtrim(stream, 'MINID', floor));
    const length = Number(await redis.xlen(stream));
    if (maxLen <= 0 || length < alertAt) continue;
    report.nearCap.push(shard);
    // Once an hour per shard, whichever process runs the janitor.
    const once = await redis.set(
      `${keyspace.hashTag(shard)}:events:near-cap`,
      '1',
      'PX',
      HOUR,
      'NX',
    );
    if (once !== 'OK') continue;
    const holder = slowest
      ? ` The consumer group "${slowest.group}" has not acknowledged entries since ${slowest.needed}.`
      : '';
    await deps.alerts.raise(shard, {
      kind: 'event_stream_near_cap',
      subject: stream,
      message: `the event stream of shard ${shard} holds ${length} entries, near its cap of ${maxLen}: past it, the oldest are dropped whether consumers read them or not.${holder}`,
    });
  }
  return report;
}
