/**
 * The library surface: `createOrchestrator(options)` builds every dependency
 * in one place (Redis, Sips client, card vault, store, queues, workers) and
 * returns the commands merchants use. The HTTP API and the CLI are thin
 * layers over this object; the commands themselves live in src/service/.
 */
import { hostname } from 'node:os';
import { createCardVault, type CardVault, type CardVaultOptions } from './payments/card-vault.ts';
import {
  createEventConsumer,
  type Delivery,
  type EventConsumer,
} from './payments/event-consumer.ts';
import type { EventDeps, PaymentCloudEvent } from './payments/events.ts';
import { createKeyspace, type Keyspace } from './payments/keys.ts';
import {
  createWriteBarrier,
  type DurabilitySettings,
  type WriteBarrier,
} from './payments/durability.ts';
import type { CallDurability } from './engine/contract.ts';
import {
  connectRedis as connectRedisTarget,
  duplicateConnection,
  type RedisClient,
  type RedisTarget,
} from './platform/redis.ts';
import type { ReviewQueues } from './payments/review.ts';
import { createReviewQueues } from './queues/review.ts';
import { createPaymentStore, createRequestHasher, type PaymentStore } from './payments/store.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { createUndiciTransport, type HttpTransport } from './platform/http.ts';
import { randomIds, type IdGenerator } from './platform/ids.ts';
import { silentLogger, type Logger } from './platform/logger.ts';
import { createSipsClient, type SipsClient, type SipsClientOptions } from './sips/client.ts';
import type { SipsResult } from './sips/result.ts';
import { createPaymentEngine, type PaymentEngine } from './engine/engine.ts';
import type { CaptureLimitOptions, JobSink } from './engine/engine.ts';
import { createAlerts } from './schedules/alerts.ts';
import { limitAlertMessage } from './schedules/payment-timers.ts';
import { createSchedules, type JanitorOptions, type Schedules } from './schedules/index.ts';
import { createScheduleQueues } from './queues/schedules.ts';
import {
  createStepQueues,
  startStepWorkers,
  type StepQueues,
  type StepWorkers,
} from './queues/steps.ts';
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

export type { CommandOptions } from './service/context.ts';
export type { PaymentView } from './service/views.ts';
export type { ScheduledItem } from './service/ops.ts';

export interface OrchestratorOptions {
  /**
   * A redis:// URL, the nodes of a Redis Cluster, or a connection (not closed
   * by the orchestrator).
   */
  redis: string | RedisTarget | RedisClient;
  /**
   * How a call's intent is made safe before the call goes out
   * (src/payments/durability.ts); checked against the servers by
   * `checkDurability` at start-up. @defaultValue `none`
   */
  durability?: DurabilitySettings;
  /** Sips platform and credentials; `http`, `clock` and `logger` default to the orchestrator's. */
  sips: Omit<SipsClientOptions, 'http' | 'clock' | 'logger'> & { http?: HttpTransport };
  vault: CardVaultOptions;
  /** Key prefix and shard count (architecture §10). @defaultValue `sog`, 1 */
  keyPrefix?: string;
  shards?: number;
  /** Run step workers in this process. @defaultValue true */
  workers?: boolean;
  /** Step jobs in flight per shard. @defaultValue 200 */
  concurrency?: number;
  retry?: { attempts?: number; baseMs?: number; capMs?: number };
  /**
   * Responses 90 within `windowMs` that pause the step queue for `pauseMs`
   * instead of spending attempts. @defaultValue 5 in 10 s, 5 s pause
   */
  burst?: { threshold?: number; windowMs?: number; pauseMs?: number };
  /** Delays between inquiries after an unknown outcome. @defaultValue 10 s, 1 min, 5 min, 1 h, 6 h */
  inquiryScheduleMs?: readonly number[];
  /** Stalled-job detection, for faster recovery after a crash. @defaultValue 30 000 ms */
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** Secret keying the idempotency request hash (16+ bytes); defaults to one derived from the vault key. */
  requestHashSecret?: Buffer;
  clock?: Clock;
  ids?: IdGenerator;
  logger?: Logger;
  eventSource?: string;
  /** The HTTP service's public origin, for the 3-D Secure and provider return URL sent to Sips. */
  publicUrl?: string;
  /** How long a customer may stay at the ACS or the provider before the payment expires. @defaultValue 15 min */
  authenticationTimeoutMs?: number;
  /** Told of every Sips call's result made by this process's workers (metrics); must not throw. */
  onCall?: (result: SipsResult) => void;
  /** VALIDATION authorisations: warning and policy before the capture limit. */
  captureLimit?: CaptureLimitOptions;
  /** The janitor: per-status thresholds, escalation, and how often it runs (0: only on demand). @defaultValue every 60 s */
  janitor?: JanitorOptions & { intervalMs?: number };
  /** The length of a "day" in retry-on-decline and instalment schedules; for tests. @defaultValue 24 h */
  scheduleDayMs?: number;
}

export interface EventSubscriptionOptions {
  consumer?: string;
  maxDeliveries?: number;
  claimIdleMs?: number;
  blockMs?: number;
}

export interface Orchestrator {
  payments: PaymentCommands;
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
  /** Graceful: calls in flight finish and are stored before it resolves. */
  close(): Promise<void>;
}

const DEFAULT_INQUIRY_SCHEDULE_MS = [10_000, 60_000, 300_000, 3_600_000, 21_600_000];

function ownsConnection(options: OrchestratorOptions): boolean {
  return (
    typeof options.redis === 'string' || 'url' in options.redis || 'clusterNodes' in options.redis
  );
}

