/**
 * The console's login and logout pages. `GET /ops/login` is a form taking an
 * API key with the ops scope (of every merchant) as its password;
 * `POST /ops/login` opens a session (console/sessions.ts) and goes on to the
 * page asked for. `GET /ops/logout` shows a button posting to
 * `POST /ops/logout` with the form token, which ends the session.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Auth } from '../auth.ts';
import { button, html, page, type ConsoleOptions } from './shared.ts';
import { escapeHtml } from '../../platform/html.ts';
import { afterLogin, LOGIN_PATH, refuseCrossSite, type ConsoleSessions } from './sessions.ts';

export interface LoginOptions {
  auth: Pick<Auth, 'identify'>;
  sessions: ConsoleSessions;
}

function loginPage(next: string, problem?: string): string {
  return page(
    'Ops console: log in',
    `${problem ? `<p><strong>${escapeHtml(problem)}</strong></p>` : ''}
<form method="POST" action="${LOGIN_PATH}">
<input type="hidden" name="next" value="${escapeHtml(next)}">
<p><label>API key (ops scope) <input type="password" name="key" autocomplete="current-password" required autofocus></label></p>
<p><button>Log in</button></p>
</form>`,
    { navigation: false },
  );
}

/** `GET` and `POST /ops/login`: open to everyone, so registered outside the pages' session check. */
export const loginPages: FastifyPluginAsync<LoginOptions> = async (app, options) => {
  const { auth, sessions } = options;

  app.get<{ Querystring: { next?: string } }>(LOGIN_PATH, async (request, reply) =>
    html(reply, loginPage(afterLogin(request.query.next))),
  );

  app.post(LOGIN_PATH, async (request, reply) => {
    // A login posted by another site would put the browser in someone else's session.
    refuseCrossSite(request);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const next = afterLogin(body.next);
    const key =
      typeof body.key === 'string' && body.key !== '' ? auth.identify(body.key) : undefined;
    if (!key) return html(reply.code(401), loginPage(next, 'Unknown API key.'));
    if (!key.scopes.has('ops') || key.merchants !== 'all') {
      return html(
        reply.code(403),
        loginPage(
          next,
          'This key cannot open the console: it needs the ops scope and every merchant.',
        ),
      );
    }
    sessions.open(key, request, reply);
    return reply.redirect(next, 303);
  });
};

/** `GET` and `POST /ops/logout`: behind the pages' session check and form token. */
export const logoutPages: FastifyPluginAsync<ConsoleOptions & LoginOptions> = async (
  app,
  options,
) => {
  app.get('/ops/logout', async (request, reply) =>
    html(
      reply,
      page('Log out', button('/ops/logout', 'Log out', options.sessions.formToken(request))),
    ),
  );

  app.post('/ops/logout', async (request, reply) => {
    options.sessions.close(request, reply);
    return reply.redirect(LOGIN_PATH, 303);
  });
};
