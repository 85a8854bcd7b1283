/**
 * The HTTP API for merchant backends, the 3-D Secure browser endpoints and
 * the health checks, over one orchestrator. Bad input always gets an
 * `application/problem+json` answer with a stable code (and the faulty field
 * where there is one), never a 500.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { IN_FLIGHT_STATUSES } from '../../machines/model.ts';
import { CommandError, COMMAND_ERROR_CODES } from '../engine/errors.ts';
import { parseCommand } from '../payments/commands.ts';
import { PaymentsError } from '../payments/errors.ts';
import type { Orchestrator, PaymentView } from '../orchestrator.ts';
import type { Logger } from '../platform/logger.ts';
import { escapeHtml } from '../platform/html.ts';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { registerConsole } from './console.ts';
import type { Metrics } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { API_ERROR_CODES } from './problems.ts';
import { ListQuery, PLAN_ID, SUBSCRIPTION_ID } from './params.ts';
import { authenticationPage } from './pages.ts';

export type Scope = 'payments' | 'ops';

export interface ApiKey {
  name: string;
  /** sha256 of the secret; the secret itself is never kept. */
  hash: Buffer;
  scopes: ReadonlySet<Scope>;
}

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
}

type ApiErrorCode = keyof typeof API_ERROR_CODES | keyof typeof COMMAND_ERROR_CODES;

/**
 * Parses `name:secret:scope|scope,...` (scopes default to `payments`) into
 * hashed keys. Error messages name the entry by position and name, never by
 * its secret or any part of it.
 */
export function parseApiKeys(text: string): ApiKey[] {
  const keys = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const parts = entry.split(':');
      const [name, secret, scopes] = parts;
      const where = `API_KEYS entry ${index + 1}`;
      if (parts.length > 3 || !name || !secret) {
        throw new Error(
          `${where}: write name:secret:scope|scope (no ':' or ',' inside a name or secret)`,
        );
      }
      const parsed = (scopes ?? 'payments').split('|').filter(Boolean);
      if (parsed.length === 0 || parsed.some((scope) => scope !== 'payments' && scope !== 'ops')) {
        throw new Error(`${where} (${name}): scopes are payments and ops, joined by |`);
      }
      return { name, hash: hashSecret(secret), scopes: new Set(parsed as Scope[]) };
    });
  if (keys.length === 0) throw new Error('API_KEYS: no key given');
  return keys;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * A browser sends the console's Basic credentials with any form posted to it,
 * from any site: a state-changing console request whose Origin (or Referer)
 * names another site is refused. Clients that send neither (curl) pass.
 */
function refuseCrossSite(request: FastifyRequest): void {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  const origin = request.headers.origin ?? request.headers.referer;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host === undefined || host !== request.headers.host) {
    throw new ApiError('forbidden', 'a console action must come from the console itself');
  }
}

/** The console's form token of an ops key: the same on every instance that has the key. */
function formTokenOf(key: ApiKey): string {
  return createHmac('sha256', key.hash).update('sogenactif console form').digest('base64url');
}

/**
 * A console action carries the token of the key that loaded its page (a
 * synchronizer token): another site can make the browser post a form, or a
 * body-less fetch, with its credentials, but cannot read the page to learn
 * the token. Only JSON goes without it: a browser sends JSON across sites
 * after a CORS preflight, which the API never grants. Bull Board (under
 * /ops/queues) speaks JSON and body-less calls from its own page and is left
 * to the same-origin check.
 */
function refuseActionWithoutToken(request: FastifyRequest, key: ApiKey): void {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  if (request.url.startsWith('/ops/queues')) return;
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') return;
  const body = request.body as Record<string, unknown> | undefined;
  const presented = Buffer.from(typeof body?.formToken === 'string' ? body.formToken : '');
  const expected = Buffer.from(formTokenOf(key));
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new ApiError(
      'forbidden',
      'a console action must carry its form token: reload the page and submit again',
    );
  }
}

class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function statusOf(code: ApiErrorCode): number {
  return code in COMMAND_ERROR_CODES
    ? COMMAND_ERROR_CODES[code as keyof typeof COMMAND_ERROR_CODES].status
    : API_ERROR_CODES[code as keyof typeof API_ERROR_CODES];
}

