/**
 * 3-D Secure through Office: cardCheckEnrollment / walletCheckEnrollment
 * create a TO_AUTHORIZE transaction and send the customer to the simulated
 * ACS (acs.ts); cardValidateAuthenticationAndOrder finishes with the PaRes
 * (v1 shape) or with the outcome recorded against redirectionData (v2 shape)
 * and authorises; cardValidateAuthentication only reports the authentication.
 *
 * redirectionData, PaReq and PaRes are random tokens that point at the
 * transaction inside the simulator: they never carry card data.
 */
import { decideAuthorization, threeDSBehaviourOf } from '../cards.ts';
import { SipsFailure, type SipsAnswer } from '../protocol.ts';
import type { PendingRedirection, StoredCard, Transaction } from '../store.ts';
import {
  applyDecision,
  authorizeCard,
  cardFromRequest,
  cscResult,
  newTransaction,
  orderAnswer,
  requireNewReference,
  requireReference,
} from './authorization.ts';
import type { ServiceContext, ServiceResult } from './context.ts';
import { referenceEcho, str } from './fields.ts';
import { walletCard } from './orders.ts';

/** 3-D Secure 2 when the shop gives a return URL, the 1.0 shape (TermUrl) otherwise. */
function messageVersionFor(ctx: ServiceContext): string {
  return str(ctx.body, 'merchantReturnUrl') ? '2.2.0' : '0.1';
}

function enrol(
  ctx: ServiceContext,
  card: StoredCard,
  extra: Partial<Transaction> = {},
): ServiceResult {
  const reference = requireReference(ctx);
  requireNewReference(ctx, reference);
  const csc = cscResult(ctx);
  const tx = newTransaction(ctx, reference, {
    card,
    lastOperationName: 'CHECK_ENROLLMENT',
    ...(csc ? { cardCSCResultCode: csc } : {}),
    ...extra,
  });
  ctx.store.insert(tx);

  // An expired card is refused before any authentication.
  const check = decideAuthorization(ctx.cards, {
    pan: card.pan,
    expiry: card.expiry,
    amount: tx.amount,
    now: ctx.now,
    authenticated: true,
    merchantInitiated: false,
  });
  if (check.responseCode === '54') {
    applyDecision(ctx, tx, check, 'authorisation');
    return {
      answer: { responseCode: '54', acquirerResponseCode: '54', ...common(ctx, tx) },
      transactionReference: reference,
      maskedPan: card.maskedPan,
    };
  }

  const behaviour = threeDSBehaviourOf(ctx.cards, card.pan);
  const merchantReturnUrl = str(ctx.body, 'merchantReturnUrl');
  const redirection: PendingRedirection = {
    kind: 'threeDS',
    redirectionData: ctx.sequences.token('RD'),
    paReq: ctx.sequences.token('PAREQ'),
    messageVersion: messageVersionFor(ctx),
    behaviour,
    ...(merchantReturnUrl ? { merchantReturnUrl } : {}),
  };
  tx.redirection = redirection;
  ctx.store.indexToken(redirection.redirectionData, tx);
  ctx.store.indexToken(redirection.paReq, tx);

  if (behaviour === 'NOT_ENROLLED') {
    // No redirection: cardValidateAuthenticationAndOrder authorises directly.
    redirection.outcome = 'NOT_ENROLLED';
    tx.holderAuthentStatus = 'NOT_ENROLLED';
    return {
      answer: {
        responseCode: '00',
        holderAuthentStatus: 'NOT_ENROLLED',
        redirectionData: redirection.redirectionData,
        messageVersion: redirection.messageVersion,
        ...common(ctx, tx),
      },
      transactionReference: reference,
      maskedPan: card.maskedPan,
    };
  }
  return {
    answer: {
      responseCode: '00',
      redirectionStatusCode: '00',
      redirectionStatusMessage: 'INITIALISATION REQUEST ACCEPTED',
      redirectionUrl: `${ctx.publicUrl}/acs`,
      redirectionData: redirection.redirectionData,
      paReqMessage: redirection.paReq,
      messageVersion: redirection.messageVersion,
      ...common(ctx, tx),
    },
    transactionReference: reference,
    maskedPan: card.maskedPan,
  };
}

function common(ctx: ServiceContext, tx: Transaction): SipsAnswer {
  return {
    ...referenceEcho(ctx.body, tx.transactionReference),
    maskedPan: tx.card?.maskedPan,
    paymentMeanBrand: tx.paymentMeanBrand,
  };
}

export function cardCheckEnrollment(ctx: ServiceContext): ServiceResult {
  return enrol(ctx, cardFromRequest(ctx));
}

export function walletCheckEnrollment(ctx: ServiceContext): ServiceResult {
  const { card, merchantWalletId, paymentMeanId } = walletCard(ctx);
  return enrol(ctx, card, { merchantWalletId, paymentMeanId });
}

