/**
 * The ops console's pages for scheduled money: subscriptions and instalment
 * plans with their payments and actions, what will run later, the ops alerts
 * and the janitor on demand. Server-rendered, every value escaped, actions as
 * plain POST forms that work without JavaScript (each answers with a redirect
 * to the page it came from, or a page saying why it was refused).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CommandError } from '../engine/errors.ts';
import type { ScheduledItem } from '../orchestrator.ts';
import { escapeHtml } from '../platform/html.ts';
import type { InstalmentPlan, JanitorReport, SubscriptionView } from '../schedules/index.ts';
import type { ConsoleOptions } from './console.ts';
import { html, page, tokenField } from './console-layout.ts';
import { PLAN_ID, SUBSCRIPTION_ID } from './params.ts';

/** Any value as escaped text. */
const text = (value: unknown): string => escapeHtml(value === undefined ? '—' : String(value));

/** A time in ms (or an ISO string) as ISO 8601, escaped; a dash when there is none. */
function when(value: number | string | undefined): string {
  if (value === undefined) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? text(value) : escapeHtml(date.toISOString());
}

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

/** An amount in minor units with its ISO 4217 code. */
const money = (amount: number, currency: string): string =>
  `${text(amount)} <small>(${text(currency)}, minor units)</small>`;

/** A link to the console page of a payment, subscription or plan id. */
function subjectLink(id: string | undefined): string {
  if (!id) return '—';
  const target = id.startsWith('sub_')
    ? 'subscriptions'
    : id.startsWith('plan_')
      ? 'instalment-plans'
      : id.startsWith('pay_')
        ? 'payments'
        : undefined;
  return target ? `<a href="/ops/${target}/${encodeURIComponent(id)}">${text(id)}</a>` : text(id);
}

const paymentLink = (id: string): string =>
  `<a href="/ops/payments/${encodeURIComponent(id)}">${text(id)}</a>`;

