/**
 * The translation between our payment vocabulary (machines/contract.ts) and
 * Sips wire names: which service performs an operation, which fields it
 * carries, what an answer means for the payment, and what getTransactionData
 * says about a transaction. Nothing outside src/sips knows a Sips field name.
 */
import type {
  AcceptedDetails,
  CaptureMode,
  GatewayView,
  Operation,
  PaymentEvent,
  PaymentKind,
} from '../../machines/contract.ts';
import { SipsRequestError } from './client.ts';
import type { AnsweredResult, SipsResponse, SipsResult } from './result.ts';
import type { SipsCall, SipsRequestFields } from './schemas.ts';
import type { SipsServiceName } from './services.ts';

/**
 * The merchant's references of a payment, as stored with it; only these four
 * reach Sips.
 */
export interface MerchantReferences {
  orderId?: string;
  customerId?: string;
  customerEmail?: string;
  customerIpAddress?: string;
}

/** Everything a request may need, in our words; the builder picks what the service takes. */
export interface OperationInput {
  kind: PaymentKind;
  operation: Operation;
  transactionReference: string;
  /** Minor units: the payment's amount for authorisations, the operation's for the rest. */
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  captureDay?: number;
  /** The payment's merchant block; `merchantFields` picks what Sips takes. */
  merchant?: MerchantReferences;
  card?: { pan: string; expiry: string; csc?: string };
  wallet?: { merchantWalletId: string; paymentMeanId: string };
  /** For duplicates: the transaction whose card is reused. */
  fromTransactionReference?: string;
  /** Where the customer comes back after 3-D Secure or the provider. */
  merchantReturnUrl?: string;
  paymentMeanBrand?: string;
  /** Returned by the enrollment or the provider and posted back by the browser. */
  authentication?: { redirectionData: string; messageVersion: string; paRes?: string };
  paymentPattern?: 'ONE_SHOT' | 'RECURRING_1' | 'RECURRING_N' | 'INSTALMENT';
  initialSchemeTransactionIdentifier?: string;
  /** The first instalment of a plan carries the whole plan; `amount` is then that instalment's. */
  instalmentData?: {
    number: number;
    datesList: string[];
    amountsList: number[];
    transactionReferencesList: string[];
  };
}

const AUTHORIZE_SERVICE = {
  card: 'cardOrder',
  card_3ds: 'cardOrder',
  wallet: 'walletOrder',
  wallet_3ds: 'walletOrder',
  provider: 'paymentProviderInitialize',
  duplicate: 'duplicate',
} as const satisfies Record<PaymentKind, SipsServiceName>;

export function serviceFor(kind: PaymentKind, operation: Operation) {
  switch (operation) {
    case 'authorize':
      return AUTHORIZE_SERVICE[kind];
    case 'enroll':
      return kind === 'wallet_3ds' ? 'walletCheckEnrollment' : 'cardCheckEnrollment';
    case 'complete_authentication':
      return 'cardValidateAuthenticationAndOrder';
    case 'initialize_provider':
      return 'paymentProviderInitialize';
    case 'finalize_provider':
      return 'paymentProviderFinalize';
    case 'capture':
      return 'validate';
    case 'cancel':
      return 'cancel';
    case 'refund':
      return 'refund';
    case 'accept_challenge':
      return 'acceptChallenge';
    case 'refuse_challenge':
      return 'refuseChallenge';
  }
}

/** The services that perform our operations. */
export type OperationService = ReturnType<typeof serviceFor>;

/** A call of one of those services with its business fields. */
export type OperationCall = SipsCall<OperationService>;

type Fields<S extends SipsServiceName> = SipsRequestFields<S>;

/** The order description every order-like service shares (schemas/requests.ts `order`). */
type OrderFields = Pick<
  Fields<'cardOrder'>,
  | 'transactionReference'
  | 'amount'
  | 'currencyCode'
  | 'captureMode'
  | 'captureDay'
  | 'orderChannel'
  | 'orderId'
  | 'customerId'
  | 'customerIpAddress'
  | 'customerContact'
  | 'paymentPattern'
  | 'initialSchemeTransactionIdentifier'
  | 'instalmentData'
