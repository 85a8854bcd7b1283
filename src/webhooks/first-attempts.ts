/**
 * First attempts made in process: the fan-out sends a new message itself, in
 * a bounded pool, instead of adding a BullMQ job for it. Most messages are
 * delivered at the first attempt, and a job costs some forty Redis commands
 * (add, fetch, lock, complete, its events) where the attempt's own writes
 * cost two: jobs are kept for what needs a schedule (retries, replays).
 *
 * At least once still holds, through a lease: the fan-out writes the message
 * and its lease (`wh:first`, see messages.ts) in one atomic write before the
 * event is acknowledged, and the lease goes only once the message is settled
 * (delivered or failed) or handed to a job. When the process dies in
 * between, the lease outlives its deadline and the sweep of any delivering
 * process turns it into the message's job. A lease lasts longer than an
 * attempt can take (connect and response timeouts), so a sweep does not
 * race a live attempt; if it ever did, the message would be sent twice with
 * the same `webhook-id`, which receivers deduplicate on.
 *
 * A message gets a job at once when the pool has no place for it within a
 * short wait (places.ts): a slow receiver's backlog stays in the event
 * stream, and a receiver that does not answer cannot hold the pool.
 */
import type { Logger } from '../platform/logger.ts';
import type { AttemptVerdict, FreshMessage } from './deliver.ts';
import { deliveryJobId, type DeliveryJob, type DeliveryJobSink } from './delivery-job.ts';
import type { MessageLog } from './messages.ts';
import { createPlaces } from './places.ts';

export interface FirstAttempts {
  /** A place in the shard's pool for a message to the endpoint (places.ts); false: give it a job. */
  take(shard: number, endpointId: string): Promise<boolean>;
  /** Gives back a place taken and not used. */
  giveBack(shard: number, endpointId: string): void;
  /** Runs the first attempt of a message that holds a place and a lease. */
  start(fresh: FreshMessage): void;
  /** The deadline of a lease taken now (ms, real time). */
  leaseDeadline(): number;
  /** Turns the leases past their deadline into jobs; answers how many. */
  sweep(): Promise<number>;
  /** Waits for the attempts in flight (each bounded by the sender's timeouts). */
  drain(): Promise<void>;
}

/** Leases turned into jobs per read. */
const SWEEP_BATCH = 500;

export function createFirstAttempts(options: {
  shards: readonly number[];
  /** Places per shard. */
  concurrency: number;
  /** How long the fan-out waits for a place, at most. @defaultValue 250 ms */
  maxWaitMs?: number;
  /** How long a lease lasts; longer than an attempt can take. */
  leaseMs: number;
  attempt(job: DeliveryJob, fresh: FreshMessage): Promise<AttemptVerdict>;
  messages: MessageLog;
  jobs: DeliveryJobSink;
  logger: Logger;
  /**
   * Real time, not the orchestrator's clock: a lease measures whether a
   * process is still alive, as BullMQ's job locks do. @defaultValue Date.now
   */
  wallClock?: () => number;
}): FirstAttempts {
  const { messages, jobs, logger } = options;
  const wallClock = options.wallClock ?? Date.now;
  const places = createPlaces({
    concurrency: options.concurrency,
    wallClock,
    ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
  });
  const inFlight = new Set<Promise<void>>();

  const handOver = async (job: DeliveryJob, verdict: AttemptVerdict) => {
    if (verdict.outcome === 'delivered') places.warm(job.endpointId);
    if (verdict.outcome === 'retry') {
      places.cool(job.endpointId);
      // The job first, then the lease: a crash in between leaves the lease,
      // whose sweep adds the same job id again (BullMQ adds it once).
      await jobs.enqueue(job.shard, [{ job, jobId: deliveryJobId(job.endpointId, job.eventId) }], {
        delayMs: verdict.delayMs,
      });
    }
    // Settled messages gave their lease up in the same write (messages.ts);
    // a stale or vanished one gives it up here.
    if (verdict.outcome === 'retry' || verdict.outcome === 'skipped') {
      await messages.releaseLeases(job.shard, [job]);
    }
  };

  const attemptAndHandOver = async (job: DeliveryJob, fresh: FreshMessage) => {
    try {
      await handOver(job, await options.attempt(job, fresh));
    } catch (error) {
      logger.warn(
        { err: error, endpointId: job.endpointId, eventId: job.eventId },
        'first webhook attempt failed on our side; its lease hands it to a job',
      );
    }
  };

  return {
    take: (shard, endpointId) => places.take(shard, endpointId),
    giveBack: (shard, endpointId) => places.give(shard, endpointId),
    start(fresh) {
      const { message } = fresh;
      const job: DeliveryJob = {
        shard: message.shard,
        endpointId: message.endpointId,
        eventId: message.eventId,
      };
      const run = attemptAndHandOver(job, fresh).finally(() => {
        places.give(job.shard, job.endpointId);
        inFlight.delete(run);
      });
      inFlight.add(run);
    },
    leaseDeadline: () => wallClock() + options.leaseMs,
    async sweep() {
      let handed = 0;
      for (const shard of options.shards) {
        for (;;) {
          const expired = await messages.expiredLeases(shard, wallClock(), SWEEP_BATCH);
          if (expired.length === 0) break;
          await jobs.enqueue(
            shard,
            expired.map((ref) => ({
              job: { shard, endpointId: ref.endpointId, eventId: ref.eventId },
              jobId: deliveryJobId(ref.endpointId, ref.eventId),
            })),
          );
          await messages.releaseLeases(shard, expired);
          handed += expired.length;
          if (expired.length < SWEEP_BATCH) break;
        }
      }
      if (handed > 0) {
        logger.info({ handed }, 'expired webhook first-attempt leases handed to jobs');
      }
      return handed;
    },
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
