/**
 * Logging into the ops console as a browser does: the login form posted
 * with an ops key, the session cookie it sets kept for the next requests.
 */
import type { FastifyInstance } from 'fastify';

/** The `cookie` header of a console session opened with `key` (throws when refused). */
export async function consoleSession(
  app: FastifyInstance,
  key = 'ops-secret',
): Promise<{ cookie: string }> {
  const response = await app.inject({
    method: 'POST',
    url: '/ops/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ key }).toString(),
  });
  if (response.statusCode !== 303) {
    throw new Error(`console login refused: ${response.statusCode} ${response.body}`);
  }
  const cookie = response.cookies.find((entry) => entry.name === 'sogenactif_ops');
  if (!cookie) throw new Error('console login set no session cookie');
  return { cookie: `${cookie.name}=${cookie.value}` };
}
