/**
 * What every ops console page shares: the options the console plugins take,
 * the frame of a page (the served stylesheet, the navigation, escaped titles) and
 * the helpers that render values, links, tables and POST buttons, every
 * value escaped.
 */
import type { MerchantScope } from '../../service/scope.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CommandError } from '../../engine/errors.ts';
import type { CommandErrorCode } from '../../platform/errors.ts';
import type { Orchestrator } from '../../orchestrator.ts';
import { escapeHtml } from '../../platform/html.ts';
import type { Metrics } from '../metrics.ts';
import type { ApiPorts } from '../ports.ts';
import type { ConsoleSessions } from './sessions.ts';
import { CONSOLE_CSS_PATH } from './style.ts';
import { formatMoney } from '../../platform/money.ts';

export interface ConsoleOptions {
  orchestrator: Pick<
    Orchestrator,
    'payments' | 'reviews' | 'subscriptions' | 'instalmentPlans' | 'ops'
  >;
  ports: Pick<ApiPorts, 'paymentsInStatusSince' | 'shards' | 'shardQueues' | 'recentOutcomes'>;
  metrics?: Metrics | undefined;
  /**
   * The console's login: a session for every page, its form token on every
   * action (`sessions.formToken(request)`: the hidden field `formToken`).
   */
  sessions: ConsoleSessions;
  /** Answers an error thrown by the session checks (for routes whose plugin has its own error handler). */
  sendError(reply: FastifyReply, error: unknown, request: FastifyRequest): FastifyReply;
  /** A payment not final after this long is listed as stuck. @defaultValue 5 min */
  stuckAfterMs?: number;
}

const NAVIGATION: readonly (readonly [string, string])[] = [
  ['/ops', 'Overview'],
  ['/ops/payments', 'Payments'],
  ['/ops/reconciliation', 'Reconciliation'],
  ['/ops/subscriptions', 'Subscriptions'],
  ['/ops/instalment-plans', 'Instalment plans'],
  ['/ops/schedules', 'Scheduled'],
  ['/ops/alerts', 'Alerts'],
  ['/ops/janitor', 'Janitor'],
  ['/ops/queues', 'Queues'],
  ['/ops/webhooks', 'Webhooks'],
  ['/docs', 'API docs'],
  ['/ops/logout', 'Log out'],
];

/**
 * A console page: the stylesheet (served by the app, console/assets.ts), the
 * navigation (not on the login page), the title, the body.
 */
export function page(title: string, body: string, options: { navigation?: boolean } = {}): string {
  const links = NAVIGATION.map(([href, label]) => `<a href="${href}">${label}</a>`).join('');
  const navigation = options.navigation === false ? '' : `<nav>${links}</nav>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="stylesheet" href="${escapeHtml(CONSOLE_CSS_PATH)}"></head>
<body><header class="top"><span class="brand">Sogenactif ops</span>${navigation}</header>
<main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>`;
}

export function html(reply: FastifyReply, text: string): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(text);
}

/** The hidden field that carries the console's form token (see auth.ts). */
export function tokenField(token: string): string {
  return `<input type="hidden" name="formToken" value="${escapeHtml(token)}">`;
}

/** Any value as escaped text. */
export const text = (value: unknown): string =>
  escapeHtml(value === undefined ? '—' : String(value));

/** A time in ms (or an ISO string) as ISO 8601, escaped; a dash when there is none. */
export function when(value: number | string | undefined): string {
  if (value === undefined) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? text(value) : escapeHtml(date.toISOString());
}

/** An amount in minor units written with its currency's exponent: `10.00 EUR`. */
export const money = (amount: number, currency: string): string =>
  text(formatMoney(amount, currency));

/** How a status reads at a glance: the CSS class of its badge. */
const TONES: readonly (readonly [string, readonly string[]])[] = [
  ['ok', ['authorized', 'captured', 'paid', 'active', 'delivered', 'enabled', 'completed']],
  ['bad', ['refused', 'failed', 'expired', 'outcome_unknown', 'declined', 'disabled', 'dead']],
  ['warn', ['in_review', 'paused', 'scheduled', 'pending', 'awaiting_authentication', 'open']],
];

