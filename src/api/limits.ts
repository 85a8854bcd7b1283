/**
 * What one client may hold of the API: time limits on every phase of a
 * request (headers, the whole request with its body, an idle keep-alive
 * socket), a cap on open connections, and a per-key request rate kept in
 * Redis, so every API process shares one count.
 *
 * Socket side: Node's HTTP server answers a request whose headers or body
 * are not all in within the limit with 408 and closes the connection, so a
 * client trickling one byte at a time holds a socket for `requestTimeoutMs`
 * at most. Connections beyond `maxConnections` are closed as they arrive.
 *
 * Rate side (@fastify/rate-limit on the orchestrator's Redis): a request is
 * counted under its API key's name when it carries a configured key, under
 * the client address otherwise, so requests with unknown keys (401s) use up
 * the address's allowance and slow down key guessing. The 3-D Secure
 * browser endpoints count by address only; the health checks and /metrics
 * are never limited. Over the limit: a `rate_limited` problem (429) with
 * `Retry-After` in seconds. The count runs before the route's key check, so
 * a refused key is counted too. When Redis does not answer, requests pass
 * uncounted rather than fail.
 */
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RedisClient } from '../platform/redis.ts';
import { bearerSecret, createAuth, type ApiKey } from './auth.ts';
import { ApiError } from './problems.ts';

export interface ServerLimitSettings {
  /** The whole request, headers and body, must arrive within this (HTTP_REQUEST_TIMEOUT). */
  requestTimeoutMs: number;
  /** The request line and headers must arrive within this (HTTP_HEADERS_TIMEOUT). */
  headersTimeoutMs: number;
  /** An idle keep-alive socket is closed after this (HTTP_KEEP_ALIVE_TIMEOUT). */
  keepAliveTimeoutMs: number;
  /** Connections open at once; more are closed as they arrive (HTTP_MAX_CONNECTIONS). */
  maxConnections: number;
  /**
   * A socket with no byte in or out for this long is closed, whatever it is
   * doing; above the longest a handler may wait (Sips calls, the browser
   * endpoints' settle wait). @defaultValue 120 000 ms
   */
  socketIdleTimeoutMs?: number;
  /** Requests served on one keep-alive socket before it is closed. @defaultValue 1 000 */
  maxRequestsPerSocket?: number;
}

export interface RateLimitSettings {
  /** The orchestrator's Redis (one server or a cluster); a connection of its own is best. */
  redis: RedisClient;
  /** Requests per window and key (RATE_LIMIT); 0 turns rate limiting off. */
  max: number;
  /** The window (RATE_LIMIT_WINDOW). */
  timeWindowMs: number;
  /** The deployment's KEY_PREFIX: counters live under `<prefix>:rate-limit:`. */
  keyPrefix: string;
  /** The configured API keys: a request is counted under the name of the key it carries. */
  apiKeys: readonly ApiKey[];
}

export interface LimitOptions {
  server: ServerLimitSettings;
  /** Absent, or `max` 0: no rate limit. */
  rate?: RateLimitSettings;
}

/** How often Node looks for requests past their headers or request time limit. */
function checkingIntervalMs(settings: ServerLimitSettings): number {
  const shortest = Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs);
  return Math.max(50, Math.min(1_000, Math.floor(shortest / 4)));
}

/**
 * Sets the limits on the Node server itself: time limits, requests per
 * socket and the connection cap. Takes effect for a server that is not
 * listening yet.
 */
export function applyServerLimits(server: Server, settings: ServerLimitSettings): void {
  server.requestTimeout = settings.requestTimeoutMs;
  server.headersTimeout = settings.headersTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = settings.maxRequestsPerSocket ?? 1_000;
  server.setTimeout(settings.socketIdleTimeoutMs ?? 120_000);
  // Read when the server starts listening.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    checkingIntervalMs(settings);
  server.maxConnections = settings.maxConnections;
}

/**
 * For the server's clientError handler: a request past its headers or
 * request time limit gets 408 and the connection closes (true); any other
 * client error is left to the caller (false).
 */
export function answerTimedOut(error: Error & { code?: string }, socket: Duplex): boolean {
  if (error.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return false;
  if (socket.writable) {
    socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  } else {
    socket.destroy();
  }
  return true;
}

/** Routes never limited: the orchestration platform's probes and the scraper. */
const EXEMPT_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** The 3-D Secure endpoints the customer's browser calls: no API key there, the address counts. */
const BROWSER_ROUTES = '/v1/payments/:id/authentication';

/** What a request is counted under: `key:<name>` of a configured key it carries, else `ip:<address>`. */
function rateLimitKey(
  identify: (secret: string) => ApiKey | undefined,
): (request: FastifyRequest) => string {
  return (request) => {
    const address = `ip:${normalizeIP(request.ip)}`;
    if (request.routeOptions.url?.startsWith(BROWSER_ROUTES)) return address;
    const secret = bearerSecret(request);
    const key = secret === undefined ? undefined : identify(secret);
    return key ? `key:${key.name}` : address;
  };
}

type RouteHook = (this: FastifyInstance, ...args: never[]) => unknown;

const LIMITED = new WeakSet<FastifyInstance>();

/**
 * Applies the limits to the root instance of the API: the server's time
 * limits and connection cap, and the rate limit on every route added after
 * this call or registered in a plugin not loaded yet (so: call it before
 * `ready()`/`listen()`). A second call on the same instance does nothing.
 */
export function applyLimits(app: FastifyInstance, options: LimitOptions): void {
  if (LIMITED.has(app)) return;
  LIMITED.add(app);
  applyServerLimits(app.server, options.server);
  const rate = options.rate;
  if (!rate || rate.max <= 0) return;

  const auth = createAuth(rate.apiKeys);
  void app.register(fastifyRateLimit, {
    // Routes get the limit from the onRoute hook below, ahead of their key check.
    global: false,
    max: rate.max,
    timeWindow: rate.timeWindowMs,
    redis: rate.redis,
    nameSpace: `${rate.keyPrefix}:rate-limit:`,
    keyGenerator: rateLimitKey((secret) => auth.identify(secret)),
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new ApiError(
        'rate_limited',
        `more than ${context.max} requests in ${Math.round(rate.timeWindowMs / 1000)} s; send again in ${context.after}`,
      ),
  });

  let limiter: ReturnType<FastifyInstance['rateLimit']> | undefined;
  async function limit(
    this: FastifyInstance,
    request: FastifyRequest,
    reply: Parameters<ReturnType<FastifyInstance['rateLimit']>>[1],
  ): Promise<void> {
    // The plugin's decorator exists once the plugin is loaded, before the first request.
    limiter ??= app.rateLimit();
    await limiter.call(this, request, reply);
  }

  // onRoute hooks apply at once, to routes of plugins loaded later too.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (EXEMPT_ROUTES.has(route.url)) return;
    const own = route.onRequest;
    const hooks: RouteHook[] = own === undefined ? [] : Array.isArray(own) ? [...own] : [own];
    route.onRequest = [limit as RouteHook, ...hooks] as NonNullable<RouteOptions['onRequest']>;
  });
}
