/**
 * The ops console's login sessions. Logging in with an ops key (of every
 * merchant) opens a session: a random id in a cookie (HttpOnly,
 * SameSite=Strict, Path=/ops, Secure over https) that a browser never sends
 * with a request started by another site. The session remembers the key's
 * name and hash: removing or changing the key in API_KEYS ends it, and the
 * key's scope and merchants are checked again on every request. Sessions
 * live in this process's memory for at most 8 hours; a restart logs everyone
 * out. Every console action also carries the session's form token and must
 * come from the console's own origin. The console never authenticates
 * `/v1`: the API takes only `Authorization: Bearer`.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKey, Auth } from '../auth.ts';
import { requireAllMerchants } from '../auth.ts';
import { ApiError } from '../problems.ts';

const SESSION_COOKIE = 'sogenactif_ops';
export const LOGIN_PATH = '/ops/login';
const COOKIE_PATH = '/ops';
/** How long a session lasts after its login. @defaultValue 8 h */
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

interface Session {
  keyName: string;
  keyHash: Buffer;
  expiresAt: number;
}

/** A request's live session: its id (secret, from the cookie) and the key that opened it. */
interface OpenSession {
  id: string;
  key: ApiKey;
}

export interface ConsoleSessions {
  /** Opens a session for the key and sets its cookie; a session the browser had is closed first. */
  open(key: ApiKey, request: FastifyRequest, reply: FastifyReply): void;
  /** Closes the request's session and clears its cookie. */
  close(request: FastifyRequest, reply: FastifyReply): void;
  /**
   * A page's check (onRequest): a session of an ops key of every merchant.
   * Without one, a GET is sent to the login page and anything else is
   * refused with 401.
   */
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  /**
   * An action's check (preHandler, after `authenticate`): from the console's
   * own origin, carrying the session's form token. Bull Board's own calls
   * (JSON or body-less, from its page) are left to the origin check and the
   * SameSite cookie.
   */
  authorize(request: FastifyRequest): void;
  /** The form token of the request's session (hidden field `formToken`). */
  formToken(request: FastifyRequest): string;
  /** The name of the API key that opened the request's session: who a console decision is by. */
  keyName(request: FastifyRequest): string;
}

export interface ConsoleSessionOptions {
  auth: Pick<Auth, 'current'>;
  /** Cookies are Secure on every request (PUBLIC_URL is https), not only on https ones. */
  alwaysSecure: boolean;
  ttlMs?: number;
  now?: () => number;
}

export function createConsoleSessions(options: ConsoleSessionOptions): ConsoleSessions {
  const { auth, alwaysSecure } = options;
  const ttlMs = options.ttlMs ?? SESSION_TTL_MS;
  const now = options.now ?? Date.now;
  // Keyed by a digest of the id: the ids themselves are only in the cookies.
  const sessions = new Map<string, Session>();
  const opened = new WeakMap<FastifyRequest, OpenSession>();

  const digest = (id: string): string => createHash('sha256').update(id).digest('base64url');
  const cookieOptions = (request: FastifyRequest) =>
    ({
      path: COOKIE_PATH,
      httpOnly: true,
      sameSite: 'strict',
      secure: alwaysSecure || request.protocol === 'https',
    }) as const;

  function sweep(): void {
    const time = now();
    for (const [id, session] of sessions) if (session.expiresAt <= time) sessions.delete(id);
  }

  function lookup(request: FastifyRequest): OpenSession | undefined {
    const id = request.cookies[SESSION_COOKIE];
    if (typeof id !== 'string' || id.length === 0) return undefined;
    const session = sessions.get(digest(id));
    if (!session) return undefined;
    const key = auth.current(session.keyName, session.keyHash);
    if (session.expiresAt <= now() || !key) {
      sessions.delete(digest(id));
      return undefined;
    }
    return { id, key };
  }

  function openedOf(request: FastifyRequest): OpenSession {
    const session = opened.get(request);
    if (!session) throw new Error('no console session was checked for this request');
    return session;
  }

  return {
    open(key, request, reply) {
      sweep();
      const previous = request.cookies[SESSION_COOKIE];
      if (typeof previous === 'string') sessions.delete(digest(previous));
      const id = randomBytes(32).toString('base64url');
      sessions.set(digest(id), { keyName: key.name, keyHash: key.hash, expiresAt: now() + ttlMs });
      void reply.setCookie(SESSION_COOKIE, id, {
        ...cookieOptions(request),
        maxAge: Math.floor(ttlMs / 1000),
      });
    },
    close(request, reply) {
      const id = request.cookies[SESSION_COOKIE];
      if (typeof id === 'string') sessions.delete(digest(id));
      void reply.clearCookie(SESSION_COOKIE, cookieOptions(request));
    },
    async authenticate(request, reply) {
      const session = lookup(request);
      if (!session) {
        if (request.method === 'GET' || request.method === 'HEAD') {
          return reply.redirect(`${LOGIN_PATH}?next=${encodeURIComponent(request.url)}`, 303);
        }
        throw new ApiError('unauthorized', `log in to the console first: ${LOGIN_PATH}`);
      }
      if (!session.key.scopes.has('ops')) {
        throw new ApiError('forbidden', 'this API key lacks the ops scope');
      }
      requireAllMerchants(session.key);
      opened.set(request, session);
      return undefined;
    },
    authorize(request) {
      const session = openedOf(request);
      if (request.method === 'GET' || request.method === 'HEAD') return;
      refuseCrossSite(request);
      if (request.url.startsWith('/ops/queues/')) return;
      const body = request.body as Record<string, unknown> | undefined;
      const presented = Buffer.from(typeof body?.formToken === 'string' ? body.formToken : '');
      const expected = Buffer.from(formTokenOf(session.id));
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        throw new ApiError(
          'forbidden',
          'a console action must carry its form token: reload the page and submit again',
        );
      }
    },
    formToken: (request) => formTokenOf(openedOf(request).id),
    keyName: (request) => openedOf(request).key.name,
  };
}

/**
 * The form token of a session (a synchronizer token): another site can make
 * the browser post a form but cannot read the console's pages to learn it.
 */
function formTokenOf(sessionId: string): string {
  return createHmac('sha256', sessionId).update('sogenactif console form').digest('base64url');
}

/**
 * A state-changing console request whose Origin (or Referer) names another
 * site, or is opaque (`null`), is refused. Clients that send neither (curl)
 * pass: they carry no browser cookie unless given one.
 */
export function refuseCrossSite(request: FastifyRequest): void {
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

/** Where to go after logging in: a console path, never another site. */
export function afterLogin(next: unknown): string {
  if (typeof next !== 'string' || next.length > 2_000) return '/ops';
  if (!/^\/ops(\/|\?|$)/.test(next) || next.includes('\\') || next.startsWith(LOGIN_PATH)) {
    return '/ops';
  }
  return next;
}
