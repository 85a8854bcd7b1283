/**
 * Webhook endpoints as merchants manage them, and their delivery log. An
 * endpoint of another merchant is answered as a missing one. The signing
 * secret is shown in clear twice in its life: in the answer that creates it
 * and in the answer of a rotation; it is kept sealed.
 */
import { CommandError } from '../engine/errors.ts';
import type { Clock } from '../platform/clock.ts';
import type { DestinationPolicy } from '../webhooks/address-guard.ts';
import {
  type ChangeEndpointCommand,
  parseChangeEndpoint,
  parseCreateEndpoint,
  parseReplay,
  parseRotateSecret,
} from '../webhooks/endpoint-input.ts';
import type { EndpointStore, WebhookEndpoint } from '../webhooks/endpoints.ts';
import { deliveryJobId, type DeliveryJobSink } from '../webhooks/delivery-job.ts';
import type { LoggedMessage, MessageLog, WebhookMessage } from '../webhooks/messages.ts';
import type { SecretBox } from '../webhooks/secret-box.ts';
import { newSigningSecret } from '../webhooks/signature.ts';
import { allows, commandForScope, type MerchantScope } from './scope.ts';

export interface WebhookEndpointView extends Pick<
  WebhookEndpoint,
  'id' | 'merchant' | 'url' | 'eventTypes' | 'enabled' | 'description'
