/**
 * Security headers on every answer (`@fastify/helmet`): a Content Security
 * Policy (`default-src 'self'`, no framing, no inline script or style: the
 * console's stylesheet is a file the app serves), `X-Frame-Options: DENY`,
 * `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (so a
 * console form still sends its Origin) and HSTS only when the public URL is
 * https. Swagger UI, Bull Board and the 3-D Secure page get looser policies
 * of their own, set on their routes by `usePolicy`.
 */
import type { FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { createHash } from 'node:crypto';
import type { PaymentView } from '../orchestrator.ts';
import { authenticationPage } from './pages.ts';

type Directives = Record<string, string[]>;
type Policy = Omit<FastifyHelmetOptions, 'global'>;

const BASE: Directives = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
};

const csp = (directives: Directives): { useDefaults: false; directives: Directives } => ({
  useDefaults: false,
  directives,
});

/** The plugin's options: the strict policy, for the API, the console and anything unrouted. */
export function securityHeaders(publicUrl: string | undefined): FastifyHelmetOptions {
  const https = publicUrl?.startsWith('https://') ?? false;
  return {
    contentSecurityPolicy: csp(BASE),
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    hsts: https ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
  };
}

/** Swagger UI at /docs: its inline styles. */
export const DOCS_POLICY: Policy = {
  contentSecurityPolicy: csp({ ...BASE, 'style-src': ["'self'", "'unsafe-inline'"] }),
};

/**
 * Bull Board under /ops/queues: its inline styles; fonts from this origin
 * only, so its page fetches nothing from another site (queue-board.ts drops
 * its web-font link, and this blocks any left).
 */
export const QUEUE_BOARD_POLICY: Policy = {
  contentSecurityPolicy: csp({
    ...BASE,
    'style-src': ["'self'", "'unsafe-inline'"],
    'font-src': ["'self'", 'data:'],
  }),
};

/**
 * The customer's authentication page posts a form to the ACS or the
 * provider (another origin, so no `form-action`) from its `onload`
 * attribute, allowed by its hash and nothing else. It keeps the browser's
 * default referrer policy, so the ACS sees where the customer came from.
 */
export const BROWSER_POLICY: Policy = {
  contentSecurityPolicy: csp({
    'default-src': ["'none'"],
    'base-uri': ["'none'"],
    'frame-ancestors': ["'none'"],
    'script-src-attr': ["'unsafe-hashes'", onloadSource()],
  }),
  referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
};

/** The hash source of the page's `onload` handler, read from the page itself. */
function onloadSource(): string {
  const sample = authenticationPage({ id: 'pay', redirection: { url: 'x' } } as PaymentView, 'x');
  const handler = /onload="([^"]*)"/.exec(sample)?.[1];
  if (handler === undefined) return "'none'";
  return `'sha256-${createHash('sha256').update(handler).digest('base64')}'`;
}

/** Gives every route registered after this in `scope` (and its children) the policy. */
export function usePolicy(scope: FastifyInstance, policy: Policy): void {
  scope.addHook('onRoute', (route: RouteOptions) => {
    route.config = { ...route.config, helmet: policy } as NonNullable<RouteOptions['config']>;
  });
}
