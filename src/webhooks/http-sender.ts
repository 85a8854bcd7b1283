/**
 * The outbound HTTP of webhook delivery: one signed POST to a merchant's
 * endpoint, reported as a closed set of outcomes and never thrown.
 *
 * Endpoints are untrusted, so:
 * - the destination is checked before connecting (literal IPs) and by the
 *   connections' lookup (names, at connect time: see address-guard.ts);
 * - redirects are never followed: a 3xx is the answer;
 * - the answer is bounded in time (to connect, then for the whole answer)
 *   and in size (a few KiB kept, the rest read up to 64 KiB so the socket can
 *   be reused, then the connection is cut);
 * - failure messages are built from error codes and addresses only, never
 *   from the request, whose headers carry signatures.
 * Posts go through an undici Agent (a keep-alive pool per origin).
 */
import type { lookup } from 'node:dns';
import { performance } from 'node:perf_hooks';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import {
  ADDRESS_NOT_ALLOWED,
  guardedLookup,
  inspectEndpointUrl,
  type DestinationPolicy,
} from './address-guard.ts';

export interface WebhookSenderOptions {
  policy: DestinationPolicy;
  /** @defaultValue 5 000 */
  connectTimeoutMs?: number;
  /** Whole answer, headers and body, after connecting. @defaultValue 15 000 */
  responseTimeoutMs?: number;
  /** Bytes of the answer body kept (the rest is read and dropped up to 64 KiB, then the connection is cut). @defaultValue 4 096 */
  maxResponseBytes?: number;
  /** Sockets per origin. @defaultValue 256 */
  maxSockets?: number;
  /** For tests: the resolver used by the guarded lookup. */
  resolve?: typeof lookup;
  /** Milliseconds, for durations. @defaultValue `performance.now()` */
  now?: () => number;
}

export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type WebhookAttemptResult =
  | { kind: 'answered'; status: number; body: string; truncated: boolean; durationMs: number }
  | {
      kind: 'failed';
      reason:
        | 'address_not_allowed'
        | 'connect_timeout'
        | 'response_timeout'
        | 'connection_error'
        | 'invalid_url';
      message: string;
      durationMs: number;
    };

export interface WebhookSender {
  post(request: WebhookPost): Promise<WebhookAttemptResult>;
  /** Destroys the pooled sockets: posts in flight, and any later, fail with `connection_error`. */
  close(): void;
}

export const WEBHOOK_USER_AGENT = 'sogenactif-orchestrator-webhooks';

/** Answer bytes read and dropped at most, past those kept, before the connection is cut. */
const READ_LIMIT_BYTES = 64 * 1024;
/** Answer bytes kept past `maxResponseBytes`, to find the character boundary before it. */
const UTF8_SLACK_BYTES = 3;
/** The error a connection not made in time fails with. */
const CONNECT_TIMEOUT = Object.assign(new Error('connect timeout'), { code: 'ECONNECTTIMEOUT' });

type Failure = Extract<WebhookAttemptResult, { kind: 'failed' }>;
/** A result before its duration is known. */
type Outcome =
  | Omit<Extract<WebhookAttemptResult, { kind: 'answered' }>, 'durationMs'>
  | Omit<Failure, 'durationMs'>;

type Limits = Record<'connectTimeoutMs' | 'responseTimeoutMs' | 'maxResponseBytes', number>;

function failure(reason: Failure['reason'], message: string): Outcome {
  return { kind: 'failed', reason, message };
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
};

/** A failure from a request error: its code and the address tried, nothing of the request. */
function failureOf(error: unknown): Outcome {
  // Several addresses tried (happy eyeballs) fail together: the first one speaks.
  const first =
    error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const { code, address, port, hostname } = (first ?? {}) as Record<string, unknown>;
  if (code === ADDRESS_NOT_ALLOWED && first instanceof Error) {
    return failure('address_not_allowed', first.message);
  }
  if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') {
    return failure('connection_error', 'the sender is closed');
  }
  // Refused by undici before sending (a header it does not allow, say).
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
    return failure('connection_error', `the request could not be sent (${code})`);
  }
  const where =
    typeof address === 'string'
      ? ` to ${address}${typeof port === 'number' ? `:${port}` : ''}`
      : typeof hostname === 'string'
        ? `: ${hostname}`
        : '';
  if (typeof code !== 'string') return failure('connection_error', `connection failed${where}`);
  // undici's "other side closed": the receiver ended the connection, as a reset does.
  const shown = code === 'UND_ERR_SOCKET' ? 'ECONNRESET' : code;
  const known = NETWORK_ERRORS[shown];
  if (known) return failure('connection_error', `${known}${where} (${shown})`);
  if (/CERT|SSL|TLS|EPROTO/.test(code)) {
    return failure('connection_error', `TLS handshake failed${where} (${code})`);
  }
  return failure('connection_error', `connection failed${where} (${code})`);
}