/** A status as a coloured badge (its text unchanged). */
export function badge(status: string | undefined): string {
  if (status === undefined) return '—';
  const tone = TONES.find(([, statuses]) => statuses.includes(status))?.[0] ?? 'info';
  return `<span class="badge ${tone}">${text(status)}</span>`;
}

/** A link to the console page of a payment, subscription or plan id. */
export function subjectLink(id: string | undefined): string {
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

export const paymentLink = (id: string): string =>
  `<a href="/ops/payments/${encodeURIComponent(id)}">${text(id)}</a>`;

export function table(headings: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${escapeHtml(empty)}</p>`;
  return `<div class="table-wrap"><table><thead><tr>${headings.map((heading) => `<th>${escapeHtml(heading)}</th>`).join('')}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

/** A table of one record's fields: a heading and its (already escaped) value per row. */
export function facts(rows: readonly (readonly [string, string])[]): string {
  return `<div class="table-wrap"><table class="facts"><tbody>${rows
    .map(([heading, value]) => `<tr><th>${escapeHtml(heading)}</th><td>${value}</td></tr>`)
    .join('\n')}</tbody></table></div>`;
}

export const row = (cells: string[]): string =>
  `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;

/** One POST button carrying the form token; the form needs no JavaScript. */
export const button = (action: string, label: string, token: string): string =>
  `<form class="inline" method="POST" action="${escapeHtml(action)}">${tokenField(token)}<button>${escapeHtml(label)}</button></form>`;

export function notFound(reply: FastifyReply, what: string, id: string): FastifyReply {
  return html(
    reply.code(404),
    page(
      `${what} not found`,
      `<p>No ${escapeHtml(what.toLowerCase())} <code>${text(id.slice(0, 80))}</code>.</p>`,
    ),
  );
}

/** What an id must look like: a regular expression, or any check of the same shape. */
type IdPattern = Pick<RegExp, 'test'>;

/**
 * Renders the page of one record, or the console's 404 for an id of the
 * wrong shape or a record that does not exist (`missing`).
 */
export async function pageOfRecord<T>(
  reply: FastifyReply,
  lookup: { what: string; id: string; pattern: IdPattern; missing: CommandErrorCode },
  read: (id: string) => Promise<T>,
  render: (record: T) => string,
): Promise<FastifyReply> {
  const { what, id, pattern, missing } = lookup;
  if (!pattern.test(id)) return notFound(reply, what, id);
  let record: T;
  try {
    record = await read(id);
  } catch (error) {
    if (error instanceof CommandError && error.code === missing) return notFound(reply, what, id);
    throw error;
  }
  return html(reply, render(record));
}

/**
 * A console action on one record: carried out, then back to the record's
 * page (303); the command's refusal shown with a way back; a malformed id 404.
 */
export async function actOnRecord(
  reply: FastifyReply,
  record: { what: string; id: string; pattern: IdPattern; page: string },
  act: (id: string) => Promise<unknown>,
): Promise<FastifyReply> {
  const { what, id, pattern, page } = record;
  if (!pattern.test(id)) return notFound(reply, what, id);
  const back = `${page}/${encodeURIComponent(id)}`;
  try {
    await act(id);
  } catch (error) {
    if (error instanceof CommandError) return refused(reply, error, back);
    throw error;
  }
  return reply.redirect(back, 303);
}

/** A refused action: the command's message and a way back. */
export function refused(reply: FastifyReply, error: CommandError, back: string): FastifyReply {
  return html(
    reply.code(error.status),
    page('Not done', `<p>${text(error.message)}</p><p><a href="${escapeHtml(back)}">Back</a></p>`),
  );
}

/** The console's `?merchant=<id>` filter: one shop, or every one when absent. */
export function merchantFilter(merchant: string | undefined): MerchantScope {
  return typeof merchant === 'string' && merchant !== '' ? new Set([merchant]) : 'all';
}
