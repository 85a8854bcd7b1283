/**
 * The manual-review queue's vocabulary (architecture §7): why a payment is
 * sent to people, the evidence they read, the decision they take. The BullMQ
 * queue itself is src/queues/review.ts.
 */
import type { Queue } from 'bullmq';

export type ReviewReason = 'seal_mismatch' | 'unknown_outcome' | 'conflict';

/** What a person needs to decide. Card data is masked before it gets here. */
export interface ReviewEvidence {
  /** The request as sent, card data masked. */
  request?: Record<string, unknown>;
  /** The response as received (untrusted when the seal failed), card data masked. */
  response?: Record<string, unknown>;
  seal?: {
    /** The seal data string with card values masked. */
    data: string;
    expected: string;
    received?: string;
    reason: 'missing' | 'mismatch';
  };
  /** getTransactionData results, oldest first. */
  inquiries?: Record<string, unknown>[];
  note?: string;
}

export interface ReviewDecision {
  /**
   * - `adopt`: take the status Sips reports; `mark`: set a status by hand;
   * - `reinquire`: ask Sips again; `dismiss`: nothing to do.
   */
  action: 'adopt' | 'mark' | 'reinquire' | 'dismiss';
  note: string;
  /** Who decided (an operator id). */
  by: string;
  details?: Record<string, unknown>;
}

export interface ReviewJobData {
  paymentId: string;
  version: number;
  reason: ReviewReason;
  evidence: ReviewEvidence;
  /** Epoch ms. */
  enqueuedAt: number;
}

export interface ReviewItem extends ReviewJobData {
  jobId: string;
  shard: number;
  state: 'open' | 'resolved';
  resolution?: ReviewDecision & { at: number };
}

export interface ReviewQueues {
  enqueueReview(input: {
    paymentId: string;
    /** The payment version at which review was decided. */
    version: number;
    reason: ReviewReason;
    evidence: ReviewEvidence;
  }): Promise<{ jobId: string; created: boolean; resolved: boolean }>;
  /** Open items, oldest first, across shards. */
  listReviews(options?: { limit?: number }): Promise<ReviewItem[]>;
  countReviews(): Promise<number>;
  /** An open item, or a resolved one while its decision is kept. */
  getReview(jobId: string): Promise<ReviewItem | undefined>;
  /** `resolved: false` when it was already resolved (the first decision stands). */
  resolveReview(
    jobId: string,
    decision: ReviewDecision,
  ): Promise<{ resolved: boolean; item: ReviewItem }>;
  /** The BullMQ queue of a shard, for dashboards. */
  queue(shard: number): Queue<ReviewJobData>;
  /** Closes the queues (not the shared connection). */
  close(): Promise<void>;
}

/** Deterministic: a step that runs again adds no second item. */
export function reviewJobId(paymentId: string, version: number): string {
  return `review-${paymentId}-${version}`;
}
