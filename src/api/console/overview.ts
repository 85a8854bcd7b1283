/**
 * The console's overview and payment pages: the last hour's acceptance rate
 * and response codes (inline SVG drawn here), the go-live figures, the open
 * review items, payments stuck in a status that should not last (both
 * filtered by `?q=` and `?status=`), and one payment with its timeline told
 * as sentences.
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
import type { OutcomeFigure } from '../../service/operations.ts';
import type { GoLiveFigures } from '../metrics.ts';
import {
  acceptanceBuckets,
  acceptanceChart,
  CHART_WINDOW_MS,
  responseCodeChart,
  responseCodeCounts,
} from './charts.ts';
import { filterForm, matches, readFilter, type FilterQuery, type ListFilter } from './filters.ts';
import {
  badge,
  facts,
  html,
  merchantFilter,
  money,
  page,
  paymentLink,
  row,
  table,
  text,
  when,
  type ConsoleOptions,
} from './shared.ts';
import { timelineList } from './timeline.ts';
import { scopedReviews } from '../../service/scope.ts';

interface StuckPayment {
  id: string;
  status: PaymentStatus;
  updatedAt: number;
}

/** Stream entries read per shard for the charts: the last hour of a busy shard, bounded. */
const OUTCOMES_PER_SHARD = 5_000;

/** Statuses a payment should not stay in: neither final nor waiting for the merchant. */
const TRANSIENT = PAYMENT_STATUSES.filter(
  (status) =>
    !FINAL_STATUSES.has(status) &&
    !['authorized', 'captured', 'partially_refunded', 'in_review'].includes(status),
);

const reviewRow = (item: ReviewItem): string =>
  row([
    `<a href="/ops/reviews/${encodeURIComponent(item.jobId)}">${escapeHtml(item.jobId)}</a>`,
    paymentLink(item.paymentId),
    badge(item.reason),
    when(item.enqueuedAt),
  ]);

function figuresTable(figures: GoLiveFigures | undefined): string {
  if (!figures) {
    return '<p class="muted">Figures are collected by the process running the workers.</p>';
  }
  return facts([
    ['authorisation answers', text(figures.answers)],
    ['acceptance rate (00 / all)', `${(figures.acceptanceRate * 100).toFixed(1)} %`],
    ['technical refusals (90, 97, 99)', text(figures.technical)],
    ['fraud (34)', text(figures.fraud)],
    ['too many attempts (75)', text(figures.tooManyAttempts)],
    ['credentials refused (03, 34)', text(figures.credentialsRefused)],
  ]);
}

/** The last hour's cards: acceptance (figure and chart) and response codes. */
function lastHour(outcomes: OutcomeFigure[], now: number): string {
  const buckets = acceptanceBuckets(outcomes, now);
  const authorised = buckets.reduce((sum, bucket) => sum + bucket.authorised, 0);
  const refused = buckets.reduce((sum, bucket) => sum + bucket.refused, 0);
  const rate =
    authorised + refused === 0
      ? '—'
      : `${Math.round((authorised / (authorised + refused)) * 100)} %`;
  const inWindow = outcomes.filter((outcome) => outcome.at > now - CHART_WINDOW_MS);
  return `<div class="cards">
<section class="card"><h2>Acceptance, last hour</h2><div class="figure">${rate}</div>
<p class="muted">${authorised} authorised, ${refused} refused (authorised / (authorised + refused))</p>
${acceptanceChart(buckets)}</section>
<section class="card"><h2>Response codes, last hour</h2>${responseCodeChart(responseCodeCounts(inWindow))}</section>
</div>`;
}

