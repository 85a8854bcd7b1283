/**
 * The console's overview and payment pages: the go-live figures, the open
 * review items, payments stuck in a status that should not last, and one
 * payment with its timeline.
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  FINAL_STATUSES,
  PAYMENT_STATUSES,
  type PaymentStatus,
} from '../../../machines/contract.ts';
import type { PaymentView } from '../../orchestrator.ts';
import type { ReviewItem } from '../../payments/review.ts';
import { escapeHtml } from '../../platform/html.ts';
import type { GoLiveFigures } from '../metrics.ts';
import { html, merchantFilter, page, type ConsoleOptions } from './shared.ts';
import { scopedReviews } from '../../service/scope.ts';

interface StuckPayment {
  id: string;
  status: PaymentStatus;
  updatedAt: number;
}

/** Statuses a payment should not stay in: neither final nor waiting for the merchant. */
const TRANSIENT = PAYMENT_STATUSES.filter(
  (status) =>
    !FINAL_STATUSES.has(status) &&
    !['authorized', 'captured', 'partially_refunded', 'in_review'].includes(status),
);

function reviewRow(item: ReviewItem): string {
  return `<tr><td><a href="/ops/reviews/${encodeURIComponent(item.jobId)}">${escapeHtml(item.jobId)}</a></td>
<td><a href="/ops/payments/${encodeURIComponent(item.paymentId)}">${escapeHtml(item.paymentId)}</a></td>
<td>${escapeHtml(item.reason)}</td><td>${escapeHtml(new Date(item.enqueuedAt).toISOString())}</td></tr>`;
}

function figuresTable(figures: GoLiveFigures | undefined): string {
  if (!figures) return '<p>Figures are collected by the process running the workers.</p>';
  return `<table><tr><th>authorisation answers</th><td>${figures.answers}</td></tr>
<tr><th>acceptance rate (00 / all)</th><td>${(figures.acceptanceRate * 100).toFixed(1)} %</td></tr>
<tr><th>technical refusals (90, 97, 99)</th><td>${figures.technical}</td></tr>
<tr><th>fraud (34)</th><td>${figures.fraud}</td></tr>
<tr><th>too many attempts (75)</th><td>${figures.tooManyAttempts}</td></tr>
<tr><th>credentials refused (03, 34)</th><td>${figures.credentialsRefused}</td></tr></table>`;
}

function stuckTable(stuck: StuckPayment[]): string {
  if (stuck.length === 0) return '<p>None.</p>';
  return `<table><tr><th>payment</th><th>status</th><th>since</th></tr>${stuck
    .map(
      (entry) =>
        `<tr><td><a href="/ops/payments/${encodeURIComponent(entry.id)}">${escapeHtml(entry.id)}</a></td><td>${escapeHtml(entry.status)}</td><td>${new Date(entry.updatedAt).toISOString()}</td></tr>`,
    )
    .join('')}</table>`;
}

function overviewPage(
  figures: GoLiveFigures | undefined,
  reviews: ReviewItem[],
  stuck: StuckPayment[],
  stuckAfterMs: number,
): string {
  return page(
    'Operations',
    `<h2>Go-live figures</h2>${figuresTable(figures)}
<h2>Manual review (${reviews.length})</h2>
${reviews.length === 0 ? '<p>Nothing to review.</p>' : `<table><tr><th>item</th><th>payment</th><th>reason</th><th>since</th></tr>${reviews.map(reviewRow).join('')}</table>`}
<h2>Stuck payments (not final after ${Math.round(stuckAfterMs / 60_000)} min)</h2>
${stuckTable(stuck)}
<form method="GET" action="/ops/payments"><label>Payment id <input name="id" size="40"></label> <button>Open</button></form>
<h2>Scheduled money</h2>
<ul><li><a href="/ops/subscriptions">Subscriptions</a></li><li><a href="/ops/instalment-plans">Instalment plans</a></li>
<li><a href="/ops/schedules">Scheduled items</a> (timers, inquiries, occurrences, instalments)</li>
<li><a href="/ops/alerts">Alerts</a></li><li><a href="/ops/janitor">Janitor</a> (run it now)</li></ul>`,
  );
}

function paymentPage(payment: PaymentView): string {
  const rows = payment.timeline
    .map(
      (entry) =>
        `<tr><td>${escapeHtml(entry.at)}</td><td>${escapeHtml(entry.kind)}</td><td><code>${escapeHtml(JSON.stringify(entry.detail ?? {}))}</code></td></tr>`,
    )
    .join('');
  return page(
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
  );
}

export const overviewPages: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { orchestrator, ports } = options;
  const stuckAfterMs = options.stuckAfterMs ?? 5 * 60_000;

  app.get<{ Querystring: { merchant?: string } }>('/ops', async (request, reply) => {
    // ?merchant=<id>: the review items of that shop's payments only.
    const reviews = await scopedReviews(
      orchestrator.reviews,
      orchestrator.payments,
      merchantFilter(request.query.merchant),
    ).list({ limit: 200 });
    const olderThan = Date.now() - stuckAfterMs;
    const stuck: StuckPayment[] = [];
    for (const status of TRANSIENT) {
      for (const entry of await ports.paymentsInStatusSince(status, { olderThan, limit: 50 })) {
        stuck.push({ id: entry.id, status, updatedAt: entry.updatedAt });
      }
    }
    return html(reply, overviewPage(options.metrics?.figures(), reviews, stuck, stuckAfterMs));
  });

  app.get<{ Querystring: { id?: string } }>('/ops/payments', async (request, reply) => {
    return reply.redirect(`/ops/payments/${encodeURIComponent(request.query.id ?? '')}`, 303);
  });

  app.get<{ Params: { id: string } }>('/ops/payments/:id', async (request, reply) => {
    return html(reply, paymentPage(await orchestrator.payments.get(request.params.id)));
  });
};
