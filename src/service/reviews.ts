/**
 * Ops decisions on the manual-review queue: adopt what Sips says, mark a
 * status, look again, or dismiss. Every decision goes through the payment's
 * machine and is recorded on its timeline, under the name of the API key it
 * came with.
 *
 * A mark is applied only when Sips confirms it: an inquiry runs first and
 * its view must settle the payment where the mark would (machines/settlement.ts
 * `confirmMark`). Without that confirmation a mark is refused, unless it is
 * forced with a reason; a forced mark is recorded as such on the timeline,
 * in the `payment.review_resolved` event and in the item's decision.
 */
import { z } from 'zod';
import type { GatewayView } from '../../machines/contract.ts';
import { confirmMarkAgainst } from '../../machines/index.ts';
import { CommandError } from '../engine/errors.ts';
import type { PaymentRecord } from '../payments/store.ts';
import {
  MARK_STATUSES,
  type MarkStatus,
  type ReviewDecision,
  type ReviewItem,
} from '../payments/review.ts';
import { inquiryAnswer } from '../sips/translate.ts';
import { applyCommand, type CommandDeps } from './payment-commands.ts';
import { loadPayment, viewPayment, type PaymentView } from './views.ts';

/** How long to wait before asking again when Sips could not confirm a mark. */
const CONFIRMATION_RETRY_SECONDS = 30;

/**
 * A decision as a caller sends it (the API's body, the console's form):
 * who decides is never part of it, it is the authenticated key's name.
 */
export const ResolveReviewBody = z.strictObject({
  action: z
    .enum(['adopt', 'mark', 'reinquire', 'dismiss'])
    .describe("`adopt` Sips' status, `mark` a status, `reinquire` Sips, or `dismiss`"),
  note: z.string().trim().min(1, 'is required').max(2000).describe('Why, for the timeline'),
  status: z
    .enum(MARK_STATUSES)
    .optional()
    .describe('`mark`: the status; applied only when an inquiry at Sips confirms it'),
  force: z
    .boolean()
    .optional()
    .describe('`mark`: apply the status without Sips confirming it (`reason` required)'),
  reason: z
    .string()
    .trim()
    .min(1, 'is required')
    .max(2000)
    .optional()
    .describe('Why a mark is forced; recorded with it'),
});

export type ReviewResolution = z.output<typeof ResolveReviewBody> & {
  /** Who decides: the name of the API key the decision came with. */
  by: string;
};

export interface ReviewCommands {
  list(options?: { limit?: number }): Promise<ReviewItem[]>;
  get(jobId: string): Promise<ReviewItem | undefined>;
  /**
   * `adopt`: ask Sips now and take its status; `mark`: set `status` once an
   * inquiry confirms it (or `force` it, with a `reason`); `reinquire`: ask
   * Sips without deciding; `dismiss`.
   */
  resolve(
    jobId: string,
    resolution: ReviewResolution,
  ): Promise<{ item: ReviewItem; payment: PaymentView }>;
}

export function createReviewCommands(ctx: CommandDeps): ReviewCommands {
  return {
    list: (options) => ctx.reviews.listReviews(options),
    get: (jobId) => ctx.reviews.getReview(jobId),
    resolve: (jobId, resolution) => resolveReview(ctx, jobId, resolution),
  };
}

const invalid = (field: string, message: string) =>
  new CommandError('invalid_command', `${field} ${message}`, { field });

/** The rules that tie the fields of a decision together. */
function checkResolution(resolution: ReviewResolution): void {
  if (typeof resolution.by !== 'string' || resolution.by.trim() === '') {
    throw invalid('by', 'is required: the name of the API key that decides');
  }
  if (typeof resolution.note !== 'string' || resolution.note.trim() === '') {
    throw invalid('note', 'is required');
  }
  if (resolution.action !== 'mark') {
    for (const field of ['status', 'force', 'reason'] as const) {
      if (resolution[field] !== undefined) throw invalid(field, 'goes with action mark only');
    }
    return;
  }
  if (!MARK_STATUSES.includes(resolution.status as MarkStatus)) {
    throw invalid('status', `must be ${MARK_STATUSES.join(', ')}`);
  }
  const reason = resolution.reason?.trim() ?? '';
  if (resolution.force === true && reason === '') {
    throw invalid('reason', 'is required to force a mark without Sips confirming it');
  }
  if (resolution.force !== true && resolution.reason !== undefined) {
    throw invalid('reason', 'goes with force: true only');
  }
}

