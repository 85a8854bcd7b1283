/**
 * The console's instalment plan pages: the list, one plan with its
 * instalments and payments, and its cancel button.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { PublicInstalmentPlan as InstalmentPlan } from '../../service/schedule-views.ts';
import { PLAN_ID } from '../params.ts';
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

function listPage(plans: InstalmentPlan[], filter: ListFilter): string {
  const { shown, form } = filterList('/ops/instalment-plans', filter, plans, {
    status: (plan) => plan.status,
    fields: (plan) => [
      plan.id,
      plan.merchant.orderId,
      plan.merchant.customerId,
      ...plan.instalments.map((entry) => entry.paymentId),
    ],
  });
  const rows = shown.map((plan) => {
    const paid = plan.instalments.filter((entry) => entry.status === 'paid').length;
    const next = plan.instalments.find((entry) => entry.status === 'scheduled');
    return row([
      subjectLink(plan.id),
      badge(plan.status),
      money(plan.amount, plan.currency),
      `${text(paid)} / ${text(plan.instalments.length)}`,
      when(next?.dueAt),
      when(plan.createdAt),
    ]);
  });
  return page(
    'Instalment plans',
    `${form}
${table(
  ['plan', 'status', 'total', 'paid', 'next instalment', 'created'],
  rows,
  plans.length === 0 ? 'No instalment plan.' : 'No instalment plan matches the filter.',
)}`,
  );
}

function planPage(plan: InstalmentPlan, token: string): string {
  const instalments = plan.instalments.map((entry) =>
    row([
      text(entry.index + 1),
      text(entry.date),
      when(entry.dueAt),
      money(entry.amount, plan.currency),
      badge(entry.status),
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
    `${facts([
      ['status', `${badge(plan.status)}${plan.reason ? ` (${text(plan.reason)})` : ''}`],
      ['method', text(plan.method)],
      ['total', money(plan.amount, plan.currency)],
      ['capture', text(plan.captureMode)],
      ['days between instalments', text(plan.intervalDays)],
      ['order / customer', `${text(plan.merchant.orderId)} / ${text(plan.merchant.customerId)}`],
      ['created / updated', `${when(plan.createdAt)} / ${when(plan.updatedAt)}`],
    ])}
${cancel ? `<div class="actions">${cancel}</div>` : ''}
<h2>Instalments</h2>
${table(['#', 'date', 'due', 'amount', 'status', 'payment', 'transactionReference'], instalments, 'None.')}`,
  );
}

export const instalmentPlanPages: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { instalmentPlans } = options.orchestrator;

  app.get<{ Querystring: FilterQuery }>('/ops/instalment-plans', async (request, reply) => {
    const list = await instalmentPlans.list({ limit: 200 });
    return html(reply, listPage(list, readFilter(request.query)));
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
      (plan) => planPage(plan, options.sessions.formToken(request)),
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
