/**
 * The manual-review queue's vocabulary (architecture §7): why a payment is
 * sent to people, the evidence they read, the decision they take. The BullMQ
 * queue itself is src/queues/review.ts.
 *
 * Evidence shows what a person needs and nothing an attacker could use: the
 * fields sent and received without card data (numbers, expiry dates,
 * security codes, tokens, 3-D Secure blobs) and without seals, and for a
 * seal that failed only which algorithm it was checked under and that it did
 * not verify. A seal we compute is a value signed with the secret key over
 * an answer someone else may have shaped: it is never kept or shown.
 * `reviewEvidence` applies this to whatever it is given, so items written by
 * earlier versions (with `seal.expected` and `panExpiryDate`) are shown the
 * same way.
 */
import type { Queue } from 'bullmq';
import { CARD_FIELD_NAMES } from './card-guard.ts';

export type ReviewReason = 'seal_mismatch' | 'unknown_outcome' | 'conflict';

/** The statuses a person may mark a payment in review with. */
export const MARK_STATUSES = ['refused', 'failed', 'authorized', 'captured', 'cancelled'] as const;
export type MarkStatus = (typeof MARK_STATUSES)[number];

/** What became of an answer's seal: never the seal itself, nor one computed. */
export interface SealVerdict {
  verified: boolean;
  /** Why it did not verify. */
  reason?: 'missing' | 'mismatch';
  /** The algorithm (seal rule) the answer's seal was checked under first. */
  algorithm?: string;
}

/** What a person needs to decide. Never card data, never a seal. */
export interface ReviewEvidence {
  /** The fields sent, card data and seal left out. */
  request?: Record<string, unknown>;
  /** The fields received (untrusted when the seal failed), card data and seal left out. */
  response?: Record<string, unknown>;
  seal?: SealVerdict;
  /** getTransactionData results, oldest first, card data and seals left out. */
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
  /** Who decided: the name of the API key the decision came with. */
  by: string;
  /**
   * `mark`: `status`; `confirmed` with what Sips showed when an inquiry
   * agreed with it, or `forced: true` and `reason` when set without it.
   */
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

const REVIEW_JOB_ID = /^review-(pay_\d+_[A-Za-z0-9_-]+)-\d+$/;

/** The payment id inside a review item's id ({@link reviewJobId}), if it is one. */
export function paymentIdOfReviewJob(jobId: string): string | undefined {
  return REVIEW_JOB_ID.exec(jobId)?.[1];
}

/**
 * Fields evidence never holds, compared case-insensitively: card numbers,
 * security codes, card tokens and containers, 3-D Secure blobs, and seals.
 * Any field naming an expiry date is left out too (`withheld`).
 */
const WITHHELD_FIELDS: ReadonlySet<string> = new Set(
  [
    ...CARD_FIELD_NAMES,
    'tokenPan',
    'cardData',
    'paReqMessage',
    'paResMessage',
    'redirectionData',
    'seal',
  ].map((name) => name.toLowerCase()),
);

const withheld = (name: string): boolean =>
  WITHHELD_FIELDS.has(name.toLowerCase()) || /expir(y|ation)/i.test(name);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (isRecord(value)) return evidenceFields(value);
  return value;
}

/**
 * The fields of a message as evidence keeps them: card data and seals left
 * out, at any depth. The input is not modified.
 */
export function evidenceFields(
  message: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message)) {
    if (!withheld(name)) kept[name] = withoutSecrets(value);
  }
  return kept;
}

function sealVerdict(seal: unknown): SealVerdict | undefined {
  if (!isRecord(seal)) return undefined;
  // Items of earlier versions hold only failed checks, without `verified`.
  const verdict: SealVerdict = { verified: seal.verified === true };
  if (seal.reason === 'missing' || seal.reason === 'mismatch') verdict.reason = seal.reason;
  if (typeof seal.algorithm === 'string') verdict.algorithm = seal.algorithm;
  return verdict;
}

/**
 * Evidence as it is stored and shown, from anything claiming to be evidence
 * (an engine's, or an item written by an earlier version): only the known
 * parts, each without card data or seals.
 */
export function reviewEvidence(raw: unknown): ReviewEvidence {
  if (!isRecord(raw)) return {};
  const evidence: ReviewEvidence = {};
  if (isRecord(raw.request)) evidence.request = evidenceFields(raw.request);
  if (isRecord(raw.response)) evidence.response = evidenceFields(raw.response);
  const seal = sealVerdict(raw.seal);
  if (seal) evidence.seal = seal;
  if (Array.isArray(raw.inquiries)) {
    evidence.inquiries = raw.inquiries.filter(isRecord).map((entry) => evidenceFields(entry));
  }
  if (typeof raw.note === 'string') evidence.note = raw.note;
  return evidence;
}