>;

type MerchantFields = Pick<
  OrderFields,
  'orderId' | 'customerId' | 'customerIpAddress' | 'customerContact'
>;

/** The request fields of a payment's merchant references: the one place they are copied. */
export function merchantFields(merchant: MerchantReferences | undefined): MerchantFields {
  const fields: MerchantFields = {};
  if (!merchant) return fields;
  if (merchant.orderId) fields.orderId = merchant.orderId;
  if (merchant.customerId) fields.customerId = merchant.customerId;
  if (merchant.customerIpAddress) fields.customerIpAddress = merchant.customerIpAddress;
  if (merchant.customerEmail) fields.customerContact = { email: merchant.customerEmail };
  return fields;
}

function orderFields(input: OperationInput): OrderFields {
  const fields: OrderFields = {
    transactionReference: input.transactionReference,
    amount: input.amount,
    currencyCode: input.currency,
    captureMode: input.captureMode === 'validation' ? 'VALIDATION' : 'AUTHOR_CAPTURE',
    captureDay: input.captureDay ?? 0,
    orderChannel: 'INTERNET',
    ...merchantFields(input.merchant),
  };
  if (input.paymentPattern) fields.paymentPattern = input.paymentPattern;
  if (input.initialSchemeTransactionIdentifier) {
    fields.initialSchemeTransactionIdentifier = input.initialSchemeTransactionIdentifier;
  }
  if (input.instalmentData) {
    // Sips takes the plan's total as the order amount, the sum of amountsList
    // (reference §9); it authorises the first instalment.
    fields.amount = input.instalmentData.amountsList.reduce((total, part) => total + part, 0);
    fields.instalmentData = { ...input.instalmentData };
  }
  return fields;
}

type CardFields = Pick<Fields<'cardOrder'>, 'cardNumber' | 'cardExpiryDate' | 'cardCSCValue'>;

function cardFields(input: OperationInput): CardFields {
  if (!input.card) throw new Error(`${input.operation} needs the card, which is no longer held`);
  const fields: CardFields = { cardNumber: input.card.pan, cardExpiryDate: input.card.expiry };
  if (input.card.csc) fields.cardCSCValue = input.card.csc;
  return fields;
}

type WalletFields = Pick<
  Fields<'walletOrder'>,
  'merchantWalletId' | 'paymentMeanId' | 'cardCSCValue'
>;

function walletFields(input: OperationInput): WalletFields {
  if (!input.wallet) throw new Error(`${input.operation} needs merchantWalletId and paymentMeanId`);
  const fields: WalletFields = {
    merchantWalletId: input.wallet.merchantWalletId,
    paymentMeanId: input.wallet.paymentMeanId,
  };
  if (input.card?.csc) fields.cardCSCValue = input.card.csc;
  return fields;
}

/** The continuation after the customer came back from an ACS or a provider (both services alike). */
type ContinuationFields = Pick<
  Fields<'cardValidateAuthenticationAndOrder'>,
  'transactionReference' | 'redirectionData' | 'messageVersion' | 'paResMessage'
>;

function continuationFields(
  service: 'cardValidateAuthenticationAndOrder' | 'paymentProviderFinalize',
  input: OperationInput,
): ContinuationFields {
  if (!input.authentication) throw new Error(`${service} needs the authentication data`);
  const fields: ContinuationFields = {
    transactionReference: input.transactionReference,
    redirectionData: input.authentication.redirectionData,
    messageVersion: input.authentication.messageVersion,
  };
  if (input.authentication.paRes) fields.paResMessage = input.authentication.paRes;
  return fields;
}

