/**
 * Outgoing HTTP as a dependency: one undici Agent with keep-alive pooling,
 * and a small interface so the Sips client never touches sockets itself.
 * Failures are reported as a closed set of kinds, because for a money-moving
 * call the difference between "never sent" and "sent, no answer" matters.
 */
import { Agent, request, errors as undiciErrors } from 'undici';

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
}

export type HttpFailureKind =
  /** No answer within the call's timeout: the server may have processed it. */
  | 'timeout'
  /** The connection broke after the request was (maybe) sent. */
  | 'reset'
  /** The connection could not be opened: nothing was sent. */
  | 'connect';

export class HttpFailure extends Error {
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpFailure';
  }
}

export interface HttpPostOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
}

export interface HttpTransport {
  post(url: string, body: string, options: HttpPostOptions): Promise<HttpResponse>;
  close(): Promise<void>;
}

export interface UndiciTransportOptions {
  /** Sockets kept per origin. @defaultValue 256 */
  connections?: number;
  /** How long an idle socket is kept. @defaultValue 30 s */
  keepAliveTimeoutMs?: number;
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function classify(error: unknown): HttpFailure {
  if (error instanceof HttpFailure) return error;
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    (error instanceof Error && error.name === 'TimeoutError')
  ) {
    // A connect timeout sent nothing, but it is rare and treating it as
    // unknown only costs an inquiry; the reverse could cost a double charge.
    return new HttpFailure('timeout', 'no answer before the timeout', { cause: error });
  }
  const code =
    (error as { code?: string; cause?: { code?: string } })?.code ??
    (error as { cause?: { code?: string } })?.cause?.code;
  if (code && CONNECT_ERROR_CODES.has(code)) {
    return new HttpFailure('connect', `could not connect (${code})`, { cause: error });
  }
  return new HttpFailure(
    'reset',
    `connection failed: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
    },
  );
}

export function createUndiciTransport(options: UndiciTransportOptions = {}): HttpTransport {
  const agent = new Agent({
    connections: options.connections ?? 256,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    pipelining: 1,
  });
  return {
    async post(url, body, { headers = {}, timeoutMs }) {
      try {
        const response = await request(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
          dispatcher: agent,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.body.text();
        const contentType = response.headers['content-type'];
        return {
          status: response.statusCode,
          contentType: Array.isArray(contentType) ? (contentType[0] ?? '') : (contentType ?? ''),
          body: text,
        };
      } catch (error) {
        throw classify(error);
      }
    },
    close: () => agent.close(),
  };
}
