/**
 * What the API needs of the orchestrator beyond its public commands and
 * views: readiness, queue figures, stuck payments and the queues Bull Board
 * shows. This is the only module of the API that reads
 * `orchestrator.internals`; everything else goes through these operations.
 */
import type { Queue } from 'bullmq';
import type { PaymentStatus } from '../../machines/contract.ts';
import type { Orchestrator } from '../orchestrator.ts';

/** States of a step job the API counts. */
export type StepJobState = 'waiting' | 'active' | 'delayed' | 'failed';

export interface ApiPorts {
  /** Every shard of the keyspace, in order. */
  shards(): readonly number[];
  /** Resolves when Redis answers a PING. */
  pingRedis(): Promise<unknown>;
  /** How many jobs of a shard's step queue are in each of `states`. */
  stepJobCounts(shard: number, states: readonly StepJobState[]): Promise<Record<string, number>>;
  /** Whether a shard's step queue is paused. */
  stepQueuePaused(shard: number): Promise<boolean>;
  /** How many manual-review items are open, over every shard. */
  openReviewCount(): Promise<number>;
  /** Payments in `status` whose last change is older than `olderThan` (ms since the epoch). */
  paymentsInStatusSince(
    status: PaymentStatus,
    options: { olderThan: number; limit: number },
  ): Promise<{ id: string; updatedAt: number }[]>;
  /** The BullMQ queues of a shard, for Bull Board: its step queue and its manual-review queue. */
  shardQueues(shard: number): { step: Queue; review: Queue };
}

/** The ports over one orchestrator; each call reads the orchestrator at the time it is made. */
export function apiPorts(orchestrator: Orchestrator): ApiPorts {
  const internals = () => orchestrator.internals;
  return {
    shards: () => internals().keyspace.allShards,
    pingRedis: () => internals().redis.ping(),
    stepJobCounts: (shard, states) =>
      internals()
        .queues.queue(shard)
        .getJobCounts(...states),
    stepQueuePaused: (shard) => internals().queues.queue(shard).isPaused(),
    openReviewCount: () => internals().reviews.countReviews(),
    async paymentsInStatusSince(status, options) {
      const entries = await internals().store.listByStatus(status, options);
      return entries.map((entry) => ({ id: entry.id, updatedAt: entry.updatedAt }));
    },
    shardQueues(shard) {
      const { queues, reviews } = internals();
      return { step: queues.queue(shard), review: reviews.queue(shard) };
    },
  };
}