function sendProblem(
  reply: FastifyReply,
  code: ApiErrorCode,
  detail: string,
  field?: string,
): FastifyReply {
  const status = statusOf(code);
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `https://sogenactif-orchestrator.dev/problems/${code}`,
      title: code.replaceAll('_', ' '),
      status,
      code,
      detail,
      ...(field ? { field } : {}),
    });
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function idempotencyKey(request: FastifyRequest, required: boolean): string | undefined {
  const key = header(request, 'idempotency-key');
  if (key === undefined) {
    if (required) {
      throw new ApiError(
        'missing_idempotency_key',
        'the Idempotency-Key header is required',
        'Idempotency-Key',
      );
    }
    return undefined;
  }
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ApiError(
      'invalid_idempotency_key',
      'Idempotency-Key has 1 to 255 printable ASCII characters, no spaces',
      'Idempotency-Key',
    );
  }
  return key;
}

function listOptions(query: unknown): { limit?: number } {
  const parsed = parseCommand(ListQuery, query ?? {});
  if (!parsed.ok) {
    throw new ApiError('invalid_command', `${parsed.field} ${parsed.message}`, parsed.field);
  }
  return parsed.value.limit === undefined ? {} : { limit: parsed.value.limit };
}

/** A malformed id is an unknown one: 404 with the record's not-found code. */
function subscriptionId(id: string): string {
  if (!SUBSCRIPTION_ID.test(id)) {
    throw new ApiError('subscription_not_found', `no subscription ${id.slice(0, 80)}`);
  }
  return id;
}

function planId(id: string): string {
  if (!PLAN_ID.test(id)) {
    throw new ApiError('plan_not_found', `no instalment plan ${id.slice(0, 80)}`);
  }
  return id;
}

