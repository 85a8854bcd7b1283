/**
 * getTransactionData: the store as it is, after remittance and expiry have
 * been applied. `getTransDataResponseCode` is the call's result;
 * `responseCode` is the original authorisation's (reference §5.6).
 */
import { formatDateTime } from '../clock.ts';
import { SipsFailure } from '../protocol.ts';
import { currentAmount, remainingAmount } from '../store.ts';
import { requireReference } from './authorization.ts';
import type { ServiceContext, ServiceResult } from './context.ts';
import { referenceEcho } from './fields.ts';

export function getTransactionData(ctx: ServiceContext): ServiceResult {
  const reference = requireReference(ctx);
  const tx = ctx.store.get(ctx.merchant.merchantId, reference);
  if (!tx) throw new SipsFailure('25');
  const card = tx.card;
  return {
    answer: {
      getTransDataResponseCode: '00',
      // Empty while the transaction waits for its authorisation (3-D Secure, provider).
      responseCode: tx.responseCode || undefined,
      acquirerResponseCode: tx.acquirerResponseCode,
      ...referenceEcho(ctx.body, tx.transactionReference),
      transactionStatus: tx.status,
      originAmount: tx.amount,
      currentAmount: currentAmount(tx),
      remainingAmount: remainingAmount(tx),
      currencyCode: tx.currencyCode,
      captureMode: tx.captureMode,
      captureDay: tx.captureDay,
      captureLimitDate: tx.captureLimitDate,
      transactionDateTime: formatDateTime(tx.transactionDateTime),
      lastOperationName: tx.lastOperationName,
      lastOperationDateTime: formatDateTime(tx.lastOperationDateTime),
      authorisationId: tx.authorisationId,
      maskedPan: card?.maskedPan,
      panExpiryDate: card?.expiry,
      paymentMeanBrand: tx.paymentMeanBrand,
      paymentMeanType: tx.paymentMeanType,
      cardCSCResultCode: tx.cardCSCResultCode,
      holderAuthentStatus: tx.holderAuthentStatus,
      holderAuthentProgram: tx.holderAuthentProgram,
      scoreColor: tx.scoreColor,
      orderId: tx.orderId,
      orderChannel: tx.orderChannel,
      customerId: tx.customerId,
      paymentPattern: tx.paymentPattern,
      schemeTransactionIdentifier: tx.schemeTransactionIdentifier,
      initialSchemeTransactionIdentifier: tx.initialSchemeTransactionIdentifier,
      fromTransactionReference: tx.fromTransactionReference,
      merchantWalletId: tx.merchantWalletId,
      paymentMeanId: tx.paymentMeanId,
    },
    transactionReference: reference,
    ...(card ? { maskedPan: card.maskedPan } : {}),
  };
}
