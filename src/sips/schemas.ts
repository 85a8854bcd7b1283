/**
 * The wire schemas of every Office Server JSON service, and the request
 * check the simulator answers 12 / 30 from. Field formats live in
 * `schemas/fields.ts`, containers in `schemas/containers.ts`, the per-service
 * shapes in `schemas/requests.ts` and `schemas/responses.ts`.
 */
import type { z } from 'zod';
import type { SipsServiceName } from './services.ts';
import * as requests from './schemas/requests.ts';
import * as responses from './schemas/responses.ts';
import { RESPONSE_FIELD_KINDS, type ResponseFieldKind } from './schemas/responses.ts';

export const SERVICE_SCHEMAS = {
  cardOrder: {
    request: requests.cardOrderRequestSchema,
    response: responses.cardOrderResponseSchema,
  },
  walletOrder: {
    request: requests.walletOrderRequestSchema,
    response: responses.walletOrderResponseSchema,
  },
  cardCheckEnrollment: {
    request: requests.cardCheckEnrollmentRequestSchema,
    response: responses.cardCheckEnrollmentResponseSchema,
  },
  walletCheckEnrollment: {
    request: requests.walletCheckEnrollmentRequestSchema,
    response: responses.walletCheckEnrollmentResponseSchema,
  },
  cardValidateAuthentication: {
    request: requests.cardValidateAuthenticationRequestSchema,
    response: responses.cardValidateAuthenticationResponseSchema,
  },
  cardValidateAuthenticationAndOrder: {
    request: requests.cardValidateAuthenticationAndOrderRequestSchema,
    response: responses.cardValidateAuthenticationAndOrderResponseSchema,
  },
  paymentProviderInitialize: {
    request: requests.paymentProviderInitializeRequestSchema,
    response: responses.paymentProviderInitializeResponseSchema,
  },
  paymentProviderFinalize: {
    request: requests.paymentProviderFinalizeRequestSchema,
    response: responses.paymentProviderFinalizeResponseSchema,
  },
  walletIssuerWalletInitialize: {
    request: requests.walletIssuerWalletInitializeRequestSchema,
    response: responses.walletIssuerWalletInitializeResponseSchema,
  },
  walletIssuerWalletFinalize: {
    request: requests.walletIssuerWalletFinalizeRequestSchema,
    response: responses.walletIssuerWalletFinalizeResponseSchema,
  },
  validate: { request: requests.validateRequestSchema, response: responses.validateResponseSchema },
  cancel: { request: requests.cancelRequestSchema, response: responses.cancelResponseSchema },
  refund: { request: requests.refundRequestSchema, response: responses.refundResponseSchema },
  duplicate: {
    request: requests.duplicateRequestSchema,
    response: responses.duplicateResponseSchema,
  },
  acceptChallenge: {
    request: requests.acceptChallengeRequestSchema,
    response: responses.acceptChallengeResponseSchema,
  },
  refuseChallenge: {
    request: requests.refuseChallengeRequestSchema,
    response: responses.refuseChallengeResponseSchema,
  },
  creditHolder: {
    request: requests.creditHolderRequestSchema,
    response: responses.creditHolderResponseSchema,
  },
  walletCreditHolder: {
    request: requests.walletCreditHolderRequestSchema,
    response: responses.walletCreditHolderResponseSchema,
  },
  getTransactionData: {
    request: requests.getTransactionDataRequestSchema,
    response: responses.getTransactionDataResponseSchema,
  },
  addCard: { request: requests.addCardRequestSchema, response: responses.addCardResponseSchema },
  getWalletData: {
    request: requests.getWalletDataRequestSchema,
    response: responses.getWalletDataResponseSchema,
  },
  deletePaymentMean: {
    request: requests.deletePaymentMeanRequestSchema,
    response: responses.deletePaymentMeanResponseSchema,
  },
} as const satisfies Record<SipsServiceName, { request: z.ZodType; response: z.ZodType }>;

type Schemas = typeof SERVICE_SCHEMAS;

/** The full wire request of a service, as accepted (input side: amounts as integers or digit strings). */
export type SipsRequest<S extends SipsServiceName> = z.input<Schemas[S]['request']>;
/** The wire response of a service; unknown fields are kept. */
export type SipsServiceResponse<S extends SipsServiceName> = z.output<Schemas[S]['response']>;

/** The request fields the client adds to every call; callers never pass them. */
export const ENVELOPE_FIELDS = [
  'merchantId',
  'interfaceVersion',
  'keyVersion',
  'seal',
  'sealAlgorithm',
] as const;
export type EnvelopeField = (typeof ENVELOPE_FIELDS)[number];