/** The pending 3-D Secure transaction named by redirectionData (and PaRes when sent). */
function pending(ctx: ServiceContext): { tx: Transaction; outcome: string } {
  const token = str(ctx.body, 'redirectionData') ?? '';
  const tx = ctx.store.byToken(token);
  if (!tx || tx.merchantId !== ctx.merchant.merchantId || tx.redirection?.kind !== 'threeDS') {
    throw new SipsFailure('12', { errorFieldName: 'redirectionData' });
  }
  const reference = str(ctx.body, 'transactionReference');
  if (reference !== undefined && reference !== tx.transactionReference) {
    throw new SipsFailure('12', { errorFieldName: 'transactionReference' });
  }
  if (tx.status !== 'TO_AUTHORIZE') throw new SipsFailure('24', { newStatus: tx.status });
  const redirection = tx.redirection;
  const paRes = str(ctx.body, 'paResMessage');
  if (
    paRes !== undefined &&
    paRes !== redirection.paRes &&
    redirection.outcome !== 'NOT_ENROLLED'
  ) {
    throw new SipsFailure('12', { errorFieldName: 'paResMessage' });
  }
  if (redirection.outcome === undefined) {
    // The customer has not come back from the ACS yet.
    const v1 = /^[01]\./.test(redirection.messageVersion);
    throw new SipsFailure('12', { errorFieldName: v1 ? 'paResMessage' : 'redirectionData' });
  }
  return { tx, outcome: redirection.outcome };
}

function recordAuthentication(tx: Transaction, outcome: string): void {
  const version = tx.redirection?.messageVersion ?? '2.2.0';
  tx.holderAuthentStatus = outcome;
  tx.holderAuthentProgram = version.startsWith('2') ? '3DS_V2' : '3DS';
  tx.guaranteeIndicator = outcome === 'SUCCESS' || outcome === 'ATTEMPT' ? 'Y' : 'N';
}

function refuseAuthentication(ctx: ServiceContext, tx: Transaction, outcome: string): void {
  tx.status = 'REFUSED';
  tx.responseCode = outcome === 'CANCEL' ? '17' : '05';
  tx.transactionDateTime = ctx.now;
  tx.lastOperationName = 'AUTHENTICATION';
  tx.lastOperationDateTime = ctx.now;
}

export function cardValidateAuthenticationAndOrder(ctx: ServiceContext): ServiceResult {
  const { tx, outcome } = pending(ctx);
  recordAuthentication(tx, outcome);
  if (outcome === 'FAILURE' || outcome === 'CANCEL') {
    refuseAuthentication(ctx, tx, outcome);
  } else {
    authorizeCard(ctx, tx, {
      authenticated: outcome === 'SUCCESS' || outcome === 'ATTEMPT',
      merchantInitiated: false,
    });
  }
  return {
    answer: {
      ...orderAnswer(ctx, tx),
      messageVersion: tx.redirection?.messageVersion,
    },
    transactionReference: tx.transactionReference,
    ...(tx.card ? { maskedPan: tx.card.maskedPan } : {}),
  };
}

/** The EMV 3-D Secure transStatus that goes with each outcome. */
const THREE_DS_TX_STATUS: Readonly<Record<string, string>> = {
  SUCCESS: 'Y',
  ATTEMPT: 'A',
  FAILURE: 'N',
  CANCEL: 'U',
};

/** Authentication only: the shop authorises later with cardOrder and the same reference. */
export function cardValidateAuthentication(ctx: ServiceContext): ServiceResult {
  const { tx, outcome } = pending(ctx);
  recordAuthentication(tx, outcome);
  const authenticated = outcome === 'SUCCESS' || outcome === 'ATTEMPT';
  if (outcome === 'FAILURE' || outcome === 'CANCEL') {
    refuseAuthentication(ctx, tx, outcome);
  } else if (tx.redirection) {
    tx.redirection.authenticatedForOrder = true;
  }
  const txStatus = THREE_DS_TX_STATUS[outcome];
  return {
    answer: {
      responseCode: outcome === 'CANCEL' ? '17' : outcome === 'FAILURE' ? '05' : '00',
      transactionReference: tx.transactionReference,
      holderAuthentStatus: tx.holderAuthentStatus,
      holderAuthentProgram: tx.holderAuthentProgram,
      messageVersion: tx.redirection?.messageVersion,
      ...(authenticated
        ? {
            threeDV2: {
              authentDsTransId: ctx.sequences.token('DS'),
              cavv: Buffer.from(ctx.sequences.token('CAVV')).toString('base64'),
              eci: outcome === 'SUCCESS' ? '05' : '06',
              txStatus,
            },
          }
        : {}),
    },
    transactionReference: tx.transactionReference,
    ...(tx.card ? { maskedPan: tx.card.maskedPan } : {}),
  };
}
