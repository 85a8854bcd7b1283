/**
 * Ops alerts: things a person should look at before money is lost (an
 * authorisation close to its capture limit, a limit reached with no policy,
 * a payment the janitor escalated). Kept per shard in a sorted set by time,
 * newest last, trimmed to the most recent `keep`.
 */
import type { Keyspace } from '../payments/keys.ts';
import type { RedisClient } from '../payments/lua.ts';
import type { Clock } from '../platform/clock.ts';
import { uuid } from '../platform/ids.ts';
import type { Logger } from '../platform/logger.ts';

export interface OpsAlert {
  id: string;
  at: string;
  kind:
    | 'capture_limit_near'
    | 'capture_limit_reached'
    | 'janitor_escalated'
    | 'schedule_failed'
    | 'reauthorization_failed'
    | 'reauthorization_in_review'
    | 'merchant_credentials_invalid'
    | 'inquiry_conflict'
    | 'operation_failed'
    | 'webhook_endpoint_disabled'
    | 'event_stream_near_cap';
  paymentId?: string;
  subject?: string;
  message: string;
}

export interface Alerts {
  raise(shard: number, alert: Omit<OpsAlert, 'id' | 'at'>): Promise<OpsAlert>;
  /** Newest first, across shards. */
  list(options?: { limit?: number }): Promise<OpsAlert[]>;
}

export function createAlerts(options: {
  redis: RedisClient;
  keyspace: Keyspace;
  clock: Clock;
  /** @defaultValue 10 000 per shard */
  keep?: number;
  /** Each alert raised is also logged at warn. */
  logger?: Logger;
}): Alerts {
  const { redis, keyspace, clock } = options;
  const keep = options.keep ?? 10_000;
  const keyOf = (shard: number): string => `${keyspace.hashTag(shard)}:alerts`;
  return {
    async raise(shard, fields) {
      const now = clock.now();
      const alert: OpsAlert = { id: uuid(), at: new Date(now).toISOString(), ...fields };
      await redis
        .multi()
        .zadd(keyOf(shard), now, JSON.stringify(alert))
        .zremrangebyrank(keyOf(shard), 0, -keep - 1)
        .exec();
      options.logger?.warn(
        {
          alert: { id: alert.id, kind: alert.kind, subject: alert.subject },
          ...(alert.paymentId ? { paymentId: alert.paymentId } : {}),
          detail: alert.message,
        },
        'ops alert raised',
      );
      return alert;
    },
    async list(listOptions = {}) {
      const limit = listOptions.limit ?? 100;
      const alerts: OpsAlert[] = [];
      for (const shard of keyspace.allShards) {
        const members = await redis.zrevrange(keyOf(shard), 0, limit - 1);
        for (const member of members) alerts.push(JSON.parse(member) as OpsAlert);
      }
      return alerts.sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
    },
  };
}
