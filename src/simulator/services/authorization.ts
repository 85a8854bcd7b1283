/**
 * Creating a payment transaction and authorising it: shared by every function
 * that ends in an authorisation (cardOrder, walletOrder, duplicate, the 3-D
 * Secure and provider finalisations).
 */
import { decideAuthorization, brandOf, type AuthorizationDecision } from '../cards.ts';
import { formatDate, formatDateTime } from '../clock.ts';
import type { MovementKind } from '../ledger.ts';
import { maskPan } from '../../sips/mask.ts';
import { SipsFailure, type SipsAnswer } from '../protocol.ts';
import {
  scheduleAuthorization,
  transactionKey,
  type CaptureMode,
  type StoredCard,
  type Transaction,
} from '../store.ts';
import type { ServiceContext } from './context.ts';
import { int, referenceEcho, referenceOf, str } from './fields.ts';

export function requireReference(ctx: ServiceContext): string {
  const reference = referenceOf(ctx.body);
  if (reference === undefined) {
    throw new SipsFailure('12', { errorFieldName: 'transactionReference' });
  }
  return reference;
}

/** A creating call must use a reference the shop never used: else 94. */
export function requireNewReference(ctx: ServiceContext, reference: string): void {
  if (ctx.store.has(ctx.merchant.merchantId, reference)) throw new SipsFailure('94');
}

export function cardFromRequest(ctx: ServiceContext): StoredCard {
  const pan = str(ctx.body, 'cardNumber') ?? '';
  const expiry = str(ctx.body, 'cardExpiryDate');
  return {
    pan,
    ...(expiry ? { expiry } : {}),
    brand: ctx.cards.find(pan)?.brand ?? brandOf(pan),
    maskedPan: maskPan(pan),
  };
}

/** A new transaction from the order fields of the request (not yet stored). */
export function newTransaction(
  ctx: ServiceContext,
  reference: string,
  extra: Partial<Transaction> = {},
): Transaction {
  const { body, now } = ctx;
  const initialScheme = str(body, 'initialSchemeTransactionIdentifier');
  const paymentPattern = str(body, 'paymentPattern') ?? 'ONE_SHOT';
  // A duplicate of an instalment is a later instalment: the plan came with the first.
  const instalments =
    paymentPattern === 'INSTALMENT' && ctx.service !== 'duplicate'
      ? instalmentPlan(body, reference)
      : undefined;
  const tx: Transaction = {
    key: transactionKey(ctx.merchant.merchantId, reference),
    merchantId: ctx.merchant.merchantId,
    transactionReference: reference,
    service: ctx.service,
    status: 'TO_AUTHORIZE',
    createdAt: now,
    transactionDateTime: now,
    // An instalment plan's order carries the total; the first instalment is authorised.
    amount: instalments ? (instalments.amountsList[0] as number) : (int(body, 'amount') ?? 0),
    currencyCode: str(body, 'currencyCode') ?? '978',
    captureMode: (str(body, 'captureMode') ?? 'AUTHOR_CAPTURE') as CaptureMode,
    captureDay: int(body, 'captureDay') ?? 0,
    cancelledAmount: 0,
    capturedAmount: 0,
    refundedAmount: 0,
    paymentMeanType: 'CARD',
    responseCode: '',
    paymentPattern,
    lastOperationName: 'AUTHORISATION',
    lastOperationDateTime: now,
    ...optional('orderId', str(body, 'orderId')),
    ...optional('orderChannel', str(body, 'orderChannel')),
    ...optional('customerId', str(body, 'customerId')),
    ...optional('returnContext', str(body, 'returnContext')),
    ...optional('initialSchemeTransactionIdentifier', initialScheme),
    ...extra,
  };
  if (tx.card) tx.paymentMeanBrand = tx.card.brand;
  return tx;
}

/**
 * The plan of an INSTALMENT order (reference §9): `number` instalments, as
 * many dates and amounts, the amounts summing to the order amount, and the
 * first transactionReference the order's own. Answers 12 naming the field.
 * Later instalments are authorised when the merchant sends them (duplicate
 * of the first); the simulator does not create them by itself.
 */
function instalmentPlan(
  body: Record<string, unknown>,
  reference: string,
): { amountsList: number[]; datesList: string[] } {
  const plan = body.instalmentData as Record<string, unknown> | undefined;
  const fail = (field: string): never => {
    throw new SipsFailure('12', { errorFieldName: field });
  };
  if (!plan || typeof plan !== 'object') return fail('instalmentData');
  // A count sent as digits ("3") is as good as a JSON number, like every numeric field.
  const number =
    typeof plan.number === 'string' && /^\d{1,3}$/.test(plan.number)
      ? Number(plan.number)
      : plan.number;
  const amounts = plan.amountsList;
  const dates = plan.datesList;
  const references = plan.transactionReferencesList;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 2) {
    return fail('instalmentData.number');
  }
  if (!Array.isArray(amounts) || amounts.length !== number) {
    return fail('instalmentData.amountsList');
  }
  if (!Array.isArray(dates) || dates.length !== number) return fail('instalmentData.datesList');
  const total = amounts.reduce((sum: number, part) => sum + Number(part), 0);
  if (total !== int(body, 'amount')) return fail('instalmentData.amountsList');
  const sorted = dates.every((date, k) => k === 0 || String(date) > String(dates[k - 1]));
  if (!sorted) return fail('instalmentData.datesList');
  if (references !== undefined) {
    if (!Array.isArray(references) || references.length !== number || references[0] !== reference) {
      return fail('instalmentData.transactionReferencesList');
    }
  }
  return { amountsList: amounts.map(Number), datesList: dates.map(String) };
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