> {
  disabledReason?: string;
  failingSince?: string;
  /** While a rotation overlaps: until when the replaced secret still signs. */
  previousSecretExpiresAt?: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryView {
  messageId: string;
  eventType: string;
  subject: string;
  sequence: number;
  status: WebhookMessage['status'];
  createdAt: string;
  attemptCount: number;
  attempts: Array<{
    at: string;
    durationMs: number;
    statusCode?: number;
    error?: string;
    responseBody?: string;
  }>;
  nextAttemptAt?: string;
  deliveredAt?: string;
  failedReason?: string;
}

export interface WebhookEndpointCommands {
  create(
    input: unknown,
    scope: MerchantScope,
  ): Promise<{ endpoint: WebhookEndpointView; secret: string }>;
  list(scope: MerchantScope): Promise<WebhookEndpointView[]>;
  get(id: string, scope: MerchantScope): Promise<WebhookEndpointView>;
  update(id: string, input: unknown, scope: MerchantScope): Promise<WebhookEndpointView>;
  remove(id: string, scope: MerchantScope): Promise<void>;
  rotateSecret(
    id: string,
    input: unknown,
    scope: MerchantScope,
  ): Promise<{ endpoint: WebhookEndpointView; secret: string }>;
  deliveries(
    id: string,
    scope: MerchantScope,
    options?: { limit?: number; before?: number },
  ): Promise<DeliveryView[]>;
  /** Sends one message again (a new series of attempts, the same `webhook-id`). */
  replay(id: string, messageId: string, scope: MerchantScope): Promise<DeliveryView>;
  /** Sends again every message created since a time; answers how many. */
  replaySince(id: string, input: unknown, scope: MerchantScope): Promise<{ replayed: number }>;
}

export interface WebhookEndpointDeps {
  endpoints: EndpointStore;
  messages: MessageLog;
  jobs: DeliveryJobSink;
  secrets: SecretBox;
  clock: Clock;
  policy: DestinationPolicy;
  /** Our ids of the shops served. */
  merchants(): readonly string[];
  /** How long a replaced secret keeps signing by default. */
  secretOverlapMs: number;
}

/** Messages one replay-since sends again, at most. */
const MAX_REPLAY = 10_000;

const iso = (ms: number) => new Date(ms).toISOString();

function endpointView(
  endpoint: WebhookEndpoint,
  now: number,
  failingSince?: number,
): WebhookEndpointView {
  const previous = endpoint.secrets.slice(1).find((secret) => (secret.expiresAt ?? 0) > now);
  return {
    id: endpoint.id,
    merchant: endpoint.merchant,
    url: endpoint.url,
    eventTypes: endpoint.eventTypes,
    enabled: endpoint.enabled,
    ...(endpoint.description === undefined ? {} : { description: endpoint.description }),
    ...(endpoint.disabledReason ? { disabledReason: endpoint.disabledReason } : {}),
    ...(failingSince === undefined ? {} : { failingSince: iso(failingSince) }),
    ...(previous?.expiresAt ? { previousSecretExpiresAt: iso(previous.expiresAt) } : {}),
    createdAt: iso(endpoint.createdAt),
    updatedAt: iso(endpoint.updatedAt),
  };
}

export function deliveryView(message: LoggedMessage): DeliveryView {
  return {
    messageId: message.eventId,
    eventType: message.eventType,
    subject: message.subject,
    sequence: message.sequence,
    status: message.status,
    createdAt: iso(message.createdAt),
    attemptCount: message.attemptCount,
    attempts: message.attempts.map(({ at, ...rest }) => ({ at: iso(at), ...rest })),
    ...(message.nextAttemptAt === undefined ? {} : { nextAttemptAt: iso(message.nextAttemptAt) }),
    ...(message.deliveredAt === undefined ? {} : { deliveredAt: iso(message.deliveredAt) }),
    ...(message.failedReason ? { failedReason: message.failedReason } : {}),
  };
}

function notFound(id: string): CommandError {
  return new CommandError('webhook_endpoint_not_found', `no webhook endpoint ${id}`);
}

/** An endpoint of the scope's merchants; another merchant's answers as a missing one. */
async function owned(
  deps: WebhookEndpointDeps,
  id: string,
  scope: MerchantScope,
): Promise<WebhookEndpoint> {
  const endpoint = await deps.endpoints.get(id);
  if (!endpoint || !allows(scope, endpoint.merchant)) throw notFound(id);
  return endpoint;
}

async function changed(
  deps: WebhookEndpointDeps,
  id: string,
  change: (endpoint: WebhookEndpoint) => WebhookEndpoint | undefined,
): Promise<WebhookEndpoint> {
  const endpoint = await deps.endpoints.change(id, change);
  if (!endpoint) throw notFound(id);
  return endpoint;
}

function merchantOf(deps: WebhookEndpointDeps, named: string | undefined): string {
  const served = deps.merchants();
  const merchant = named ?? (served.length === 1 ? served[0] : undefined);
  if (merchant === undefined) {
    throw new CommandError(
      'invalid_command',
      'merchant is required: several merchants are served',
      {
        field: 'merchant',
      },
    );
  }
  if (!served.includes(merchant)) {
    throw new CommandError('invalid_command', `merchant ${merchant} is not configured`, {
      field: 'merchant',
    });
  }
  return merchant;
}

/** The endpoint with a command's changes; enabled again by a person, it starts over. */
function applyChange(current: WebhookEndpoint, change: ChangeEndpointCommand): WebhookEndpoint {
  const { description: _d, disabledReason, ...rest } = current;
  const description = change.description === undefined ? current.description : change.description;
  const keepsReason = !(change.enabled === true && !current.enabled);
  return {
    ...rest,
    ...(change.url === undefined ? {} : { url: change.url }),
    ...(change.eventTypes === undefined ? {} : { eventTypes: change.eventTypes }),
    ...(change.enabled === undefined ? {} : { enabled: change.enabled }),
    ...(description === null || description === undefined ? {} : { description }),
    ...(keepsReason && disabledReason ? { disabledReason } : {}),
  };
}

/** A new address, or enabled again: past failures no longer count towards disabling it. */
function startsOver(current: WebhookEndpoint, change: ChangeEndpointCommand): boolean {
  return (
    (change.url !== undefined && change.url !== current.url) ||
    (change.enabled === true && !current.enabled)
  );
}

/** The new secret signs alone; the replaced one signs beside it until the overlap ends. */
function rotated(current: WebhookEndpoint, sealed: string, at: number, overlapMs: number) {
  const [active, ...older] = current.secrets;
  const kept = [
    ...(active
      ? [{ sealed: active.sealed, createdAt: active.createdAt, expiresAt: at + overlapMs }]
      : []),
    ...older.filter((old) => (old.expiresAt ?? 0) > at),
  ];
  return { ...current, secrets: [{ sealed, createdAt: at }, ...kept] };
}

function requireEnabled(endpoint: WebhookEndpoint): void {
  if (!endpoint.enabled) {
    throw new CommandError(
      'command_not_allowed',
      `webhook endpoint ${endpoint.id} is disabled; enable it before sending messages again`,
    );
  }
}

/**
 * The message pending again in a new generation, with a job of its own. The
 * job is added first: stored the other way round, a crash in between would
 * leave a pending message that no job sends. A job that runs before the
 * message is stored waits for it (deliver.ts).
 */
async function resend(deps: WebhookEndpointDeps, found: WebhookMessage): Promise<WebhookMessage> {
  let message = found;
  for (let attempt = 0; attempt < RESEND_ATTEMPTS; attempt++) {
    const current = message.generation ?? 0;
    const generation = current + 1;
    const { failedReason: _reason, deliveredAt: _at, nextAttemptAt: _next, ...rest } = message;
    const pending: WebhookMessage = { ...rest, status: 'pending', generation, seriesAttempts: 0 };
    const job = {
      shard: message.shard,
      endpointId: message.endpointId,
      eventId: message.eventId,
      generation,
    };
    await deps.jobs.enqueue(message.shard, [
      { job, jobId: `${deliveryJobId(message.endpointId, message.eventId)}_g${generation}` },
    ]);
    const stored = await deps.messages.save(pending, current);
    if (stored === 'ok') return pending;
    const again =
      stored === 'stale'
        ? await deps.messages.find(message.endpointId, message.eventId)
        : undefined;
    if (!again) break;
    message = again;
  }
  throw new CommandError('webhook_message_not_found', `message ${found.eventId} is no longer kept`);
}

const RESEND_ATTEMPTS = 5;

export function createWebhookEndpointCommands(deps: WebhookEndpointDeps): WebhookEndpointCommands {
  const { endpoints, messages, clock } = deps;
  const viewAll = async (list: WebhookEndpoint[]) => {
    const failing = await endpoints.failingSince(list.map((endpoint) => endpoint.id));
    return list.map((endpoint) => endpointView(endpoint, clock.now(), failing.get(endpoint.id)));
  };
  const viewOne = async (endpoint: WebhookEndpoint) => (await viewAll([endpoint]))[0]!;
  return {
    async create(input, scope) {
      const scoped = scope === 'all' ? input : commandForScope(input, scope);
      const command = parseCreateEndpoint(scoped, deps.policy);
      const merchant = merchantOf(deps, command.merchant);
      const secret = newSigningSecret();
      const endpoint = await endpoints.create({
        merchant,
        url: command.url,
        eventTypes: command.eventTypes,
        enabled: command.enabled,
        ...(command.description === undefined ? {} : { description: command.description }),
        secrets: [{ sealed: deps.secrets.seal(secret), createdAt: clock.now() }],
      });
      return { endpoint: endpointView(endpoint, clock.now()), secret };
    },
    async list(scope) {
      return viewAll((await endpoints.list()).filter((e) => allows(scope, e.merchant)));
    },
    async get(id, scope) {
      return viewOne(await owned(deps, id, scope));
    },
    async update(id, input, scope) {
      const before = await owned(deps, id, scope);
      const change = parseChangeEndpoint(input, deps.policy);
      const after = await changed(deps, id, (current) => applyChange(current, change));
      if (startsOver(before, change)) await endpoints.clearFailing(id);
      return viewOne(after);
    },
    async remove(id, scope) {
      await owned(deps, id, scope);
      if (!(await endpoints.remove(id))) throw notFound(id);
    },
    async rotateSecret(id, input, scope) {
      await owned(deps, id, scope);
      const { overlapSeconds } = parseRotateSecret(input);
      const overlapMs =
        overlapSeconds === undefined ? deps.secretOverlapMs : overlapSeconds * 1_000;
      const secret = newSigningSecret();
      const sealed = deps.secrets.seal(secret);
      const endpoint = await changed(deps, id, (current) =>
        rotated(current, sealed, clock.now(), overlapMs),
      );
      return { endpoint: await viewOne(endpoint), secret };
    },
    async deliveries(id, scope, options = {}) {
      await owned(deps, id, scope);
      return (await messages.list(id, options)).map(deliveryView);
    },
    async replay(id, messageId, scope) {
      requireEnabled(await owned(deps, id, scope));
      const message = await messages.find(id, messageId);
      if (!message) {
        throw new CommandError(
          'webhook_message_not_found',
          `no message ${messageId} for endpoint ${id}`,
        );
      }
      return deliveryView(await resend(deps, message));
    },
    async replaySince(id, input, scope) {
      const endpoint = await owned(deps, id, scope);
      const { since, failedOnly } = parseReplay(input);
      requireEnabled(endpoint);
      let replayed = 0;
      for (const ref of await messages.since(id, since, MAX_REPLAY)) {
        const message = await messages.get(ref.shard, id, ref.eventId);
        if (!message || message.status === 'pending') continue;
        if (failedOnly && message.status !== 'failed') continue;
        await resend(deps, message);
        replayed++;
      }
      return { replayed };
    },
  };
}
