/**
 * The ops console: server-rendered HTML, no front-end build. The review
 * queue with its evidence and actions, stuck payments, a payment's timeline,
 * scheduled money, alerts, the janitor, webhook endpoints and their
 * deliveries, the go-live figures and Bull Board.
 * Behind its own login (console/sessions.ts): an ops key typed into
 * /ops/login opens a session cookie; every page checks the session before
 * its handler runs and every action its form token. Forms are read here
 * only: the API (`/v1`) takes JSON.
 */
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyPluginAsync } from 'fastify';
import { consoleAssets } from '../console/assets.ts';
import { instalmentPlanPages } from '../console/instalment-plans.ts';
import { loginPages, logoutPages, type LoginOptions } from '../console/login.ts';
import { operationPages } from '../console/operations.ts';
import { overviewPages } from '../console/overview.ts';
import { paymentListPages, type SearchConsoleOptions } from '../console/payments-list.ts';
import { queueBoard, QUEUE_BOARD_PATH } from '../console/queue-board.ts';
import { reconciliationPages } from '../console/reconciliation.ts';
import { reviewPages } from '../console/reviews.ts';
import { subscriptionPages } from '../console/subscriptions.ts';
import { webhookPages, type WebhookConsoleOptions } from '../console/webhooks.ts';

export type ConsoleRoutesOptions = WebhookConsoleOptions & SearchConsoleOptions & LoginOptions;

export const consoleRoutes: FastifyPluginAsync<ConsoleRoutesOptions> = async (app, options) => {
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 32 * 1024 });
  await app.register(consoleAssets);
  await app.register(loginPages, options);
  await app.register(queueBoard, { ...options, prefix: QUEUE_BOARD_PATH });
  await app.register(async (pages) => {
    pages.addHook('onRequest', options.sessions.authenticate);
    pages.addHook('preHandler', async (request) => options.sessions.authorize(request));
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
    await pages.register(paymentListPages, options);
    await pages.register(reconciliationPages, options);
    await pages.register(logoutPages, options);
  });
};