function providerFields(input: OperationInput): Fields<'paymentProviderInitialize'> {
  const { paymentMeanBrand, merchantReturnUrl } = input;
  // Both are required: refused here as the client's schema check refuses
  // them (12, the first in schema order), before anything is sent.
  if (!paymentMeanBrand) throw missingField('paymentProviderInitialize', 'paymentMeanBrand');
  if (!merchantReturnUrl) throw missingField('paymentProviderInitialize', 'merchantReturnUrl');
  return { ...orderFields(input), merchantReturnUrl, paymentMeanBrand };
}

function missingField(service: OperationService, field: string): SipsRequestError {
  return new SipsRequestError(service, field, '12', `${field} is required`);
}

/** The amount and reference of a cash-management operation (validate, cancel, refund alike). */
type OperationFields = Pick<
  Fields<'validate'>,
  'transactionReference' | 'operationAmount' | 'currencyCode' | 'operationOrigin'
>;

function operationFields(input: OperationInput): OperationFields {
  return {
    transactionReference: input.transactionReference,
    operationAmount: input.amount,
    currencyCode: input.currency,
    operationOrigin: 'SOGENACTIF-ORCHESTRATOR',
  };
}

/** The service and business fields of the request; the client adds the envelope and the seal. */
export function requestFields(input: OperationInput): OperationCall {
  const service = serviceFor(input.kind, input.operation);
  switch (service) {
    case 'cardOrder':
      return { service, fields: { ...orderFields(input), ...cardFields(input) } };
    case 'walletOrder':
      return { service, fields: { ...orderFields(input), ...walletFields(input) } };
    case 'cardCheckEnrollment': {
      const fields: Fields<typeof service> = { ...orderFields(input), ...cardFields(input) };
      if (input.merchantReturnUrl) fields.merchantReturnUrl = input.merchantReturnUrl;
      return { service, fields };
    }
    case 'walletCheckEnrollment': {
      const fields: Fields<typeof service> = { ...orderFields(input), ...walletFields(input) };
      if (input.merchantReturnUrl) fields.merchantReturnUrl = input.merchantReturnUrl;
      return { service, fields };
    }
    case 'cardValidateAuthenticationAndOrder':
    case 'paymentProviderFinalize':
      return { service, fields: continuationFields(service, input) };
    case 'paymentProviderInitialize':
      return { service, fields: providerFields(input) };
    case 'duplicate': {
      if (!input.fromTransactionReference) {
        throw new Error('duplicate needs fromTransactionReference');
      }
      return {
        service,
        fields: { ...orderFields(input), fromTransactionReference: input.fromTransactionReference },
      };
    }
    case 'validate':
    case 'cancel':
    case 'refund':
      return { service, fields: operationFields(input) };
    case 'acceptChallenge':
    case 'refuseChallenge':
      return {
        service,
        fields: {
          transactionReference: input.transactionReference,
          operationOrigin: 'SOGENACTIF-ORCHESTRATOR',
        },
      };
    default: {
      // Not reached with typed input; an operation read from bad data lands here.
      const unknown: never = service;
      throw new Error(`no request builder for ${String(unknown)}`);
    }
  }
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function minorUnits(value: unknown): number | undefined {
  const raw = text(value);
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/** What an accepted answer tells us, in our words. */
export function acceptedDetails(response: Record<string, unknown>): AcceptedDetails {
  const details: AcceptedDetails = {};
  const authorisationId = text(response.authorisationId);
  if (authorisationId) details.authorisationId = authorisationId;
  const redirectionUrl = text(response.redirectionUrl);
  if (redirectionUrl) {
    const messageVersion = text(response.messageVersion);
    details.redirect = {
      url: redirectionUrl,
      hasPaReq: text(response.paReqMessage) !== undefined,
      ...(messageVersion ? { messageVersion } : {}),
    };
  } else if (
    response.holderAuthentStatus === 'NOT_ENROLLED' ||
    response.holderAuthentStatus === '3D_NOTENROLLED' ||
    text(response.redirectionStatusCode) !== undefined
  ) {
    // An enrollment answer without a redirection: the card is not enrolled
    // and the authorisation goes ahead without sending the customer away.
    details.notEnrolled = true;
  }
  if (response.scoreColor === 'ORANGE' || response.transactionStatus === 'TO_CHALLENGE') {
    details.challenge = true;
  }
  const remaining = minorUnits(response.newAmount);
  if (remaining !== undefined) details.remainingAmount = remaining;
  const scheme = text(response.schemeTransactionIdentifier);
  if (scheme) details.schemeTransactionIdentifier = scheme;
  return details;
}

/** Fields of an answer worth keeping on the payment (never card data). */
export function answerFacts(response: Record<string, unknown>): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const name of [
    'authorisationId',
    'maskedPan',
    'transactionDateTime',
    'captureLimitDate',
    'holderAuthentStatus',
    'schemeTransactionIdentifier',
    'acquirerResponseCode',
    'paymentMeanBrand',
  ]) {
    const value = text(response[name]);
    if (value) facts[name] = value;
  }
  return facts;
}