async function resolveReview(
  ctx: CommandDeps,
  jobId: string,
  resolution: ReviewResolution,
): Promise<{ item: ReviewItem; payment: PaymentView }> {
  checkResolution(resolution);
  const item = await ctx.reviews.getReview(jobId);
  if (!item) throw new CommandError('payment_not_found', `no review item ${jobId}`);
  const record = await loadPayment(ctx, item.paymentId);
  const decision: ReviewDecision = {
    action: resolution.action,
    note: resolution.note,
    by: resolution.by,
  };
  if (resolution.action === 'adopt' || resolution.action === 'reinquire') {
    const answer = await askSips(ctx, record);
    if (resolution.action === 'reinquire') {
      return { item, payment: await viewPayment(ctx, item.paymentId) };
    }
    if (answer.found !== true) {
      throw new CommandError(
        'command_not_allowed',
        answer.found === false
          ? 'Sips does not know this transaction (25): mark it instead'
          : `Sips gave no usable answer (${answer.detail})`,
      );
    }
    await applyCommand(ctx, item.paymentId, {
      type: 'review.adopt',
      view: answer.view,
      note: resolution.note,
    });
  } else if (resolution.action === 'mark') {
    decision.details = await applyMark(ctx, item, record, resolution);
  }
  const resolved = await ctx.reviews.resolveReview(jobId, decision);
  return { item: resolved.item, payment: await viewPayment(ctx, item.paymentId) };
}

type SipsAnswer =
  { found: true; view: GatewayView } | { found: false } | { found: 'unclear'; detail: string };

/** getTransactionData at Sips, with the payment's merchant's credentials. */
async function askSips(ctx: CommandDeps, record: PaymentRecord): Promise<SipsAnswer> {
  const result = await ctx.clientOf(record).getTransactionData({
    transactionReference: record.transactionReference,
  });
  const answer = inquiryAnswer(result, record.captureMode);
  if (answer.found === 'credentials_refused') {
    return { found: 'unclear', detail: `credentials refused, ${answer.responseCode}` };
  }
  return answer;
}

/**
 * Marks the payment: confirmed by an inquiry whose view agrees with the
 * status, or forced with a reason. Returns the decision's details.
 */
async function applyMark(
  ctx: CommandDeps,
  item: ReviewItem,
  record: PaymentRecord,
  resolution: ReviewResolution,
): Promise<Record<string, unknown>> {
  const status = resolution.status as MarkStatus;
  const note = resolution.note;
  if (resolution.force === true) {
    const reason = (resolution.reason ?? '').trim();
    await applyCommand(ctx, item.paymentId, {
      type: 'review.mark',
      status,
      note,
      forced: true,
      reason,
    });
    return { status, forced: true, reason };
  }
  const answer = await askSips(ctx, record);
  if (answer.found === 'unclear') {
    throw new CommandError(
      'review_confirmation_unavailable',
      `Sips could not confirm ${status} (${answer.detail}); nothing was changed, send the decision again later`,
      { retryAfterSeconds: CONFIRMATION_RETRY_SECONDS },
    );
  }
  const view = answer.found ? answer.view : null;
  const confirmation = confirmMarkAgainst(record.snapshot, status, view);
  if (!confirmation.agrees) {
    throw new CommandError(
      'review_mark_disagrees',
      `${confirmation.shows}: it does not confirm ${status}. Adopt Sips' status, or force the mark with a reason`,
    );
  }
  await applyCommand(ctx, item.paymentId, {
    type: 'review.mark',
    status,
    note,
    ...(view === null ? {} : { view }),
  });
  return { status, confirmed: true, sips: view === null ? 'transaction unknown' : view };
}
