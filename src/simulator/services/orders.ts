/**
 * Authorisations without customer redirection: cardOrder, walletOrder,
 * duplicate, and creditHolder / walletCreditHolder (a credit to a card,
 * without prior payment).
 */
import { decideAuthorization } from '../cards.ts';
import { SipsFailure } from '../protocol.ts';
import type { StoredCard, Transaction } from '../store.ts';
import {
  authorizeCard,
  cardFromRequest,
  cscResult,
  newTransaction,
  orderAnswer,
  requireNewReference,
  requireReference,
} from './authorization.ts';
import type { ServiceContext, ServiceResult } from './context.ts';
import { referenceOf, str } from './fields.ts';
import { storedCardOf } from './wallet.ts';

/** External 3-D Secure data sent with the order counts as authentication. */
function authenticationOf(ctx: ServiceContext): { authenticated: boolean; status?: string } {
  const data = ctx.body.authenticationData;
  if (typeof data !== 'object' || data === null) return { authenticated: false };
  const v2 = (data as Record<string, unknown>).threeDV2;
  const txStatus =
    typeof v2 === 'object' && v2 !== null ? (v2 as Record<string, unknown>).txStatus : undefined;
  return { authenticated: true, status: txStatus === 'A' ? 'ATTEMPT' : 'SUCCESS' };
}

export function cardOrder(ctx: ServiceContext): ServiceResult {
  const reference = requireReference(ctx);
  const existing = ctx.store.get(ctx.merchant.merchantId, reference);
  // After cardValidateAuthentication the shop authorises the authenticated
  // transaction with cardOrder under the same reference.
  if (existing?.status === 'TO_AUTHORIZE' && existing.redirection?.authenticatedForOrder) {
    const outcome = existing.redirection.outcome;
    existing.card = cardFromRequest(ctx);
    existing.amount = Number(ctx.body.amount);
    const csc = cscResult(ctx);
    if (csc) existing.cardCSCResultCode = csc;
    authorizeCard(ctx, existing, {
      authenticated: outcome === 'SUCCESS' || outcome === 'ATTEMPT',
      merchantInitiated: existing.paymentPattern === 'RECURRING_N',
    });
    return { answer: orderAnswer(ctx, existing), transactionReference: reference };
  }
  requireNewReference(ctx, reference);
  const card = cardFromRequest(ctx);
  const authentication = authenticationOf(ctx);
  const csc = cscResult(ctx);
  const tx = newTransaction(ctx, reference, {
    card,
    ...(csc ? { cardCSCResultCode: csc } : {}),
    ...(authentication.status ? { holderAuthentStatus: authentication.status } : {}),
  });
  ctx.store.insert(tx);
  authorizeCard(ctx, tx, {
    authenticated: authentication.authenticated,
    merchantInitiated: tx.paymentPattern === 'RECURRING_N',
  });
  return { answer: orderAnswer(ctx, tx), transactionReference: reference };
}

/** The wallet card a request names, or 12 naming the field that points nowhere. */
export function walletCard(ctx: ServiceContext): {
  card: StoredCard;
  merchantWalletId: string;
  paymentMeanId: string;
} {
  const merchantWalletId = str(ctx.body, 'merchantWalletId') ?? '';
  const paymentMeanId = str(ctx.body, 'paymentMeanId') ?? '';
  if (!ctx.wallets.get(ctx.merchant.merchantId, merchantWalletId)) {
    throw new SipsFailure('12', { errorFieldName: 'merchantWalletId' });
  }
  const mean = ctx.wallets.paymentMean(ctx.merchant.merchantId, merchantWalletId, paymentMeanId);
  if (!mean) throw new SipsFailure('12', { errorFieldName: 'paymentMeanId' });
  return { card: storedCardOf(mean), merchantWalletId, paymentMeanId };
}

export function walletOrder(ctx: ServiceContext): ServiceResult {
  const reference = requireReference(ctx);
  requireNewReference(ctx, reference);
  const { card, merchantWalletId, paymentMeanId } = walletCard(ctx);
  const csc = cscResult(ctx);
  const authentication = authenticationOf(ctx);
  const tx = newTransaction(ctx, reference, {
    card,
    merchantWalletId,
    paymentMeanId,
    ...(csc ? { cardCSCResultCode: csc } : {}),
    ...(authentication.status ? { holderAuthentStatus: authentication.status } : {}),
  });
  ctx.store.insert(tx);
  authorizeCard(ctx, tx, {
    authenticated: authentication.authenticated,
    merchantInitiated: tx.paymentPattern === 'RECURRING_N',
  });
  return { answer: orderAnswer(ctx, tx), transactionReference: reference };
}

