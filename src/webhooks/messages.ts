/**
 * The delivery log: one message per (event, endpoint), kept in the event's
 * shard (`{<prefix>:s<n>}:wh:…`), so writing the messages of an event is one
 * atomic write in one slot:
 * - `wh:msg:<endpoint>:<event>` the message: the exact body sent (the
 *   CloudEvent JSON, signed anew at each attempt), its status and attempts;
 *   it expires after the retention;
 * - `wh:log:<endpoint>` message ids by creation time, for the log and replay;
 * - `wh:pending:<endpoint>` the messages not yet delivered nor failed, by
 *   creation time: the endpoint's backlog and its oldest message.
 */
import type { Keyspace } from '../payments/keys.ts';
import type { RedisClient } from '../payments/lua.ts';

export type MessageStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryAttempt {
  /** When it was sent (ms). */
  at: number;
  durationMs: number;
  /** The receiver's HTTP status, when it answered. */
  statusCode?: number;
  /** Why no answer counted: timeout, refused address, connection error... */
  error?: string;
  /** The answer's body, truncated. */
  responseBody?: string;
}

export interface WebhookMessage {
  endpointId: string;
  /** The event's id: the `webhook-id` of every attempt. */
  eventId: string;
  eventType: string;
  subject: string;
  sequence: number;
  shard: number;
  body: string;
  createdAt: number;
  status: MessageStatus;
  /** Every attempt ever made, replays included. */
  attemptCount: number;
  /** The most recent attempts, newest last. */
  attempts: DeliveryAttempt[];
  nextAttemptAt?: number;
  /** Why it failed for good: retries_exhausted, gone, endpoint_disabled, endpoint_deleted. */
  failedReason?: string;
  deliveredAt?: number;
}

export interface MessageLog {
  /** Adds messages of one shard, once: a message that exists is left as it is. */
  add(shard: number, messages: readonly WebhookMessage[]): Promise<void>;
  get(shard: number, endpointId: string, eventId: string): Promise<WebhookMessage | undefined>;
  /** The message in whichever shard holds it. */
  find(endpointId: string, eventId: string): Promise<WebhookMessage | undefined>;
  /** Stores the message after an attempt or a replay, keeping the backlog index in step. */
  save(message: WebhookMessage): Promise<void>;
  /** Newest first across shards; `before` (ms, exclusive) pages back. */
  list(
    endpointId: string,
    options?: { limit?: number; before?: number },
  ): Promise<WebhookMessage[]>;
  /** Ids (with shard) of the endpoint's messages created at or after `since` (ms), oldest first. */
  since(endpointId: string, since: number, limit: number): Promise<MessageRef[]>;
  /** Undelivered messages and the creation time of the oldest, across shards. */
  backlog(endpointId: string): Promise<{ count: number; oldestCreatedAt?: number }>;
}

export interface MessageRef {
  shard: number;
  eventId: string;
}

/** Attempts kept on a message (the count goes on). */
const KEPT_ATTEMPTS = 20;

