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
import {
  settingsOf,
  type DeadLetterEntry,
  type Delivery,
  type EventConsumerOptions,
} from './event-consumer-options.ts';
import { openShard, runShard, type ConsumerRun, type ShardContext } from './event-shard.ts';
import { ensureGroup, slowestGroup } from './event-stream.ts';
import type { Keyspace } from './keys.ts';
import { duplicateConnection, type RedisClient } from '../platform/redis.ts';

export type { DeadLetterEntry, Delivery, EventConsumerOptions };

export interface EventConsumer {
  /** Creates the groups (idempotent) and starts reading. */
  start(): Promise<void>;
  /** Stops reading, waits for the handler in progress, closes the consumer's connections. */
  close(): Promise<void>;
}

export function createEventConsumer(options: EventConsumerOptions): EventConsumer {
  const { keyspace, group, consumer, handler, logger } = options;
  const run: ConsumerRun = {
    ...settingsOf(options),
    options,
    keyspace,
    group,
    consumer,
    handler,
    logger,
    stopping: false,
    wakeUp: new AbortController(),
  };
  let started = false;
  const runners: Array<{ context: ShardContext; done: Promise<void> }> = [];

  return {
    async start() {
      if (started) throw new Error('the event consumer is already started');
      started = true;
      for (const shard of keyspace.allShards) {
        const conn = duplicateConnection(options.redis);
        await ensureGroup(conn, keyspace.eventsStream(shard), group, run.startId);
        const context = openShard(run, shard, conn);
        runners.push({ context, done: runShard(context) });
      }
    },

    async close() {
      run.stopping = true;
      run.wakeUp.abort();
      // A blocked read is cut short; a handler in progress runs to its end.
      for (const { context } of runners) {
        if (context.state.phase === 'reading') context.conn.disconnect();
      }
      await Promise.all(runners.map((runner) => runner.done));
      for (const { context } of runners) context.conn.disconnect();
    },
  };
}

/**
 * Trims each shard's event stream below the oldest entry some group still
 * needs, so consumers lose nothing. Streams without groups are left alone.
 * Returns entries removed.
 */
export async function trimAcknowledged(redis: RedisClient, keyspace: Keyspace): Promise<number> {
  let removed = 0;
  for (const shard of keyspace.allShards) {
    const stream = keyspace.eventsStream(shard);
    const floor = (await slowestGroup(redis, stream))?.needed;
    if (floor !== undefined && floor !== '0-0') {
      removed += Number(await redis.xtrim(stream, 'MINID', floor));
    }
  }
  return removed;
}
