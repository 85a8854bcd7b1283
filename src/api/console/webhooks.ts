/**
 * The console's webhook pages: every merchant's endpoints with their
 * backlog, one endpoint with its settings and latest deliveries, a "Send
 * again" button per delivery and an enable / disable button (plain POST
 * forms answered with a redirect back, or a page saying why not). The
 * signing secret is never shown: the views do not carry it.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import type { EndpointBacklog } from '../../orchestrator-webhooks.ts';
import type { DeliveryView, WebhookEndpointView } from '../../service/webhook-endpoints.ts';
import { ALL_EVENT_TYPES, isEndpointId } from '../../webhooks/endpoints.ts';
import { filterList, readFilter, type FilterQuery, type ListFilter } from './filters.ts';
import {
  actOnRecord,
  button,
  facts,
  html,
  notFound,
  page,
  pageOfRecord,
  row,
  subjectLink,
  table,
  text,
  when,
  type ConsoleOptions,
} from './shared.ts';

export interface WebhookConsoleOptions extends ConsoleOptions {
  orchestrator: ConsoleOptions['orchestrator'] & Pick<Orchestrator, 'webhooks'>;
}

/** Endpoint ids as the endpoint store issues them. */
const ENDPOINT_ID = { test: isEndpointId };
/** Message ids are event ids (UUIDs); anything else is not looked up. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** Deliveries listed on an endpoint's page, newest first. */
const DELIVERIES_SHOWN = 100;

const DISABLED_REASONS: Readonly<Record<string, string>> = {
  gone: 'the receiver answered 410 Gone',
  failing: 'failing for too long',
  merchant: 'by the merchant',
};

const endpointPath = (id: string): string => `/ops/webhooks/${encodeURIComponent(id)}`;

const endpointLink = (id: string): string => `<a href="${endpointPath(id)}">${text(id)}</a>`;

const eventTypesOf = (endpoint: WebhookEndpointView): string =>
  endpoint.eventTypes.includes(ALL_EVENT_TYPES) ? 'all' : text(endpoint.eventTypes.join(', '));

/** `enabled`, or `disabled` with why when delivery stopped on its own. */
function stateOf(endpoint: WebhookEndpointView): string {
  if (endpoint.enabled) return 'enabled';
  const reason = endpoint.disabledReason;
  if (reason === undefined) return 'disabled';
  return `disabled (${text(DISABLED_REASONS[reason] ?? reason)})`;
}

/** `45 s`, `12 min`, `3 h`, `2 d`: the largest whole unit. */
function age(ms: number | undefined): string {
  if (ms === undefined) return '—';
  const units: readonly (readonly [string, number])[] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1_000],
  ];
  const [unit, size] = units.find(([, length]) => ms >= length) ?? ['ms', 1];
  return `${text(Math.floor(ms / size))} ${unit}`;
}

/** `enabled` or `disabled`: what the list's filter selects on. */
const stateName = (endpoint: WebhookEndpointView): string =>
  endpoint.enabled ? 'enabled' : 'disabled';

function listPage(
  endpoints: WebhookEndpointView[],
  backlog: EndpointBacklog[],
  filter: ListFilter,
): string {
  const backlogOf = new Map(backlog.map((entry) => [entry.endpointId, entry]));
  const { shown, form } = filterList('/ops/webhooks', filter, endpoints, {
    status: (endpoint) => stateName(endpoint),
    fields: (endpoint) => [endpoint.id, endpoint.merchant, endpoint.url, endpoint.description],
    label: 'state',
  });
  const rows = shown.map((endpoint) => {
    const pending = backlogOf.get(endpoint.id);
    return row([
      endpointLink(endpoint.id),
      text(endpoint.merchant),
      `<code>${text(endpoint.url)}</code>`,
      eventTypesOf(endpoint),
      stateOf(endpoint),
      when(endpoint.failingSince),
      text(pending?.count ?? 0),
      age(pending?.oldestAgeMs),
    ]);
  });
  return page(
    'Webhook endpoints',
    `${form}
${table(
  ['endpoint', 'merchant', 'url', 'events', 'state', 'failing since', 'backlog', 'oldest'],
  rows,
  endpoints.length === 0 ? 'No webhook endpoint.' : 'No endpoint matches the filter.',
)}`,
  );
}

