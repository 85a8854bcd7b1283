/**
 * The library surface: `createOrchestrator(options)` builds every dependency
 * in one place (Redis, Sips client, card vault, store, queues, workers) and
 * returns the commands merchants use. The HTTP API and the CLI are thin
 * layers over this object; the commands themselves live in src/service/.
 */
import { hostname } from 'node:os';
import { type CardVault } from './payments/card-vault.ts';
import {
  createEventConsumer,
  type Delivery,
  type EventConsumer,
} from './payments/event-consumer.ts';
import type { PaymentCloudEvent } from './payments/events.ts';
import { type Keyspace } from './payments/keys.ts';

import { type RedisClient } from './platform/redis.ts';
import type { ReviewQueues } from './payments/review.ts';

import { createRequestHasher, merchantIdOf, type PaymentStore } from './payments/store.ts';

import { type SipsClient } from './sips/client.ts';

import { createPaymentEngine, type PaymentEngine } from './engine/engine.ts';
import type { JobSink } from './engine/engine.ts';

import { limitAlertMessage } from './schedules/payment-timers.ts';
import { createSchedules, type Schedules } from './schedules/index.ts';

import { startStepWorkers, type StepQueues, type StepWorkers } from './queues/steps.ts';
import type { ServiceContext } from './service/context.ts';
import { createPayment, transactionReferenceFor } from './service/payment-create.ts';
import type { CommandDeps } from './service/payment-commands.ts';
import { createPaymentCommands, type PaymentCommands } from './service/payments.ts';
import { createReauthorization } from './service/reauthorization.ts';
import { createReviewCommands, type ReviewCommands } from './service/reviews.ts';
import {
  createInstalmentPlanCommands,
  createSubscriptionCommands,
  type InstalmentPlanCommands,
  type SubscriptionCommands,
} from './service/schedule-commands.ts';
import { createOpsCommands, type OpsCommands } from './service/ops.ts';
import { createOperations, type Operations } from './service/operations.ts';
import { removeEndedJobs } from './queues/ended-jobs.ts';
import { createPaymentSearch, type PaymentSearch } from './service/payment-search.ts';
import { createReconciliation, type Reconciliation } from './service/reconciliation.ts';

export type { CommandOptions } from './service/context.ts';
export type { PaymentView } from './service/views.ts';
export type { ScheduledItem } from './service/ops.ts';
export type { OrchestratorOptions } from './orchestrator-parts.ts';
import { acknowledgedDurably } from './service/acknowledged.ts';
import { CommandError } from './engine/errors.ts';
import { settledWithin } from './queues/close.ts';
import type { MerchantSettings, Merchants } from './config/merchants.ts';
import { buildParts, defined, type OrchestratorOptions, type Parts } from './orchestrator-parts.ts';
import { buildWebhooks, type EndpointBacklog } from './orchestrator-webhooks.ts';
import type { WebhookEndpointCommands } from './service/webhook-endpoints.ts';

export interface EventSubscriptionOptions {
  consumer?: string;
  maxDeliveries?: number;
  claimIdleMs?: number;
  blockMs?: number;
}

export interface Orchestrator {
  payments: PaymentCommands;
  /** Payments by filters, newest first, and every match for exports. */
  search: PaymentSearch;
  /** A UTC day's payments against what Sips holds for them. */
  reconciliation: Reconciliation;
  subscriptions: SubscriptionCommands;
  instalmentPlans: InstalmentPlanCommands;
  ops: OpsCommands;
  reviews: ReviewCommands;
  events: {
    subscribe(
      group: string,
      handler: (event: PaymentCloudEvent, delivery: Delivery) => Promise<void>,
      options?: EventSubscriptionOptions,
    ): Promise<EventConsumer>;
  };
  /** Readiness, queue figures and stuck payments, for the HTTP service's health, metrics and console. */
  operations: Operations;
  /** The shops served: their public settings, and a reload of the merchants file. */
  merchants: {
    list(): MerchantSummary[];
    /** New calls use the new settings; calls in flight finish with the old ones. */
    replace(merchants: Merchants): void;
  };
  /** Merchants' webhook endpoints, their delivery log and replay, and the backlog per endpoint. */
  webhooks: {
    endpoints: WebhookEndpointCommands;
    backlog(): Promise<EndpointBacklog[]>;
  };
  /** Graceful: calls in flight finish and are stored before it resolves. */
  close(): Promise<void>;
}