function table(headings: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p>${escapeHtml(empty)}</p>`;
  return `<table><tr>${headings.map((heading) => `<th>${escapeHtml(heading)}</th>`).join('')}</tr>
${rows.join('\n')}</table>`;
}

const row = (cells: string[]): string =>
  `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;

/** One POST button carrying the form token; the form needs no JavaScript. */
const button = (action: string, label: string, token: string): string =>
  `<form class="inline" method="POST" action="${escapeHtml(action)}">${tokenField(token)}<button>${escapeHtml(label)}</button></form>`;

function notFound(reply: FastifyReply, what: string, id: string): FastifyReply {
  return html(
    reply.code(404),
    page(
      `${what} not found`,
      `<p>No ${escapeHtml(what.toLowerCase())} <code>${text(id.slice(0, 80))}</code>.</p>`,
    ),
  );
}

/** A refused action: the command's message and a way back. */
function refused(reply: FastifyReply, error: CommandError, back: string): FastifyReply {
  return html(
    reply.code(error.status),
    page('Not done', `<p>${text(error.message)}</p><p><a href="${escapeHtml(back)}">Back</a></p>`),
  );
}

function janitorReport(report: JanitorReport): string {
  const verdicts = Object.entries(report.verdicts).map(([verdict, count]) =>
    row([text(verdict), text(count)]),
  );
  const payments = report.payments.map((entry) =>
    row([paymentLink(entry.id), text(entry.status), text(entry.verdict), text(entry.detail)]),
  );
  return `<p>Checked ${text(report.checked)} payment(s).</p>
${table(['verdict', 'payments'], verdicts, 'Nothing to settle.')}
${payments.length > 0 ? `<h2>Payments</h2>${table(['payment', 'status', 'verdict', 'detail'], payments, '')}` : ''}`;
}

export function registerScheduleConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const { orchestrator } = options;

  app.get('/ops/subscriptions', async (request, reply) => {
    options.authorize(request);
    const subscriptions = await orchestrator.subscriptions.list({ limit: 200 });
    const rows = subscriptions.map((subscription) =>
      row([
        subjectLink(subscription.id),
        text(subscription.status),
        money(subscription.amount, subscription.currency),
        scheduleOf(subscription),
        when(subscription.nextRunAt),
        when(subscription.createdAt),
      ]),
    );
    return html(
      reply,
      page(
        'Subscriptions',
        table(
          ['subscription', 'status', 'amount', 'schedule', 'next run', 'created'],
          rows,
          'No subscription.',
        ),
      ),
    );
  });

  app.get<{ Params: { id: string } }>('/ops/subscriptions/:id', async (request, reply) => {
    options.authorize(request);
    const id = request.params.id;
    if (!SUBSCRIPTION_ID.test(id)) return notFound(reply, 'Subscription', id);
    let subscription: SubscriptionView;
    try {
      subscription = await orchestrator.subscriptions.get(id);
    } catch (error) {
      if (error instanceof CommandError && error.code === 'subscription_not_found') {
        return notFound(reply, 'Subscription', id);
      }
      throw error;
    }
    const base = `/ops/subscriptions/${encodeURIComponent(subscription.id)}`;
    const token = options.formToken(request);
    const buttons = [
      subscription.status === 'active' ? button(`${base}/pause`, 'Pause', token) : '',
      subscription.status === 'paused' ? button(`${base}/resume`, 'Resume', token) : '',
      subscription.status !== 'cancelled' && subscription.status !== 'failed'
        ? button(`${base}/cancel`, 'Cancel the subscription', token)
        : '',
    ].join('');
    const occurrences = [...subscription.occurrences]
      .reverse()
      .map((occurrence) =>
        row([
          text(occurrence.period),
          when(occurrence.scheduledAt),
          money(occurrence.amount, subscription.currency),
          text(occurrence.status),
          occurrence.paymentIds.map(paymentLink).join('<br>'),
          when(occurrence.nextRetryAt),
        ]),
      );
    const { merchant } = subscription;
    return html(
      reply,
      page(
        `Subscription ${subscription.id}`,
        `<table>
<tr><th>status</th><td>${text(subscription.status)}${subscription.reason ? ` (${text(subscription.reason)})` : ''}</td></tr>
<tr><th>method</th><td>${text(subscription.method)}</td></tr>
<tr><th>amount</th><td>${money(subscription.amount, subscription.currency)}</td></tr>
<tr><th>capture</th><td>${text(subscription.captureMode)}, day ${text(subscription.captureDay)}</td></tr>
<tr><th>schedule</th><td>${scheduleOf(subscription)}</td></tr>
<tr><th>next run</th><td>${when(subscription.nextRunAt)}</td></tr>
<tr><th>retry on decline (days)</th><td>${text(subscription.retryOnDeclineDays.join(', ') || '—')}</td></tr>
<tr><th>first payment</th><td>${paymentLink(subscription.firstPaymentId)}</td></tr>
<tr><th>order / customer</th><td>${text(merchant.orderId)} / ${text(merchant.customerId)}</td></tr>
<tr><th>created / updated</th><td>${when(subscription.createdAt)} / ${when(subscription.updatedAt)}</td></tr>
</table>
${buttons}
<h2>Occurrences (newest first)</h2>
${table(['period', 'scheduled', 'amount', 'status', 'payments (attempts)', 'next retry'], occurrences, 'None yet.')}`,
      ),
    );
  });

  const subscriptionActions = {
    pause: orchestrator.subscriptions.pause,
    resume: orchestrator.subscriptions.resume,
    cancel: orchestrator.subscriptions.cancel,
  } as const;
  for (const [path, run] of Object.entries(subscriptionActions)) {
    app.post<{ Params: { id: string } }>(
      `/ops/subscriptions/:id/${path}`,
      async (request, reply) => {
        options.authorize(request);
        const id = request.params.id;
        if (!SUBSCRIPTION_ID.test(id)) return notFound(reply, 'Subscription', id);
        const back = `/ops/subscriptions/${encodeURIComponent(id)}`;
        try {
          await run(id);
        } catch (error) {
          if (error instanceof CommandError) return refused(reply, error, back);
          throw error;
        }
        return reply.redirect(back, 303);
      },
    );
  }

  app.get('/ops/instalment-plans', async (request, reply) => {
    options.authorize(request);
    const plans = await orchestrator.instalmentPlans.list({ limit: 200 });
    const rows = plans.map((plan) => {
      const paid = plan.instalments.filter((entry) => entry.status === 'paid').length;
      const next = plan.instalments.find((entry) => entry.status === 'scheduled');
      return row([
        subjectLink(plan.id),
        text(plan.status),
        money(plan.amount, plan.currency),
        `${text(paid)} / ${text(plan.instalments.length)}`,
        when(next?.dueAt),
        when(plan.createdAt),
      ]);
    });
    return html(
      reply,
      page(
        'Instalment plans',
        table(
          ['plan', 'status', 'total', 'paid', 'next instalment', 'created'],
          rows,
          'No instalment plan.',
        ),
      ),
    );
  });

  app.get<{ Params: { id: string } }>('/ops/instalment-plans/:id', async (request, reply) => {
    options.authorize(request);
    const id = request.params.id;
    if (!PLAN_ID.test(id)) return notFound(reply, 'Instalment plan', id);
    let plan: InstalmentPlan;
    try {
      plan = await orchestrator.instalmentPlans.get(id);
    } catch (error) {
      if (error instanceof CommandError && error.code === 'plan_not_found') {
        return notFound(reply, 'Instalment plan', id);
      }
      throw error;
    }
    const instalments = plan.instalments.map((entry) =>
      row([
        text(entry.index + 1),
        text(entry.date),
        when(entry.dueAt),
        money(entry.amount, plan.currency),
        text(entry.status),
        paymentLink(entry.paymentId),
        text(entry.transactionReference),
      ]),
    );
    const token = options.formToken(request);
    const cancel =
      plan.status === 'active'
        ? button(
            `/ops/instalment-plans/${encodeURIComponent(plan.id)}/cancel`,
            'Cancel the plan',
            token,
          )
        : '';
    return html(
      reply,
      page(
        `Instalment plan ${plan.id}`,
        `<table>
<tr><th>status</th><td>${text(plan.status)}${plan.reason ? ` (${text(plan.reason)})` : ''}</td></tr>
<tr><th>method</th><td>${text(plan.method)}</td></tr>
<tr><th>total</th><td>${money(plan.amount, plan.currency)}</td></tr>
<tr><th>capture</th><td>${text(plan.captureMode)}</td></tr>
<tr><th>days between instalments</th><td>${text(plan.intervalDays)}</td></tr>
<tr><th>order / customer</th><td>${text(plan.merchant.orderId)} / ${text(plan.merchant.customerId)}</td></tr>
<tr><th>created / updated</th><td>${when(plan.createdAt)} / ${when(plan.updatedAt)}</td></tr>
</table>
${cancel}
<h2>Instalments</h2>
${table(['#', 'date', 'due', 'amount', 'status', 'payment', 'transactionReference'], instalments, 'None.')}`,
      ),
    );
  });

  app.post<{ Params: { id: string } }>(
    '/ops/instalment-plans/:id/cancel',
    async (request, reply) => {
      options.authorize(request);
      const id = request.params.id;
      if (!PLAN_ID.test(id)) return notFound(reply, 'Instalment plan', id);
      const back = `/ops/instalment-plans/${encodeURIComponent(id)}`;
      try {
        await orchestrator.instalmentPlans.cancel(id);
      } catch (error) {
        if (error instanceof CommandError) return refused(reply, error, back);
        throw error;
      }
      return reply.redirect(back, 303);
    },
  );

  app.get('/ops/schedules', async (request, reply) => {
    options.authorize(request);
    const items: ScheduledItem[] = await orchestrator.ops.schedules({ limit: 500 });
    const rows = items.map((item) =>
      row([
        when(item.runAt),
        text(item.kind),
        subjectLink(item.subject),
        text(item.detail),
        `<code>${text(item.jobId)}</code>`,
      ]),
    );
    return html(
      reply,
      page(
        'Scheduled items',
        `<p>Delayed jobs and the next run of each job scheduler, soonest first.</p>
${table(['runs at', 'kind', 'for', 'detail', 'job'], rows, 'Nothing scheduled.')}`,
      ),
    );
  });

  app.get('/ops/alerts', async (request, reply) => {
    options.authorize(request);
    const alerts = await orchestrator.ops.alerts({ limit: 200 });
    const rows = alerts.map((alert) =>
      row([
        when(alert.at),
        text(alert.kind),
        subjectLink(alert.paymentId ?? alert.subject),
        text(alert.message),
      ]),
    );
    return html(
      reply,
      page('Alerts', table(['at', 'kind', 'about', 'message'], rows, 'No alert.')),
    );
  });

  const janitorForm = (token: string) => button('/ops/janitor/runs', 'Run the janitor now', token);

  app.get('/ops/janitor', async (request, reply) => {
    options.authorize(request);
    return html(
      reply,
      page(
        'Janitor',
        `<p>The janitor settles payments stuck in a status that should not last (a call in flight,
an unknown outcome, a customer who never came back, an authorisation past its remittance date).
It runs on its schedule; this runs one pass now.</p>
${janitorForm(options.formToken(request))}`,
      ),
    );
  });

  app.post('/ops/janitor/runs', async (request, reply) => {
    options.authorize(request);
    const report = await orchestrator.ops.runJanitor();
    return html(
      reply,
      page('Janitor run', `${janitorReport(report)}\n${janitorForm(options.formToken(request))}`),
    );
  });
}
