/**
 * The manual-review queue (architecture §7): a BullMQ queue per shard, named
 * `manual-review` under the shard's hash-tagged prefix, that people drain from
 * the console, the API or the CLI. No worker ever processes it.
 *
 * Items have a deterministic job id, `review-<paymentId>-<version>`, so an
 * engine step that runs again (a stalled job, a re-delivery) does not add a
 * second item. BullMQ refuses `:` in custom job ids (it tolerates exactly two
 * for old repeatable jobs, a leniency it plans to drop), hence the dashes.
 *
 * Resolution: BullMQ can only complete an *active* job, and taking one job by
 * id into the active state is not something a queue without workers can do.
 * So resolving writes the decision under `{…}:review:<jobId>:decision` (kept
 * for `decisionTtlMs`) and removes the job. The decision record is what keeps
 * a resolved item from coming back: `enqueueReview` checks it before adding,
 * and checks again after adding to close the race with a concurrent resolve.
 *
 * Evidence is stored and read through `reviewEvidence` (src/payments/review.ts):
 * no card data and no seals, also in items written by earlier versions.
 *
 * The decision is not applied to the payment here: the caller feeds it to the
 * engine (machine event `review.adopt` / `review.mark`, recorded on the
 * timeline and published as an event) and then calls `resolveReview`. If the
 * process dies in between, the item stays open and resolving it again is
 * harmless.
 */
import type { Job } from 'bullmq';
import { Queue } from 'bullmq';
import type { Clock } from '../platform/clock.ts';
import { assertNoCardData } from '../payments/card-guard.ts';
import { PaymentsError } from '../payments/errors.ts';
import type { Keyspace } from '../payments/keys.ts';
import type { RedisClient } from '../payments/lua.ts';
import {
  reviewEvidence,
  paymentIdOfReviewJob,
  reviewJobId,
  type ReviewItem,
  type ReviewJobData,
  type ReviewQueues,
} from '../payments/review.ts';

export interface ReviewQueuesOptions {
  /** Shared with BullMQ, which does not close it; the caller does. */
  connection: RedisClient;
  keyspace: Keyspace;
  clock: Clock;
  /** How long a resolved item's decision is kept (and re-adds refused). @defaultValue 90 days */
  decisionTtlMs?: number;
}

const OPEN_STATES = ['waiting', 'prioritized', 'delayed'] as const;
const DAY = 86_400_000;

export function createReviewQueues(options: ReviewQueuesOptions): ReviewQueues {
  const { keyspace, clock, connection } = options;
  const decisionTtlMs = options.decisionTtlMs ?? 90 * DAY;
  const queues = keyspace.allShards.map(
    (shard) =>
      new Queue<ReviewJobData>(keyspace.reviewQueueName, {
        connection,
        prefix: keyspace.bullmqPrefix(shard),
        defaultJobOptions: { removeOnComplete: false, removeOnFail: false, attempts: 1 },
      }),
  );

  function queueOf(shard: number): Queue<ReviewJobData> {
    const queue = queues[shard];
    if (!queue) throw new PaymentsError('keyspace_invalid', `no shard ${shard}`);
    return queue;
  }

  function locate(jobId: string): { shard: number; queue: Queue<ReviewJobData>; key: string } {
    const paymentId = paymentIdOfReviewJob(jobId);
    if (!paymentId || !keyspace.isPaymentId(paymentId)) {
      throw new PaymentsError('review_id_invalid', 'not a review item id', { details: { jobId } });
    }
    const shard = keyspace.shardOf(paymentId);
    return { shard, queue: queueOf(shard), key: keyspace.reviewDecisionKey(shard, jobId) };
  }

  function openItem(job: Job<ReviewJobData>, shard: number): ReviewItem {
    return {
      ...job.data,
      evidence: reviewEvidence(job.data.evidence),
      jobId: job.id ?? '',
      shard,
      state: 'open',
    };
  }

  async function decided(key: string): Promise<ReviewItem | undefined> {
    const text = await connection.get(key);
    if (text === null) return undefined;
    const item = JSON.parse(text) as ReviewItem;
    return { ...item, evidence: reviewEvidence(item.evidence) };
  }

  return {
    async enqueueReview({ paymentId, version, reason, evidence: given }) {
      const evidence = reviewEvidence(given);
      assertNoCardData(evidence, 'review evidence');
      const jobId = reviewJobId(paymentId, version);
      const { queue, key } = locate(jobId);
      if (await decided(key)) return { jobId, created: false, resolved: true };
      if (await queue.getJob(jobId)) return { jobId, created: false, resolved: false };
      const data: ReviewJobData = { paymentId, version, reason, evidence, enqueuedAt: clock.now() };
      await queue.add(reason, data, { jobId });
      // A resolve may have run between the check above and the add: its
      // decision wins and the item we may just have re-created goes away.
      if (await decided(key)) {
        await queue.remove(jobId);
        return { jobId, created: false, resolved: true };
      }
      return { jobId, created: true, resolved: false };
    },

    async listReviews(listOptions = {}) {
      const limit = listOptions.limit ?? 100;
      const perShard = await Promise.all(
        queues.map(async (queue, shard) => {
          const jobs = await queue.getJobs([...OPEN_STATES], 0, limit - 1, true);
          return jobs.filter((job) => job !== undefined).map((job) => openItem(job, shard));
        }),
      );
      return perShard
        .flat()
        .sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.jobId < b.jobId ? -1 : 1))
        .slice(0, limit);
    },

    async countReviews() {
      const counts = await Promise.all(
        queues.map((queue) => queue.getJobCountByTypes(...OPEN_STATES)),
      );
      return counts.reduce((sum, n) => sum + n, 0);
    },

    async getReview(jobId) {
      const { shard, queue, key } = locate(jobId);
      const resolved = await decided(key);
      if (resolved) return resolved;
      const job = await queue.getJob(jobId);
      return job ? openItem(job, shard) : undefined;
    },

    async resolveReview(jobId, decision) {
      assertNoCardData(decision, 'a review decision');
      const { shard, queue, key } = locate(jobId);
      const earlier = await decided(key);
      if (earlier) {
        await queue.remove(jobId);
        return { resolved: false, item: earlier };
      }
      const job = await queue.getJob(jobId);
      if (!job) {
        throw new PaymentsError('review_not_found', `no review item ${jobId}`, {
          details: { jobId },
        });
      }
      const item: ReviewItem = {
        ...openItem(job, shard),
        state: 'resolved',
        resolution: { ...decision, at: clock.now() },
      };
      const written = await connection.set(key, JSON.stringify(item), 'PX', decisionTtlMs, 'NX');
      if (written !== 'OK') {
        // Another operator resolved it a moment earlier: theirs stands.
        const theirs = await decided(key);
        await queue.remove(jobId);
        return { resolved: false, item: theirs ?? item };
      }
      await queue.remove(jobId);
      return { resolved: true, item };
    },

    queue: queueOf,

    async close() {
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