/** A shop as ops may see it: never its keys. */
export interface MerchantSummary {
  id: string;
  merchantId: string;
  baseUrl: string;
  keyVersion: string;
  /** Older key versions still accepted on answers (a rotation in progress). */
  acceptedKeyVersions: string[];
}

function summaryOf(
  id: string,
  settings: MerchantSettings | undefined,
  fallback: SipsClient,
): MerchantSummary {
  if (!settings) {
    return {
      id,
      merchantId: fallback.merchantId,
      baseUrl: fallback.baseUrl,
      keyVersion: fallback.keyVersion,
      acceptedKeyVersions: [],
    };
  }
  return {
    id,
    merchantId: settings.merchantId,
    baseUrl: settings.baseUrl,
    keyVersion: settings.activeKey.version,
    acceptedKeyVersions: settings.acceptedKeys.slice(1).map((key) => key.version),
  };
}

/** Two worker closes with their grace periods, and room for the rest. */
function closeBoundMs(options: OrchestratorOptions): number {
  return 2 * ((options.sips.timeoutMs ?? 30_000) + 10_000) + 10_000;
}

const DEFAULT_INQUIRY_SCHEDULE_MS = [10_000, 60_000, 300_000, 3_600_000, 21_600_000];

function buildEngine(parts: Parts, options: OrchestratorOptions): PaymentEngine {
  const { queues, scheduleQueues, keyspace, alerts } = parts;
  const jobs: JobSink = {
    enqueueCall: (job, jobId) => queues.enqueueCall(job, jobId),
    enqueueInquiry: (job, jobId, delayMs) => queues.enqueueInquiry(job, jobId, delayMs),
    enqueueAbandon: (job, jobId, delayMs) => queues.enqueueAbandon(job, jobId, delayMs),
    enqueueTimer: (job, jobId, delayMs) => queues.enqueueTimer(job, jobId, delayMs),
    enqueueReauthorize: (job, jobId) => queues.enqueueReauthorize(job, jobId),
    removeEndedJobs: (before, after) =>
      removeEndedJobs(
        { queueOf: (id) => queues.queue(keyspace.shardOf(id)), logger: parts.logger },
        before,
        after,
      ),
    // A scheduled payment settled: its schedule learns it through a job of
    // the schedules queue, data the engine hands over, not a call.
    enqueueSettled: (paymentId, jobId) =>
      scheduleQueues.add(keyspace.shardOf(paymentId), { task: 'settled', paymentId }, { jobId }),
  };
  return createPaymentEngine({
    store: parts.store,
    vault: parts.vault,
    client: parts.client,
    clientFor: (merchant) => parts.merchants.clientFor(merchant),
    reviews: parts.reviews,
    durability: parts.durability.durability,
    jobs,
    clock: parts.clock,
    logger: parts.logger,
    events: parts.events,
    ...defined({
      onCall: options.onCall,
      authenticationTimeoutMs: options.authenticationTimeoutMs,
      publicUrl: options.publicUrl?.replace(/\/+$/, '') || undefined,
      captureLimit: options.captureLimit,
    }),
    inquiryScheduleMs: options.inquiryScheduleMs ?? DEFAULT_INQUIRY_SCHEDULE_MS,
    alerts: {
      async raise(paymentId, { kind, data }) {
        await alerts.raise(keyspace.shardOf(paymentId), {
          kind,
          paymentId,
          message: limitAlertMessage(paymentId, kind, data),
        });
      },
    },
  });
}