export function createMessageLog(options: {
  redis: RedisClient;
  keyspace: Keyspace;
  /** How long messages are kept. */
  retentionMs: number;
  now: () => number;
}): MessageLog {
  const { redis, keyspace, retentionMs } = options;
  const tag = (shard: number) => `${keyspace.hashTag(shard)}:wh`;
  const msgKey = (shard: number, endpointId: string, eventId: string) =>
    `${tag(shard)}:msg:${endpointId}:${eventId}`;
  const logKey = (shard: number, endpointId: string) => `${tag(shard)}:log:${endpointId}`;
  const pendingKey = (shard: number, endpointId: string) => `${tag(shard)}:pending:${endpointId}`;
  const ttlSeconds = Math.max(1, Math.ceil(retentionMs / 1_000));

  const getMany = async (shard: number, endpointId: string, ids: string[]) => {
    if (ids.length === 0) return [];
    const texts = await redis.mget(...ids.map((id) => msgKey(shard, endpointId, id)));
    return texts.flatMap((text) => (text ? [JSON.parse(text) as WebhookMessage] : []));
  };

  return {
    async add(shard, messages) {
      if (messages.length === 0) return;
      const cutoff = options.now() - retentionMs;
      const multi = redis.multi();
      for (const message of messages) {
        const { endpointId, eventId, createdAt } = message;
        multi
          .set(msgKey(shard, endpointId, eventId), JSON.stringify(message), 'EX', ttlSeconds, 'NX')
          .zadd(logKey(shard, endpointId), 'NX', createdAt, eventId)
          .zremrangebyscore(logKey(shard, endpointId), '-inf', `(${cutoff}`)
          .zadd(pendingKey(shard, endpointId), 'NX', createdAt, eventId);
      }
      await multi.exec();
    },

    async get(shard, endpointId, eventId) {
      const text = await redis.get(msgKey(shard, endpointId, eventId));
      return text === null ? undefined : (JSON.parse(text) as WebhookMessage);
    },

    async find(endpointId, eventId) {
      const keys = keyspace.allShards.map((shard) => msgKey(shard, endpointId, eventId));
      const texts = await Promise.all(keys.map((key) => redis.get(key)));
      const text = texts.find((found) => found !== null);
      return text ? (JSON.parse(text) as WebhookMessage) : undefined;
    },

    async save(message) {
      const { shard, endpointId, eventId } = message;
      const kept = { ...message, attempts: message.attempts.slice(-KEPT_ATTEMPTS) };
      const multi = redis
        .multi()
        .set(msgKey(shard, endpointId, eventId), JSON.stringify(kept), 'KEEPTTL');
      if (message.status === 'pending') {
        multi.zadd(pendingKey(shard, endpointId), 'NX', message.createdAt, eventId);
      } else {
        multi.zrem(pendingKey(shard, endpointId), eventId);
      }
      await multi.exec();
    },

    async list(endpointId, listOptions = {}) {
      const limit = listOptions.limit ?? 50;
      const max = listOptions.before === undefined ? '+inf' : `(${listOptions.before}`;
      const pages = await Promise.all(
        keyspace.allShards.map(async (shard) => {
          const ids = await redis.zrevrangebyscore(
            logKey(shard, endpointId),
            max,
            '-inf',
            'LIMIT',
            0,
            limit,
          );
          return getMany(shard, endpointId, ids);
        }),
      );
      return pages
        .flat()
        .sort((a, b) => b.createdAt - a.createdAt || b.eventId.localeCompare(a.eventId))
        .slice(0, limit);
    },

    async since(endpointId, since, limit) {
      const refs: Array<MessageRef & { at: number }> = [];
      for (const shard of keyspace.allShards) {
        const flat = await redis.zrangebyscore(
          logKey(shard, endpointId),
          since,
          '+inf',
          'WITHSCORES',
          'LIMIT',
          0,
          limit,
        );
        for (let i = 0; i + 1 < flat.length; i += 2) {
          refs.push({ shard, eventId: flat[i] as string, at: Number(flat[i + 1]) });
        }
      }
      return refs
        .sort((a, b) => a.at - b.at)
        .slice(0, limit)
        .map(({ shard, eventId }) => ({ shard, eventId }));
    },

    async backlog(endpointId) {
      let count = 0;
      let oldestCreatedAt: number | undefined;
      for (const shard of keyspace.allShards) {
        const key = pendingKey(shard, endpointId);
        const [size, oldest] = await Promise.all([
          redis.zcard(key),
          redis.zrange(key, 0, 0, 'WITHSCORES'),
        ]);
        count += size;
        const at = oldest[1] === undefined ? undefined : Number(oldest[1]);
        if (at !== undefined && (oldestCreatedAt === undefined || at < oldestCreatedAt)) {
          oldestCreatedAt = at;
        }
      }
      return { count, ...(oldestCreatedAt === undefined ? {} : { oldestCreatedAt }) };
    },
  };
}