/**
 * The machine event for a call's result, or `retry` for 90/99 while attempts
 * remain (the caller retries with backoff; the machine does not move).
 */
const CREDENTIALS_CODES: ReadonlySet<string> = new Set(['03', '34']);

/**
 * 03 (unknown merchant) or 34 (key or key version refused) in an answer,
 * whether its seal verified or not: the platform answers 03 unsealed for an
 * unknown merchant, and 34 sealed with the real key when ours is wrong.
 */
export function credentialsRefusal(result: SipsResult): string | undefined {
  let code: string | undefined;
  if (result.kind === 'invalid' || result.kind === 'refused') code = result.responseCode;
  else if (result.kind === 'seal_mismatch') {
    const response = result.response;
    code =
      text(response.getTransDataResponseCode) ??
      text(response.responseCode) ??
      text(response.walletResponseCode);
  }
  return code !== undefined && CREDENTIALS_CODES.has(code) ? code : undefined;
}

export function eventForResult(
  operation: Operation,
  result: SipsResult,
  attemptsLeft: boolean,
): PaymentEvent | 'retry' {
  const refusedCredentials = credentialsRefusal(result);
  if (refusedCredentials !== undefined) {
    // Probably our credentials; never final on the answer alone (it may be
    // forged): the machine inquires once, and fails only if that is refused too.
    return { type: 'sips.credentials_refused', operation, responseCode: refusedCredentials };
  }
  switch (result.kind) {
    case 'ok':
      return { type: 'sips.accepted', operation, details: acceptedDetails(result.response) };
    case 'retryable':
      return attemptsLeft
        ? 'retry'
        : { type: 'sips.unavailable', operation, responseCode: result.responseCode };
    case 'pending':
      // 60, 62: the transaction exists and is not finished. Its outcome is
      // unknown, like a lost answer's: the payment inquires, never ends refused.
      return { type: 'sips.conflict', operation, responseCode: result.responseCode };
    case 'refused':
    case 'invalid':
      if (result.code.action === 'inquire') {
        return { type: 'sips.conflict', operation, responseCode: result.responseCode };
      }
      return {
        type: 'sips.declined',
        operation,
        responseCode: result.responseCode,
        invalid: result.kind === 'invalid',
      };
    case 'seal_mismatch':
      return { type: 'sips.untrusted', operation };
    case 'unknown':
      return { type: 'sips.unknown', operation, reason: `${result.reason}: ${result.detail}` };
  }
}

/** What getTransactionData said, for the inquiry schedule. */
export type InquiryAnswer =
  | { found: true; view: GatewayView }
  | { found: false }
  /** No trustworthy answer (unknown, 90/99, seal mismatch): ask again later. */
  | { found: 'unclear'; detail: string }
  /** 03 or 34: Sips refuses our credentials for the inquiry too. */
  | { found: 'credentials_refused'; responseCode: string };