export function buildApi(options: ApiOptions): FastifyInstance {
  const { orchestrator } = options;
  const settleTimeoutMs = options.settleTimeoutMs ?? 10_000;
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

  /** API commands are JSON; a form or anything else is refused before it is read as one. */
  function requireJson(request: FastifyRequest): void {
    const type = header(request, 'content-type');
    if (request.body === undefined && type === undefined) return;
    if (!type || !/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError('unsupported_media_type', 'send Content-Type: application/json');
    }
  }

  /** The API key of a request: `Bearer <key>`, or HTTP Basic with the key as password (browsers). */
  function presentedKey(request: FastifyRequest): string | undefined {
    const value = header(request, 'authorization');
    if (!value) return undefined;
    const bearer = /^Bearer\s+(\S+)$/i.exec(value);
    if (bearer) return bearer[1];
    const basic = /^Basic\s+(\S+)$/i.exec(value);
    if (!basic) return undefined;
    const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
  }

  function authorize(request: FastifyRequest, scope: Scope): ApiKey {
    const presented = presentedKey(request);
    if (!presented) throw new ApiError('unauthorized', 'send Authorization: Bearer <api key>');
    const hash = hashSecret(presented);
    // Compare against every key in constant time, so timing does not tell which exist.
    let found: ApiKey | undefined;
    for (const key of options.apiKeys) {
      if (timingSafeEqual(key.hash, hash)) found = key;
    }
    if (!found) throw new ApiError('unauthorized', 'unknown API key');
    if (!found.scopes.has(scope)) {
      throw new ApiError('forbidden', `this API key lacks the ${scope} scope`);
    }
    return found;
  }

  /**
   * Route options checking the key before anything else runs: a request
   * without the scope is refused before its body is even read.
   */
  const requires = (scope: Scope) => ({
    onRequest: async (request: FastifyRequest) => authorize(request, scope),
  });
  const paymentsScope = requires('payments');
  const opsScope = requires('ops');

  function sendError(
    reply: FastifyReply,
    error: Error & { statusCode?: number; code?: string },
    request: FastifyRequest,
  ): FastifyReply {
    if (error instanceof ApiError) {
      if (error.code === 'unauthorized' && request.url.startsWith('/ops')) {
        // Lets a browser ask for the key (any user name, the key as password).
        void reply.header('www-authenticate', 'Basic realm="sogenactif ops"');
      }
      return sendProblem(reply, error.code, error.message, error.field);
    }
    if (error instanceof CommandError) {
      // payment_busy, request_in_progress...: the same request may be sent again.
      if (error.retryable) void reply.header('retry-after', String(error.retryAfterSeconds));
      return sendProblem(reply, error.code, error.message, error.field);
    }
    if (
      error instanceof PaymentsError &&
      (error.code === 'CARD_DATA_LEAK' || error.code.endsWith('_INVALID'))
    ) {
      // Refused by the storage layer's own checks: still the caller's input, never a 500.
      return sendProblem(reply, 'invalid_command', error.message);
    }
    const status = error.statusCode ?? 500;
    if (status === 413) return sendProblem(reply, 'payload_too_large', 'the body is too large');
    if (status === 415) {
      return sendProblem(reply, 'unsupported_media_type', 'send Content-Type: application/json');
    }
    if (status >= 400 && status < 500) {
      return sendProblem(reply, 'malformed_json', `the body could not be read: ${error.message}`);
    }
    options.logger?.error({ err: error, url: request.url }, 'unexpected API error');
    return sendProblem(reply, 'internal_error', 'an unexpected error occurred; nothing was lost');
  }
  // Payments, PaReq forms and review evidence are never kept by a browser or a proxy.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/v1/') || request.url.startsWith('/ops')) {
      void reply.header('cache-control', 'no-store');
    }
    void reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  // One access line per request: method, path (no query string), status and
  // duration; never headers (Authorization) or bodies (card data).
  const logger = options.logger;
  if (logger) {
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
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) =>
    sendError(reply, error, request),
  );
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
  );

  const document = openApiDocument();
  app.get('/openapi.json', async () => document);
  void app.register(swagger, { mode: 'static', specification: { document: document as never } });
  void app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', async () => ({ status: 'ok' }));
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 2_000;
  app.get('/readyz', async (_request, reply) => {
    const { redis, keyspace, queues } = orchestrator.internals;
    const within = <T>(work: Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out')), readinessTimeoutMs);
        work.then(resolve, reject).finally(() => clearTimeout(timer));
      });
    try {
      await within(redis.ping());
    } catch {
      return reply.code(503).send({ status: 'unavailable', redis: 'unreachable' });
    }
    try {
      // Each shard's step queue answers (it is the queue the commands write to).
      const shards = await within(
        Promise.all(
          keyspace.allShards.map(async (shard) => {
            const queue = queues.queue(shard);
            const [counts, paused] = await Promise.all([
              queue.getJobCounts('waiting', 'active', 'delayed'),
              queue.isPaused(),
            ]);
            return { shard, paused, ...counts };
          }),
        ),
      );
      return { status: 'ready', redis: 'ok', queues: shards };
    } catch {
      return reply.code(503).send({ status: 'unavailable', redis: 'ok', queues: 'unreachable' });
    }
  });

  const metrics = options.metrics;
  if (metrics) {
    app.get('/metrics', opsScope, async (_request, reply) => {
      const text = await metrics.render(orchestrator);
      return reply.type(metrics.registry.contentType).send(text);
    });
  }

  registerConsole(app, {
    orchestrator,
    ...(metrics ? { metrics } : {}),
    authorize: (request) => {
      const key = authorize(request, 'ops');
      refuseCrossSite(request);
      refuseActionWithoutToken(request, key);
    },
    formToken: (request) => formTokenOf(authorize(request, 'ops')),
    sendError: (reply, error, request) => sendError(reply, error as Error, request),
  });

  app.post('/v1/payments', paymentsScope, async (request, reply) => {
    requireJson(request);
    const key = idempotencyKey(request, true);
    const result = await orchestrator.payments.create(
      request.body,
      key === undefined ? {} : { idempotencyKey: key },
    );
    if (!result.created) reply.header('Idempotent-Replayed', 'true');
    return reply.code(result.created ? 201 : 200).send(result.payment);
  });

  app.get<{ Params: { id: string } }>('/v1/payments/:id', paymentsScope, async (request) => {
    return orchestrator.payments.get(request.params.id);
  });

  const operations = {
    captures: orchestrator.payments.capture,
    cancellations: orchestrator.payments.cancel,
    refunds: orchestrator.payments.refund,
  } as const;
  for (const [path, run] of Object.entries(operations)) {
    app.post<{ Params: { id: string } }>(
      `/v1/payments/:id/${path}`,
      paymentsScope,
      async (request, reply) => {
        requireJson(request);
        const key = idempotencyKey(request, false);
        const payment = await run(
          request.params.id,
          request.body,
          key === undefined ? {} : { idempotencyKey: key },
        );
        return reply.code(202).send(payment);
      },
    );
  }

  app.post<{ Params: { id: string } }>(
    '/v1/payments/:id/duplicates',
    paymentsScope,
    async (request, reply) => {
      requireJson(request);
      const key = idempotencyKey(request, true);
      const result = await orchestrator.payments.duplicate(
        request.params.id,
        request.body,
        key === undefined ? {} : { idempotencyKey: key },
      );
      if (!result.created) reply.header('Idempotent-Replayed', 'true');
      return reply.code(result.created ? 201 : 200).send(result.payment);
    },
  );

  for (const [path, run] of [
    ['accept', orchestrator.payments.acceptChallenge],
    ['refuse', orchestrator.payments.refuseChallenge],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/v1/payments/:id/challenge/${path}`,
      paymentsScope,
      async (request, reply) => {
        const key = idempotencyKey(request, false);
        const payment = await run(
          request.params.id,
          key === undefined ? {} : { idempotencyKey: key },
        );
        return reply.code(202).send(payment);
      },
    );
  }

  // 3-D Secure and provider pages: called by the customer's browser, so not behind API keys.
  app.get<{ Params: { id: string } }>('/v1/payments/:id/authentication', async (request, reply) => {
    const payment = await orchestrator.payments.get(request.params.id);
    if (!payment.redirection?.url) {
      return reply
        .code(409)
        .type('text/html; charset=utf-8')
        .send(
          `<!DOCTYPE html><p>Payment ${escapeHtml(payment.id)} is ${escapeHtml(payment.status)}: no authentication is pending.</p>`,
        );
    }
    const origin =
      options.publicUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.host}`;
    const termUrl = `${origin}/v1/payments/${encodeURIComponent(payment.id)}/authentication/term`;
    return reply.type('text/html; charset=utf-8').send(authenticationPage(payment, termUrl));
  });

  async function settleAndRedirect(
    reply: FastifyReply,
    id: string,
    returned: Record<string, unknown>,
  ) {
    let payment: PaymentView;
    try {
      payment = await orchestrator.payments.completeAuthentication(id, returned);
    } catch (error) {
      // A second post (double click, back button, refresh) finds the payment
      // already resumed: the customer is sent on with its current status.
      if (
        !(error instanceof CommandError) ||
        (error.code !== 'command_not_allowed' && error.code !== 'payment_busy')
      ) {
        throw error;
      }
      payment = await orchestrator.payments.get(id);
      if (payment.status === 'awaiting_authentication') throw error;
    }
    const deadline = Date.now() + settleTimeoutMs;
    while (
      (IN_FLIGHT_STATUSES.has(payment.status) || payment.status === 'outcome_unknown') &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      payment = await orchestrator.payments.get(id);
    }
    return redirectToMerchant(reply, payment);
  }

  function redirectToMerchant(reply: FastifyReply, payment: PaymentView): FastifyReply {
    if (!payment.returnUrl) {
      return reply
        .type('text/html; charset=utf-8')
        .send(
          `<!DOCTYPE html><p>Payment ${escapeHtml(payment.id)}: ${escapeHtml(payment.status)}</p>`,
        );
    }
    const target = new URL(payment.returnUrl);
    target.searchParams.set('paymentId', payment.id);
    target.searchParams.set('status', payment.status);
    return reply.redirect(target.toString(), 303);
  }

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/v1/payments/:id/authentication/term',
    async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      if (typeof body.PaRes !== 'string' || body.PaRes.length === 0) {
        throw new ApiError('invalid_command', 'PaRes is required', 'PaRes');
      }
      // MD carries the payment id: a PaRes posted to another payment's URL is refused.
      if (body.MD !== request.params.id) {
        throw new ApiError('invalid_command', 'MD does not belong to this payment', 'MD');
      }
      return settleAndRedirect(reply, request.params.id, { paRes: body.PaRes });
    },
  );

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/v1/payments/:id/authentication/return',
    async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const redirectionData = body.redirectionData ?? body.redirection_data;
      const messageVersion = body.messageVersion ?? body.message_version;
      if (typeof redirectionData !== 'string' || typeof messageVersion !== 'string') {
        throw new ApiError(
          'invalid_command',
          'redirectionData and messageVersion are required',
          'redirectionData',
        );
      }
      return settleAndRedirect(reply, request.params.id, { redirectionData, messageVersion });
    },
  );

  // Subscriptions: a first customer-initiated payment, then one per period.
  app.post('/v1/subscriptions', paymentsScope, async (request, reply) => {
    requireJson(request);
    const key = idempotencyKey(request, true);
    const result = await orchestrator.subscriptions.create(
      request.body,
      key === undefined ? {} : { idempotencyKey: key },
    );
    if (!result.created) reply.header('Idempotent-Replayed', 'true');
    return reply
      .code(result.created ? 201 : 200)
      .send({ subscription: result.subscription, firstPayment: result.firstPayment });
  });
  app.get('/v1/subscriptions', paymentsScope, async (request) => {
    return { items: await orchestrator.subscriptions.list(listOptions(request.query)) };
  });
  app.get<{ Params: { id: string } }>('/v1/subscriptions/:id', paymentsScope, async (request) => {
    return orchestrator.subscriptions.get(subscriptionId(request.params.id));
  });
  app.patch<{ Params: { id: string } }>('/v1/subscriptions/:id', paymentsScope, async (request) => {
    requireJson(request);
    return orchestrator.subscriptions.changeAmount(subscriptionId(request.params.id), request.body);
  });
  for (const [path, run] of [
    ['pause', orchestrator.subscriptions.pause],
    ['resume', orchestrator.subscriptions.resume],
    ['cancel', orchestrator.subscriptions.cancel],
  ] as const) {
    // Idempotent by status: pausing a paused subscription answers it as it is.
    app.post<{ Params: { id: string } }>(
      `/v1/subscriptions/:id/${path}`,
      paymentsScope,
      async (request) => run(subscriptionId(request.params.id)),
    );
  }

  // Instalment plans: a total split into instalments, the first one now.
  app.post('/v1/instalment-plans', paymentsScope, async (request, reply) => {
    requireJson(request);
    const key = idempotencyKey(request, true);
    const result = await orchestrator.instalmentPlans.create(
      request.body,
      key === undefined ? {} : { idempotencyKey: key },
    );
    if (!result.created) reply.header('Idempotent-Replayed', 'true');
    return reply
      .code(result.created ? 201 : 200)
      .send({ plan: result.plan, firstPayment: result.firstPayment });
  });
  app.get('/v1/instalment-plans', paymentsScope, async (request) => {
    return { items: await orchestrator.instalmentPlans.list(listOptions(request.query)) };
  });
  app.get<{ Params: { id: string } }>('/v1/instalment-plans/:id', paymentsScope, async (request) =>
    orchestrator.instalmentPlans.get(planId(request.params.id)),
  );
  app.post<{ Params: { id: string } }>(
    '/v1/instalment-plans/:id/cancel',
    paymentsScope,
    async (request) => orchestrator.instalmentPlans.cancel(planId(request.params.id)),
  );

  // Ops: what will run later, what needs a person, and the janitor on demand.
  app.get('/v1/schedules', opsScope, async (request) => {
    return { items: await orchestrator.ops.schedules(listOptions(request.query)) };
  });
  app.get('/v1/alerts', opsScope, async (request) => {
    return { items: await orchestrator.ops.alerts(listOptions(request.query)) };
  });
  app.post('/v1/janitor/runs', opsScope, async () => orchestrator.ops.runJanitor());

  /** A review item, or undefined for an unknown or malformed id. */
  const reviewItem = (jobId: string) => orchestrator.reviews.get(jobId).catch(() => undefined);

  app.get('/v1/reviews', opsScope, async () => {
    return { items: await orchestrator.reviews.list({ limit: 100 }) };
  });
  app.get<{ Params: { jobId: string } }>('/v1/reviews/:jobId', opsScope, async (request) => {
    const item = await reviewItem(request.params.jobId);
    if (!item) throw new ApiError('not_found', `no review item ${request.params.jobId}`);
    return item;
  });
  app.post<{ Params: { jobId: string }; Body: Record<string, unknown> }>(
    '/v1/reviews/:jobId/resolve',
    opsScope,
    async (request) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const action = body.action;
      if (
        action !== 'adopt' &&
        action !== 'mark' &&
        action !== 'reinquire' &&
        action !== 'dismiss'
      ) {
        throw new ApiError(
          'invalid_command',
          'action is adopt, mark, reinquire or dismiss',
          'action',
        );
      }
      if (typeof body.note !== 'string' || body.note.trim() === '') {
        throw new ApiError('invalid_command', 'note is required', 'note');
      }
      const details = typeof body.status === 'string' ? { status: body.status } : undefined;
      if (!(await reviewItem(request.params.jobId))) {
        throw new ApiError('not_found', `no review item ${request.params.jobId}`);
      }
      return orchestrator.reviews.resolve(request.params.jobId, {
        action,
        note: body.note,
        by: typeof body.by === 'string' ? body.by : 'api',
        ...(details ? { details } : {}),
      });
    },
  );

  return app;
}
