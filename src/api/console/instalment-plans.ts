/**
 * The console's instalment plan pages: the list, one plan with its
 * instalments and payments, and its cancel button.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { PublicInstalmentPlan as InstalmentPlan } from '../../service/schedule-views.ts';
import { PLAN_ID } from '../params.ts';
import {
  button,
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

function listPage(plans: InstalmentPlan[]): string {
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
  return page(
    'Instalment plans',
    table(
      ['plan', 'status', 'total', 'paid', 'next instalment', 'created'],
      rows,
      'No instalment plan.',
    ),
  );
}

function planPage(plan: InstalmentPlan, token: string): string {
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
  const cancel =
    plan.status === 'active'
      ? button(
          `/ops/instalment-plans/${encodeURIComponent(plan.id)}/cancel`,
          'Cancel the plan',
          token,
        )
      : '';
  return page(
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
  );
}

export const instalmentPlanPages: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { instalmentPlans } = options.orchestrator;

  app.get('/ops/instalment-plans', async (_request, reply) => {
    return html(reply, listPage(await instalmentPlans.list({ limit: 200 })));
  });

  app.get<{ Params: { id: string } }>('/ops/instalment-plans/:id', async (request, reply) =>
    pageOfRecord(
      reply,
      {
        what: 'Instalment plan',
        id: request.params.id,
        pattern: PLAN_ID,
        missing: 'plan_not_found',
      },
      (id) => instalmentPlans.get(id),
      (plan) => planPage(plan, options.formToken(request)),
    ),
  );

  app.post<{ Params: { id: string } }>('/ops/instalment-plans/:id/cancel', async (request, reply) =>
    actOnRecord(
      reply,
      {
        what: 'Instalment plan',
        id: request.params.id,
        pattern: PLAN_ID,
        page: '/ops/instalment-plans',
      },
      (id) => instalmentPlans.cancel(id),
    ),
  );
};
