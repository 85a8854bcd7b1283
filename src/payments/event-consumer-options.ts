/**
 * What an event consumer (event-consumer.ts) is told, what it tells its
 * handler and its dead-letter hook, and the settings it runs with once the
 * defaults are applied.
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

/** The options' numbers with their defaults applied. */
export interface ConsumerSettings {
  batchSize: number;
  blockMs: number;
  claimIdleMs: number;
  /** How often a loop looks for entries to claim: half of `claimIdleMs`, at least 10 ms. */
  claimIntervalMs: number;
  maxDeliveries: number;
  maxHeld: number;
  startId: string;
}

export function settingsOf(options: EventConsumerOptions): ConsumerSettings {
  const batchSize = options.batchSize ?? 100;
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  return {
    batchSize,
    blockMs: options.blockMs ?? 2_000,
    claimIdleMs,
    claimIntervalMs: Math.max(10, Math.floor(claimIdleMs / 2)),
    maxDeliveries: options.maxDeliveries ?? 5,
    maxHeld: options.maxHeld ?? 10 * batchSize,
    startId: options.startId ?? '0',
  };
}
