/**
 * API keys and their scopes: `Bearer <key>` for merchant backends, HTTP Basic
 * with the key as password for browsers (the ops console). Console actions
 * also carry the key's form token and must come from the console's own origin.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { MerchantScope } from '../service/scope.ts';
import { ApiError } from './problems.ts';
import { header } from './request.ts';

export type Scope = 'payments' | 'ops';

export interface ApiKey {
  name: string;
  /** sha256 of the secret; the secret itself is never kept. */
  hash: Buffer;
  scopes: ReadonlySet<Scope>;
  /** The merchants the key may use (`all`: a platform operator's key). */
  merchants: MerchantScope;
}

/**
 * Parses `name:secret:scope|scope:merchant|merchant,...` into hashed keys.
 * Scopes default to `payments`; merchants (our ids of the shops) default to
 * all of them, also written `*`. Error messages name the entry by position
 * and name, never by its secret or any part of it.
 */
export function parseApiKeys(text: string): ApiKey[] {
  const keys = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const parts = entry.split(':');
      const [name, secret, scopes, merchants] = parts;
      const where = `API_KEYS entry ${index + 1}`;
      if (parts.length > 4 || !name || !secret) {
        throw new Error(
          `${where}: write name:secret:scope|scope:merchant|merchant (no ':' or ',' inside a name or secret)`,
        );
      }
      const bound = (merchants ?? '*').split('|').filter(Boolean);
      if (
        bound.length === 0 ||
        bound.some((id) => id !== '*' && !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(id))
      ) {
        throw new Error(`${where} (${name}): merchants are our ids of the shops joined by |, or *`);
      }
      const parsed = (scopes ?? 'payments').split('|').filter(Boolean);
      if (parsed.length === 0 || parsed.some((scope) => scope !== 'payments' && scope !== 'ops')) {
        throw new Error(`${where} (${name}): scopes are payments and ops, joined by |`);
      }
      return {
        name,
        hash: hashSecret(secret),
        scopes: new Set(parsed as Scope[]),
        merchants: bound.includes('*') ? ('all' as const) : new Set(bound),
      };
    });
  if (keys.length === 0) throw new Error('API_KEYS: no key given');
  return keys;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Route options checking the key before anything else runs. */
export interface Guard {
  onRequest(request: FastifyRequest): Promise<ApiKey>;
}

export interface Auth {
  /** The request's key when it has the scope; throws `unauthorized` or `forbidden` otherwise. */
  authorize(request: FastifyRequest, scope: Scope): ApiKey;
  /** Route options per scope: a request without the scope is refused before its body is read. */
  readonly guards: Readonly<Record<Scope, Guard>>;
  /**
   * The console's check: the ops scope, an action from the console's own
   * origin, carrying the form token of the key that loaded its page.
   */
  authorizeConsole(request: FastifyRequest): void;
  /** The form token the console's forms carry (hidden field `formToken`), for the request's key. */
  formToken(request: FastifyRequest): string;
}

export function createAuth(apiKeys: readonly ApiKey[]): Auth {
  function authorize(request: FastifyRequest, scope: Scope): ApiKey {
    const presented = presentedKey(request);
    if (!presented) throw new ApiError('unauthorized', 'send Authorization: Bearer <api key>');
    const hash = hashSecret(presented);
    // Compare against every key in constant time, so timing does not tell which exist.
    let found: ApiKey | undefined;
    for (const key of apiKeys) {
      if (timingSafeEqual(key.hash, hash)) found = key;
    }
    if (!found) throw new ApiError('unauthorized', 'unknown API key');
    if (!found.scopes.has(scope)) {
      throw new ApiError('forbidden', `this API key lacks the ${scope} scope`);
    }
    return found;
  }

  const guard = (scope: Scope): Guard => ({
    onRequest: async (request) => {
      const key = authorize(request, scope);
      KEYS_OF_REQUESTS.set(request, key);
      return key;
    },
  });

  return {
    authorize,
    guards: { payments: guard('payments'), ops: guard('ops') },
    authorizeConsole(request) {
      const key = authorize(request, 'ops');
      requireAllMerchants(key);
      refuseCrossSite(request);
      refuseActionWithoutToken(request, key);
    },
    formToken: (request) => formTokenOf(authorize(request, 'ops')),
  };
}

const KEYS_OF_REQUESTS = new WeakMap<FastifyRequest, ApiKey>();

/** The merchants the request's key may use (set by the route's guard). */
export function merchantScopeOf(request: FastifyRequest): MerchantScope {
  const key = KEYS_OF_REQUESTS.get(request);
  if (!key) throw new Error('no guard authorised this request');
  return key.merchants;
}

/** Routes about the whole deployment (janitor, merchants, console, metrics) need a key of every merchant. */
export function requireAllMerchants(key: ApiKey | FastifyRequest): void {
  const merchants = 'merchants' in key ? key.merchants : merchantScopeOf(key);
  if (merchants !== 'all') {
    throw new ApiError(
      'forbidden',
      'this API key is bound to merchants: this route is for keys of every merchant',
    );
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
