/**
 * Webhook delivery, built from the orchestrator's parts: the endpoint store,
 * the delivery log, the per-shard queues, and (in processes that run
 * workers) the `webhooks` consumer group that turns events into messages and
 * the workers that send them.
 */
import { hostname } from 'node:os';
import { createEventConsumer } from './payments/event-consumer.ts';
import { duplicateConnection } from './platform/redis.ts';
import {
  createWebhookQueues,
  DEFAULT_WEBHOOK_CONCURRENCY,
  startWebhookWorkers,
  type WebhookQueues,
} from './queues/webhooks.ts';
import {
  createWebhookEndpointCommands,
  type WebhookEndpointCommands,
} from './service/webhook-endpoints.ts';
import { attemptDelivery, type DeliveryDeps } from './webhooks/deliver.ts';
import type { DestinationPolicy } from './webhooks/address-guard.ts';
import type { EndpointStore, WebhookEndpoint } from './webhooks/endpoints.ts';
import { DEFAULT_RETRY_SCHEDULE_MS } from './config/config.ts';
import type { WebhookOptions } from './webhooks/options.ts';
import { createEndpointStore } from './webhooks/endpoints.ts';
import { createFanOut } from './webhooks/fan-out.ts';
import { createFirstAttempts } from './webhooks/first-attempts.ts';
import {
  createWebhookSender,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_RESPONSE_TIMEOUT_MS,
} from './webhooks/http-sender.ts';
import { createMessageLog, type MessageLog } from './webhooks/messages.ts';
import { createSecretBox, type SecretBox } from './webhooks/secret-box.ts';
import { defined, type OrchestratorOptions, type Parts } from './orchestrator-parts.ts';

export interface EndpointBacklog {
  endpointId: string;
  merchant: string;
  /** Messages neither delivered nor failed for good. */
  count: number;
  /** Age of the oldest of them, ms. */
  oldestAgeMs?: number;
}

