/**
 * The sealed Office Server JSON client. One method per service; every call
 * returns a `SipsResult` (result.ts) and never throws for anything the server
 * or the network did: a money-moving caller must switch on the outcome, and
 * an exception would blur "refused" with "maybe done".
 *
 * The only exception is `SipsRequestError`, thrown before anything is sent
 * when our own request does not match the service's schema.
 */
import type { Clock } from '../platform/clock.ts';
import { HttpFailure, type HttpTransport } from '../platform/http.ts';
import type { Logger } from '../platform/logger.ts';
import { describeResponseCode } from './codes.ts';
import { maskCardData } from './mask.ts';
import type { CallInfo, SipsResponse, SipsResult, UnknownReason } from './result.ts';
import {
  checkResponse,
  validateRequest,
  type RequestRejectionCode,
  type SipsRequestFields,
  type SipsServiceResponse,
} from './schemas.ts';
import {
  computeSeal,
  DEFAULT_SEAL_ALGORITHM,
  isSealAlgorithm,
  sealDataString,
  verifyAnswerSeal,
  ANSWER_UNSEALED_FIELDS,
  type SealAlgorithm,
} from './seal.ts';
import type { SecretKey } from './secret-key.ts';
import {
  answersWithWalletCode,
  DEFAULT_INTERFACE_VERSION,
  interfaceVersionFor,
  servicePath,
  SIPS_SERVICE_NAMES,
  type SipsServiceName,
} from './services.ts';

export interface SipsClientOptions {
  /** Office Server origin, e.g. `https://office-server.sogenactif.com` (no trailing path). */
  baseUrl: string;
  /** The shop's 15-digit merchantId. */
  merchantId: string;
  secretKey: SecretKey;
  /** Version of `secretKey`; a wrong one makes Sips answer 34. */
  keyVersion: string | number;
  http: HttpTransport;
  clock: Clock;
  logger: Logger;
  /**
   * Interface version number sent with every service, behind the service's
   * prefix (`IR_WS_`, `CR_WS_`, `DR_WS_`, `WR_WS_`).
   * @defaultValue `'2.55'`
   */
  interfaceVersion?: string;
  /** Per-service interface version numbers overriding `interfaceVersion`. @defaultValue none */
  interfaceVersions?: Partial<Record<SipsServiceName, string>>;
  /** Time allowed for the whole exchange before the outcome is `unknown`. @defaultValue 30 000 ms */
  timeoutMs?: number;
  /**
   * Seal algorithm of the requests; named in the request (`sealAlgorithm`)
   * only when it is not the default.
   * @defaultValue `'HMAC-SHA-256'`
   */
  sealAlgorithm?: SealAlgorithm;
  /**
   * Accept answers that carry no seal at all. A seal that is present and
   * wrong is always a `seal_mismatch`. Only for platforms known not to seal.
   * @defaultValue `false`
   */
  allowUnsealedResponses?: boolean;
}

/** Our request does not match the service's schema; nothing was sent. */
export class SipsRequestError extends Error {
  constructor(
    readonly service: SipsServiceName,
    /** The faulty field, dotted inside containers. */
    readonly field: string,
    /** What Sips would have answered: 12 for a missing field, 30 for a bad format. */
    readonly responseCode: RequestRejectionCode,
    detail: string,
  ) {
    super(`${service} request not sent: ${detail}`);
    this.name = 'SipsRequestError';
  }
}

/** What a typed service method returns. */
export type SipsServiceResult<S extends SipsServiceName> = SipsResult<
  SipsServiceResponse<S> & SipsResponse
>;

export type SipsServiceMethods = {
  [S in SipsServiceName]: (fields: SipsRequestFields<S>) => Promise<SipsServiceResult<S>>;
};

