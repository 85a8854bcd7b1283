/**
 * The console's static assets: its stylesheet, open to everyone (the login
 * page uses it). Pages link it under a path naming its digest; like every
 * `/ops` answer it is sent `no-store` (app.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { CONSOLE_CSS } from './style.ts';

export const consoleAssets: FastifyPluginAsync = async (app) => {
  app.get('/ops/assets/console.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').send(CONSOLE_CSS),
  );
};
