/**
 * What the HTTP service needs to run and show the orchestrator beyond its
 * commands: readiness, queue figures, stuck payments and the queues a queue
 * board shows. Each call reads RedisClient at the time it is made.
 */
import type { Queue } from 'bullmq';
import { groupsOf, parseEvent, toEntries } from '../payments/event-stream.ts';
import type { RedisClient } from '../platform/redis.ts';
import type { PaymentStatus } from '../../machines/contract.ts';
import type { Keyspace } from '../payments/keys.ts';
import type { ReviewQueues } from '../payments/review.ts';
import type { PaymentStore } from '../payments/store.ts';
import type { StepQueues } from '../queues/steps.ts';
import type { ScheduleQueues } from '../queues/schedules.ts';

/** States of a step job that are counted. */
export type StepJobState = 'waiting' | 'active' | 'delayed' | 'failed';

export interface Operations {
  /** Every shard of the keyspace, in order. */
  shards(): readonly number[];
  /** Resolves when RedisClient answers a PING. */
  pingRedis(): Promise<unknown>;
  /** How many jobs of a shard's step queue are in each of `states`. */
  stepJobCounts(shard: number, states: readonly StepJobState[]): Promise<Record<string, number>>;
  /** How many jobs of a shard's schedules queue are in each of `states`. */
  scheduleJobCounts(
    shard: number,
    states: readonly StepJobState[],
  ): Promise<Record<string, number>>;
  /** Whether a shard's step queue is paused. */
  stepQueuePaused(shard: number): Promise<boolean>;
  /** How many manual-review items are open, over every shard. */
  openReviewCount(): Promise<number>;
  /** Payments in `status` whose last change is older than `olderThan` (ms since the epoch). */
  paymentsInStatusSince(
    status: PaymentStatus,
    options: { olderThan: number; limit: number },
  ): Promise<{ id: string; updatedAt: number }[]>;
  /** The BullMQ queues of a shard, for a queue board: its step queue and its manual-review queue. */
  shardQueues(shard: number): { step: Queue; review: Queue };
  /**
   * The consumer groups of every shard's event stream (webhook delivery, and
   * any other reader): entries not yet read (`lag`; null when Redis cannot
   * tell) and read but not acknowledged (`pending`).
   */
  consumerGroups(): Promise<ConsumerGroupFigures[]>;
  /**
   * The authorisation outcomes (`payment.authorized`, `payment.refused`,
   * `payment.failed`, `payment.challenged`) of every shard's event stream
   * since `since` (ms), newest first: at most `perShard` stream entries are
   * read from each shard.
   */
  recentOutcomes(options: { since: number; perShard: number }): Promise<OutcomeFigure[]>;
}

/** One authorisation outcome read from an event stream. */
export interface OutcomeFigure {
  type: 'payment.authorized' | 'payment.refused' | 'payment.failed' | 'payment.challenged';
  /** Ms since the epoch. */
  at: number;
  responseCode?: string;
}

const OUTCOME_TYPES: ReadonlySet<string> = new Set([
  'payment.authorized',
  'payment.refused',
  'payment.failed',
  'payment.challenged',
]);

/** The outcomes among a stream's entries (XREVRANGE's answer). */
function outcomesOf(raw: unknown): OutcomeFigure[] {
  return toEntries(raw).flatMap((entry) => {
    const event = parseEvent(entry);
    if (!event || !OUTCOME_TYPES.has(event.type)) return [];
    const at = Date.parse(event.time);
    const code = (event.data as { responseCode?: unknown } | undefined)?.responseCode;
    return [
      {
        type: event.type as OutcomeFigure['type'],
        at: Number.isNaN(at) ? Number(entry.id.split('-')[0]) : at,
        ...(typeof code === 'string' ? { responseCode: code } : {}),
      },
    ];
  });
}

export interface ConsumerGroupFigures {
  shard: number;
  group: string;
  lag: number | null;
  pending: number;
}

export function createOperations(parts: {
  redis: RedisClient;
  keyspace: Keyspace;
  store: PaymentStore;
  queues: StepQueues;
  scheduleQueues: ScheduleQueues;
  reviews: ReviewQueues;
}): Operations {
  const { redis, keyspace, store, queues, reviews, scheduleQueues } = parts;
  return {
    async consumerGroups() {
      const figures = await Promise.all(
        keyspace.allShards.map(async (shard) =>
          (await groupsOf(redis, keyspace.eventsStream(shard))).map(({ name, lag, pending }) => ({
            shard,
            group: name,
            lag,
            pending,
          })),
        ),
      );
      return figures.flat();
    },
    async recentOutcomes({ since, perShard }) {
      const answers = await Promise.all(
        keyspace.allShards.map((shard) =>
          redis.xrevrange(keyspace.eventsStream(shard), '+', String(since), 'COUNT', perShard),
        ),
      );
      return answers.flatMap(outcomesOf).sort((a, b) => b.at - a.at);
    },
    shards: () => keyspace.allShards,
    pingRedis: () => redis.ping(),
    stepJobCounts: (shard, states) => queues.queue(shard).getJobCounts(...states),
    scheduleJobCounts: (shard, states) => scheduleQueues.queue(shard).getJobCounts(...states),
    stepQueuePaused: (shard) => queues.queue(shard).isPaused(),
    openReviewCount: () => reviews.countReviews(),
    async paymentsInStatusSince(status, options) {
      const entries = await store.listByStatus(status, options);
      return entries.map((entry) => ({ id: entry.id, updatedAt: entry.updatedAt }));
    },
    shardQueues: (shard) => ({ step: queues.queue(shard), review: reviews.queue(shard) }),
  };
}
