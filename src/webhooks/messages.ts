/**
 * The delivery log: one message per (event, endpoint), kept in the event's
 * shard (`{<prefix>:s<n>}:wh:…`), so writing the messages of an event is one
 * atomic write in one slot:
 * - `wh:body:<event>` the exact body sent (the CloudEvent JSON, signed anew at
 *   each attempt), once for all the event's endpoints;
 * - `wh:msg:<endpoint>:<event>` the message: its status and attempts; it
 *   expires after the retention, with the body;
 * - `wh:log:<endpoint>` message ids by creation time, for the log and replay;
 * - `wh:pending:<endpoint>` the messages not yet delivered nor failed, by
 *   creation time: the endpoint's backlog and its oldest message;
 * - `wh:first` the first-attempt leases of the shard (`<endpoint> <event>`
 *   by deadline): a message whose first attempt is made in a process, not by
 *   a job, holds one until it is settled or handed to a job; a lease past its
 *   deadline (the process died) is turned into a job (first-attempts.ts).
 */
import type { Keyspace } from '../payments/keys.ts';
import { loadScript, runScript, type RedisClient } from '../payments/lua.ts';

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

/** A message as the log keeps it; its body is kept once per event. */
export type LoggedMessage = Omit<WebhookMessage, 'body'>;

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
  /**
   * 0 for the first series of attempts, one more at each replay: a job acts
   * on the message only while it is the generation the job was made for.
   */
  generation: number;
  /** Attempts of the current series: they pick the next delay on the schedule. */
  seriesAttempts: number;
  /** The most recent attempts, newest last. */
  attempts: DeliveryAttempt[];
  nextAttemptAt?: number;
  /** Why it failed for good: retries_exhausted, gone, endpoint_disabled, endpoint_deleted. */
  failedReason?: string;
  deliveredAt?: number;
}

/** What adding a message found: it was new, or the status of the one already there. */
export type AddOutcome = 'created' | MessageStatus;

export interface MessageLog {
  /**
   * Adds the messages of one event (all in its shard), once: a message that
   * exists is left as it is. Answers, per message, what was found.
   */
  add(
    shard: number,
    messages: readonly WebhookMessage[],
    lease?: FirstAttemptLease,
  ): Promise<AddOutcome[]>;
  get(shard: number, endpointId: string, eventId: string): Promise<WebhookMessage | undefined>;
  /** The message in whichever shard holds it. */
  find(endpointId: string, eventId: string): Promise<WebhookMessage | undefined>;
  /**
   * Stores the message after an attempt or a replay, keeping the backlog in
   * step, if generation `expected` is still the one stored.
   */
  save(message: LoggedMessage, expected: number): Promise<'ok' | 'stale' | 'missing'>;
  /** Of these endpoints, those with a pending message for the event. */
  pendingOf(shard: number, endpointIds: readonly string[], eventId: string): Promise<string[]>;
  /** Gives up the first-attempt leases of these messages (handed to jobs, or settled). */
  releaseLeases(shard: number, refs: readonly LeaseRef[]): Promise<void>;
  /** Up to `limit` leases of the shard past their deadline at `now`. */
  expiredLeases(shard: number, now: number, limit: number): Promise<LeaseRef[]>;
  /** Takes a message that no longer exists out of the backlog. */
  forget(shard: number, endpointId: string, eventId: string): Promise<void>;
  /** Newest first across shards; `before` (ms, exclusive) pages back. */
  list(endpointId: string, options?: { limit?: number; before?: number }): Promise<LoggedMessage[]>;
  /** Ids (with shard) of the endpoint's messages created at or after `since` (ms), oldest first. */
  since(endpointId: string, since: number, limit: number): Promise<MessageRef[]>;
  /** Undelivered messages and the creation time of the oldest, across shards. */
  backlog(endpointId: string): Promise<{ count: number; oldestCreatedAt?: number }>;
}

export interface MessageRef {
  shard: number;
  eventId: string;
}

/** Which messages of an event take a first-attempt lease, and until when. */
export interface FirstAttemptLease {
  /** Per message, in the order given to `add`. */
  leased: readonly boolean[];
  /** Deadline, ms. */
  until: number;
}

export interface LeaseRef {
  endpointId: string;
  eventId: string;
}

const leaseMember = (ref: LeaseRef): string => `${ref.endpointId} ${ref.eventId}`;

const ADD = loadScript('webhook-message-add', new URL('./lua/message-add.lua', import.meta.url));
const SAVE = loadScript('webhook-message-save', new URL('./lua/message-save.lua', import.meta.url));

/** Share of writes that also trim the log index. */
const TRIM_SHARE = 0.01;

/** Attempts kept on a message (the count goes on). */
const KEPT_ATTEMPTS = 20;

/** Where a shard keeps its messages, bodies, logs and backlogs. */
function keysOf(keyspace: Keyspace) {
  const tag = (shard: number) => `${keyspace.hashTag(shard)}:wh`;
  return {
    message: (shard: number, endpointId: string, eventId: string) =>
      `${tag(shard)}:msg:${endpointId}:${eventId}`,
    body: (shard: number, eventId: string) => `${tag(shard)}:body:${eventId}`,
    log: (shard: number, endpointId: string) => `${tag(shard)}:log:${endpointId}`,
    pending: (shard: number, endpointId: string) => `${tag(shard)}:pending:${endpointId}`,
    leases: (shard: number) => `${tag(shard)}:first`,
  };
}

