/**
 * The parts an orchestrator is built from, in one place: the Redis
 * connection (standalone or cluster), the durability of call intents, the
 * Sips client, the card vault, the store and the queues.
 */
import { createCardVault, type CardVaultOptions } from './payments/card-vault.ts';

import type { EventDeps } from './payments/events.ts';
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

import { createReviewQueues } from './queues/review.ts';
import { createPaymentStore } from './payments/store.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { createUndiciTransport, type HttpTransport } from './platform/http.ts';
import { randomIds, type IdGenerator } from './platform/ids.ts';
import { silentLogger, type Logger } from './platform/logger.ts';
import { createSipsClient, type SipsClient, type SipsClientOptions } from './sips/client.ts';
import type { MerchantSettings, Merchants } from './config/merchants.ts';
import type { SipsResult } from './sips/result.ts';
import type { WebhookOptions } from './webhooks/options.ts';

import type { CaptureLimitOptions } from './engine/engine.ts';
import { createAlerts } from './schedules/alerts.ts';

import { type JanitorOptions } from './schedules/index.ts';
import { createScheduleQueues } from './queues/schedules.ts';
import { createStepQueues } from './queues/steps.ts';

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
  /**
   * The shops served (MERCHANTS_FILE), by our id; each gets a client built on
   * `sips` with its platform and keys. Without it, `sips` is the one shop
   * `default`.
   */
  merchants?: Merchants;
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
  /**
   * What a refund becomes while Sips has not remitted the payment: a cancel
   * of that amount, or held until an inquiry shows it remitted.
   * @defaultValue 'cancel'
   */
  refundBeforeRemittance?: 'cancel' | 'hold';
  /**
   * How long the idempotency key of a create (payment, duplicate,
   * subscription, plan) is remembered: a retry within it is a replay, after
   * it the same key makes a new record. @defaultValue 24 h
   */
  idempotencyTtlMs?: number;
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
  /** Signed HTTP webhooks to merchants' endpoints (src/orchestrator-webhooks.ts). */
  webhooks?: WebhookOptions;
}

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

/** The Sips clients of the configured shops, replaced as a whole when the file is reloaded. */
export interface MerchantClients {
  /** Our ids of the shops, `default` when no merchants file is used. */
  ids(): string[];
  clientFor(merchant: string): SipsClient | undefined;
  settings(merchant: string): MerchantSettings | undefined;
  /** Applies a reloaded merchants file: new calls use the new clients. */
  replace(merchants: Merchants): void;
}

function merchantClients(
  options: OrchestratorOptions,
  clientOf: (settings: MerchantSettings) => SipsClient,
): MerchantClients {
  let settings: Merchants = options.merchants ?? new Map();
  let clients = new Map([...settings].map(([id, merchant]) => [id, clientOf(merchant)]));
  return {
    ids: () => (settings.size > 0 ? [...settings.keys()] : ['default']),
    clientFor: (merchant) => clients.get(merchant),
    settings: (merchant) => settings.get(merchant),
    replace(next) {
      const built = new Map([...next].map(([id, merchant]) => [id, clientOf(merchant)]));
      settings = next;
      clients = built;
    },
  };
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
export function defined<T extends object>(
  values: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** The parts every layer above is built from, in one place. */
export function buildParts(options: OrchestratorOptions) {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const redis = connectRedis(options);
  if (ownsConnection(options)) {
    // ioredis reconnects by itself; without a listener it prints every failed attempt.
    redis.on('error', (error: Error) =>
      logger.error({ err: error.message }, 'Redis connection error'),
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
    merchants: merchantClients(options, (settings) =>
      createSipsClient({
        ...options.sips,
        http,
        clock,
        logger,
        baseUrl: settings.baseUrl,
        merchantId: settings.merchantId,
        secretKey: settings.activeKey.secretKey,
        keyVersion: settings.activeKey.version,
        olderSecretKeys: settings.acceptedKeys.slice(1).map((key) => key.secretKey),
        ...(settings.interfaceVersion ? { interfaceVersion: settings.interfaceVersion } : {}),
      }),
    ),
    store: createPaymentStore({
      redis,
      keyspace,
      clock,
      ...defined({ idempotencyTtlMs: options.idempotencyTtlMs }),
    }),
    reviews: createReviewQueues({ connection: redis, keyspace, clock }),
    queues: createStepQueues({
      connection: redis,
      keyspace,
      ...defined({ attempts: options.retry?.attempts }),
    }),
    scheduleQueues: createScheduleQueues({ connection: redis, keyspace }),
    alerts: createAlerts({ redis, keyspace, clock, logger }),
    events: { clock, ...defined({ source: options.eventSource }) } satisfies EventDeps,
  };
}

export type Parts = ReturnType<typeof buildParts>;
