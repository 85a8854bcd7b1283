/**
 * The sealed Office Server JSON client. One method per service; every call
 * returns a `SipsResult` (result.ts) and never throws for anything the server
 * or the network did: a money-moving caller must switch on the outcome, and
 * an exception would blur "refused" with "maybe done".
 *
 * The only exception is `SipsRequestError`, thrown before anything is sent
 * when our own request does not match the service's schema.
 *
 * The client is a thin binding of top-level functions to one resolved
 * context: `buildSipsRequest` makes the wire request, `callSips` sends and
 * logs it, and `exchange` (exchange.ts) turns the answer into a result.
 */
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Clock } from '../platform/clock.ts';
import { currentLogContext } from '../platform/log-context.ts';
import { TRACER_NAME, tracingActive } from '../platform/tracing.ts';
import type { HttpTransport } from '../platform/http.ts';
import type { Logger } from '../platform/logger.ts';
import { exchange, type CallInfoSource, type Json, type SipsExchangeContext } from './exchange.ts';
import { maskCardData } from './mask.ts';
import type { SipsResponse, SipsResult } from './result.ts';
import {
  validateRequest,
  type RequestRejectionCode,
  type SipsRequestFields,
  type SipsServiceResponse,
} from './schemas.ts';
import { computeSeal, DEFAULT_SEAL_ALGORITHM, type SealAlgorithm } from './seal.ts';
import type { SecretKey } from './secret-key.ts';
import {
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
  /** Older keys of a rotation, still accepted when verifying answers. @defaultValue none */
  olderSecretKeys?: readonly SecretKey[];
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
   * only when it is not the default. Answers are checked with it first, then
   * with HMAC-SHA-256 (the platform may seal answers with it whatever the
   * request used); the result's `sealAlgorithm` says which one verified.
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
  /** The key version requests are sealed with. */
  readonly keyVersion: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** A client's options resolved once: what every request and exchange reads. */
export interface SipsClientContext extends SipsExchangeContext {
  /** Office Server origin without trailing slashes. */
  readonly baseUrl: string;
  readonly merchantId: string;
  readonly keyVersion: string;
  readonly clock: Clock;
  readonly interfaceVersion: string | undefined;
  readonly interfaceVersions: Partial<Record<SipsServiceName, string>> | undefined;
}

export function createSipsClientContext(options: SipsClientOptions): SipsClientContext {
  return {
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    merchantId: options.merchantId,
    keyVersion: String(options.keyVersion),
    clock: options.clock,
    interfaceVersion: options.interfaceVersion,
    interfaceVersions: options.interfaceVersions,
    http: options.http,
    logger: options.logger,
    secretKey: options.secretKey,
    olderSecretKeys: options.olderSecretKeys ?? [],
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    algorithm: options.sealAlgorithm ?? DEFAULT_SEAL_ALGORITHM,
    allowUnsealedResponses: options.allowUnsealedResponses,
  };
}

/** The full wire request for `service`: envelope added, sealed, validated against the schema. */
export function buildSipsRequest<S extends SipsServiceName>(
  context: SipsClientContext,
  service: S,
  fields: SipsRequestFields<S>,
): Json {
  const version =
    context.interfaceVersions?.[service] ?? context.interfaceVersion ?? DEFAULT_INTERFACE_VERSION;
  // The envelope comes last: configured identity always wins over a stray caller field.
  const message: Json = {
    ...(fields as Json),
    merchantId: context.merchantId,
    interfaceVersion: interfaceVersionFor(service, version),
    keyVersion: context.keyVersion,
  };
  delete message.seal;
  delete message.sealAlgorithm;
  const { algorithm } = context;
  if (algorithm !== DEFAULT_SEAL_ALGORITHM) message.sealAlgorithm = algorithm;
  message.seal = computeSeal(message, context.secretKey, algorithm);
  const check = validateRequest(service, message);
  if (!check.ok) {
    throw new SipsRequestError(service, check.errorFieldName, check.responseCode, check.message);
  }
  return message;
}

/** Describes the call at the moment a result is made, its duration counted from `started`. */
function callInfoSource(
  context: SipsClientContext,
  service: SipsServiceName,
  url: string,
  message: Json,
  started: number,
): CallInfoSource {
  return () => {
    // Masked when first read: most results are never asked for their request.
    let masked: Record<string, unknown> | undefined;
    return {
      service,
      url,
      get request() {
        return (masked ??= maskCardData(message));
      },
      durationMs: context.clock.now() - started,
    };
  };
}

/**
 * One line per call at debug (the masked request included); a seal that does
 * not verify at warn, for ops: a wrong key, or an answer not from Sips. The
 * payment and job come from the log context.
 */
function logCall(
  context: SipsClientContext,
  service: SipsServiceName,
  url: string,
  result: SipsResult,
): void {
  if (result.kind === 'seal_mismatch') {
    context.logger.warn(
      {
        sips: {
          service,
          url,
          reason: result.seal.reason,
          algorithm: result.seal.algorithm,
          keyVersion: context.keyVersion,
          durationMs: result.call.durationMs,
        },
      },
      'sips answer seal mismatch',
    );
  }
  if (!context.logger.isLevelEnabled('debug')) return;
  context.logger.debug(
    {
      sips: {
        service,
        url,
        request: result.call.request,
        outcome: result.kind,
        responseCode: 'responseCode' in result ? result.responseCode : undefined,
        sealAlgorithm: 'sealAlgorithm' in result ? result.sealAlgorithm : undefined,
        durationMs: result.call.durationMs,
      },
    },
    'sips call',
  );
}

/** Builds, sends and logs one call; throws only `SipsRequestError`, before sending. */
export async function callSips<S extends SipsServiceName>(
  context: SipsClientContext,
  service: S,
  fields: SipsRequestFields<S>,
): Promise<SipsServiceResult<S>> {
  const message = buildSipsRequest(context, service, fields);
  const url = `${context.baseUrl}${servicePath(service)}`;
  const send = async (): Promise<SipsServiceResult<S>> => {
    const started = context.clock.now();
    const info = callInfoSource(context, service, url, message, started);
    const result = await exchange(context, service, url, message, info);
    logCall(context, service, url, result);
    return result as SipsServiceResult<S>;
  };
  return tracingActive() ? traced(service, send) : send();
}

/**
 * `send` inside a client span `sips <service>` (the HTTP call's span is its
 * child): the service, the payment, the outcome and the response code.
 */
function traced<R extends SipsResult>(
  service: SipsServiceName,
  send: () => Promise<R>,
): Promise<R> {
  const paymentId = currentLogContext()?.paymentId;
  return trace.getTracer(TRACER_NAME).startActiveSpan(
    `sips ${service}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'sips.service': service, ...(paymentId ? { 'payment.id': paymentId } : {}) },
    },
    async (span: Span) => {
      try {
        const result = await send();
        span.setAttribute('sips.outcome', result.kind);
        if ('responseCode' in result) span.setAttribute('sips.response_code', result.responseCode);
        if (result.kind === 'unknown' || result.kind === 'seal_mismatch') {
          span.setStatus({ code: SpanStatusCode.ERROR, message: result.kind });
        }
        return result;
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

export function createSipsClient(options: SipsClientOptions): SipsClient {
  const context = createSipsClientContext(options);
  const call = <S extends SipsServiceName>(
    service: S,
    fields: SipsRequestFields<S>,
  ): Promise<SipsServiceResult<S>> => callSips(context, service, fields);
  const buildRequest = <S extends SipsServiceName>(
    service: S,
    fields: SipsRequestFields<S>,
  ): Json => buildSipsRequest(context, service, fields);

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
    merchantId: context.merchantId,
    baseUrl: context.baseUrl,
    keyVersion: context.keyVersion,
  };
}
