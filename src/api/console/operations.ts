/**
 * The console's operations pages: what will run later, the ops alerts, and
 * the janitor with a button that runs one pass now and shows its report.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ScheduledItem } from '../../orchestrator.ts';
import { scopedAlerts } from '../../service/scope.ts';
import type { JanitorReport } from '../../schedules/index.ts';
import { filterList, readFilter, type FilterQuery } from './filters.ts';
import { merchantFilter } from './shared.ts';
import {
  button,
  html,
  page,
  paymentLink,
  row,
  subjectLink,
  table,
  text,
  when,
  type ConsoleOptions,
} from './shared.ts';

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

const janitorForm = (token: string) => button('/ops/janitor/runs', 'Run the janitor now', token);

export const operationPages: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { ops } = options.orchestrator;

  app.get<{ Querystring: FilterQuery }>('/ops/schedules', async (request, reply) => {
    const items: ScheduledItem[] = await ops.schedules({ limit: 500 });
    const { shown, form } = filterList('/ops/schedules', readFilter(request.query), items, {
      status: (item) => item.kind,
      fields: (item) => [item.subject, item.detail, item.jobId],
      label: 'kind',
    });
    const rows = shown.map((item) =>
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
${form}
${table(['runs at', 'kind', 'for', 'detail', 'job'], rows, items.length === 0 ? 'Nothing scheduled.' : 'Nothing matches the filter.')}`,
      ),
    );
  });

  app.get<{ Querystring: { merchant?: string } & FilterQuery }>(
    '/ops/alerts',
    async (request, reply) => {
      // ?merchant=<id>: the alerts about that shop's payments only.
      const alerts = await scopedAlerts(
        await ops.alerts({ limit: 200 }),
        options.orchestrator.payments,
        merchantFilter(request.query.merchant),
      );
      const { shown, form } = filterList('/ops/alerts', readFilter(request.query), alerts, {
        status: (alert) => alert.kind,
        fields: (alert) => [alert.paymentId, alert.subject, alert.message],
        label: 'kind',
      });
      const rows = shown.map((alert) =>
        row([
          when(alert.at),
          text(alert.kind),
          subjectLink(alert.paymentId ?? alert.subject),
          text(alert.message),
        ]),
      );
      return html(
        reply,
        page('Alerts', `${form}\n${table(['at', 'kind', 'about', 'message'], rows, 'No alert.')}`),
      );
    },
  );

  app.get('/ops/janitor', async (request, reply) => {
    return html(
      reply,
      page(
        'Janitor',
        `<p>The janitor settles payments stuck in a status that should not last (a call in flight,
an unknown outcome, a customer who never came back, an authorisation past its remittance date).
It runs on its schedule; this runs one pass now.</p>
${janitorForm(options.sessions.formToken(request))}`,
      ),
    );
  });

  app.post('/ops/janitor/runs', async (request, reply) => {
    const report = await ops.runJanitor();
    return html(
      reply,
      page(
        'Janitor run',
        `${janitorReport(report)}\n${janitorForm(options.sessions.formToken(request))}`,
      ),
    );
  });
};