function overviewPage(
  parts: {
    figures: GoLiveFigures | undefined;
    reviews: ReviewItem[];
    stuck: StuckPayment[];
    outcomes: OutcomeFigure[];
  },
  filter: ListFilter,
  stuckAfterMs: number,
): string {
  const { figures, reviews, stuck, outcomes } = parts;
  const shownReviews = reviews.filter((item) =>
    matches(filter, item.reason, [item.jobId, item.paymentId, item.reason]),
  );
  const shownStuck = stuck.filter((entry) => matches(filter, entry.status, [entry.id]));
  const statuses = [...reviews.map((item) => item.reason), ...stuck.map((entry) => entry.status)];
  return page(
    'Operations',
    `${lastHour(outcomes, Date.now())}
<form class="filters" method="GET" action="/ops/payments"><label>Payment id <input name="id" size="40" required></label> <button>Open</button></form>
<h2>Manual review (${reviews.length})</h2>
${filterForm('/ops', filter, { statuses, label: 'reason / status', shown: shownReviews.length + shownStuck.length, total: reviews.length + stuck.length })}
${table(['item', 'payment', 'reason', 'since'], shownReviews.map(reviewRow), reviews.length === 0 ? 'Nothing to review.' : 'No item matches the filter.')}
<h2>Stuck payments (not final after ${Math.round(stuckAfterMs / 60_000)} min)</h2>
${table(
  ['payment', 'status', 'since'],
  shownStuck.map((entry) =>
    row([paymentLink(entry.id), badge(entry.status), when(entry.updatedAt)]),
  ),
  stuck.length === 0 ? 'None.' : 'No payment matches the filter.',
)}
<h2>Go-live figures</h2>${figuresTable(figures)}
<h2>Scheduled money</h2>
<ul class="links"><li><a href="/ops/subscriptions">Subscriptions</a></li><li><a href="/ops/instalment-plans">Instalment plans</a></li>
<li><a href="/ops/schedules">Scheduled items</a> (timers, inquiries, occurrences, instalments)</li>
<li><a href="/ops/alerts">Alerts</a></li><li><a href="/ops/janitor">Janitor</a> (run it now)</li></ul>`,
  );
}

function paymentPage(payment: PaymentView): string {
  const amount = (value: number) => money(value, payment.currency);
  const { amounts } = payment;
  return page(
    `Payment ${payment.id}`,
    `${facts([
      ['status', badge(payment.status)],
      ['kind', text(payment.kind)],
      ['merchant', text(payment.merchant)],
      ['amount', amount(payment.amount)],
      [
        'authorised / captured / cancelled / refunded',
        `${amount(amounts.authorized)} / ${amount(amounts.captured)} / ${amount(amounts.cancelled)} / ${amount(amounts.refunded)}`,
      ],
      ['capture mode', text(payment.captureMode)],
      ['transactionReference', `<code>${text(payment.transactionReference)}</code>`],
      ['card', text(payment.maskedPan ?? '—')],
      ['created / updated', `${when(payment.createdAt)} / ${when(payment.updatedAt)}`],
    ])}
<h2>Captures, cancellations and refunds</h2>
${table(
  ['id', 'type', 'amount', 'status', 'carried out as', 'failure', 'asked'],
  payment.operations.map((operation) =>
    row([
      `<code>${text(operation.id)}</code>`,
      text(operation.type),
      amount(operation.amount),
      badge(operation.status),
      text(operation.performedAs),
      text(
        operation.failure
          ? `${operation.failure.reason}${operation.failure.responseCode ? ` (${operation.failure.responseCode})` : ''}`
          : '',
      ),
      operation.createdAt ? when(operation.createdAt) : '',
    ]),
  ),
  'None asked.',
)}
<h2>Timeline <small>(UTC)</small></h2>
${timelineList(payment)}`,
  );
}

export const overviewPages: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { orchestrator, ports } = options;
  const stuckAfterMs = options.stuckAfterMs ?? 5 * 60_000;

  app.get<{ Querystring: { merchant?: string } & FilterQuery }>('/ops', async (request, reply) => {
    // ?merchant=<id>: the review items of that shop's payments only.
    const olderThan = Date.now() - stuckAfterMs;
    const stuckRead = async () => {
      const stuck: StuckPayment[] = [];
      for (const status of TRANSIENT) {
        for (const entry of await ports.paymentsInStatusSince(status, { olderThan, limit: 50 })) {
          stuck.push({ id: entry.id, status, updatedAt: entry.updatedAt });
        }
      }
      return stuck;
    };
    // The chart's read (the last hour of every stream) goes beside the others.
    const [reviews, stuck, outcomes] = await Promise.all([
      scopedReviews(
        orchestrator.reviews,
        orchestrator.payments,
        merchantFilter(request.query.merchant),
      ).list({ limit: 200 }),
      stuckRead(),
      ports.recentOutcomes({ since: Date.now() - CHART_WINDOW_MS, perShard: OUTCOMES_PER_SHARD }),
    ]);
    const parts = { figures: options.metrics?.figures(), reviews, stuck, outcomes };
    return html(reply, overviewPage(parts, readFilter(request.query), stuckAfterMs));
  });

  // GET /ops/payments (the list, and `?id=` opening one payment): payments-list.ts.

  app.get<{ Params: { id: string } }>('/ops/payments/:id', async (request, reply) => {
    return html(reply, paymentPage(await orchestrator.payments.get(request.params.id)));
  });
};