function serviceContext(parts: Parts, engine: PaymentEngine, options: OrchestratorOptions) {
  const activeKey = options.vault.keys[options.vault.activeKeyId];
  const hashSecret =
    options.requestHashSecret ??
    Buffer.concat([Buffer.from('request-hash:'), activeKey ?? Buffer.alloc(32)]);
  return {
    redis: parts.redis,
    keyspace: parts.keyspace,
    store: parts.store,
    engine,
    vault: parts.vault,
    client: parts.client,
    reviews: parts.reviews,
    clock: parts.clock,
    ids: parts.ids,
    logger: parts.logger,
    events: parts.events,
    hashRequest: createRequestHasher(hashSecret),
    refundBeforeRemittance: options.refundBeforeRemittance ?? 'cancel',
    merchants: () => parts.merchants.ids(),
    merchantDefaults: (merchant) => parts.merchants.settings(merchant)?.defaults ?? {},
    clientOf: (record) => {
      // The engine's rule: a shop no longer served has no client (never another shop's).
      const shop = merchantIdOf(record.merchant);
      const client =
        parts.merchants.clientFor(shop) ?? (shop === 'default' ? parts.client : undefined);
      if (!client) {
        throw new CommandError(
          'command_not_allowed',
          `merchant ${shop} is not configured (MERCHANTS_FILE)`,
        );
      }
      return client;
    },
  } satisfies ServiceContext;
}

function buildSchedules(
  parts: Parts,
  ctx: ServiceContext,
  options: OrchestratorOptions,
): Schedules {
  const { keyspace, store, ids } = parts;
  return createSchedules({
    redis: parts.redis,
    queues: parts.scheduleQueues,
    alerts: parts.alerts,
    keyspace,
    clock: parts.clock,
    ids,
    logger: parts.logger,
    store,
    engine: ctx.engine,
    stepQueues: parts.queues,
    payments: {
      newPaymentId: (key) => keyspace.newPaymentId(ids, key),
      referenceOf: transactionReferenceFor,
      get: (id) => store.get(id, { timeline: false }),
      async create(input) {
        const result = await createPayment(
          ctx,
          input.kind,
          {
            amount: input.amount,
            currency: input.currency,
            captureMode: input.captureMode,
            merchant: input.merchant,
            request: { ...input.request, captureDay: input.captureDay },
            ...(input.card ? { card: input.card } : {}),
          },
          { scheduled: input.idempotencyKey, amount: input.amount },
          { idempotencyKey: input.idempotencyKey },
          input.id,
        );
        return { created: result.created, paymentId: result.payment.id };
      },
    },
    reauthorization: createReauthorization(ctx),
    ...defined({
      eventSource: options.eventSource,
      captureLimitPolicy: options.captureLimit?.defaultPolicy,
      maxReauthorizations: options.captureLimit?.maxReauthorizations,
      janitor: options.janitor,
      dayMs: options.scheduleDayMs,
    }),
  });
}

async function startWorkers(
  parts: Parts,
  engine: PaymentEngine,
  schedules: Schedules,
  options: OrchestratorOptions,
): Promise<StepWorkers> {
  const timings = {
    ...defined({
      stalledIntervalMs: options.stalledIntervalMs,
      lockDurationMs: options.lockDurationMs,
    }),
    // Calls in flight end within the Sips timeout; past it a close stops waiting.
    closeGraceMs: (options.sips.timeoutMs ?? 30_000) + 5_000,
  };
  const workers = startStepWorkers({
    connection: parts.redis,
    keyspace: parts.keyspace,
    engine,
    queues: parts.queues,
    captureLimit: {
      runTimer: (job, context) => schedules.runTimer(job, context),
      runReauthorize: (job) => schedules.runReauthorize(job),
    },
    clock: parts.clock,
    logger: parts.logger,
    backoff: { baseMs: options.retry?.baseMs ?? 1_000, capMs: options.retry?.capMs ?? 60_000 },
    ...defined({ concurrency: options.concurrency, burst: options.burst }),
    ...timings,
  });
  await schedules.startWorkers(timings);
  return workers;
}

function eventSubscriptions(parts: Parts, consumers: Set<EventConsumer>): Orchestrator['events'] {
  return {
    async subscribe(group, handler, subscribeOptions = {}) {
      const consumer = createEventConsumer({
        redis: parts.redis,
        keyspace: parts.keyspace,
        group,
        consumer: subscribeOptions.consumer ?? `${hostname()}-${process.pid}`,
        handler,
        logger: parts.logger,
        ...defined({
          maxDeliveries: subscribeOptions.maxDeliveries,
          claimIdleMs: subscribeOptions.claimIdleMs,
          blockMs: subscribeOptions.blockMs,
        }),
      });
      await consumer.start();
      consumers.add(consumer);
      return consumer;
    },
  };
}

