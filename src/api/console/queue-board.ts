/**
 * Bull Board under /ops/queues: the step and manual-review queues of every
 * shard (the review queues read-only), behind the console's check.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginAsync } from 'fastify';
import type { ConsoleOptions } from './shared.ts';

export const QUEUE_BOARD_PATH = '/ops/queues';

/** Register with `{ prefix: QUEUE_BOARD_PATH }`. */
export const queueBoard: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { ports } = options;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: ports.shards().flatMap((shard) => {
      const { step, review } = ports.shardQueues(shard);
      return [new BullMQAdapter(step), new BullMQAdapter(review, { readOnlyMode: true })];
    }),
    serverAdapter,
  });
  // Bull Board answers errors with its own handler: the check answers its refusals itself.
  app.addHook('onRequest', async (request, reply) => {
    try {
      options.authorize(request);
    } catch (error) {
      return options.sendError(reply, error, request);
    }
    return undefined;
  });
  await app.register(serverAdapter.registerPlugin());
};