/** Only the message's own fields are written: its body is stored once, at its creation. */
function logged(message: LoggedMessage): string {
  const { body: _body, ...fields } = message as WebhookMessage;
  return JSON.stringify({ ...fields, attempts: message.attempts.slice(-KEPT_ATTEMPTS) });
}

function withBody(text: string | null, body: string | null): WebhookMessage | undefined {
  return text === null || body === null
    ? undefined
    : { ...(JSON.parse(text) as LoggedMessage), body };
}

export function createMessageLog(options: {
  redis: RedisClient;
  keyspace: Keyspace;
  /** How long messages are kept. */
  retentionMs: number;
  now: () => number;
}): MessageLog {
  const { redis, keyspace, retentionMs } = options;
  const keys = keysOf(keyspace);
  const msgKey = keys.message;
  const bodyKey = keys.body;
  const logKey = keys.log;
  const pendingKey = keys.pending;
  const leasesKey = keys.leases;
  const ttlSeconds = Math.max(1, Math.ceil(retentionMs / 1_000));

  return {
    async add(shard, messages, lease) {
      const first = messages[0];
      if (!first) return [];
      // Index entries past the retention point at expired messages: they are
      // dropped now and then, not on every write.
      const trim = Math.random() < TRIM_SHARE;
      const keys = [
        bodyKey(shard, first.eventId),
        leasesKey(shard),
        ...messages.flatMap(({ endpointId, eventId }) => [
          msgKey(shard, endpointId, eventId),
          logKey(shard, endpointId),
          pendingKey(shard, endpointId),
        ]),
      ];
      const found = await runScript(redis, ADD, keys, [
        ttlSeconds,
        first.createdAt,
        first.eventId,
        trim ? '1' : '0',
        options.now() - retentionMs,
        first.body,
        lease?.until ?? 0,
        ...messages.flatMap((message, index) => [
          logged(message),
          lease?.leased[index] ? leaseMember(message) : '',
        ]),
      ]);
      return found as AddOutcome[];
    },

    async get(shard, endpointId, eventId) {
      const [text, body] = await redis.mget(
        msgKey(shard, endpointId, eventId),
        bodyKey(shard, eventId),
      );
      return withBody(text ?? null, body ?? null);
    },

    async find(endpointId, eventId) {
      const found = await Promise.all(
        keyspace.allShards.map((shard) =>
          redis.mget(msgKey(shard, endpointId, eventId), bodyKey(shard, eventId)),
        ),
      );
      for (const [text, body] of found) {
        const message = withBody(text ?? null, body ?? null);
        if (message) return message;
      }
      return undefined;
    },

    async save(message, expected) {
      const { shard, endpointId, eventId } = message;
      const result = await runScript(
        redis,
        SAVE,
        [msgKey(shard, endpointId, eventId), pendingKey(shard, endpointId), leasesKey(shard)],
        [
          logged(message),
          expected,
          eventId,
          message.status,
          message.createdAt,
          leaseMember(message),
          message.generation ?? 0,
        ],
      );
      return result as 'ok' | 'stale' | 'missing';
    },

    async pendingOf(shard, endpointIds, eventId) {
      if (endpointIds.length === 0) return [];
      const texts = await redis.mget(...endpointIds.map((id) => msgKey(shard, id, eventId)));
      return endpointIds.filter((_, index) => {
        const text = texts[index];
        return text ? (JSON.parse(text) as LoggedMessage).status === 'pending' : false;
      });
    },

    async releaseLeases(shard, refs) {
      if (refs.length === 0) return;
      await redis.zrem(leasesKey(shard), ...refs.map(leaseMember));
    },

    async expiredLeases(shard, now, limit) {
      const members = await redis.zrangebyscore(leasesKey(shard), '-inf', now, 'LIMIT', 0, limit);
      return members.flatMap((member) => {
        const [endpointId, eventId] = member.split(' ');
        return endpointId && eventId ? [{ endpointId, eventId }] : [];
      });
    },

    async forget(shard, endpointId, eventId) {
      await redis.zrem(pendingKey(shard, endpointId), eventId);
    },

    ...logReads(redis, keyspace),
  };
}

/** The log as people read it: newest first, since a time, the backlog. */
function logReads(
  redis: RedisClient,
  keyspace: Keyspace,
): Pick<MessageLog, 'list' | 'since' | 'backlog'> {
  const keys = keysOf(keyspace);
  const getMany = async (shard: number, endpointId: string, ids: string[]) => {
    if (ids.length === 0) return [];
    const texts = await redis.mget(...ids.map((id) => keys.message(shard, endpointId, id)));
    return texts.flatMap((text) => (text ? [JSON.parse(text) as LoggedMessage] : []));
  };
  return {
    async list(endpointId, listOptions = {}) {
      const limit = listOptions.limit ?? 50;
      const max = listOptions.before === undefined ? '+inf' : `(${listOptions.before}`;
      const pages = await Promise.all(
        keyspace.allShards.map(async (shard) => {
          const ids = await redis.zrevrangebyscore(
            keys.log(shard, endpointId),
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
          keys.log(shard, endpointId),
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
        const key = keys.pending(shard, endpointId);
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
