/**
 * What every request of the API leaves behind for ops: a request id (the
 * caller's `X-Request-Id` when it is a sane token, else a new one), echoed in
 * the `X-Request-Id` answer header and carried by every log line written for
 * the request (and by the jobs it enqueues); a span when tracing runs (the
 * caller's W3C `traceparent` continued); and the HTTP request metrics,
 * labelled by route pattern, never by raw URL.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSaneRequestId, withLogContext } from '../platform/log-context.ts';
import { TRACER_NAME, tracingActive } from '../platform/tracing.ts';
import type { Metrics } from './metrics.ts';

const REQUEST_ID_HEADER = 'x-request-id';

/** Fastify's `genReqId`: the caller's id when it is a sane token, else a new UUID. */
export function requestIdOf(raw: IncomingMessage): string {
  const given = raw.headers[REQUEST_ID_HEADER];
  return isSaneRequestId(given) ? given : randomUUID();
}

/** The route pattern a request matched (`/v1/payments/:id`), `unmatched` for a 404. */
function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

interface Traced {
  /** The context the request's work runs in. */
  context: Context;
  /** Our own span, ended with the answer; absent when the HTTP instrumentation made one. */
  span?: Span;
}

/**
 * The request's span: the HTTP instrumentation's when it runs (given the
 * route here), else one of our own continuing the caller's `traceparent`.
 */
function startRequestSpan(request: FastifyRequest): Traced {
  const active = context.active();
  const route = routeOf(request);
  const name = `${request.method} ${route}`;
  const existing = trace.getSpan(active);
  if (existing) {
    existing.setAttribute('http.route', route);
    existing.updateName(name);
    return { context: active };
  }
  const parent = propagation.extract(active, request.headers);
  const span = trace.getTracer(TRACER_NAME).startSpan(
    name,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'http.route': route,
        'http.request.id': request.id,
      },
    },
    parent,
  );
  return { context: trace.setSpan(parent, span), span };
}

/** Adds the request id, tracing and HTTP metrics hooks to every route of `app`. */
export function observeRequests(app: FastifyInstance, metrics: Metrics | undefined): void {
  const traced = new WeakMap<FastifyRequest, Traced>();
  // Runs the rest of the request's lifecycle inside its log and trace context.
  const enter = (request: FastifyRequest, done: () => void): void => {
    const entry = traced.get(request);
    withLogContext({ requestId: request.id }, () =>
      entry ? context.with(entry.context, done) : done(),
    );
  };
  app.addHook('onRequest', (request, _reply, done) => {
    if (tracingActive()) traced.set(request, startRequestSpan(request));
    enter(request, done);
  });
  // The body is read on the socket's events, outside the context: entered again.
  app.addHook('preValidation', (request, _reply, done) => enter(request, done));
  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done(null, payload);
  });
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const route = routeOf(request);
    metrics?.onHttpRequest({
      method: request.method,
      route,
      statusCode: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
    });
    const span = traced.get(request)?.span;
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