/**
 * What tests and benchmarks may reach inside an orchestrator: the parts it
 * was built from. Not part of the service's surface; the API and the CLI
 * use the orchestrator's commands and `operations` only.
 */
export interface TestPorts {
  schedules: Schedules;
  keyspace: Keyspace;
  store: PaymentStore;
  engine: PaymentEngine;
  queues: StepQueues;
  reviews: ReviewQueues;
  client: SipsClient;
  vault: CardVault;
  redis: RedisClient;
}

const TEST_PORTS = new WeakMap<Orchestrator, TestPorts>();

export function testPortsOf(orchestrator: Orchestrator): TestPorts {
  const ports = TEST_PORTS.get(orchestrator);
  if (!ports) throw new TypeError('not an orchestrator made by createOrchestrator');
  return ports;
}

export async function createOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const parts = buildParts(options);
  const engine = buildEngine(parts, options);
  const ctx = serviceContext(parts, engine, options);
  const schedules = buildSchedules(parts, ctx, options);
  const workers =
    options.workers === false ? undefined : await startWorkers(parts, engine, schedules, options);
  const commandDeps: CommandDeps = {
    ...ctx,
    handOverIfSettled: (record) => schedules.handOverIfSettled(record),
  };
  const consumers = new Set<EventConsumer>();
  const webhooks = buildWebhooks(parts, options);
  await webhooks.start();
  // REDIS_DURABILITY=replica: a command is answered once replicas hold it.
  const barrier = parts.durability.barrier;
  const acknowledged = <T extends object>(commands: T, reads: ReadonlyArray<keyof T>): T =>
    barrier === undefined
      ? commands
      : acknowledgedDurably(commands, reads, async () => {
          await Promise.all(parts.keyspace.allShards.map((shard) => barrier.confirmShard(shard)));
        });
  const { queues, reviews } = parts;
  const search = createPaymentSearch({ redis: parts.redis, keyspace: parts.keyspace });
  const orchestrator: Orchestrator = {
    payments: acknowledged(createPaymentCommands(commandDeps), ['get']),
    search,
    reconciliation: createReconciliation({ search, clientOf: ctx.clientOf, clock: parts.clock }),
    subscriptions: acknowledged(createSubscriptionCommands(ctx, schedules), ['get', 'list']),
    instalmentPlans: acknowledged(createInstalmentPlanCommands(ctx, schedules), ['get', 'list']),
    ops: createOpsCommands(parts.keyspace, schedules, (shard) => [
      queues.queue(shard),
      schedules.queues.queue(shard),
    ]),
    reviews: acknowledged(createReviewCommands(commandDeps), ['get', 'list']),
    events: eventSubscriptions(parts, consumers),
    operations: createOperations(parts),
    merchants: {
      list: () =>
        parts.merchants
          .ids()
          .map((id) => summaryOf(id, parts.merchants.settings(id), parts.client)),
      replace: (merchants) => parts.merchants.replace(merchants),
    },
    webhooks: {
      // Creating an endpoint and rotating its secret answer at once: their
      // answer shows the secret, which a 503 after the write would lose.
      endpoints: acknowledged(webhooks.endpoints, [
        'get',
        'list',
        'deliveries',
        'create',
        'rotateSecret',
      ]),
      backlog: () => webhooks.backlog(),
    },
    async close() {
      const closing = (async () => {
        await workers?.close();
        await webhooks.close();
        await schedules.close();
        await Promise.all([...consumers].map((consumer) => consumer.close()));
        await queues.close();
        await reviews.close();
        if (parts.ownsHttp) await parts.http.close();
      })();
      // Graceful first (calls in flight finish and are stored); a close that
      // still waits past the bound (a connection stuck on a server that went
      // away) ends by cutting the connections, never by hanging.
      const settled = await settledWithin(closing, closeBoundMs(options));
      if (!settled) {
        parts.logger.warn('the orchestrator did not close in time: cutting its connections');
      }
      parts.durability.close();
      if (parts.ownsRedis) parts.redis.disconnect();
      if (settled) await closing;
    },
  };
  TEST_PORTS.set(orchestrator, {
    schedules,
    keyspace: parts.keyspace,
    store: parts.store,
    engine,
    queues,
    reviews,
    client: parts.client,
    vault: parts.vault,
    redis: parts.redis,
  });
  return orchestrator;
}