const STATE_OF_STATUS: Record<string, GatewayView['state']> = {
  TO_AUTHORIZE: 'awaiting_authorization',
  TO_VALIDATE: 'authorized',
  TO_CAPTURE: 'authorized',
  CAPTURED: 'captured',
  TO_CREDIT: 'captured',
  CREDITED: 'refunded',
  CANCELLED: 'cancelled',
  REFUSED: 'refused',
  EXPIRED: 'expired',
  TO_CHALLENGE: 'challenge',
};

/**
 * A getTransactionData answer that describes the transaction although its
 * code is not 00. Without getTransDataResponseCode, responseCode may be the
 * call's result or the original transaction's own code (05 for a refused
 * payment, 60 for a pending one): reference §5.6, unconfirmed. A read that
 * failed (03, 12, 25, 30, 34, 40, 90, 99: invalid or retryable codes)
 * describes no transaction, so a refusal or pending code next to a status
 * we understand is the transaction's, and the read succeeded.
 */
function describesTransaction(result: AnsweredResult): boolean {
  if (result.kind !== 'refused' && result.kind !== 'pending') return false;
  const response = result.response;
  if (text(response.getTransDataResponseCode) !== undefined) return false;
  return STATE_OF_STATUS[text(response.transactionStatus) ?? ''] !== undefined;
}

/**
 * What a getTransactionData result says. Its code is read from
 * getTransDataResponseCode, else responseCode (exchange.ts `outcomeCode`), so
 * both readings of the reference give the same answer: 25 is an unknown
 * transaction, a status is the transaction as Sips holds it.
 */
export function inquiryAnswer(result: SipsResult, captureMode: CaptureMode): InquiryAnswer {
  const refusedCredentials = credentialsRefusal(result);
  if (refusedCredentials !== undefined) {
    return { found: 'credentials_refused', responseCode: refusedCredentials };
  }
  switch (result.kind) {
    case 'ok':
      return transactionView(result.response, captureMode);
    case 'unknown':
      return { found: 'unclear', detail: `${result.reason}: ${result.detail}` };
    case 'seal_mismatch':
      return { found: 'unclear', detail: `seal ${result.seal.reason}` };
    default:
      if (result.responseCode === '25') return { found: false };
      if (describesTransaction(result)) return transactionView(result.response, captureMode);
      return { found: 'unclear', detail: `responseCode ${result.responseCode}` };
  }
}

/** The transaction an answer describes, in our words. */
function transactionView(response: SipsResponse, captureMode: CaptureMode): InquiryAnswer {
  const status = text(response.transactionStatus) ?? '';
  let state = STATE_OF_STATUS[status];
  if (state === undefined) {
    return { found: 'unclear', detail: `transactionStatus ${status || '(none)'} not understood` };
  }
  // A VALIDATION-mode transaction in TO_CAPTURE has been validated: for us it is captured.
  if (status === 'TO_CAPTURE' && captureMode === 'validation') state = 'captured';
  const original = minorUnits(response.originAmount) ?? minorUnits(response.amount) ?? 0;
  const remaining = minorUnits(response.remainingAmount) ?? minorUnits(response.currentAmount) ?? 0;
  const view: GatewayView = { state, originalAmount: original, remainingAmount: remaining };
  // Still waiting for its validation: a capture whose answer was lost never happened.
  if (status === 'TO_VALIDATE' && captureMode === 'validation') view.awaitingValidation = true;
  // Sips refunds remitted money only: what a refund becomes depends on it.
  if (status === 'TO_CAPTURE') view.remitted = false;
  if (status === 'CAPTURED' || status === 'CREDITED') view.remitted = true;
  const refunded = minorUnits(response.refundedAmount);
  if (refunded !== undefined) view.refundedAmount = refunded;
  const authorisationId = text(response.authorisationId);
  if (authorisationId) view.authorisationId = authorisationId;
  return { found: true, view };
}