/** The longest prefix of at most `max` bytes that does not split a UTF-8 character. */
function utf8Prefix(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Connects through the guarded lookup, failing a connection not made (TLS handshake included)
 * within `timeoutMs`; undici's own, less precise, then destroys the socket still connecting.
 */
function guardedConnector(options: WebhookSenderOptions, timeoutMs: number) {
  const lookup = guardedLookup(options.policy, options.resolve);
  const connect = buildConnector({ lookup, timeout: timeoutMs });
  return (target: buildConnector.Options, callback: buildConnector.Callback): void => {
    let waiting: buildConnector.Callback | undefined = callback;
    const end: buildConnector.Callback = (...args) => {
      clearTimeout(timer);
      if (waiting) waiting(...args);
      else args[1]?.destroy();
      waiting = undefined;
    };
    const timer = setTimeout(end, timeoutMs, CONNECT_TIMEOUT, null);
    connect(target, end);
  };
}

/**
 * One POST as an undici dispatch handler, settled exactly once. Waiting for a socket of the
 * pool is bounded by both timeouts (connecting by the first); the answer by the second.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private abort: ((reason?: Error) => void) | undefined;
  private settled = false;
  private timer: NodeJS.Timeout;
  private status = 0;
  private readonly kept: Buffer[] = [];
  private total = 0;

  constructor(
    private readonly limits: Limits,
    private readonly resolve: (outcome: Outcome) => void,
  ) {
    const waitMs = limits.connectTimeoutMs + limits.responseTimeoutMs;
    this.timer = setTimeout(() => this.expire(), waitMs);
  }

  settle(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(outcome);
  }

  /** Ends the exchange when its time is up, without a connection or without a complete answer. */
  private expire(): void {
    const ms = this.limits.responseTimeoutMs;
    this.settle(
      this.abort
        ? failure('response_timeout', `no complete answer within ${ms} ms`)
        : failure('connect_timeout', `no connection within ${this.limits.connectTimeoutMs} ms`),
    );
    this.abort?.();
  }

  onConnect(abort: (reason?: Error) => void): void {
    // Given up while waiting for a socket: undici drops it unsent, keeps the socket.
    if (this.settled) throw new Error('the post has ended');
    this.abort = abort;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.expire(), this.limits.responseTimeoutMs);
  }

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.status = statusCode; // 1xx answers are interim
    return true;
  }

  onData(chunk: Buffer): boolean {
    const room = this.limits.maxResponseBytes + UTF8_SLACK_BYTES - this.total;
    if (room > 0) this.kept.push(chunk.length <= room ? chunk : chunk.subarray(0, room));
    this.total += chunk.length;
    return true;
  }

  onComplete(): void {
    // Settled a turn of the event loop later, once the pool has taken the socket back: a
    // post made before would open a connection of its own instead of reusing it.
    clearTimeout(this.timer);
    const outcome = this.answer(this.total > this.limits.maxResponseBytes);
    setImmediate(() => setImmediate(() => this.settle(outcome)));
  }

  onError(error: Error): void {
    if (this.settled) return;
    const code = (error as { code?: unknown } | undefined)?.code;
    // Past the bytes read at most, the pool has cut the connection.
    if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return this.settle(this.answer(true));
    if (code === CONNECT_TIMEOUT.code || code === 'UND_ERR_CONNECT_TIMEOUT') return this.expire();
    if (this.status === 0) return this.settle(failureOf(error));
    const message = `connection closed before the answer was complete (status ${this.status})`;
    this.settle(failure('connection_error', message));
  }

  private answer(truncated: boolean): Outcome {
    const { kept, status } = this;
    const bytes = kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept);
    const body = utf8Prefix(bytes, this.limits.maxResponseBytes).toString('utf8');
    return { kind: 'answered', status, body, truncated };
  }
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_RESPONSE_TIMEOUT_MS = 15_000;

export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const now = options.now ?? (() => performance.now());
  const limits: Limits = {
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    responseTimeoutMs: options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS,
    maxResponseBytes: options.maxResponseBytes ?? 4_096,
  };
  // Idle sockets are closed after a while (sooner when the receiver says so).
  const idleMs = Math.max(30_000, limits.connectTimeoutMs + limits.responseTimeoutMs + 1_000);
  const agent = new Agent({
    connections: options.maxSockets ?? 256,
    pipelining: 1,
    // Each exchange's own timers bound its answer: none of undici's (0).
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: idleMs,
    keepAliveMaxTimeout: idleMs,
    maxResponseSize: limits.maxResponseBytes + UTF8_SLACK_BYTES + READ_LIMIT_BYTES,
    connect: guardedConnector(options, limits.connectTimeoutMs),
  });
  const attempt = (post: WebhookPost): Promise<Outcome> | Outcome => {
    const verdict = inspectEndpointUrl(post.url, options.policy);
    if (!verdict.ok) {
      const reason = verdict.concerns === 'address' ? 'address_not_allowed' : 'invalid_url';
      return failure(reason, `the endpoint URL ${verdict.problem}`);
    }
    // The message's headers, names in lower case, then ours; undici sets content-length.
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(post.headers)) headers[name.toLowerCase()] = value;
    delete headers['content-length'];
    headers['content-type'] = 'application/json';
    headers['user-agent'] = WEBHOOK_USER_AGENT;
    const { origin, pathname, search } = verdict.url;
    return new Promise((resolve) => {
      const handler = new Exchange(limits, resolve);
      const path = `${pathname}${search}`;
      try {
        agent.dispatch({ origin, path, method: 'POST', headers, body: post.body }, handler);
      } catch (error) {
        handler.onError(error as Error);
      }
    });
  };
  return {
    async post(post) {
      const started = now();
      const outcome = await attempt(post);
      return { ...outcome, durationMs: Math.max(0, Math.round(now() - started)) };
    },
    close() {
      agent.destroy().catch(() => undefined);
    },
  };
}
