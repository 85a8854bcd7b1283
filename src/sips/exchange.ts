/**
 * One sealed exchange with the Office Server: post a request that is already
 * built and sealed, then turn whatever came back (or did not) into a
 * `SipsResult` (result.ts). Nothing here throws for anything the server or
 * the network did; the client (client.ts) builds the request and logs the call.
 */
import { HttpFailure, type HttpTransport } from '../platform/http.ts';
import type { Logger } from '../platform/logger.ts';
import { describeResponseCode } from './codes.ts';
import { maskCardData } from './mask.ts';
import type {
  AnsweredResult,
  CallInfo,
  SealMismatchResult,
  SipsResponse,
  SipsResult,
  UnknownReason,
  UnknownResult,
} from './result.ts';
import { checkResponse } from './schemas.ts';
import {
  answerSealAlgorithms,
  sealDataString,
  verifyAnswerSealUnder,
  ANSWER_UNSEALED_FIELDS,
  type SealAlgorithm,
} from './seal.ts';
import type { SecretKey } from './secret-key.ts';
import { answersWithWalletCode, type SipsServiceName } from './services.ts';

export type Json = Record<string, unknown>;

/** What an exchange needs from the client, resolved once from its options. */
export interface SipsExchangeContext {
  readonly http: HttpTransport;
  readonly logger: Logger;
  readonly secretKey: SecretKey;
  /**
   * Older keys of a rotation, still accepted on answers (never used to seal a
   * request): answers to calls sealed before the switch verify meanwhile.
   */
  readonly olderSecretKeys: readonly SecretKey[];
  /** Time allowed for the whole exchange before the outcome is `unknown`. */
  readonly timeoutMs: number;
  /**
   * Seal algorithm of the requests, tried first on answers that do not name
   * theirs; HMAC-SHA-256 is tried next (`checkAnswerSeal`).
   */
  readonly algorithm: SealAlgorithm;
  /** Accept answers that carry no seal at all (a wrong seal never passes). */
  readonly allowUnsealedResponses: boolean | undefined;
}

/** The call's description, made when a result is returned (its duration ends there). */
export type CallInfoSource = () => CallInfo;

function isJsonObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseJsonObject(body: string): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return isJsonObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function codeText(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isInteger(value)) return String(value).padStart(2, '0');
  return undefined;
}

/**
 * The code that says what this call did. Wallet functions answer
 * walletResponseCode. getTransactionData may answer getTransDataResponseCode
 * (the call's own result) next to responseCode (the original transaction's
 * result): the call's own result wins, or a failed read would be taken for a
 * refused payment.
 */
export function outcomeCode(service: SipsServiceName, response: Json): string | undefined {
  if (answersWithWalletCode(service)) {
    return codeText(response.walletResponseCode) ?? codeText(response.responseCode);
  }
  if (service === 'getTransactionData') {
    return codeText(response.getTransDataResponseCode) ?? codeText(response.responseCode);
  }
  return codeText(response.responseCode);
}

function snippet(body: string): string {
  const compact = body.replace(/\s+/g, ' ').trim();
  return compact.length > 120 ? `${compact.slice(0, 120)}…` : compact;
}

function unknown(
  reason: UnknownReason,
  detail: string,
  call: CallInfo,
  httpStatus?: number,
): UnknownResult {
  return {
    kind: 'unknown',
    reason,
    detail,
    call,
    ...(httpStatus === undefined ? {} : { httpStatus }),
  };
}

/** What came back over HTTP: a status and a body, or the `unknown` result of a failure. */
export type PostOutcome =
  | { readonly sent: true; readonly status: number; readonly body: string }
  | { readonly sent: false; readonly result: UnknownResult };

/** Posts the sealed request; a transport failure comes back as an `unknown` result. */
export async function postRequest(
  context: SipsExchangeContext,
  url: string,
  message: Json,
  info: CallInfoSource,
): Promise<PostOutcome> {
  try {
    const response = await context.http.post(url, JSON.stringify(message), {
      headers: { 'content-type': 'application/json' },
      timeoutMs: context.timeoutMs,
    });
    return { sent: true, status: response.status, body: response.body };
  } catch (error) {
    // Whatever broke, the request may have reached Sips: the outcome is unknown.
    const failure =
      error instanceof HttpFailure
        ? error
        : new HttpFailure('reset', error instanceof Error ? error.message : String(error));
    return { sent: false, result: unknown(failure.kind, failure.message, info()) };
  }
}

