/**
 * Bull Board under /ops/queues: the step and manual-review queues of every
 * shard (the review queues read-only), its page, assets and calls behind the
 * console's session, with a Content Security Policy allowing its styles.
 * It works offline: its page links web fonts of another site, a link
 * dropped here (and blocked by its policy); its theme uses the system fonts.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginAsync } from 'fastify';
import { QUEUE_BOARD_POLICY, usePolicy } from '../security-headers.ts';
import type { ConsoleOptions } from './shared.ts';

export const QUEUE_BOARD_PATH = '/ops/queues';

const SYSTEM_FONTS = {
  'font-sans': 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  'font-mono': 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
};

/** Stylesheet links of Bull Board's page to another origin (its web fonts). */
const REMOTE_STYLESHEET = /<link\b[^>]*href="https?:\/\/[^"]*"[^>]*rel="stylesheet"[^>]*>\s*/gi;

/** Bull Board's page without its links to stylesheets of other sites. */
function withoutRemoteFonts(html: string): string {
  return html.replace(REMOTE_STYLESHEET, '');
}

/** Register with `{ prefix: QUEUE_BOARD_PATH }`, in a scope with the session cookie's parser. */
export const queueBoard: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { ports, sessions } = options;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: ports.shards().flatMap((shard) => {
      const { step, review } = ports.shardQueues(shard);
      return [new BullMQAdapter(step), new BullMQAdapter(review, { readOnlyMode: true })];
    }),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Sogenactif queues',
        miscLinks: [{ text: 'Ops console', url: '/ops' }],
        theme: { light: SYSTEM_FONTS, dark: SYSTEM_FONTS },
      },
    },
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    return typeof payload === 'string' && type.startsWith('text/html')
      ? withoutRemoteFonts(payload)
      : payload;
  });
  // Bull Board answers errors with its own handler: the checks answer their refusals themselves.
  app.addHook('onRequest', async (request, reply) => {
    try {
      return await sessions.authenticate(request, reply);
    } catch (error) {
      return options.sendError(reply, error, request);
    }
  });
  app.addHook('preHandler', async (request, reply) => {
    try {
      sessions.authorize(request);
    } catch (error) {
      return options.sendError(reply, error, request);
    }
    return undefined;
  });
  usePolicy(app, QUEUE_BOARD_POLICY);
  await app.register(serverAdapter.registerPlugin());
};
