/**
 * The ops console: server-rendered HTML, no front-end build. The review queue
 * with its evidence and actions, stuck payments, a payment's timeline and the
 * go-live figures. Behind the `ops` scope (HTTP Basic: any user name, the API
 * key as password, so a browser can log in).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FINAL_STATUSES, PAYMENT_STATUSES, type PaymentStatus } from '../../machines/contract.ts';
import type { ReviewItem } from '../payments/review.ts';
import type { Orchestrator, PaymentView } from '../orchestrator.ts';
import { escapeHtml } from '../platform/html.ts';
import { html, page, tokenField } from './console-layout.ts';
import { registerScheduleConsole } from './console-schedules.ts';
import type { Metrics } from './metrics.ts';

export interface ConsoleOptions {
  orchestrator: Orchestrator;
  metrics?: Metrics;
  /** Checks the request's credentials for the ops scope; throws when they are missing or wrong. */
  authorize(request: FastifyRequest): void;
  /** The form token the console's forms carry (hidden field `formToken`), for the request's key. */
  formToken(request: FastifyRequest): string;
  /** Answers an error thrown by `authorize` (for routes whose plugin has its own error handler). */
  sendError(reply: FastifyReply, error: unknown, request: FastifyRequest): FastifyReply;
  /** A payment not final after this long is listed as stuck. @defaultValue 5 min */
  stuckAfterMs?: number;
}

function reviewRow(item: ReviewItem): string {
  return `<tr><td><a href="/ops/reviews/${encodeURIComponent(item.jobId)}">${escapeHtml(item.jobId)}</a></td>
<td><a href="/ops/payments/${encodeURIComponent(item.paymentId)}">${escapeHtml(item.paymentId)}</a></td>
<td>${escapeHtml(item.reason)}</td><td>${escapeHtml(new Date(item.enqueuedAt).toISOString())}</td></tr>`;
}

const MARKABLE = ['refused', 'failed', 'authorized', 'captured', 'cancelled'] as const;

/** Bull Board under /ops/queues: the step and manual-review queues of every shard. */
async function registerQueueBoard(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const { keyspace, queues, reviews } = options.orchestrator.internals;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/ops/queues');
  createBullBoard({
    queues: keyspace.allShards.flatMap((shard) => [
      new BullMQAdapter(queues.queue(shard)),
      new BullMQAdapter(reviews.queue(shard), { readOnlyMode: true }),
    ]),
    serverAdapter,
  });
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        try {
          options.authorize(request);
        } catch (error) {
          return options.sendError(reply, error, request);
        }
        return undefined;
      });
      await scope.register(serverAdapter.registerPlugin());
    },
    { prefix: '/ops/queues' },
  );
}

