/**
 * API keys and their scopes. The API (`/v1`, `/metrics`) takes only
 * `Authorization: Bearer <key>`: a browser never adds that header by itself,
 * so no other site can make it send an authenticated request. HTTP Basic is
 * refused with a problem naming Bearer. The ops console has its own login
 * (console/sessions.ts): an ops key typed into a form opens a session.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
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
  /** The key whose secret this is (the console's login form), or undefined. */
  identify(secret: string): ApiKey | undefined;
  /** The configured key of this name with this hash: undefined once it is removed or changed. */
  current(name: string, hash: Buffer): ApiKey | undefined;
}

export function createAuth(apiKeys: readonly ApiKey[]): Auth {
  function identify(secret: string): ApiKey | undefined {
    const hash = hashSecret(secret);
    // Compare against every key in constant time, so timing does not tell which exist.
    let found: ApiKey | undefined;
    for (const key of apiKeys) {
      if (timingSafeEqual(key.hash, hash)) found = key;
    }
    return found;
  }

  function authorize(request: FastifyRequest, scope: Scope): ApiKey {
    const found = identify(presentedKey(request));
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
    identify,
    current: (name, hash) =>
      apiKeys.find((key) => key.name === name && timingSafeEqual(key.hash, hash)),
  };
}

const KEYS_OF_REQUESTS = new WeakMap<FastifyRequest, ApiKey>();

/** The key the route's guard authorised for the request. */
function keyOf(request: FastifyRequest): ApiKey {
  const key = KEYS_OF_REQUESTS.get(request);
  if (!key) throw new Error('no guard authorised this request');
  return key;
}

/** The merchants the request's key may use (set by the route's guard). */
export function merchantScopeOf(request: FastifyRequest): MerchantScope {
  return keyOf(request).merchants;
}

/** The name of the request's key (set by the route's guard): who a decision is by. */
export function keyNameOf(request: FastifyRequest): string {
  return keyOf(request).name;
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

const SEND_BEARER = 'send Authorization: Bearer <api key>';

const bearerSecretOf = (authorization: string): string | undefined =>
  /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];

/** The secret of the request's `Authorization: Bearer <key>`, unchecked, or undefined. */
export function bearerSecret(request: FastifyRequest): string | undefined {
  const value = header(request, 'authorization');
  return value ? bearerSecretOf(value) : undefined;
}

/**
 * The API key of a request: `Authorization: Bearer <key>` and nothing else.
 * HTTP Basic (which a browser replays on its own, to any site's forms) is
 * refused by name.
 */
function presentedKey(request: FastifyRequest): string {
  const value = header(request, 'authorization');
  if (!value) throw new ApiError('unauthorized', SEND_BEARER);
  const bearer = bearerSecretOf(value);
  if (bearer !== undefined) return bearer;
  if (/^Basic(\s|$)/i.test(value)) {
    throw new ApiError('unauthorized', `HTTP Basic is not accepted here: ${SEND_BEARER}`);
  }
  throw new ApiError('unauthorized', SEND_BEARER);
}