/** The last attempt's HTTP status or error, and why the message failed for good. */
function lastOutcome(delivery: DeliveryView): string {
  const last = delivery.attempts.at(-1);
  const outcome =
    last === undefined
      ? '—'
      : last.statusCode !== undefined
        ? `HTTP ${text(last.statusCode)}`
        : text(last.error ?? 'no answer');
  return delivery.failedReason ? `${outcome} (${text(delivery.failedReason)})` : outcome;
}

function deliveryRows(endpointId: string, deliveries: DeliveryView[], token: string): string[] {
  return deliveries.map((delivery) =>
    row([
      `<code>${text(delivery.messageId)}</code>`,
      text(delivery.eventType),
      subjectLink(delivery.subject),
      text(delivery.status),
      text(delivery.attemptCount),
      lastOutcome(delivery),
      when(delivery.nextAttemptAt),
      when(delivery.createdAt),
      button(
        `${endpointPath(endpointId)}/deliveries/${encodeURIComponent(delivery.messageId)}/send-again`,
        'Send again',
        token,
      ),
    ]),
  );
}

function endpointPage(
  endpoint: WebhookEndpointView,
  deliveries: DeliveryView[],
  token: string,
): string {
  const toggle = endpoint.enabled
    ? button(`${endpointPath(endpoint.id)}/disable`, 'Disable the endpoint', token)
    : button(`${endpointPath(endpoint.id)}/enable`, 'Enable the endpoint', token);
  const headings = ['message', 'event', 'subject', 'status', 'attempts', 'last outcome'];
  return page(
    `Webhook endpoint ${endpoint.id}`,
    `${facts([
      ['merchant', text(endpoint.merchant)],
      ['url', `<code>${text(endpoint.url)}</code>`],
      ['description', text(endpoint.description)],
      ['events', eventTypesOf(endpoint)],
      ['state', stateOf(endpoint)],
      ['failing since', when(endpoint.failingSince)],
      ['previous secret signs until', when(endpoint.previousSecretExpiresAt)],
      ['created / updated', `${when(endpoint.createdAt)} / ${when(endpoint.updatedAt)}`],
    ])}
<div class="actions">${toggle}</div>
<h2>Latest deliveries (newest first)</h2>
${table([...headings, 'next attempt', 'created', ''], deliveryRows(endpoint.id, deliveries, token), 'None yet.')}`,
  );
}

type WithId = { Params: { id: string } };

export const webhookPages: FastifyPluginAsync<WebhookConsoleOptions> = async (app, options) => {
  const { webhooks } = options.orchestrator;
  const { endpoints } = webhooks;
  const record = (id: string) => ({
    what: 'Webhook endpoint',
    id,
    pattern: ENDPOINT_ID,
    page: '/ops/webhooks',
  });

  app.get<{ Querystring: FilterQuery }>('/ops/webhooks', async (request, reply) => {
    const [list, backlog] = await Promise.all([endpoints.list('all'), webhooks.backlog()]);
    return html(reply, listPage(list, backlog, readFilter(request.query)));
  });

  app.get<WithId>('/ops/webhooks/:id', async (request, reply) =>
    pageOfRecord(
      reply,
      { ...record(request.params.id), missing: 'webhook_endpoint_not_found' },
      async (id) => ({
        endpoint: await endpoints.get(id, 'all'),
        deliveries: await endpoints.deliveries(id, 'all', { limit: DELIVERIES_SHOWN }),
      }),
      ({ endpoint, deliveries }) =>
        endpointPage(endpoint, deliveries, options.sessions.formToken(request)),
    ),
  );

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post<WithId>(`/ops/webhooks/:id/${action}`, async (request, reply) =>
      actOnRecord(reply, record(request.params.id), (id) =>
        endpoints.update(id, { enabled }, 'all'),
      ),
    );
  }

  app.post<{ Params: { id: string; messageId: string } }>(
    '/ops/webhooks/:id/deliveries/:messageId/send-again',
    async (request, reply) => {
      const { id, messageId } = request.params;
      if (!MESSAGE_ID.test(messageId)) return notFound(reply, 'Webhook message', messageId);
      return actOnRecord(reply, record(id), (endpointId) =>
        endpoints.replay(endpointId, messageId, 'all'),
      );
    },
  );
};
