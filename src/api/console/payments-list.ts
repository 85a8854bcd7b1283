/**
 * The console's payments list: every payment, newest first, with the
 * search's filters (status, shop, creation time, order and customer ids)
 * as a plain GET form, and the next page by the search's cursor. `?id=`
 * opens that payment's page (the overview's form).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { CommandError } from '../../engine/errors.ts';
import { parseSearchQuery } from '../../service/payment-search.ts';
import { badge, html, money, page, paymentLink, row, table, text, when } from './shared.ts';
import type { ConsoleOptions } from './shared.ts';

export interface SearchConsoleOptions extends ConsoleOptions {
  orchestrator: ConsoleOptions['orchestrator'] & Pick<Orchestrator, 'search' | 'reconciliation'>;
}

const FIELDS = [
  ['status', 'Status (comma-separated)'],
  ['merchant', 'Shop'],
  ['createdFrom', 'Created from (RFC 3339 or YYYY-MM-DD, UTC)'],
  ['createdTo', 'Created before (RFC 3339 or YYYY-MM-DD, UTC)'],
  ['orderId', 'Order id'],
  ['customerId', 'Customer id'],
] as const;

type Query = Partial<Record<(typeof FIELDS)[number][0] | 'cursor' | 'id', string>>;

/** A day alone is its first instant, UTC. */
const instant = (value: string | undefined) =>
  value !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;

function filterForm(query: Query): string {
  const inputs = FIELDS.map(
    ([name, label]) =>
      `<label>${text(label)} <input name="${name}" value="${text(query[name] ?? '')}"></label>`,
  ).join('\n');
  return `<form method="GET" action="/ops/payments">
${inputs}
<button>Search</button> <a href="/ops/payments">Clear</a>
</form>`;
}

function nextLink(query: Query, cursor: string | null): string {
  if (cursor === null) return '';
  const params = new URLSearchParams();
  for (const [name] of FIELDS) if (query[name]) params.set(name, query[name] as string);
  params.set('cursor', cursor);
  return `<p><a href="/ops/payments?${text(params.toString())}">Next page</a></p>`;
}

export const paymentListPages: FastifyPluginAsync<SearchConsoleOptions> = async (app, options) => {
  const { search } = options.orchestrator;

  app.get<{ Querystring: Query }>('/ops/payments', async (request, reply) => {
    // The overview's "open a payment" form.
    if (request.query.id !== undefined) {
      return reply.redirect(`/ops/payments/${encodeURIComponent(request.query.id)}`, 303);
    }
    const query: Query = {};
    for (const [name] of [...FIELDS, ['cursor']] as const) {
      const value = request.query[name]?.trim();
      if (value) query[name] = value;
    }
    let body: string;
    try {
      const filters = parseSearchQuery({
        ...query,
        createdFrom: instant(query.createdFrom),
        createdTo: instant(query.createdTo),
        limit: '50',
      });
      const result = await search.page(filters, 'all');
      const rows = result.data.map((payment) =>
        row([
          paymentLink(payment.id),
          when(payment.createdAt),
          text(payment.merchant),
          text(payment.orderId),
          text(payment.customerId),
          badge(payment.status),
          money(payment.amount, payment.currency),
          money(payment.amounts.captured, payment.currency),
          money(payment.amounts.refunded, payment.currency),
          text(payment.lastResponseCode),
        ]),
      );
      body = `${table(
        [
          'payment',
          'created',
          'shop',
          'order',
          'customer',
          'status',
          'amount',
          'captured',
          'refunded',
          'last code',
        ],
        rows,
        'No payment matches.',
      )}
${nextLink(query, result.nextCursor)}`;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      void reply.code(400);
      body = `<p role="alert">${text(error.message)}</p>`;
    }
    return html(reply, page('Payments', `${filterForm(query)}\n${body}`));
  });
};