/**
 * A new transaction and authorisation with the card of an existing one
 * (any status, expired included), processed as a merchant-initiated
 * RECURRING_N payment chained to the original's scheme identifier.
 */
export function duplicate(ctx: ServiceContext): ServiceResult {
  const fromReference = referenceOf(ctx.body, 'fromTransactionReference') ?? '';
  const fromMerchantId = str(ctx.body, 'fromMerchantId') ?? ctx.merchant.merchantId;
  const origin = ctx.store.get(fromMerchantId, fromReference);
  if (!origin) throw new SipsFailure('25');
  if (!origin.card) throw new SipsFailure('24', { newStatus: origin.status });
  const reference = requireReference(ctx);
  requireNewReference(ctx, reference);
  const initialScheme =
    str(ctx.body, 'initialSchemeTransactionIdentifier') ??
    origin.initialSchemeTransactionIdentifier ??
    origin.schemeTransactionIdentifier;
  const tx = newTransaction(ctx, reference, {
    card: origin.card,
    paymentPattern: 'RECURRING_N',
    fromTransactionReference: origin.transactionReference,
    ...(fromMerchantId !== ctx.merchant.merchantId ? { fromMerchantId } : {}),
    ...(initialScheme ? { initialSchemeTransactionIdentifier: initialScheme } : {}),
    ...(origin.merchantWalletId ? { merchantWalletId: origin.merchantWalletId } : {}),
    ...(origin.paymentMeanId ? { paymentMeanId: origin.paymentMeanId } : {}),
  });
  ctx.store.insert(tx);
  authorizeCard(ctx, tx, {
    authenticated: false,
    merchantInitiated: true,
    movement: 'duplicateAuthorisation',
  });
  return { answer: orderAnswer(ctx, tx), transactionReference: reference };
}

/**
 * A credit to a card without a prior payment: TO_CREDIT, then CREDITED at
 * the next remittance run, one `credit` movement. A card the table refuses
 * answers 14 (the information request made before a credit was refused).
 */
function credit(
  ctx: ServiceContext,
  reference: string,
  card: StoredCard,
  extra: Partial<Transaction> = {},
): ServiceResult {
  const tx = newTransaction(ctx, reference, {
    card,
    credit: true,
    lastOperationName: 'CREDIT',
    ...extra,
  });
  ctx.store.insert(tx);
  const decision = decideAuthorization(ctx.cards, {
    pan: card.pan,
    expiry: card.expiry,
    amount: tx.amount,
    now: ctx.now,
    authenticated: false,
    merchantInitiated: true,
  });
  if (decision.responseCode !== '00') {
    tx.status = 'REFUSED';
    tx.responseCode = decision.responseCode === '54' ? '54' : '14';
    tx.acquirerResponseCode = decision.acquirerResponseCode;
  } else {
    tx.status = 'TO_CREDIT';
    tx.responseCode = '00';
    tx.acquirerResponseCode = '00';
    tx.authorisationId = ctx.sequences.authorisationId();
    tx.captureAt = ctx.store.nextRemittance(ctx.now);
    ctx.store.recordMovement(tx, 'credit', tx.amount, ctx.now);
  }
  return {
    answer: orderAnswer(ctx, tx),
    transactionReference: reference,
    maskedPan: card.maskedPan,
  };
}

export function creditHolder(ctx: ServiceContext): ServiceResult {
  const reference = requireReference(ctx);
  requireNewReference(ctx, reference);
  return credit(ctx, reference, cardFromRequest(ctx));
}

/**
 * creditHolder with a card of the shop's Sips wallet (OneClick option): the
 * same credit, the same rules; an unknown wallet or paymentMeanId answers 12
 * naming the field, as walletOrder does.
 */
export function walletCreditHolder(ctx: ServiceContext): ServiceResult {
  const reference = requireReference(ctx);
  requireNewReference(ctx, reference);
  const { card, merchantWalletId, paymentMeanId } = walletCard(ctx);
  return credit(ctx, reference, card, { merchantWalletId, paymentMeanId });
}
