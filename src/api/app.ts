/**
 * The HTTP API for merchant backends, the 3-D Secure browser endpoints, the
 * ops console and the health checks, over one orchestrator. This module
 * builds the Fastify instance (content types, security headers, access log,
 * problem answers) and registers one plugin per resource from ./routes. Bad
 * input always gets an `application/problem+json` answer with a stable code
 * (and the faulty field where there is one), never a 500.
 *
 * Cross-site safety: the API (`/v1`) authenticates `Authorization: Bearer`
 * only and reads JSON bodies only (415 otherwise), so a page of another site
 * can make a browser send it nothing that counts. Forms are read by the
 * console (behind its own session cookie) and by the browser endpoints of
 * 3-D Secure (whose capability is the payment id) only.
 */
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { MerchantSummary, Orchestrator } from '../orchestrator.ts';
import type { Logger } from '../platform/logger.ts';
import { createAuth, type ApiKey } from './auth.ts';
import { createConsoleSessions } from './console/sessions.ts';
import { metricsSourceOf, type Metrics } from './metrics.ts';
import { observeRequests, requestIdOf } from './observability.ts';
import { apiPorts } from './ports.ts';
import { ApiError, redactPath, sendError, sendProblem } from './problems.ts';
import { notFoundOrMethodNotAllowed } from './method-not-allowed.ts';
import { answerTimedOut, applyLimits, type LimitOptions } from './limits.ts';
import { header } from './request.ts';
import { alertRoutes } from './routes/alerts.ts';
import { authenticationRoutes } from './routes/authentication.ts';
import { consoleRoutes } from './routes/console.ts';
import { docsRoutes } from './routes/docs.ts';
import { healthRoutes } from './routes/health.ts';
import { instalmentPlanRoutes } from './routes/instalment-plans.ts';
import { janitorRoutes } from './routes/janitor.ts';
import { merchantRoutes } from './routes/merchants.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { paymentRoutes } from './routes/payments.ts';
import { paymentSearchRoutes } from './routes/payment-search.ts';
import { reconciliationRoutes } from './routes/reconciliation.ts';
import { reviewRoutes } from './routes/reviews.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.ts';
import { BROWSER_POLICY, securityHeaders, usePolicy } from './security-headers.ts';
import { cardNumberGuard } from './card-number-guard.ts';

export { hashSecret, parseApiKeys, type ApiKey, type Scope } from './auth.ts';

export interface ApiOptions {
  orchestrator: Orchestrator;
  /** Time limits, connection cap and per-key rate limit (src/api/limits.ts). */
  limits?: LimitOptions;
  apiKeys: readonly ApiKey[];
  logger?: Logger;
  /** How long the browser endpoints wait for the payment to settle before redirecting. @defaultValue 10 000 ms */
  settleTimeoutMs?: number;
  /** Largest accepted body. @defaultValue 64 KiB */
  bodyLimit?: number;
  /** Served at GET /metrics (ops scope) when given. */
  metrics?: Metrics;
  /**
   * The API's public origin (PUBLIC_URL): the TermUrl given to the ACS is built
   * on it. Without it, the origin the browser used for the authentication page.
   */
  publicUrl?: string;
  /** How long /readyz waits for Redis and the queues. @defaultValue 2 000 ms */
  readinessTimeoutMs?: number;
  /** POST /v1/merchants/reload: reads MERCHANTS_FILE again (compose's `reloadMerchants`). */
  reloadMerchants?: () => MerchantSummary[];
}

export function buildApi(options: ApiOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Payment ids and review ids only: no exotic path handling needed.
    routerOptions: { ignoreTrailingSlash: true },
    // `request.id`: the caller's X-Request-Id when sane, else a new one (observability.ts).
    genReqId: requestIdOf,
    // Requests Node's HTTP parser refuses (a control character in a header,
    // a malformed request line) get a problem too, then the connection closes.
    clientErrorHandler: answerMalformedRequest,
    // Malformed URLs and other errors raised before routing get the same problem answers.
    frameworkErrors: (error, _request, reply) => {
      void sendProblem(reply, 'not_found', `the request could not be routed: ${error.message}`);
    },
  });
  // The server's time limits and connection cap; before any route is
  // declared: the rate limit goes first on each of them.
  if (options.limits) applyLimits(app, options.limits);
  // The API speaks JSON; forms are read by the console and the browser endpoints only.
  app.removeContentTypeParser('text/plain');
  void app.register(helmet, securityHeaders(options.publicUrl));
  addResponseHooks(app, options.logger);
  // Request id, span and HTTP metrics of every request.
  observeRequests(app, options.metrics);
  // No card number in any free-text field, query or path of any route.
  void app.register(cardNumberGuard);
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) =>
    sendError(reply, error, request, options.logger),
  );
  // 404, or 405 with Allow for a path served with other methods (records the routes declared from here on).
  app.setNotFoundHandler(notFoundOrMethodNotAllowed(app));
  registerRoutes(app, options);
  return app;
}

