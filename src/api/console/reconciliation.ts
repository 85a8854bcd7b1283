/**
 * The console's reconciliation page: a UTC day's payments against what Sips
 * holds for them, totals per currency and every difference (the report of
 * GET /v1/reconciliation/{date}). The report is made when a day is asked for.
 */
import type { FastifyPluginAsync } from 'fastify';
import { CommandError } from '../../engine/errors.ts';
import type { ReconciliationReport } from '../../service/reconciliation.ts';
import type { SearchConsoleOptions } from './payments-list.ts';
import { html, money, page, paymentLink, row, table, text } from './shared.ts';

const DAY_MS = 86_400_000;

function dayForm(date: string): string {
  return `<form method="GET" action="/ops/reconciliation">
<label>Day (YYYY-MM-DD, UTC) <input name="date" value="${text(date)}" required pattern="\\d{4}-\\d{2}-\\d{2}"></label>
<button>Reconcile</button>
</form>`;
}

function reportHtml(report: ReconciliationReport): string {
  const amounts = (
    label: string,
    values: ReconciliationReport['totals'][number]['ours'],
    currency: string,
  ) =>
    row([
      text(label),
      money(values.authorized, currency),
      money(values.captured, currency),
      money(values.cancelled, currency),
      money(values.refunded, currency),
    ]);
  const totals = report.totals.flatMap((total) => [
    amounts(`ours (${total.currency}, ${total.payments} payments)`, total.ours, total.currency),
    amounts(`Sips (${total.currency})`, total.sips, total.currency),
  ]);
  const mismatches = report.mismatches.map((mismatch) =>
    row([
      paymentLink(mismatch.paymentId),
      text(mismatch.merchant),
      text(mismatch.field),
      money(mismatch.ours, mismatch.currency),
      money(mismatch.sips, mismatch.currency),
    ]),
  );
  const unavailable = report.unavailable.map((item) =>
    row([paymentLink(item.paymentId), text(item.detail)]),
  );
  return `<p>${text(report.payments)} payment(s) created on ${text(report.date)} (UTC), ${text(report.compared)} compared with Sips.</p>
<h2>Totals</h2>
${table(['', 'authorised', 'captured', 'cancelled', 'refunded'], totals, 'No payment that day.')}
<h2>Differences</h2>
${table(['payment', 'shop', 'amount', 'ours', 'Sips'], mismatches, 'No difference.')}
${unavailable.length > 0 ? `<h2>Sips gave no usable answer</h2>\n${table(['payment', 'detail'], unavailable, '')}` : ''}`;
}

export const reconciliationPages: FastifyPluginAsync<SearchConsoleOptions> = async (
  app,
  options,
) => {
  const { reconciliation } = options.orchestrator;

  app.get<{ Querystring: { date?: string } }>('/ops/reconciliation', async (request, reply) => {
    const date = request.query.date?.trim() ?? '';
    const yesterday = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10);
    let body = '';
    if (date !== '') {
      try {
        body = reportHtml(await reconciliation.report(date, 'all'));
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        void reply.code(400);
        body = `<p role="alert">${text(error.message)}</p>`;
      }
    }
    return html(reply, page('Reconciliation', `${dayForm(date || yesterday)}\n${body}`));
  });
};
