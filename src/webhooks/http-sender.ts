/**
 * The outbound HTTP of webhook delivery: one signed POST to a merchant's
 * endpoint, reported as a closed set of outcomes and never thrown.
 *
 * Endpoints are untrusted, so:
 * - the destination is checked before connecting (literal IPs) and by the
 *   agents' lookup (names, at connect time: see address-guard.ts);
 * - redirects are never followed: a 3xx is the answer;
 * - the answer is bounded in time (to connect, then for the whole answer)
 *   and in size (a few KiB kept, the rest read up to 64 KiB so the socket can
 *   be reused, then the connection is cut);
 * - failure messages are built from error codes and addresses only, never
 *   from the request, whose headers carry signatures.
 */
import type { lookup } from 'node:dns';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
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
  /** Destroys the pooled sockets; posts still in flight fail with `connection_error`. */
  close(): void;
}

export const WEBHOOK_USER_AGENT = 'sogenactif-orchestrator-webhooks';

/** Answer bytes read at most before the connection is cut. */
const READ_LIMIT_BYTES = 64 * 1024;

type Failure = Extract<WebhookAttemptResult, { kind: 'failed' }>;
/** A result before its duration is known. */
type Outcome =
  | Omit<Extract<WebhookAttemptResult, { kind: 'answered' }>, 'durationMs'>
  | Omit<Failure, 'durationMs'>;

interface Limits {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  maxResponseBytes: number;
}

const failure = (reason: Failure['reason'], message: string): Outcome => ({
  kind: 'failed',
  reason,
  message,
});

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
  const { code, address, port, hostname } = (first ?? {}) as {
    code?: unknown;
    address?: unknown;
    port?: unknown;
    hostname?: unknown;
  };
  if (code === ADDRESS_NOT_ALLOWED && first instanceof Error) {
    return failure('address_not_allowed', first.message);
  }
  const where =
    typeof address === 'string'
      ? ` to ${address}${typeof port === 'number' ? `:${port}` : ''}`
      : typeof hostname === 'string'
        ? `: ${hostname}`
        : '';
  if (typeof code !== 'string') return failure('connection_error', `connection failed${where}`);
  const known = NETWORK_ERRORS[code];
  if (known) return failure('connection_error', `${known}${where} (${code})`);
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

/** Reads an answer: its first bytes kept, the rest dropped, cut past the read limit. */
function readAnswer(
  response: IncomingMessage,
  maxBytes: number,
  settle: (outcome: Outcome) => void,
): void {
  const kept: Buffer[] = [];
  // A few bytes past the limit, to find the character boundary before it.
  const keepBytes = maxBytes + 3;
  let keptBytes = 0;
  let total = 0;
  const answer = (): Outcome => {
    const body = utf8Prefix(Buffer.concat(kept), maxBytes).toString('utf8');
    const status = response.statusCode ?? 0;
    return { kind: 'answered', status, body, truncated: total > maxBytes };
  };
  response.on('data', (chunk: Buffer) => {
    total += chunk.length;
    if (keptBytes < keepBytes) {
      const part = chunk.subarray(0, keepBytes - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
    if (total > Math.max(READ_LIMIT_BYTES, keepBytes)) {
      settle(answer());
      response.destroy();
    }
  });
  response.on('end', () => settle(answer()));
  response.on('error', () => undefined); // the 'close' below reports it
  response.on('close', () => {
    if (!response.complete) {
      const status = response.statusCode ?? 0;
      settle(
        failure(
          'connection_error',
          `connection closed before the answer was complete (status ${status})`,
        ),
      );
    }
  });
}

/** Calls `connected` once the socket can carry the request: now for a reused one. */
function whenConnected(
  request: ClientRequest,
  socket: Socket,
  secure: boolean,
  connected: () => void,
): void {
  if (request.reusedSocket || (!secure && !socket.connecting)) connected();
  else socket.once(secure ? 'secureConnect' : 'connect', connected);
}

/** One POST over the agent's pool, settled exactly once. */
function exchange(url: URL, post: WebhookPost, agent: HttpAgent, limits: Limits): Promise<Outcome> {
  return new Promise((resolve) => {
    const secure = url.protocol === 'https:';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const abortAfter = (ms: number, outcome: Outcome): NodeJS.Timeout =>
      setTimeout(() => {
        settle(outcome);
        request.destroy();
      }, ms);
    const send = secure ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'POST',
      agent,
      headers: {
        ...post.headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(post.body)),
        'user-agent': WEBHOOK_USER_AGENT,
      },
    });
    // Waiting for a free socket of the pool is bounded by both timeouts;
    // the connect timeout itself starts once a socket is assigned.
    const connectFailure = failure(
      'connect_timeout',
      `no connection within ${limits.connectTimeoutMs} ms`,
    );
    timer = abortAfter(limits.connectTimeoutMs + limits.responseTimeoutMs, connectFailure);
    request.on('socket', (socket: Socket) => {
      if (settled) return;
      clearTimeout(timer);
      // Resolving, connecting (and the TLS handshake).
      timer = abortAfter(limits.connectTimeoutMs, connectFailure);
      whenConnected(request, socket, secure, () => {
        if (settled) return;
        clearTimeout(timer);
        timer = abortAfter(
          limits.responseTimeoutMs,
          failure('response_timeout', `no complete answer within ${limits.responseTimeoutMs} ms`),
        );
      });
    });
    request.on('response', (response) => readAnswer(response, limits.maxResponseBytes, settle));
    request.on('error', (error) => settle(failureOf(error)));
    request.end(post.body);
  });
}

export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const { policy } = options;
  const now = options.now ?? (() => performance.now());
  const limits: Limits = {
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    responseTimeoutMs: options.responseTimeoutMs ?? 15_000,
    maxResponseBytes: options.maxResponseBytes ?? 4_096,
  };
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? 256,
    // Idle sockets a receiver keeps open are few and closed after a while.
    maxFreeSockets: 16,
    timeout: Math.max(30_000, limits.connectTimeoutMs + limits.responseTimeoutMs + 1_000),
    lookup: guardedLookup(policy, options.resolve),
  };
  const agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
  const attempt = async (post: WebhookPost): Promise<Outcome> => {
    const verdict = inspectEndpointUrl(post.url, policy);
    if (!verdict.ok) {
      const reason = verdict.concerns === 'address' ? 'address_not_allowed' : 'invalid_url';
      return failure(reason, `the endpoint URL ${verdict.problem}`);
    }
    const agent = verdict.url.protocol === 'https:' ? agents.https : agents.http;
    try {
      return await exchange(verdict.url, post, agent, limits);
    } catch (error) {
      // Thrown before sending: a header name or value Node refuses.
      const code = (error as { code?: unknown } | undefined)?.code;
      return failure('connection_error', `the request could not be sent (${String(code)})`);
    }
  };
  return {
    async post(post) {
      const started = now();
      const outcome = await attempt(post);
      return { ...outcome, durationMs: Math.max(0, Math.round(now() - started)) };
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