/** A 400 problem written on the socket itself: the request never reached Fastify. */
function answerMalformedRequest(error: Error & { code?: string }, socket: Duplex): void {
  if (answerTimedOut(error, socket)) return;
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({
    type: 'https://sogenactif-orchestrator.dev/problems/malformed_request',
    title: 'malformed request',
    status: 400,
    code: 'malformed_request',
    detail: 'the request is not valid HTTP (a header or the request line)',
  });
  socket.end(
    'HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Caching headers on every answer, and one access line per request. */
function addResponseHooks(app: FastifyInstance, logger: Logger | undefined): void {
  // Payments, PaReq forms and review evidence are never kept by a browser or a proxy.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/v1/') || request.url.startsWith('/ops')) {
      void reply.header('cache-control', 'no-store');
    }
    return payload;
  });
  if (!logger) return;
  // Method, path (no query string), status and duration; never headers
  // (Authorization) or bodies (card data).
  app.addHook('onResponse', async (request, reply) => {
    const line = {
      requestId: request.id,
      method: request.method,
      // A digit run as long as a card number is masked, wherever it was put.
      path: redactPath(request.url.split('?')[0] ?? ''),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    if (reply.statusCode >= 500) logger.error(line, 'request failed');
    else logger.debug(line, 'request');
  });
}

const METHODS_WITH_BODIES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * An API request with a body must say it is JSON: a form, text, an unnamed
 * body (what another site's page can make a browser send) is refused with
 * 415 after the key is checked and before anything is read. A body-less
 * request without a content type passes (commands that take no body).
 */
async function requireJsonBody(request: FastifyRequest): Promise<void> {
  if (!METHODS_WITH_BODIES.has(request.method)) return;
  const type = header(request, 'content-type');
  const length = header(request, 'content-length');
  const hasBody =
    type !== undefined ||
    request.headers['transfer-encoding'] !== undefined ||
    (length !== undefined && length !== '0');
  if (hasBody && !/^application\/json\s*(;|$)/i.test(type ?? '')) {
    throw new ApiError(
      'unsupported_media_type',
      'the API reads JSON bodies only: send Content-Type: application/json',
    );
  }
}

function registerRoutes(app: FastifyInstance, options: ApiOptions): void {
  const { orchestrator, metrics } = options;
  const auth = createAuth(options.apiKeys);
  const ports = apiPorts(orchestrator);
  const { payments: paymentsScope, ops: opsScope } = auth.guards;

  void app.register(docsRoutes);
  void app.register(healthRoutes, {
    ports,
    readinessTimeoutMs: options.readinessTimeoutMs ?? 2_000,
  });
  if (metrics) {
    void app.register(metricsRoutes, {
      metrics,
      source: metricsSourceOf(orchestrator),
      guard: opsScope,
    });
  }
  const sessions = createConsoleSessions({
    auth,
    alwaysSecure: options.publicUrl?.startsWith('https://') ?? false,
  });
  void app.register(consoleRoutes, {
    orchestrator,
    ports,
    metrics,
    auth,
    sessions,
    sendError: (reply, error, request) => sendError(reply, error as Error, request, options.logger),
  });
  const { payments, subscriptions, instalmentPlans, ops, reviews } = orchestrator;
  // The customer's browser posts the ACS's or the provider's answer as a form.
  void app.register(async (browser) => {
    usePolicy(browser, BROWSER_POLICY);
    await browser.register(formbody, { bodyLimit: 32 * 1024 });
    await browser.register(authenticationRoutes, {
      payments,
      settleTimeoutMs: options.settleTimeoutMs ?? 10_000,
      publicUrl: options.publicUrl,
    });
  });
  void app.register(async (api) => {
    api.addHook('preParsing', requireJsonBody);
    await api.register(paymentRoutes, { payments, guard: paymentsScope });
    await api.register(paymentSearchRoutes, { search: orchestrator.search, guard: paymentsScope });
    await api.register(subscriptionRoutes, { subscriptions, guard: paymentsScope });
    await api.register(instalmentPlanRoutes, { instalmentPlans, guard: paymentsScope });
    await api.register(webhookEndpointRoutes, {
      webhooks: orchestrator.webhooks,
      guard: paymentsScope,
    });
    await api.register(scheduleRoutes, { ops, guard: opsScope });
    await api.register(alertRoutes, { ops, payments, guard: opsScope });
    await api.register(janitorRoutes, { ops, guard: opsScope });
    await api.register(merchantRoutes, {
      merchants: options.orchestrator.merchants,
      guard: opsScope,
      ...(options.reloadMerchants ? { reload: options.reloadMerchants } : {}),
    });
    await api.register(reviewRoutes, { reviews, payments, guard: opsScope });
    await api.register(reconciliationRoutes, {
      reconciliation: orchestrator.reconciliation,
      guard: opsScope,
    });
  });
}
