/**
 * Webhook delivery, built from the orchestrator's parts: the endpoint store,
 * the delivery log, the per-shard queues, and (in processes that run
 * workers) the `webhooks` consumer group that turns events into messages and
 * the workers that send them.
 */
import { hostname } from 'node:os';
import { createEventConsumer, type EventConsumer } from './payments/event-consumer.ts';
import { createWebhookQueues, startWebhookWorkers } from './queues/webhooks.ts';
import {
  createWebhookEndpointCommands,
  type WebhookEndpointCommands,
} from './service/webhook-endpoints.ts';
import { attemptDelivery } from './webhooks/deliver.ts';
import { DEFAULT_RETRY_SCHEDULE_MS } from './webhooks/options.ts';
import { createEndpointStore } from './webhooks/endpoints.ts';
import { createFanOut } from './webhooks/fan-out.ts';
import { createWebhookSender } from './webhooks/http-sender.ts';
import { createMessageLog } from './webhooks/messages.ts';
import { createSecretBox } from './webhooks/secret-box.ts';
import type { OrchestratorOptions, Parts } from './orchestrator-parts.ts';

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

export function buildWebhooks(parts: Parts, options: OrchestratorOptions): Webhooks {
  const settings = options.webhooks ?? {};
  const now = () => parts.clock.now();
  const policy = settings.policy ?? { allowPrivateAddresses: false, allowHttp: false };
  const endpoints = createEndpointStore({
    redis: parts.redis,
    hashTag: parts.keyspace.hashTag(0),
    clock: parts.clock,
    ids: parts.ids,
    maxPerMerchant: settings.maxEndpointsPerMerchant ?? 16,
  });
  const messages = createMessageLog({
    redis: parts.redis,
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
      const sender = createWebhookSender({
        policy,
        ...(settings.connectTimeoutMs === undefined
          ? {}
          : { connectTimeoutMs: settings.connectTimeoutMs }),
        ...(settings.responseTimeoutMs === undefined
          ? {}
          : { responseTimeoutMs: settings.responseTimeoutMs }),
      });
      const workers = startWebhookWorkers({
        connection: parts.redis,
        keyspace: parts.keyspace,
        logger: parts.logger,
        ...(settings.concurrency === undefined ? {} : { concurrency: settings.concurrency }),
        closeGraceMs: (settings.responseTimeoutMs ?? 15_000) + 5_000,
        ...(options.stalledIntervalMs === undefined
          ? {}
          : { stalledIntervalMs: options.stalledIntervalMs }),
        ...(options.lockDurationMs === undefined ? {} : { lockDurationMs: options.lockDurationMs }),
        attempt: (job, attempt) =>
          attemptDelivery(
            {
              endpoints,
              messages,
              sender,
              secrets,
              now,
              retryScheduleMs: settings.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
              disableAfterMs: settings.disableAfterMs ?? 5 * 86_400_000,
              logger: parts.logger,
              ...(settings.onAttempt ? { onAttempt: settings.onAttempt } : {}),
              async onEndpointDisabled(endpoint, reason) {
                await parts.alerts.raise(parts.keyspace.shardForText(endpoint.id), {
                  kind: 'webhook_endpoint_disabled',
                  subject: endpoint.id,
                  message:
                    reason === 'gone'
                      ? `webhook endpoint ${endpoint.id} of ${endpoint.merchant} answered 410 Gone: delivery to ${endpoint.url} stopped`
                      : `webhook endpoint ${endpoint.id} of ${endpoint.merchant} failed for too long: delivery to ${endpoint.url} stopped`,
                });
              },
            },
            job,
            attempt,
          ),
      });
      const consumer = createEventConsumer({
        redis: parts.redis,
        keyspace: parts.keyspace,
        group: 'webhooks',
        consumer: `${hostname()}-${process.pid}`,
        handler: createFanOut({ endpoints, messages, jobs: queues, now }),
        logger: parts.logger,
        maxDeliveries: FAN_OUT_MAX_DELIVERIES,
        ...(settings.claimIdleMs === undefined ? {} : { claimIdleMs: settings.claimIdleMs }),
        ...(settings.blockMs === undefined ? {} : { blockMs: settings.blockMs }),
      });
      await consumer.start();
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
    },
  };
}