export interface Webhooks {
  endpoints: WebhookEndpointCommands;
  backlog(): Promise<EndpointBacklog[]>;
  /** Starts the consumer group and the workers, when this process delivers. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A fan-out that failed this many times (Redis away) is still not given up: events must not be lost. */
const FAN_OUT_MAX_DELIVERIES = 1_000_000;

/** The alert's text: the endpoint's origin and path, never its query (it may carry a token). */
function disabledMessage(endpoint: WebhookEndpoint, reason: 'gone' | 'failing'): string {
  const url = new URL(endpoint.url);
  const where = `${url.origin}${url.pathname}`;
  const why = reason === 'gone' ? 'answered 410 Gone' : 'failed for too long';
  return `webhook endpoint ${endpoint.id} of ${endpoint.merchant} ${why}: delivery to ${where} stopped`;
}

export function buildWebhooks(parts: Parts, options: OrchestratorOptions): Webhooks {
  const settings = options.webhooks ?? {};
  const now = () => parts.clock.now();
  const policy = settings.policy ?? { allowPrivateAddresses: false, allowHttp: false };
  // A connection of their own for the endpoints and the log: auto-pipelined,
  // and without BullMQ's scripts, which every MULTI on a queue's connection
  // would copy.
  const redis = duplicateConnection(parts.redis, {
    connectionName: `${parts.keyspace.prefix}-webhooks`,
    autoPipelining: true,
  });
  redis.on('error', () => undefined);
  const endpoints = createEndpointStore({
    redis,
    hashTag: parts.keyspace.hashTag(0),
    clock: parts.clock,
    ids: parts.ids,
    maxPerMerchant: settings.maxEndpointsPerMerchant ?? 16,
  });
  const messages = createMessageLog({
    redis,
    keyspace: parts.keyspace,
    retentionMs: settings.retentionMs ?? 30 * 86_400_000,
    now,
  });
  const queues = createWebhookQueues({ connection: parts.redis, keyspace: parts.keyspace });
  const secrets = createSecretBox(options.vault);
  const commands = createWebhookEndpointCommands({
    endpoints,
    messages,
    jobs: queues,
    secrets,
    clock: parts.clock,
    policy,
    merchants: () => parts.merchants.ids(),
    secretOverlapMs: settings.secretOverlapMs ?? 86_400_000,
  });
  let running: { close(): Promise<void> } | undefined;

  return {
    endpoints: commands,
    async backlog() {
      const all = await endpoints.list();
      const at = now();
      return Promise.all(
        all.map(async (endpoint) => {
          const { count, oldestCreatedAt } = await messages.backlog(endpoint.id);
          return {
            endpointId: endpoint.id,
            merchant: endpoint.merchant,
            count,
            ...(oldestCreatedAt === undefined
              ? {}
              : { oldestAgeMs: Math.max(0, at - oldestCreatedAt) }),
          };
        }),
      );
    },
    async start() {
      if (running || !(settings.deliver ?? options.workers !== false)) return;
      running = await startDelivery({
        parts,
        options,
        settings,
        policy,
        now,
        stores: { endpoints, messages, queues, secrets },
      });
    },
    async close() {
      await running?.close();
      running = undefined;
      await queues.close();
      redis.disconnect();
    },
  };
}

/**
 * Delivery in this process: the sender, the workers of the delivery jobs,
 * the pool of first attempts with its lease sweep, and the `webhooks`
 * consumer group that feeds them. Closing ends them in that order, reading
 * first: attempts in flight end (the sender's timeouts bound them), and what
 * they leave unsettled keeps its lease, which a later sweep hands to a job.
 */
async function startDelivery(context: {
  parts: Parts;
  options: OrchestratorOptions;
  settings: WebhookOptions;
  policy: DestinationPolicy;
  now: () => number;
  stores: {
    endpoints: EndpointStore;
    messages: MessageLog;
    queues: WebhookQueues;
    secrets: SecretBox;
  };
}): Promise<{ close(): Promise<void> }> {
  const { parts, options, now } = context;
  const { endpoints, messages, queues, secrets } = context.stores;
  const { settings } = context;
  const retryScheduleMs = settings.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS;
  const connectTimeoutMs = settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const responseTimeoutMs = settings.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
  const concurrency = settings.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
  const sender = createWebhookSender({
    policy: context.policy,
    connectTimeoutMs,
    responseTimeoutMs,
  });
  const deliveryDeps: DeliveryDeps = {
    endpoints,
    messages,
    sender,
    secrets,
    now,
    retryScheduleMs,
    disableAfterMs: settings.disableAfterMs ?? 5 * 86_400_000,
    logger: parts.logger,
    ...defined({ onAttempt: settings.onAttempt }),
    async onEndpointDisabled(endpoint, reason) {
      await parts.alerts.raise(parts.keyspace.shardForText(endpoint.id), {
        kind: 'webhook_endpoint_disabled',
        subject: endpoint.id,
        message: disabledMessage(endpoint, reason),
      });
    },
  };
  const workers = startWebhookWorkers({
    connection: parts.redis,
    keyspace: parts.keyspace,
    logger: parts.logger,
    closeGraceMs: responseTimeoutMs + 5_000,
    ...defined({
      concurrency,
      stalledIntervalMs: options.stalledIntervalMs,
      lockDurationMs: options.lockDurationMs,
    }),
    attempt: (job) => attemptDelivery(deliveryDeps, job),
  });
  const leaseMs =
    settings.firstAttemptLeaseMs ?? 2 * (connectTimeoutMs + responseTimeoutMs) + 5_000;
  const firstAttempts = createFirstAttempts({
    shards: parts.keyspace.allShards,
    concurrency,
    leaseMs,
    attempt: (job, fresh) => attemptDelivery(deliveryDeps, job, fresh),
    messages,
    jobs: queues,
    logger: parts.logger,
  });
  const sweeping = setInterval(
    () =>
      void firstAttempts
        .sweep()
        .catch((error: unknown) =>
          parts.logger.error({ err: error }, 'webhook lease sweep failed'),
        ),
    Math.max(250, Math.floor(leaseMs / 4)),
  );
  sweeping.unref();
  const consumer = createEventConsumer({
    redis: parts.redis,
    keyspace: parts.keyspace,
    group: 'webhooks',
    consumer: `${hostname()}-${process.pid}`,
    handler: createFanOut({
      endpoints,
      messages,
      jobs: queues,
      now,
      firstDelayMs: retryScheduleMs[0] ?? 0,
      firstAttempts,
    }),
    logger: parts.logger,
    maxDeliveries: FAN_OUT_MAX_DELIVERIES,
    ...defined({ claimIdleMs: settings.claimIdleMs, blockMs: settings.blockMs }),
  });
  const close = async (reading: Promise<unknown>) => {
    clearInterval(sweeping);
    await reading;
    await firstAttempts.drain();
    await workers.close();
    sender.close();
  };
  try {
    await consumer.start();
  } catch (error) {
    await close(consumer.close().catch(() => undefined));
    throw error;
  }
  return { close: () => close(consumer.close()) };
}
