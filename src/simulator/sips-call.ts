/**
 * One Sips call as the Office Server sees it, apart from HTTP: the body
 * parsed, what the fault matcher knows of it (shop, function, amount,
 * reference, card), and its processing — envelope (03, 34, 30, 40), fields
 * (12, 30), then the function's handler — into an answer and the key that
 * seals it.
 */
import type { SecretKey } from '../sips/secret-key.ts';
import { validateRequest } from '../sips/schemas.ts';
import type { SipsServiceName } from '../sips/services.ts';
import type { FaultSubject } from './faults.ts';
import type { Merchant } from './merchants.ts';
import {
  checkEnvelope,
  currentKey,
  failureAnswer,
  merchantIdFromText,
  SipsFailure,
  type SipsAnswer,
  type SipsRequest,
} from './protocol.ts';
import { int, referenceOf, str } from './services/fields.ts';
import { SERVICE_HANDLERS } from './services/index.ts';
import type { SimulatorContext } from './simulator-context.ts';

/** What processing a call gives: the answer, the key to seal it with, and whether Sips processed it. */
export interface Processed {
  answer: SipsAnswer;
  key: SecretKey | undefined;
  processed: boolean;
  transactionReference?: string;
  maskedPan?: string;
}

/** The parts of the simulator a call reads and changes. */
export type CallContext = Pick<
  SimulatorContext,
  'clock' | 'merchants' | 'store' | 'wallets' | 'cards' | 'sequences' | 'faults' | 'publicUrl'
>;

/** The body as a JSON object, or `undefined` when it is not one. */
export function parseSipsBody(raw: string): SipsRequest | undefined {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as SipsRequest;
    }
  } catch {
    // Not JSON: answered as a call without a body.
  }
  return undefined;
}

/** The code a Sips answer reports, whatever the function calls it. */
export function codeOf(answer: SipsAnswer): string | undefined {
  const code = answer.walletResponseCode ?? answer.getTransDataResponseCode ?? answer.responseCode;
  return typeof code === 'string' ? code : undefined;
}

/** Same length and alphabet, different value: only a real check notices. */
export function corruptSeal(seal: string): string {
  const last = seal.at(-1) === '0' ? '1' : '0';
  return `${seal.slice(0, -1)}${last}`;
}

/** The key of the version the request names, or the shop's current one. */
export function keyFor(merchant: Merchant, body: SipsRequest | undefined): SecretKey {
  const version = body ? str(body, 'keyVersion') : undefined;
  return (version !== undefined && merchant.keys.get(version)) || currentKey(merchant);
}

export function failureOf(
  ctx: Pick<CallContext, 'clock'>,
  service: SipsServiceName,
  error: SipsFailure,
  key: SecretKey | undefined,
  processed: boolean,
): Processed {
  return { answer: failureAnswer(service, error, ctx.clock.now()), key, processed };
}

/** Envelope, fields, then the function's handler; a refusal is an answer, not an error. */
export function processCall(
  ctx: CallContext,
  service: SipsServiceName,
  body: SipsRequest | undefined,
  raw: string,
): Processed {
  if (!body) {
    const merchant = ctx.merchants.get(merchantIdFromText(raw) ?? '');
    return failureOf(ctx, service, new SipsFailure('30'), merchant && currentKey(merchant), false);
  }
  const envelope = checkEnvelope(service, body, ctx.merchants);
  if (!envelope.ok) return failureOf(ctx, service, envelope.failure, envelope.key, false);
  const fields = validateRequest(service, body);
  if (!fields.ok) {
    const error = new SipsFailure(fields.responseCode, { errorFieldName: fields.errorFieldName });
    return failureOf(ctx, service, error, envelope.key, false);
  }
  try {
    const result = SERVICE_HANDLERS[service]({
      service,
      merchant: envelope.merchant,
      body,
      now: ctx.clock.now(),
      store: ctx.store,
      wallets: ctx.wallets,
      cards: ctx.cards,
      sequences: ctx.sequences,
      publicUrl: ctx.publicUrl,
    });
    return {
      answer: result.answer,
      key: envelope.key,
      processed: true,
      ...(result.transactionReference !== undefined
        ? { transactionReference: result.transactionReference }
        : {}),
      ...(result.maskedPan !== undefined ? { maskedPan: result.maskedPan } : {}),
    };
  } catch (error) {
    if (error instanceof SipsFailure) return failureOf(ctx, service, error, envelope.key, true);
    throw error;
  }
}

/** The card a call is about, for faults matching on a PAN (looked up only when one does). */
export function panOf(
  ctx: Pick<CallContext, 'store' | 'wallets'>,
  service: SipsServiceName,
  body: SipsRequest,
  merchantId: string,
): string | undefined {
  const cardNumber = str(body, 'cardNumber');
  if (cardNumber !== undefined) return cardNumber;
  const walletId = str(body, 'merchantWalletId');
  const meanId = str(body, 'paymentMeanId');
  if (walletId !== undefined && meanId !== undefined && service !== 'deletePaymentMean') {
    return ctx.wallets.paymentMean(merchantId, walletId, meanId)?.pan;
  }
  const token = str(body, 'redirectionData');
  if (token !== undefined) return ctx.store.byToken(token)?.card?.pan;
  const reference = referenceOf(body) ?? referenceOf(body, 'fromTransactionReference');
  return reference === undefined ? undefined : ctx.store.get(merchantId, reference)?.card?.pan;
}

/** What the fault matcher sees of a call. */
export function subjectOf(
  ctx: Pick<CallContext, 'store' | 'wallets' | 'faults'>,
  service: SipsServiceName,
  body: SipsRequest | undefined,
  raw: string,
): FaultSubject {
  if (!body) return { service, merchantId: merchantIdFromText(raw) };
  const merchantId = str(body, 'merchantId');
  const amount = int(body, 'amount') ?? int(body, 'operationAmount');
  const wantsPan = ctx.faults.list().some((fault) => fault.spec.match?.pan !== undefined);
  return {
    service,
    merchantId,
    transactionReference: referenceOf(body),
    ...(amount !== undefined && Number.isFinite(amount) ? { amount } : {}),
    ...(wantsPan && merchantId ? { pan: panOf(ctx, service, body, merchantId) } : {}),
  };
}
