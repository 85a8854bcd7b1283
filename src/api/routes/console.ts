/**
 * The ops console: server-rendered HTML, no front-end build. The review
 * queue with its evidence and actions, stuck payments, a payment's timeline,
 * scheduled money, alerts, the janitor, webhook endpoints and their
 * deliveries, the go-live figures and Bull Board.
 * Behind the `ops` scope (HTTP Basic: any user name, the API key as password,
 * so a browser can log in); every page checks it before its handler runs.
 */
import type { FastifyPluginAsync } from 'fastify';
import { instalmentPlanPages } from '../console/instalment-plans.ts';
import { operationPages } from '../console/operations.ts';
import { overviewPages } from '../console/overview.ts';
import { queueBoard, QUEUE_BOARD_PATH } from '../console/queue-board.ts';
import { reviewPages } from '../console/reviews.ts';
import { subscriptionPages } from '../console/subscriptions.ts';
import { webhookPages, type WebhookConsoleOptions } from '../console/webhooks.ts';

export const consoleRoutes: FastifyPluginAsync<WebhookConsoleOptions> = async (app, options) => {
  await app.register(queueBoard, { ...options, prefix: QUEUE_BOARD_PATH });
  await app.register(async (pages) => {
    pages.addHook('preHandler', async (request) => options.authorize(request));
    for (const plugin of [
      subscriptionPages,
      instalmentPlanPages,
      operationPages,
      overviewPages,
      reviewPages,
      webhookPages,
    ]) {
      await pages.register(plugin, options);
    }
  });
};
