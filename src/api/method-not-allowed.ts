/**
 * The answer to a request no route takes: 405 `method_not_allowed` with an
 * `Allow` header when its path has routes of other methods (RFC 9110
 * §15.5.6), else 404 `not_found`.
 *
 * Fastify's `hasRoute` and `findRoute` look a route up by its declared URL
 * (`/v1/payments/:id`), not by a path a client sends (`/v1/payments/pay_1`),
 * and its router is not exposed. So the routes are recorded as they are
 * declared (an `onRoute` hook) and a path is matched against their URLs the
 * way the router reads them: a `:name` parameter takes a non-empty part of
 * one segment (with `(regex)` when it has one), `*` the rest of the path,
 * `::` is a literal colon, a trailing slash is ignored. A route declared with
 * GET also answers HEAD, as Fastify serves it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { redactPath, sendProblem } from './problems.ts';

export interface RecordedRoute {
  readonly pattern: RegExp;
  readonly methods: ReadonlySet<string>;
}

const PARAM_NAME = /^[A-Za-z0-9_]/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The parenthesised regex starting at `start` (at its `(`), and where it ends. */
function readParamRegex(url: string, start: number): { source: string; end: number } {
  let depth = 0;
  for (let i = start; i < url.length; i++) {
    const char = url[i];
    if (char === '\\') {
      i++;
      continue;
    }
    if (char === '(') depth++;
    if (char === ')' && --depth === 0) {
      return { source: url.slice(start + 1, i).replace(/^\^|\$$/g, ''), end: i + 1 };
    }
  }
  return { source: '[^/]+', end: url.length };
}

/** A declared route URL as a regular expression over request paths. */
export function routePattern(url: string): RegExp {
  const trimmed = url.length > 1 ? url.replace(/\/+$/, '') : url;
  let source = '';
  let i = 0;
  while (i < trimmed.length) {
    const char = trimmed[i] as string;
    if (char === ':' && trimmed[i + 1] === ':') {
      source += ':';
      i += 2;
    } else if (char === ':' && PARAM_NAME.test(trimmed[i + 1] ?? '')) {
      i++;
      while (i < trimmed.length && PARAM_NAME.test(trimmed[i] as string)) i++;
      if (trimmed[i] === '(') {
        const regex = readParamRegex(trimmed, i);
        source += `(?:${regex.source})`;
        i = regex.end;
      } else {
        source += '[^/]+?';
      }
    } else if (char === '*') {
      source += '.*';
      i++;
    } else {
      source += escapeRegExp(char);
      i++;
    }
  }
  return new RegExp(`^${source}/?$`);
}

/** The order of `Allow`; other methods follow, alphabetically. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const rankOf = (method: string): number => {
  const rank = METHOD_ORDER.indexOf(method);
  return rank === -1 ? METHOD_ORDER.length : rank;
};

/** The methods a path is routed for, HEAD with GET, in a stable order. */
function allowedMethods(routes: readonly RecordedRoute[], path: string): string[] {
  const allowed = new Set<string>();
  for (const route of routes) {
    if (!route.pattern.test(path)) continue;
    for (const method of route.methods) allowed.add(method);
  }
  if (allowed.has('GET')) allowed.add('HEAD');
  return [...allowed].sort((a, b) => rankOf(a) - rankOf(b) || a.localeCompare(b));
}

/**
 * The not-found handler of `app`: 405 with `Allow` for a path routed for
 * other methods only, 404 otherwise. Call it before any route is declared on
 * `app` or its plugins: it records them as they are declared.
 */
export function notFoundOrMethodNotAllowed(
  app: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const byUrl = new Map<string, Set<string>>();
  let routes: RecordedRoute[] | undefined;
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const known = byUrl.get(route.url) ?? new Set<string>();
    for (const method of methods) known.add(String(method).toUpperCase());
    byUrl.set(route.url, known);
    routes = undefined;
  });
  const table = (): RecordedRoute[] => {
    routes ??= [...byUrl].map(([url, methods]) => ({ pattern: routePattern(url), methods }));
    return routes;
  };
  return (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = allowedMethods(table(), path);
    // The detail quotes the path: never a card number put in it.
    const shown = redactPath(path);
    if (allowed.length > 0 && !allowed.includes(request.method.toUpperCase())) {
      void reply.header('allow', allowed.join(', '));
      return sendProblem(
        reply,
        'method_not_allowed',
        `${request.method} is not allowed on ${shown}: use ${allowed.join(', ')}`,
      );
    }
    return sendProblem(reply, 'not_found', `no route ${request.method} ${shown}`);
  };
}