// `Omit` would collapse a loose object's known keys into its index signature;
// a key-remapping mapped type keeps both.
type Without<T, K extends PropertyKey> = { [P in keyof T as P extends K ? never : P]: T[P] };

/** The business fields of a request: what callers of the client pass. */
export type SipsRequestFields<S extends SipsServiceName> = Without<SipsRequest<S>, EnvelopeField>;

/** A call of service `S` (of any one service of the union `S`) with its business fields. */
export type SipsCall<S extends SipsServiceName = SipsServiceName> = {
  [P in S]: { service: P; fields: SipsRequestFields<P> };
}[S];

export type CardOrderRequest = SipsRequest<'cardOrder'>;
export type CardOrderResponse = SipsServiceResponse<'cardOrder'>;
export type WalletOrderRequest = SipsRequest<'walletOrder'>;
export type WalletOrderResponse = SipsServiceResponse<'walletOrder'>;
export type CardCheckEnrollmentRequest = SipsRequest<'cardCheckEnrollment'>;
export type CardCheckEnrollmentResponse = SipsServiceResponse<'cardCheckEnrollment'>;
export type WalletCheckEnrollmentRequest = SipsRequest<'walletCheckEnrollment'>;
export type WalletCheckEnrollmentResponse = SipsServiceResponse<'walletCheckEnrollment'>;
export type CardValidateAuthenticationRequest = SipsRequest<'cardValidateAuthentication'>;
export type CardValidateAuthenticationResponse = SipsServiceResponse<'cardValidateAuthentication'>;
export type CardValidateAuthenticationAndOrderRequest =
  SipsRequest<'cardValidateAuthenticationAndOrder'>;
export type CardValidateAuthenticationAndOrderResponse =
  SipsServiceResponse<'cardValidateAuthenticationAndOrder'>;
export type PaymentProviderInitializeRequest = SipsRequest<'paymentProviderInitialize'>;
export type PaymentProviderInitializeResponse = SipsServiceResponse<'paymentProviderInitialize'>;
export type PaymentProviderFinalizeRequest = SipsRequest<'paymentProviderFinalize'>;
export type PaymentProviderFinalizeResponse = SipsServiceResponse<'paymentProviderFinalize'>;
export type ValidateRequest = SipsRequest<'validate'>;
export type ValidateResponse = SipsServiceResponse<'validate'>;
export type CancelRequest = SipsRequest<'cancel'>;
export type CancelResponse = SipsServiceResponse<'cancel'>;
export type RefundRequest = SipsRequest<'refund'>;
export type RefundResponse = SipsServiceResponse<'refund'>;
export type DuplicateRequest = SipsRequest<'duplicate'>;
export type DuplicateResponse = SipsServiceResponse<'duplicate'>;
export type AcceptChallengeRequest = SipsRequest<'acceptChallenge'>;
export type AcceptChallengeResponse = SipsServiceResponse<'acceptChallenge'>;
export type RefuseChallengeRequest = SipsRequest<'refuseChallenge'>;
export type RefuseChallengeResponse = SipsServiceResponse<'refuseChallenge'>;
export type CreditHolderRequest = SipsRequest<'creditHolder'>;
export type CreditHolderResponse = SipsServiceResponse<'creditHolder'>;
export type WalletIssuerWalletInitializeRequest = SipsRequest<'walletIssuerWalletInitialize'>;
export type WalletIssuerWalletInitializeResponse =
  SipsServiceResponse<'walletIssuerWalletInitialize'>;
export type WalletIssuerWalletFinalizeRequest = SipsRequest<'walletIssuerWalletFinalize'>;
export type WalletIssuerWalletFinalizeResponse = SipsServiceResponse<'walletIssuerWalletFinalize'>;
export type WalletCreditHolderRequest = SipsRequest<'walletCreditHolder'>;
export type WalletCreditHolderResponse = SipsServiceResponse<'walletCreditHolder'>;
export type GetTransactionDataRequest = SipsRequest<'getTransactionData'>;
export type GetTransactionDataResponse = SipsServiceResponse<'getTransactionData'>;
export type AddCardRequest = SipsRequest<'addCard'>;
export type AddCardResponse = SipsServiceResponse<'addCard'>;
export type GetWalletDataRequest = SipsRequest<'getWalletData'>;
export type GetWalletDataResponse = SipsServiceResponse<'getWalletData'>;
export type DeletePaymentMeanRequest = SipsRequest<'deletePaymentMean'>;
export type DeletePaymentMeanResponse = SipsServiceResponse<'deletePaymentMean'>;

/** responseCode Sips answers for a request it cannot accept: 12 missing field, 30 format error. */
export type RequestRejectionCode = '12' | '30';

