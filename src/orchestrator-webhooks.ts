/**
 * Webhook delivery, built from the orchestrator's parts: the endpoint store,
 * the delivery log, the per-shard queues, and (in processes that run
 * workers) the `webhooks` consumer group that turns events into messages and
 * the workers that send them.
 */
import { hostname } from 'node:os';
import { createEventConsumer, type EventConsumer } from './payments/event-consumer.ts';
import { duplicateConnection } from './platform/redis.ts';
import { createWebhookQueues, startWebhookWorkers } from './queues/webhooks.ts';
import {
  createWebhookEndpointCommands,
  type WebhookEndpointCommands,
} from './service/webhook-endpoints.ts';
import { attemptDelivery, type DeliveryDeps } from './webhooks/deliver.ts';
import type { WebhookEndpoint } from './webhooks/endpoints.ts';
import { DEFAULT_RETRY_SCHEDULE_MS } from './webhooks/options.ts';
import { createEndpointStore } from './webhooks/endpoints.ts';
import { createFanOut } from './webhooks/fan-out.ts';
import { createWebhookSender } from './webhooks/http-sender.ts';
import { createMessageLog } from './webhooks/messages.ts';
import { createSecretBox } from './webhooks/secret-box.ts';
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
  let running:
    | { consumer: EventConsumer; workers: { close(): Promise<void> }; closeSender(): void }
    | undefined;

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
      const retryScheduleMs = settings.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS;
      const sender = createWebhookSender({
        policy,
        ...defined({
          connectTimeoutMs: settings.connectTimeoutMs,
          responseTimeoutMs: settings.responseTimeoutMs,
        }),
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
        closeGraceMs: (settings.responseTimeoutMs ?? 15_000) + 5_000,
        ...defined({
          concurrency: settings.concurrency,
          stalledIntervalMs: options.stalledIntervalMs,
          lockDurationMs: options.lockDurationMs,
        }),
        attempt: (job) => attemptDelivery(deliveryDeps, job),
      });
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
        }),
        logger: parts.logger,
        maxDeliveries: FAN_OUT_MAX_DELIVERIES,
        ...defined({ claimIdleMs: settings.claimIdleMs, blockMs: settings.blockMs }),
      });
      try {
        await consumer.start();
      } catch (error) {
        await consumer.close().catch(() => undefined);
        await workers.close();
        sender.close();
        throw error;
      }
      running = { consumer, workers, closeSender: () => sender.close() };
    },
    async close() {
      if (running) {
        await running.consumer.close();
        await running.workers.close();
        running.closeSender();
        running = undefined;
      }
      await queues.close();
      redis.disconnect();
    },
  };
}
