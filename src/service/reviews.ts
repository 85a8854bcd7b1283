/**
 * Ops decisions on the manual-review queue: adopt what Sips says, mark a
 * status by hand, look again, or dismiss. Every decision goes through the
 * payment's machine and is recorded on its timeline.
 */
import { CommandError } from '../engine/errors.ts';
import type { ReviewDecision, ReviewItem } from '../payments/review.ts';
import { inquiryAnswer } from '../sips/translate.ts';
import { applyCommand, type CommandDeps } from './payment-commands.ts';
import { loadPayment, viewPayment, type PaymentView } from './views.ts';

const MARKABLE = new Set(['refused', 'failed', 'authorized', 'captured', 'cancelled'] as const);
type Markable = typeof MARKABLE extends Set<infer T> ? T : never;

export interface ReviewCommands {
  list(options?: { limit?: number }): Promise<ReviewItem[]>;
  get(jobId: string): Promise<ReviewItem | undefined>;
  /**
   * `adopt`: ask Sips now and take its status; `mark`: set `details.status`
   * by hand; `reinquire`: record what Sips says without deciding; `dismiss`.
   */
  resolve(
    jobId: string,
    decision: ReviewDecision,
  ): Promise<{ item: ReviewItem; payment: PaymentView }>;
}

export function createReviewCommands(ctx: CommandDeps): ReviewCommands {
  return {
    list: (options) => ctx.reviews.listReviews(options),
    get: (jobId) => ctx.reviews.getReview(jobId),
    resolve: (jobId, decision) => resolveReview(ctx, jobId, decision),
  };
}

async function resolveReview(
  ctx: CommandDeps,
  jobId: string,
  decision: ReviewDecision,
): Promise<{ item: ReviewItem; payment: PaymentView }> {
  const item = await ctx.reviews.getReview(jobId);
  if (!item) throw new CommandError('payment_not_found', `no review item ${jobId}`);
  const record = await loadPayment(ctx, item.paymentId);
  if (decision.action === 'adopt' || decision.action === 'reinquire') {
    const result = await ctx.clientOf(record).getTransactionData({
      transactionReference: record.transactionReference,
    });
    const answer = inquiryAnswer(result, record.captureMode);
    if (decision.action === 'reinquire') {
      return { item, payment: await viewPayment(ctx, item.paymentId) };
    }
    if (answer.found !== true) {
      throw new CommandError(
        'command_not_allowed',
        answer.found === false
          ? 'Sips does not know this transaction (25): mark it instead'
          : `Sips gave no usable answer (${answer.found === 'unclear' ? answer.detail : `credentials refused, ${answer.responseCode}`})`,
      );
    }
    await applyCommand(ctx, item.paymentId, {
      type: 'review.adopt',
      view: answer.view,
      note: decision.note,
    });
  } else if (decision.action === 'mark') {
    const status = decision.details?.status;
    if (!MARKABLE.has(status as Markable)) {
      throw new CommandError(
        'invalid_command',
        'details.status must be refused, failed, authorized, captured or cancelled',
        { field: 'details.status' },
      );
    }
    await applyCommand(ctx, item.paymentId, {
      type: 'review.mark',
      status: status as Markable,
      note: decision.note,
    });
  }
  const resolved = await ctx.reviews.resolveReview(jobId, decision);
  return { item: resolved.item, payment: await viewPayment(ctx, item.paymentId) };
}