function connectRedis(options: OrchestratorOptions): RedisClient {
  const target: RedisTarget | RedisClient =
    typeof options.redis === 'string' ? { url: options.redis } : options.redis;
  if (!('url' in target) && !('clusterNodes' in target)) return target;
  return connectRedisTarget(target, {
    autoPipelining: true,
    connectionName: `${options.keyPrefix ?? 'sog'}-orchestrator`,
  });
}

/**
 * `replica`: a connection of its own for the barrier's WAITs, so a wait never
 * holds up the shared connection.
 */
function callDurability(
  redis: RedisClient,
  keyspace: Keyspace,
  options: OrchestratorOptions,
): { durability: CallDurability; barrier?: WriteBarrier; close(): void } {
  const settings = options.durability ?? { mode: 'none' };
  if (settings.mode !== 'replica') return { durability: { mode: settings.mode }, close() {} };
  const connection = duplicateConnection(redis, {
    connectionName: `${keyspace.prefix}-durability`,
    autoPipelining: false,
  });
  connection.on('error', () => undefined);
  const barrier = createWriteBarrier(connection, keyspace, {
    waitReplicas: settings.waitReplicas ?? 1,
    waitTimeoutMs: settings.waitTimeoutMs ?? 1_000,
  });
  return {
    durability: { mode: 'replica', barrier },
    barrier,
    close: () => connection.disconnect(),
  };
}

/** Only the options that were given: the modules keep their own defaults. */
function defined<T extends object>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** The parts every layer above is built from, in one place. */
function buildParts(options: OrchestratorOptions) {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const redis = connectRedis(options);
  if (ownsConnection(options)) {
    // ioredis reconnects by itself; without a listener it prints every failed attempt.
    redis.on('error', (error: Error) =>
      logger.warn({ err: error.message }, 'Redis connection error'),
    );
  }
  const keyspace = createKeyspace({
    prefix: options.keyPrefix ?? 'sog',
    shards: options.shards ?? 1,
  });
  // One socket per step job in flight, so calls never queue behind the pool
  // (at 250 ms a call, 256 sockets cap a process near 1 000 calls/s).
  // Sockets open on demand: a large cap costs nothing while idle.
  const http =
    options.sips.http ??
    createUndiciTransport({
      connections: Math.max(256, (options.concurrency ?? 200) * (options.shards ?? 1)),
    });
  return {
    clock,
    ids: options.ids ?? randomIds,
    logger,
    redis,
    ownsRedis: ownsConnection(options),
    durability: callDurability(redis, keyspace, options),
    keyspace,
    vault: createCardVault(options.vault),
    http,
    ownsHttp: options.sips.http === undefined,
    client: createSipsClient({ ...options.sips, http, clock, logger }),
    store: createPaymentStore({ redis, keyspace, clock }),
    reviews: createReviewQueues({ connection: redis, keyspace, clock }),
    queues: createStepQueues({
      connection: redis,
      keyspace,
      ...defined({ attempts: options.retry?.attempts }),
    }),
    scheduleQueues: createScheduleQueues({ connection: redis, keyspace }),
    alerts: createAlerts({ redis, keyspace, clock }),
    events: { clock, ...defined({ source: options.eventSource }) } satisfies EventDeps,
  };
}

type Parts = ReturnType<typeof buildParts>;

function buildEngine(parts: Parts, options: OrchestratorOptions): PaymentEngine {
  const { queues, scheduleQueues, keyspace, alerts } = parts;
  const jobs: JobSink = {
    enqueueCall: (job, jobId) => queues.enqueueCall(job, jobId),
    enqueueInquiry: (job, jobId, delayMs) => queues.enqueueInquiry(job, jobId, delayMs),
    enqueueAbandon: (job, jobId, delayMs) => queues.enqueueAbandon(job, jobId, delayMs),
    enqueueTimer: (job, jobId, delayMs) => queues.enqueueTimer(job, jobId, delayMs),
    enqueueReauthorize: (job, jobId) => queues.enqueueReauthorize(job, jobId),
    // A scheduled payment settled: its schedule learns it through a job of
    // the schedules queue, data the engine hands over, not a call.
    enqueueSettled: (paymentId, jobId) =>
      scheduleQueues.add(keyspace.shardOf(paymentId), { task: 'settled', paymentId }, { jobId }),
  };
  return createPaymentEngine({
    store: parts.store,
    vault: parts.vault,
    client: parts.client,
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
  const timings = defined({
    stalledIntervalMs: options.stalledIntervalMs,
    lockDurationMs: options.lockDurationMs,
  });
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
  const { queues, reviews } = parts;
  const orchestrator: Orchestrator = {
    payments: createPaymentCommands(commandDeps),
    subscriptions: createSubscriptionCommands(ctx, schedules),
    instalmentPlans: createInstalmentPlanCommands(ctx, schedules),
    ops: createOpsCommands(parts.keyspace, schedules, (shard) => [
      queues.queue(shard),
      schedules.queues.queue(shard),
    ]),
    reviews: createReviewCommands(commandDeps),
    events: eventSubscriptions(parts, consumers),
    operations: createOperations(parts),
    async close() {
      await workers?.close();
      await schedules.close();
      await Promise.all([...consumers].map((consumer) => consumer.close()));
      await queues.close();
      await reviews.close();
      if (parts.ownsHttp) await parts.http.close();
      parts.durability.close();
      if (parts.ownsRedis) parts.redis.disconnect();
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