export interface SipsClient extends SipsServiceMethods {
  /** Calls any service by name with its business fields. */
  call<S extends SipsServiceName>(
    service: S,
    fields: SipsRequestFields<S>,
  ): Promise<SipsServiceResult<S>>;
  /** The full wire request the client would send (sealed, validated), for evidence and tests. */
  buildRequest<S extends SipsServiceName>(
    service: S,
    fields: SipsRequestFields<S>,
  ): Record<string, unknown>;
  readonly merchantId: string;
  readonly baseUrl: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

type Json = Record<string, unknown>;

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
function outcomeCode(service: SipsServiceName, response: Json): string | undefined {
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

export function createSipsClient(options: SipsClientOptions): SipsClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const algorithm = options.sealAlgorithm ?? DEFAULT_SEAL_ALGORITHM;
  const keyVersion = String(options.keyVersion);
  const { http, clock, logger, secretKey } = options;

  function buildRequest<S extends SipsServiceName>(service: S, fields: SipsRequestFields<S>): Json {
    const version =
      options.interfaceVersions?.[service] ?? options.interfaceVersion ?? DEFAULT_INTERFACE_VERSION;
    // The envelope comes last: configured identity always wins over a stray caller field.
    const message: Json = {
      ...(fields as Json),
      merchantId: options.merchantId,
      interfaceVersion: interfaceVersionFor(service, version),
      keyVersion,
    };
    delete message.seal;
    delete message.sealAlgorithm;
    if (algorithm !== DEFAULT_SEAL_ALGORITHM) message.sealAlgorithm = algorithm;
    message.seal = computeSeal(message, secretKey, algorithm);
    const check = validateRequest(service, message);
    if (!check.ok) {
      throw new SipsRequestError(service, check.errorFieldName, check.responseCode, check.message);
    }
    return message;
  }

  async function call<S extends SipsServiceName>(
    service: S,
    fields: SipsRequestFields<S>,
  ): Promise<SipsServiceResult<S>> {
    const message = buildRequest(service, fields);
    const url = `${baseUrl}${servicePath(service)}`;
    const started = clock.now();
    const info = (): CallInfo => {
      // Masked when first read: most results are never asked for their request.
      let masked: Record<string, unknown> | undefined;
      return {
        service,
        url,
        get request() {
          return (masked ??= maskCardData(message));
        },
        durationMs: clock.now() - started,
      };
    };
    const result = await exchange(service, url, message, info);
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        {
          sips: {
            service,
            url,
            request: result.call.request,
            outcome: result.kind,
            responseCode: 'responseCode' in result ? result.responseCode : undefined,
            durationMs: result.call.durationMs,
          },
        },
        'sips call',
      );
    }
    return result as SipsServiceResult<S>;
  }

  function unknown(
    reason: UnknownReason,
    detail: string,
    call: CallInfo,
    httpStatus?: number,
  ): SipsResult {
    return {
      kind: 'unknown',
      reason,
      detail,
      call,
      ...(httpStatus === undefined ? {} : { httpStatus }),
    };
  }

  async function exchange(
    service: SipsServiceName,
    url: string,
    message: Json,
    info: () => CallInfo,
  ): Promise<SipsResult> {
    let status: number;
    let body: string;
    try {
      const response = await http.post(url, JSON.stringify(message), {
        headers: { 'content-type': 'application/json' },
        timeoutMs,
      });
      status = response.status;
      body = response.body;
    } catch (error) {
      // Whatever broke, the request may have reached Sips: the outcome is unknown.
      const failure =
        error instanceof HttpFailure
          ? error
          : new HttpFailure('reset', error instanceof Error ? error.message : String(error));
      return unknown(failure.kind, failure.message, info());
    }

    if (status >= 500) {
      return unknown('http_status', `HTTP ${status}: ${snippet(body)}`, info(), status);
    }
    const raw = parseJsonObject(body);
    if (raw === undefined) {
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

    // The seal covers the raw answer, every field but `seal`, known or not.
    const received = raw.seal;
    const unsealed = received === undefined || received === null || received === '';
    if (!(unsealed && options.allowUnsealedResponses)) {
      const chosen = isSealAlgorithm(raw.sealAlgorithm) ? raw.sealAlgorithm : algorithm;
      const check = verifyAnswerSeal(raw, secretKey, chosen);
      if (!check.valid) {
        const masked = maskCardData(raw);
        return {
          kind: 'seal_mismatch',
          response: masked,
          seal: {
            data: sealDataString(masked, ANSWER_UNSEALED_FIELDS),
            expected: check.expected,
            reason: check.reason,
            ...(check.received === undefined ? {} : { received: check.received }),
          },
          call: info(),
        };
      }
    }

    const code = outcomeCode(service, raw);
    if (code === undefined) {
      return status >= 200 && status < 300
        ? unknown('non_json', `HTTP ${status}: JSON answer without a response code`, info(), status)
        : unknown(
            'http_status',
            `HTTP ${status}: JSON answer without a response code`,
            info(),
            status,
          );
    }

    const typed = checkResponse(service, raw);
    if (!typed.ok) {
      // The seal verified, so the answer is Sips's own: report it as it is and
      // leave a trace of the fields that did not match our description.
      logger.warn(
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
      ...(typeof errorFieldName === 'string' && errorFieldName.length > 0
        ? { errorFieldName }
        : {}),
      call: info(),
    };
  }

  const methods = Object.fromEntries(
    SIPS_SERVICE_NAMES.map((service) => [
      service,
      (fields: SipsRequestFields<typeof service>) => call(service, fields),
    ]),
  ) as unknown as SipsServiceMethods;

  return {
    ...methods,
    call,
    buildRequest,
    merchantId: options.merchantId,
    baseUrl,
  };
}
