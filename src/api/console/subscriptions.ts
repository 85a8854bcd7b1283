/**
 * The console's subscription pages: the list, one subscription with its
 * occurrences and payments, and its pause, resume and cancel buttons (plain
 * POST forms answered with a redirect back, or a page saying why not).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { PublicSubscription as SubscriptionView } from '../../service/schedule-views.ts';
import { SUBSCRIPTION_ID } from '../params.ts';
import { filterList, readFilter, type FilterQuery, type ListFilter } from './filters.ts';
import {
  badge,
  button,
  facts,
  html,
  money,
  actOnRecord,
  pageOfRecord,
  page,
  paymentLink,
  row,
  subjectLink,
  table,
  text,
  when,
  type ConsoleOptions,
} from './shared.ts';

const UNITS: readonly (readonly [string, number])[] = [
  ['w', 7 * 86_400_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/** `every 30d`, `cron 0 9 1 * * (Europe/Paris)`. */
function scheduleOf(subscription: SubscriptionView): string {
  const { intervalMs, cron, timezone } = subscription.schedule;
  if (intervalMs !== undefined) {
    const [unit, size] = UNITS.find(([, ms]) => intervalMs % ms === 0) ?? ['ms', 1];
    return `every ${text(intervalMs / size)}${text(unit)}`;
  }
  if (cron !== undefined) {
    return `cron <code>${text(cron)}</code>${timezone ? ` (${text(timezone)})` : ''}`;
  }
  return '—';
}

function listPage(subscriptions: SubscriptionView[], filter: ListFilter): string {
  const { shown, form } = filterList('/ops/subscriptions', filter, subscriptions, {
    status: (subscription) => subscription.status,
    fields: (subscription) => [
      subscription.id,
      subscription.merchant.orderId,
      subscription.merchant.customerId,
      subscription.firstPaymentId,
    ],
  });
  const rows = shown.map((subscription) =>
    row([
      subjectLink(subscription.id),
      badge(subscription.status),
      money(subscription.amount, subscription.currency),
      scheduleOf(subscription),
      when(subscription.nextRunAt),
      when(subscription.createdAt),
    ]),
  );
  return page(
    'Subscriptions',
    `${form}
${table(
  ['subscription', 'status', 'amount', 'schedule', 'next run', 'created'],
  rows,
  subscriptions.length === 0 ? 'No subscription.' : 'No subscription matches the filter.',
)}`,
  );
}

function actionButtons(subscription: SubscriptionView, token: string): string {
  const base = `/ops/subscriptions/${encodeURIComponent(subscription.id)}`;
  return [
    subscription.status === 'active' ? button(`${base}/pause`, 'Pause', token) : '',
    subscription.status === 'paused' ? button(`${base}/resume`, 'Resume', token) : '',
    subscription.status !== 'cancelled' && subscription.status !== 'failed'
      ? button(`${base}/cancel`, 'Cancel the subscription', token)
      : '',
  ].join('');
}

function subscriptionPage(subscription: SubscriptionView, token: string): string {
  const occurrences = [...subscription.occurrences]
    .reverse()
    .map((occurrence) =>
      row([
        text(occurrence.period),
        when(occurrence.scheduledAt),
        money(occurrence.amount, subscription.currency),
        badge(occurrence.status),
        occurrence.paymentIds.map(paymentLink).join('<br>'),
        when(occurrence.nextRetryAt),
      ]),
    );
  const { merchant } = subscription;
  return page(
    `Subscription ${subscription.id}`,
    `${facts([
      [
        'status',
        `${badge(subscription.status)}${subscription.reason ? ` (${text(subscription.reason)})` : ''}`,
      ],
      ['method', text(subscription.method)],
      ['amount', money(subscription.amount, subscription.currency)],
      ['capture', `${text(subscription.captureMode)}, day ${text(subscription.captureDay)}`],
      ['schedule', scheduleOf(subscription)],
      ['next run', when(subscription.nextRunAt)],
      ['retry on decline (days)', text(subscription.retryOnDeclineDays.join(', ') || '—')],
      ['first payment', paymentLink(subscription.firstPaymentId)],
      ['order / customer', `${text(merchant.orderId)} / ${text(merchant.customerId)}`],
      ['created / updated', `${when(subscription.createdAt)} / ${when(subscription.updatedAt)}`],
    ])}
<div class="actions">${actionButtons(subscription, token) || '<span class="muted">No action left.</span>'}</div>
<h2>Occurrences (newest first)</h2>
${table(['period', 'scheduled', 'amount', 'status', 'payments (attempts)', 'next retry'], occurrences, 'None yet.')}`,
  );
}

export const subscriptionPages: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { subscriptions } = options.orchestrator;

  app.get<{ Querystring: FilterQuery }>('/ops/subscriptions', async (request, reply) => {
    const list = await subscriptions.list({ limit: 200 });
    return html(reply, listPage(list, readFilter(request.query)));
  });

  app.get<{ Params: { id: string } }>('/ops/subscriptions/:id', async (request, reply) =>
    pageOfRecord(
      reply,
      {
        what: 'Subscription',
        id: request.params.id,
        pattern: SUBSCRIPTION_ID,
        missing: 'subscription_not_found',
      },
      (id) => subscriptions.get(id),
      (subscription) => subscriptionPage(subscription, options.sessions.formToken(request)),
    ),
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post<{ Params: { id: string } }>(
      `/ops/subscriptions/:id/${action}`,
      async (request, reply) =>
        actOnRecord(
          reply,
          {
            what: 'Subscription',
            id: request.params.id,
            pattern: SUBSCRIPTION_ID,
            page: '/ops/subscriptions',
          },
          (id) => subscriptions[action](id),
        ),
    );
  }
};