export type RequestValidation<S extends SipsServiceName> =
  | { ok: true; value: SipsRequest<S> }
  | {
      ok: false;
      responseCode: RequestRejectionCode;
      /** The faulty field: a top-level name, or a dotted path inside a container (`customerContact.email`, `shoppingCartDetail.shoppingCartItemList.0.productQuantity`). */
      errorFieldName: string;
      message: string;
    };

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let current = body;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/** Absent, null or empty: sealed alike (they contribute nothing), and treated alike as missing. */
function isMissing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/**
 * Checks a full wire request the way the server does. A missing required
 * field answers 12 and a present but ill-formatted one 30, both naming the
 * field. When a request has both kinds of fault, the missing field is
 * reported first; among faults of one kind, the first in schema order.
 */
export function validateRequest<S extends SipsServiceName>(
  service: S,
  body: unknown,
): RequestValidation<S> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return {
      ok: false,
      responseCode: '30',
      errorFieldName: '',
      message: 'the request is not a JSON object',
    };
  }
  const schema: z.ZodType = SERVICE_SCHEMAS[service].request;
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data as SipsRequest<S> };

  const faults = parsed.error.issues.map((issue) => ({
    field: issue.path.map(String).join('.'),
    missing: isMissing(valueAt(body, issue.path)),
    message: issue.message,
  }));
  const fault = faults.find((candidate) => candidate.missing) ?? faults[0];
  if (!fault) {
    return { ok: false, responseCode: '30', errorFieldName: '', message: 'invalid request' };
  }
  return fault.missing
    ? {
        ok: false,
        responseCode: '12',
        errorFieldName: fault.field,
        message: `${fault.field} is required`,
      }
    : {
        ok: false,
        responseCode: '30',
        errorFieldName: fault.field,
        message: `${fault.field}: ${fault.message}`,
      };
}

type Json = Record<string, unknown>;

const FIELD_CHECKS: Record<ResponseFieldKind, (value: unknown) => boolean> = {
  scalar: (value) =>
    value === undefined ||
    value === null ||
    typeof value === 'string' ||
    (typeof value === 'number' && Number.isFinite(value)),
  list: (value) => value === undefined || value === null || Array.isArray(value),
  container: (value) =>
    value === undefined || value === null || (typeof value === 'object' && !Array.isArray(value)),
  code: (value) => typeof value === 'string' && value.length > 0,
  optionalCode: (value) =>
    value === undefined || value === null || (typeof value === 'string' && value.length > 0),
};

/**
 * A service's response schema checked by hand, when it is a loose object made
 * only of the building blocks of responses.ts (every one but
 * getTransactionData, which has a refinement): the same rules as zod, for
 * the hot path. Null when the service has no such check.
 */
function handCheckOf(service: SipsServiceName): ((response: Json) => boolean) | null {
  const def = (SERVICE_SCHEMAS[service].response as unknown as { _zod: { def: ObjectDef } })._zod
    .def;
  if (def.type !== 'object' || def.catchall?._zod.def.type !== 'unknown') return null;
  if (def.checks !== undefined && def.checks.length > 0) return null;
  const kinds = new Map<string, ResponseFieldKind>();
  const required: string[] = [];
  for (const [name, field] of Object.entries(def.shape)) {
    const kind = RESPONSE_FIELD_KINDS.get(field);
    if (kind === undefined) return null;
    kinds.set(name, kind);
    if (kind === 'code') required.push(name);
  }
  return (response) => {
    for (const name of required) if (!FIELD_CHECKS.code(response[name])) return false;
    for (const name in response) {
      if (!Object.hasOwn(response, name)) continue;
      const kind = kinds.get(name);
      if (kind !== undefined && !FIELD_CHECKS[kind](response[name])) return false;
    }
    return true;
  };
}

interface ObjectDef {
  type: string;
  shape: Record<string, z.ZodType>;
  catchall?: { _zod: { def: { type: string } } };
  checks?: unknown[];
}

const handChecks = new Map<SipsServiceName, ((response: Json) => boolean) | null>();

/**
 * Checks a Sips answer (a JSON object) against its service's response schema.
 * A hand-written check with the same rules runs first; zod runs when it
 * fails (to name the fields) or when the service has none.
 */
export function checkResponse(
  service: SipsServiceName,
  response: Json,
): { ok: true } | { ok: false; fields: string[] } {
  let check = handChecks.get(service);
  if (check === undefined) {
    check = handCheckOf(service);
    handChecks.set(service, check);
  }
  if (check !== null && check(response)) return { ok: true };
  const typed = SERVICE_SCHEMAS[service].response.safeParse(response);
  return typed.success
    ? { ok: true }
    : { ok: false, fields: typed.error.issues.map((issue) => issue.path.join('.')) };
}

export * as requestSchemas from './schemas/requests.ts';
export * as responseSchemas from './schemas/responses.ts';
