/**
 * Cash management: validate, cancel, refund, acceptChallenge,
 * refuseChallenge. Checks run in the order Sips reports them: unknown
 * transaction (25), status (24, echoing the current status in newStatus),
 * currency (12), amount above what remains (51).
 */
import { formatDate, formatDateTime } from '../clock.ts';
import { SipsFailure, type SipsAnswer } from '../protocol.ts';
import { currentAmount, remainingAmount, type SipsStatus, type Transaction } from '../store.ts';
import type { ServiceContext, ServiceResult } from './context.ts';
import { int, referenceEcho, str } from './fields.ts';
import { requireReference } from './authorization.ts';

function load(ctx: ServiceContext, allowed: readonly SipsStatus[]): Transaction {
  const reference = requireReference(ctx);
  const tx = ctx.store.get(ctx.merchant.merchantId, reference);
  if (!tx) throw new SipsFailure('25');
  if (!allowed.includes(tx.status)) throw new SipsFailure('24', { newStatus: tx.status });
  return tx;
}

/** The operation amount, checked against the currency and what remains. */
function operationAmount(ctx: ServiceContext, tx: Transaction): number {
  const currency = str(ctx.body, 'currencyCode');
  if (currency !== undefined && currency !== tx.currencyCode) {
    throw new SipsFailure('12', { errorFieldName: 'currencyCode' });
  }
  const amount = int(ctx.body, 'operationAmount') ?? 0;
  // Undocumented; refused here because a validation of 0 would release the
  // whole authorisation and capture nothing, a silent loss for the merchant.
  if (amount <= 0) throw new SipsFailure('12', { errorFieldName: 'operationAmount' });
  if (amount > remainingAmount(tx)) throw new SipsFailure('51');
  return amount;
}

function operated(ctx: ServiceContext, tx: Transaction, name: string): void {
  tx.lastOperationName = name;
  tx.lastOperationDateTime = ctx.now;
}

function cashAnswer(ctx: ServiceContext, tx: Transaction, extra: SipsAnswer = {}): ServiceResult {
  return {
    answer: {
      responseCode: '00',
      acquirerResponseCode: '00',
      ...referenceEcho(ctx.body, tx.transactionReference),
      newStatus: tx.status,
      newAmount: currentAmount(tx),
      operationDateTime: formatDateTime(ctx.now),
      ...extra,
    },
    transactionReference: tx.transactionReference,
    ...(tx.card ? { maskedPan: tx.card.maskedPan } : {}),
  };
}

/**
 * Validation (captureMode VALIDATION): the validated amount goes to
 * TO_CAPTURE and is remitted at the next run; the part not validated is
 * released (cancelled), so a transaction is validated once.
 */
export function validate(ctx: ServiceContext): ServiceResult {
  const tx = load(ctx, ['TO_VALIDATE']);
  const amount = operationAmount(ctx, tx);
  const released = remainingAmount(tx) - amount;
  tx.validatedAmount = amount;
  tx.cancelledAmount += released;
  tx.status = 'TO_CAPTURE';
  tx.captureAt = ctx.store.nextRemittance(ctx.now);
  tx.captureLimitDate = formatDate(tx.captureAt);
  delete tx.expireAt;
  operated(ctx, tx, 'VALIDATE');
  ctx.store.recordMovement(tx, 'validation', amount, ctx.now);
  if (released > 0) {
    ctx.store.recordMovement(tx, 'cancellation', released, ctx.now, { implicit: true });
  }
  return cashAnswer(ctx, tx, {
    authorisationId: tx.authorisationId,
    captureLimitDate: tx.captureLimitDate,
  });
}

/** Before remittance: total → CANCELLED, partial → same status, smaller amount. */
export function cancel(ctx: ServiceContext): ServiceResult {
  const tx = load(ctx, ['TO_CAPTURE', 'TO_VALIDATE', 'TO_CHALLENGE', 'TO_AUTHORIZE']);
  const amount = operationAmount(ctx, tx);
  tx.cancelledAmount += amount;
  if (remainingAmount(tx) === 0) tx.status = 'CANCELLED';
  operated(ctx, tx, 'CANCEL');
  ctx.store.recordMovement(tx, 'cancellation', amount, ctx.now);
  return cashAnswer(ctx, tx);
}

/**
 * After remittance only (CAPTURED, partial refunds included): total →
 * CREDITED, partial → CAPTURED with a smaller amount. Refunds are credited at
 * once.
 */
export function refund(ctx: ServiceContext): ServiceResult {
  // A credit (creditHolder) is TO_CREDIT or CREDITED, never CAPTURED: refunding it answers 24.
  const tx = load(ctx, ['CAPTURED']);
  const amount = operationAmount(ctx, tx);
  tx.refundedAmount += amount;
  if (remainingAmount(tx) === 0) tx.status = 'CREDITED';
  operated(ctx, tx, 'REFUND');
  ctx.store.recordMovement(tx, 'refund', amount, ctx.now);
  return cashAnswer(ctx, tx, { authorisationId: tx.authorisationId });
}

/** TO_CHALLENGE resumes its normal course: TO_CAPTURE or TO_VALIDATE. */
export function acceptChallenge(ctx: ServiceContext): ServiceResult {
  const tx = load(ctx, ['TO_CHALLENGE']);
  tx.status = tx.resumeStatus ?? 'TO_CAPTURE';
  // A remittance date already past when the challenge is accepted moves to the next run.
  if (tx.captureAt !== undefined && tx.captureAt <= ctx.now) {
    tx.captureAt = ctx.store.nextRemittance(ctx.now);
    tx.captureLimitDate = formatDate(tx.captureAt);
  }
  if (tx.expireAt !== undefined && tx.expireAt <= ctx.now) {
    tx.expireAt = ctx.store.nextRemittance(ctx.now);
    tx.captureLimitDate = formatDate(tx.expireAt);
  }
  operated(ctx, tx, 'ACCEPT_CHALLENGE');
  return cashAnswer(ctx, tx);
}

/** TO_CHALLENGE → REFUSED; the authorised amount is released. */
export function refuseChallenge(ctx: ServiceContext): ServiceResult {
  const tx = load(ctx, ['TO_CHALLENGE']);
  const released = remainingAmount(tx);
  tx.status = 'REFUSED';
  operated(ctx, tx, 'REFUSE_CHALLENGE');
  ctx.store.recordMovement(tx, 'cancellation', released, ctx.now, { implicit: true });
  return cashAnswer(ctx, tx);
}
