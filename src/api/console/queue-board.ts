/**
 * Bull Board under /ops/queues: the step and manual-review queues of every
 * shard (the review queues read-only), its page, assets and calls behind the
 * console's session, with a Content Security Policy allowing its styles.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginAsync } from 'fastify';
import { QUEUE_BOARD_POLICY, usePolicy } from '../security-headers.ts';
import type { ConsoleOptions } from './shared.ts';

export const QUEUE_BOARD_PATH = '/ops/queues';

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