export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const { orchestrator } = options;
  void app.register(async (scope) => registerQueueBoard(scope, options));
  const stuckAfterMs = options.stuckAfterMs ?? 5 * 60_000;
  registerScheduleConsole(app, options);

  app.get('/ops', async (request, reply) => {
    options.authorize(request);
    const reviews = await orchestrator.reviews.list({ limit: 200 });
    const olderThan = Date.now() - stuckAfterMs;
    const waiting = PAYMENT_STATUSES.filter(
      (status) =>
        !FINAL_STATUSES.has(status) &&
        !['authorized', 'captured', 'partially_refunded', 'in_review'].includes(status),
    );
    const stuck: { id: string; status: PaymentStatus; updatedAt: number }[] = [];
    for (const status of waiting) {
      for (const entry of await orchestrator.internals.store.listByStatus(status, {
        olderThan,
        limit: 50,
      })) {
        stuck.push({ id: entry.id, status, updatedAt: entry.updatedAt });
      }
    }
    const figures = options.metrics?.figures();
    const figuresHtml = figures
      ? `<table><tr><th>authorisation answers</th><td>${figures.answers}</td></tr>
<tr><th>acceptance rate (00 / all)</th><td>${(figures.acceptanceRate * 100).toFixed(1)} %</td></tr>
<tr><th>technical refusals (90, 97, 99)</th><td>${figures.technical}</td></tr>
<tr><th>fraud (34)</th><td>${figures.fraud}</td></tr>
<tr><th>too many attempts (75)</th><td>${figures.tooManyAttempts}</td></tr></table>`
      : '<p>Figures are collected by the process running the workers.</p>';
    return html(
      reply,
      page(
        'Operations',
        `<h2>Go-live figures</h2>${figuresHtml}
<h2>Manual review (${reviews.length})</h2>
${reviews.length === 0 ? '<p>Nothing to review.</p>' : `<table><tr><th>item</th><th>payment</th><th>reason</th><th>since</th></tr>${reviews.map(reviewRow).join('')}</table>`}
<h2>Stuck payments (not final after ${Math.round(stuckAfterMs / 60_000)} min)</h2>
${
  stuck.length === 0
    ? '<p>None.</p>'
    : `<table><tr><th>payment</th><th>status</th><th>since</th></tr>${stuck
        .map(
          (entry) =>
            `<tr><td><a href="/ops/payments/${encodeURIComponent(entry.id)}">${escapeHtml(entry.id)}</a></td><td>${escapeHtml(entry.status)}</td><td>${new Date(entry.updatedAt).toISOString()}</td></tr>`,
        )
        .join('')}</table>`
}
<form method="GET" action="/ops/payments"><label>Payment id <input name="id" size="40"></label> <button>Open</button></form>
<h2>Scheduled money</h2>
<ul><li><a href="/ops/subscriptions">Subscriptions</a></li><li><a href="/ops/instalment-plans">Instalment plans</a></li>
<li><a href="/ops/schedules">Scheduled items</a> (timers, inquiries, occurrences, instalments)</li>
<li><a href="/ops/alerts">Alerts</a></li><li><a href="/ops/janitor">Janitor</a> (run it now)</li></ul>`,
      ),
    );
  });

  app.get<{ Querystring: { id?: string } }>('/ops/payments', async (request, reply) => {
    options.authorize(request);
    return reply.redirect(`/ops/payments/${encodeURIComponent(request.query.id ?? '')}`, 303);
  });

  app.get<{ Params: { id: string } }>('/ops/payments/:id', async (request, reply) => {
    options.authorize(request);
    const payment: PaymentView = await orchestrator.payments.get(request.params.id);
    const rows = payment.timeline
      .map(
        (entry) =>
          `<tr><td>${escapeHtml(entry.at)}</td><td>${escapeHtml(entry.kind)}</td><td><code>${escapeHtml(JSON.stringify(entry.detail ?? {}))}</code></td></tr>`,
      )
      .join('');
    return html(
      reply,
      page(
        `Payment ${payment.id}`,
        `<table>
<tr><th>status</th><td>${escapeHtml(payment.status)}</td></tr>
<tr><th>kind</th><td>${escapeHtml(payment.kind)}</td></tr>
<tr><th>amount</th><td>${payment.amount} (currency ${escapeHtml(payment.currency)}, minor units)</td></tr>
<tr><th>authorised / captured / cancelled / refunded</th><td>${payment.amounts.authorized} / ${payment.amounts.captured} / ${payment.amounts.cancelled} / ${payment.amounts.refunded}</td></tr>
<tr><th>transactionReference</th><td>${escapeHtml(payment.transactionReference)}</td></tr>
<tr><th>card</th><td>${escapeHtml(payment.maskedPan ?? '—')}</td></tr>
</table>
<h2>Timeline</h2><table><tr><th>at</th><th>what</th><th>detail</th></tr>${rows}</table>`,
      ),
    );
  });

  app.get<{ Params: { jobId: string } }>('/ops/reviews/:jobId', async (request, reply) => {
    options.authorize(request);
    const item = await orchestrator.reviews.get(request.params.jobId).catch(() => undefined);
    if (!item) {
      return html(
        reply.code(404),
        page('Review item not found', '<p>It may have been resolved.</p>'),
      );
    }
    const action = `/ops/reviews/${encodeURIComponent(item.jobId)}/resolve`;
    const resolved = item.state === 'resolved';
    const token = tokenField(options.formToken(request));
    const open = (value: string) =>
      `<form class="inline" method="POST" action="${action}">${token}<input type="hidden" name="action" value="${value}">`;
    const forms = resolved
      ? `<p>Resolved: <code>${escapeHtml(JSON.stringify(item.resolution ?? {}))}</code></p>`
      : `${open('adopt')}
<label>Note <input name="note" required></label> <button>Ask Sips and adopt its status</button></form>
${open('reinquire')}
<input type="hidden" name="note" value="inquiry from the console"><button>Run the inquiry again</button></form>
${open('mark')}
<label>Decide <select name="status">${MARKABLE.map((status) => `<option>${status}</option>`).join('')}</select></label>
<label>Note <input name="note" required></label> <button>Mark</button></form>`;
    return html(
      reply,
      page(
        `Review ${item.jobId}`,
        `<p>Payment <a href="/ops/payments/${encodeURIComponent(item.paymentId)}">${escapeHtml(item.paymentId)}</a>, reason <strong>${escapeHtml(item.reason)}</strong>, since ${escapeHtml(new Date(item.enqueuedAt).toISOString())}</p>
${forms}
<h2>Evidence</h2><pre>${escapeHtml(JSON.stringify(item.evidence, null, 2))}</pre>`,
      ),
    );
  });

  app.post<{ Params: { jobId: string }; Body: Record<string, string> }>(
    '/ops/reviews/:jobId/resolve',
    async (request, reply) => {
      options.authorize(request);
      const body = request.body ?? {};
      const action = body.action;
      if (
        action !== 'adopt' &&
        action !== 'mark' &&
        action !== 'reinquire' &&
        action !== 'dismiss'
      ) {
        return html(
          reply.code(400),
          page('Unknown action', '<p>Use the buttons of the review page.</p>'),
        );
      }
      try {
        const result = await orchestrator.reviews.resolve(request.params.jobId, {
          action,
          note: body.note ?? '',
          by: 'console',
          ...(body.status ? { details: { status: body.status } } : {}),
        });
        return reply.redirect(`/ops/payments/${encodeURIComponent(result.payment.id)}`, 303);
      } catch (error) {
        return html(
          reply.code(409),
          page(
            'Not resolved',
            `<p>${escapeHtml(error instanceof Error ? error.message : String(error))}</p>
<p><a href="/ops/reviews/${encodeURIComponent(request.params.jobId)}">Back to the item</a></p>`,
          ),
        );
      }
    },
  );
}
