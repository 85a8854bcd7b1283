/**
 * The HTTP API for merchant backends, the 3-D Secure browser endpoints, the
 * ops console and the health checks, over one orchestrator. This module
 * builds the Fastify instance (content types, headers, access log, problem
 * answers) and registers one plugin per resource from ./routes. Bad input
 * always gets an `application/problem+json` answer with a stable code (and
 * the faulty field where there is one), never a 500.
 */
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import type { MerchantSummary, Orchestrator } from '../orchestrator.ts';
import type { Logger } from '../platform/logger.ts';
import { createAuth, type ApiKey } from './auth.ts';
import type { Metrics } from './metrics.ts';
import { apiPorts } from './ports.ts';
import { sendError, sendProblem } from './problems.ts';
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
import { reviewRoutes } from './routes/reviews.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.ts';

export { hashSecret, parseApiKeys, type ApiKey, type Scope } from './auth.ts';

export interface ApiOptions {
  orchestrator: Orchestrator;
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
    // Malformed URLs and other errors raised before routing get the same problem answers.
    frameworkErrors: (error, _request, reply) => {
      void sendProblem(reply, 'not_found', `the request could not be routed: ${error.message}`);
    },
  });
  // The API speaks JSON; forms are read on the browser endpoints only.
  app.removeContentTypeParser('text/plain');
  void app.register(formbody, { bodyLimit: 32 * 1024 });
  addResponseHooks(app, options.logger);
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) =>
    sendError(reply, error, request, options.logger),
  );
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
  registerRoutes(app, options);
  return app;
}

/** Caching and sniffing headers on every answer, and one access line per request. */
function addResponseHooks(app: FastifyInstance, logger: Logger | undefined): void {
  // Payments, PaReq forms and review evidence are never kept by a browser or a proxy.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/v1/') || request.url.startsWith('/ops')) {
      void reply.header('cache-control', 'no-store');
    }
    void reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  if (!logger) return;
  // Method, path (no query string), status and duration; never headers
  // (Authorization) or bodies (card data).
  app.addHook('onResponse', async (request, reply) => {
    const line = {
      method: request.method,
      // A digit run as long as a card number is masked, wherever it was put.
      path: (request.url.split('?')[0] ?? '').replace(/\d{12,19}/g, '[redacted]'),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    if (reply.statusCode >= 500) logger.error(line, 'request failed');
    else logger.debug(line, 'request');
  });
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
    const source = {
      shards: () => ports.shards(),
      stepJobCounts: ports.stepJobCounts.bind(ports),
      openReviewCount: () => ports.openReviewCount(),
      webhookBacklog: () => orchestrator.webhooks.backlog(),
    };
    void app.register(metricsRoutes, { metrics, source, guard: opsScope });
  }
  void app.register(consoleRoutes, {
    orchestrator,
    ports,
    metrics,
    authorize: (request) => auth.authorizeConsole(request),
    formToken: (request) => auth.formToken(request),
    sendError: (reply, error, request) => sendError(reply, error as Error, request, options.logger),
  });
  const { payments, subscriptions, instalmentPlans, ops, reviews } = orchestrator;
  void app.register(paymentRoutes, { payments, guard: paymentsScope });
  void app.register(authenticationRoutes, {
    payments,
    settleTimeoutMs: options.settleTimeoutMs ?? 10_000,
    publicUrl: options.publicUrl,
  });
  void app.register(subscriptionRoutes, { subscriptions, guard: paymentsScope });
  void app.register(instalmentPlanRoutes, { instalmentPlans, guard: paymentsScope });
  void app.register(webhookEndpointRoutes, {
    webhooks: orchestrator.webhooks,
    guard: paymentsScope,
  });
  void app.register(scheduleRoutes, { ops, guard: opsScope });
  void app.register(alertRoutes, { ops, payments, guard: opsScope });
  void app.register(janitorRoutes, { ops, guard: opsScope });
  void app.register(merchantRoutes, {
    merchants: options.orchestrator.merchants,
    guard: opsScope,
    ...(options.reloadMerchants ? { reload: options.reloadMerchants } : {}),
  });
  void app.register(reviewRoutes, { reviews, payments, guard: opsScope });
}
