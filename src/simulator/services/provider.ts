/**
 * External providers (PayPal-like): paymentProviderInitialize creates a
 * TO_AUTHORIZE transaction and sends the customer to the simulated provider
 * page (acs.ts), which posts merchantId, messageVersion and redirectionData
 * back to merchantReturnUrl; paymentProviderFinalize then authorises.
 */
import { decideAuthorization } from '../cards.ts';
import { SipsFailure } from '../protocol.ts';
import type { PendingRedirection, Transaction } from '../store.ts';
import {
  applyDecision,
  newTransaction,
  orderAnswer,
  requireNewReference,
  requireReference,
} from './authorization.ts';
import type { ServiceContext, ServiceResult } from './context.ts';
import { str } from './fields.ts';

export const PROVIDER_MESSAGE_VERSION = '1.0';

export function paymentProviderInitialize(ctx: ServiceContext): ServiceResult {
  const reference = requireReference(ctx);
  requireNewReference(ctx, reference);
  const brand = str(ctx.body, 'paymentMeanBrand') ?? 'PAYPAL';
  const tx = newTransaction(ctx, reference, {
    paymentMeanType: 'PROVIDER',
    paymentMeanBrand: brand,
    lastOperationName: 'PROVIDER_INITIALIZE',
  });
  const { redirection, accepted } = awaitAtProviderPage(ctx, tx, 'provider');
  return {
    answer: {
      ...accepted,
      paymentProviderSessionId: redirection.paReq,
      transactionReference: reference,
      paymentMeanBrand: brand,
    },
    transactionReference: reference,
  };
}

/**
 * Stores `tx` waiting for the customer at the simulator's provider page
 * (providers and issuer wallets share it); the redirection and the fields
 * of the accepted initialisation.
 */
export function awaitAtProviderPage(
  ctx: ServiceContext,
  tx: Transaction,
  kind: 'provider' | 'issuerWallet',
) {
  const redirection: PendingRedirection = {
    kind,
    redirectionData: ctx.sequences.token('RD'),
    paReq: ctx.sequences.token('SESSION'),
    messageVersion: PROVIDER_MESSAGE_VERSION,
    behaviour: 'CHOOSE',
    merchantReturnUrl: str(ctx.body, 'merchantReturnUrl') ?? '',
  };
  tx.redirection = redirection;
  ctx.store.insert(tx);
  ctx.store.indexToken(redirection.redirectionData, tx);
  const accepted = {
    responseCode: '00',
    redirectionStatusCode: '00',
    redirectionStatusMessage: 'INITIALISATION REQUEST ACCEPTED',
    redirectionUrl: `${ctx.publicUrl}/provider`,
    redirectionData: redirection.redirectionData,
    messageVersion: redirection.messageVersion,
  };
  return { redirection, accepted };
}

/**
 * The transaction waiting for the customer behind `redirectionData`, for a
 * finalisation of the right kind; 12 naming the field that points nowhere,
 * 24 when it is no longer waiting.
 */
export function pendingExternal(
  ctx: ServiceContext,
  kind: 'provider' | 'issuerWallet',
): Transaction {
  const tx = ctx.store.byToken(str(ctx.body, 'redirectionData') ?? '');
  if (!tx || tx.merchantId !== ctx.merchant.merchantId || tx.redirection?.kind !== kind) {
    throw new SipsFailure('12', { errorFieldName: 'redirectionData' });
  }
  const reference = str(ctx.body, 'transactionReference');
  if (reference !== undefined && reference !== tx.transactionReference) {
    throw new SipsFailure('12', { errorFieldName: 'transactionReference' });
  }
  if (tx.status !== 'TO_AUTHORIZE') throw new SipsFailure('24', { newStatus: tx.status });
  return tx;
}

/**
 * The customer's choice on the provider page, applied: APPROVED authorises
 * (the amount rules apply, and the card table when the payment has a card),
 * DECLINED answers 05, CANCEL 17; before the customer came back the payment
 * is still pending: 60, nothing changes.
 */
export function finalizeExternal(ctx: ServiceContext, tx: Transaction): void {
  const outcome = tx.redirection?.outcome;
  if (outcome === undefined) throw new SipsFailure('60');
  if (outcome === 'APPROVED') {
    // The provider's answer goes through the same amount rules as a card.
    const decision = decideAuthorization(ctx.cards, {
      pan: tx.card?.pan ?? '',
      expiry: tx.card?.expiry,
      amount: tx.amount,
      now: ctx.now,
      authenticated: true,
      merchantInitiated: false,
    });
    applyDecision(ctx, tx, { ...decision, brand: tx.paymentMeanBrand ?? '' }, 'authorisation');
  } else {
    tx.status = 'REFUSED';
    tx.responseCode = outcome === 'CANCEL' ? '17' : '05';
    tx.transactionDateTime = ctx.now;
    tx.lastOperationName = 'AUTHORISATION';
    tx.lastOperationDateTime = ctx.now;
  }
}

export function paymentProviderFinalize(ctx: ServiceContext): ServiceResult {
  const tx = pendingExternal(ctx, 'provider');
  finalizeExternal(ctx, tx);
  return {
    answer: { ...orderAnswer(ctx, tx), transactionStatus: tx.status },
    transactionReference: tx.transactionReference,
  };
}