/** An answer with no JSON object in its body. */
function answerWithoutJson(status: number, body: string, info: CallInfoSource): UnknownResult {
  // A 4xx without JSON (e.g. 415 HTML for a wrong Content-Type) was most
  // likely not processed, but nothing in it is signed: it stays `unknown`
  // and the inquiry settles it, rather than widening the closed union.
  return status >= 200 && status < 300
    ? unknown(
        'non_json',
        `HTTP ${status} with a body that is not a JSON object: ${snippet(body)}`,
        info(),
        status,
      )
    : unknown(
        'http_status',
        `HTTP ${status} without a JSON answer, probably not processed: ${snippet(body)}`,
        info(),
        status,
      );
}

/** What the answer's seal says: trusted (under which algorithm, if sealed) or a mismatch. */
export type AnswerSealOutcome =
  | { readonly trusted: true; readonly algorithm?: SealAlgorithm }
  | { readonly trusted: false; readonly result: SealMismatchResult };

/**
 * Checks the answer's seal under the algorithm it names or the request's,
 * then HMAC-SHA-256 (seal.ts `answerSealAlgorithms`). A seal that matches
 * none is the `seal_mismatch` result with its masked evidence, as is a
 * missing seal unless unsealed answers are accepted.
 */
export function checkAnswerSeal(
  context: SipsExchangeContext,
  raw: Json,
  info: CallInfoSource,
): AnswerSealOutcome {
  // The seal covers the raw answer, every field but `seal`, known or not.
  const received = raw.seal;
  const unsealed = received === undefined || received === null || received === '';
  if (unsealed && context.allowUnsealedResponses) return { trusted: true };
  const algorithms = answerSealAlgorithms(context.algorithm, raw.sealAlgorithm);
  const verified = verifyAnswerSealUnder(raw, context.secretKey, algorithms);
  if (verified.valid) return { trusted: true, algorithm: verified.algorithm };
  for (const older of context.olderSecretKeys) {
    const underOlder = verifyAnswerSealUnder(raw, older, algorithms);
    if (underOlder.valid) return { trusted: true, algorithm: underOlder.algorithm };
  }
  const { check } = verified;
  const masked = maskCardData(raw);
  return {
    trusted: false,
    result: {
      kind: 'seal_mismatch',
      response: masked,
      seal: {
        data: sealDataString(masked, ANSWER_UNSEALED_FIELDS),
        expected: check.expected,
        reason: check.reason,
        ...(check.received === undefined ? {} : { received: check.received }),
        algorithm: verified.algorithm,
      },
      call: info(),
    },
  };
}

/** A JSON answer with a verified (or accepted) seal but no response code. */
function answerWithoutCode(status: number, info: CallInfoSource): UnknownResult {
  return status >= 200 && status < 300
    ? unknown('non_json', `HTTP ${status}: JSON answer without a response code`, info(), status)
    : unknown('http_status', `HTTP ${status}: JSON answer without a response code`, info(), status);
}

/** Sips's own answer, classified by its response code. */
function answered(
  context: SipsExchangeContext,
  service: SipsServiceName,
  raw: Json,
  code: string,
  sealAlgorithm: SealAlgorithm | undefined,
  info: CallInfoSource,
): AnsweredResult {
  const typed = checkResponse(service, raw);
  if (!typed.ok) {
    // The seal verified, so the answer is Sips's own: report it as it is and
    // leave a trace of the fields that did not match our description.
    context.logger.warn(
      { sips: { service, fields: typed.fields } },
      'sips answer does not match the response schema',
    );
  }
  const row = describeResponseCode(code);
  const errorFieldName = raw.errorFieldName;
  return {
    kind: row.kind,
    responseCode: code,
    code: row,
    response: raw as SipsResponse,
    ...(typeof errorFieldName === 'string' && errorFieldName.length > 0 ? { errorFieldName } : {}),
    ...(sealAlgorithm === undefined ? {} : { sealAlgorithm }),
    call: info(),
  };
}

/** Posts a built, sealed request to `url` and returns what it did; never throws. */
export async function exchange(
  context: SipsExchangeContext,
  service: SipsServiceName,
  url: string,
  message: Json,
  info: CallInfoSource,
): Promise<SipsResult> {
  const posted = await postRequest(context, url, message, info);
  if (!posted.sent) return posted.result;
  const { status, body } = posted;

  if (status >= 500) {
    return unknown('http_status', `HTTP ${status}: ${snippet(body)}`, info(), status);
  }
  const raw = parseJsonObject(body);
  if (raw === undefined) return answerWithoutJson(status, body, info);

  const seal = checkAnswerSeal(context, raw, info);
  if (!seal.trusted) return seal.result;

  const code = outcomeCode(service, raw);
  if (code === undefined) return answerWithoutCode(status, info);
  return answered(context, service, raw, code, seal.algorithm, info);
}