export interface AuthorizeOptions {
  authenticated: boolean;
  merchantInitiated: boolean;
  movement?: MovementKind;
}

/** Runs the card table for the transaction's card and applies the decision. */
export function authorizeCard(
  ctx: ServiceContext,
  tx: Transaction,
  options: AuthorizeOptions,
): void {
  const card = tx.card;
  if (!card) throw new Error('authoriseCard needs a card');
  const decision = decideAuthorization(ctx.cards, {
    pan: card.pan,
    expiry: card.expiry,
    amount: tx.amount,
    now: ctx.now,
    authenticated: options.authenticated,
    merchantInitiated: options.merchantInitiated,
  });
  applyDecision(ctx, tx, decision, options.movement ?? 'authorisation');
}

/** Records an authorisation answer on the transaction: status, schedule, movement. */
export function applyDecision(
  ctx: ServiceContext,
  tx: Transaction,
  decision: AuthorizationDecision,
  movement: MovementKind,
): void {
  const now = ctx.now;
  tx.responseCode = decision.responseCode;
  tx.acquirerResponseCode = decision.acquirerResponseCode;
  tx.transactionDateTime = now;
  tx.lastOperationName = movement === 'duplicateAuthorisation' ? 'DUPLICATE' : 'AUTHORISATION';
  tx.lastOperationDateTime = now;
  if (decision.responseCode !== '00') {
    tx.status = 'REFUSED';
    return;
  }
  tx.authorisationId = ctx.sequences.authorisationId();
  if (tx.card) tx.schemeTransactionIdentifier = ctx.sequences.schemeTransactionIdentifier();
  if (decision.scoreColor) tx.scoreColor = decision.scoreColor;
  if (tx.captureMode === 'IMMEDIATE') {
    tx.status = 'CAPTURED';
    tx.capturedAmount = tx.amount;
    tx.captureLimitDate = formatDate(now);
    ctx.store.recordMovement(tx, movement, tx.amount, now);
    ctx.store.recordMovement(tx, 'capture', tx.amount, now);
    return;
  }
  scheduleAuthorization(ctx.store, tx, now);
  const normal = tx.captureMode === 'VALIDATION' ? 'TO_VALIDATE' : 'TO_CAPTURE';
  if (decision.challenge) {
    tx.resumeStatus = normal;
    tx.status = 'TO_CHALLENGE';
  } else {
    tx.status = normal;
  }
  ctx.store.recordMovement(tx, movement, tx.amount, now);
}

/** The answer of the order family (cardOrder, walletOrder, duplicate, validate-and-order...). */
export function orderAnswer(ctx: ServiceContext, tx: Transaction): SipsAnswer {
  const card = tx.card;
  return {
    responseCode: tx.responseCode,
    acquirerResponseCode: tx.acquirerResponseCode,
    authorisationId: tx.authorisationId,
    transactionDateTime: formatDateTime(tx.transactionDateTime),
    ...referenceEcho(ctx.body, tx.transactionReference),
    orderId: tx.orderId,
    returnContext: tx.returnContext,
    amount: tx.amount,
    currencyCode: tx.currencyCode,
    captureDay: tx.captureDay,
    captureMode: tx.captureMode,
    captureLimitDate: tx.responseCode === '00' ? tx.captureLimitDate : undefined,
    maskedPan: card?.maskedPan,
    panExpiryDate: card?.expiry,
    paymentMeanBrand: tx.paymentMeanBrand,
    paymentMeanType: tx.paymentMeanType,
    cardScheme: card?.brand,
    cardCSCResultCode: tx.cardCSCResultCode,
    holderAuthentStatus: tx.holderAuthentStatus,
    holderAuthentProgram: tx.holderAuthentProgram,
    guaranteeIndicator: tx.guaranteeIndicator,
    scoreColor: tx.scoreColor,
    paymentPattern: tx.paymentPattern,
    schemeTransactionIdentifier: tx.schemeTransactionIdentifier,
    initialSchemeTransactionIdentifier: tx.initialSchemeTransactionIdentifier,
    fromTransactionReference: tx.fromTransactionReference,
    merchantWalletId: tx.merchantWalletId,
    paymentMeanId: tx.paymentMeanId,
  };
}

/** cardCSCResultCode: 4D (correct) when a CSC was sent, nothing otherwise. */
export function cscResult(ctx: ServiceContext): string | undefined {
  return str(ctx.body, 'cardCSCValue') === undefined ? undefined : '4D';
}
