/**
 * Outgoing HTTP as a dependency: one undici Agent with keep-alive pooling,
 * and a small interface so the Sips client never touches sockets itself.
 * Failures are reported as a closed set of kinds, because for a money-moving
 * call the difference between "never sent" and "sent, no answer" matters.
 */
import { Agent, errors as undiciErrors } from 'undici';

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

/** Origin and path of a URL, parsed once per distinct URL (there is one per Sips service). */
function targetOf(
  cache: Map<string, { origin: string; path: string }>,
  url: string,
): { origin: string; path: string } {
  let target = cache.get(url);
  if (target === undefined) {
    const parsed = new URL(url);
    target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    if (cache.size < 1_000) cache.set(url, target);
  }
  return target;
}

const CONTENT_TYPE = 'content-type';

/** The content-type of undici's raw headers (name, value, name, value...), '' when absent. */
function contentTypeOf(rawHeaders: readonly Buffer[]): string {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as Buffer;
    if (
      name.length === CONTENT_TYPE.length &&
      name.toString('latin1').toLowerCase() === CONTENT_TYPE
    ) {
      return (rawHeaders[i + 1] as Buffer).toString('latin1');
    }
  }
  return '';
}

export function createUndiciTransport(options: UndiciTransportOptions = {}): HttpTransport {
  const agent = new Agent({
    connections: options.connections ?? 256,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    pipelining: 1,
  });
  const targets = new Map<string, { origin: string; path: string }>();
  return {
    post(url, body, { headers = {}, timeoutMs }) {
      // undici's dispatch API with a handler that collects the body: the
      // request() API would wrap each answer in a stream and an abort signal.
      return new Promise<HttpResponse>((resolve, reject) => {
        let target: { origin: string; path: string };
        try {
          target = targetOf(targets, url);
        } catch (error) {
          reject(classify(error));
          return;
        }
        let abort: ((reason?: Error) => void) | undefined;
        let reason: HttpFailure | undefined;
        let settled = false;
        let status = 0;
        let contentType = '';
        const chunks: Buffer[] = [];
        // The whole exchange, as a single timer: queued, connecting, waiting or reading.
        const timer = setTimeout(() => {
          reason = new HttpFailure('timeout', 'no answer before the timeout');
          if (abort) abort(reason);
        }, timeoutMs);
        const finish = (error: unknown, response?: HttpResponse): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (response) resolve(response);
          else reject(classify(error));
        };
        try {
          agent.dispatch(
            {
              origin: target.origin,
              path: target.path,
              method: 'POST',
              body,
              headers: {
                'content-type': 'application/json',
                accept: 'application/json',
                ...headers,
              },
              headersTimeout: timeoutMs,
              bodyTimeout: timeoutMs,
            },
            {
              onConnect(abortRequest: (reason?: Error) => void) {
                abort = abortRequest;
                if (reason) abortRequest(reason);
              },
              onHeaders(statusCode: number, rawHeaders: Buffer[]) {
                if (statusCode < 200) return true;
                status = statusCode;
                contentType = contentTypeOf(rawHeaders);
                return true;
              },
              onData(chunk: Buffer) {
                chunks.push(chunk);
                return true;
              },
              onComplete() {
                const text =
                  chunks.length === 1
                    ? (chunks[0] as Buffer).toString('utf8')
                    : Buffer.concat(chunks).toString('utf8');
                finish(undefined, { status, contentType, body: text });
              },
              onError(error: Error) {
                finish(error);
              },
            } as unknown as Parameters<Agent['dispatch']>[1],
          );
        } catch (error) {
          finish(error);
        }
      });
    },
    close: () => agent.close(),
  };
}
