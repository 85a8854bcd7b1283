/**
 * Builds the running parts from the configuration, in one place: the Redis
 * connection (a private redis-server when none answers and we may start one),
 * the Sips platform (the embedded simulator by default), the card vault keys
 * and the orchestrator. `npm start`, the workers-only and API-only entry
 * points and the tools all go through here.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { ConfigError, type Config } from './config/config.ts';
import { loadMerchantsFile, MerchantsConfigError, type Merchants } from './config/merchants.ts';
import {
  checkDurability,
  type DurabilityReport,
  type DurabilitySettings,
} from './payments/durability.ts';
import { connectRedis, type RedisTarget } from './platform/redis.ts';
import { createOrchestrator, type MerchantSummary, type Orchestrator } from './orchestrator.ts';
import { INSECURE_simulatorOnlyDevKey, parseVaultKeyList } from './payments/card-vault.ts';
import { redisAnswers, startRedisServer, type RedisServerHandle } from './platform/redis-server.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { resolveSipsEnvironment, type SipsEnvironment } from './sips/environments.ts';
import type { SipsResult } from './sips/result.ts';
import type { WebhookOptions } from './webhooks/options.ts';
import type { AttemptReport } from './webhooks/deliver.ts';
import { startSimulator, type MerchantConfig, type RunningSimulator } from './simulator/index.ts';

export interface Runtime {
  config: Config;
  logger: Logger;
  /** The Redis URL, or the cluster's nodes as `cluster host:port,...`, for display. */
  redisUrl: string;
  /** Where Redis is, for connections of the API's own (the rate limit's counters). */
  redisTarget: RedisTarget;
  /** The durability mode in force and what the start-up check saw. */
  durability: DurabilityReport;
  /**
   * Reads MERCHANTS_FILE again and applies it; a file with problems is
   * refused (MerchantsConfigError naming each) and the shops in force stay.
   */
  reloadMerchants(): MerchantSummary[];
  sips: SipsEnvironment;
  orchestrator: Orchestrator;
  /** The embedded simulator, when SIPS_ENV=simulator and no SIPS_BASE_URL is given. */
  simulator?: RunningSimulator;
  /** The private redis-server, when one was started. */
  redisServer?: RedisServerHandle;
  close(): Promise<void>;
}

export interface ComposeOptions {
  /** Run the step workers in this process. @defaultValue true */
  workers?: boolean;
  /** Start a private redis-server when REDIS_URL is unset or does not answer. @defaultValue true */
  startRedis?: boolean;
  /** Start the embedded simulator for SIPS_ENV=simulator without SIPS_BASE_URL. @defaultValue true */
  embedSimulator?: boolean;
  logger?: Logger;
  /** Told of every Sips call's result made by this process's workers (metrics). */
  onCall?: (result: SipsResult) => void;
  /** Told of every webhook delivery attempt made by this process (metrics). */
  onWebhookAttempt?: (report: AttemptReport) => void;
}

function vaultOptions(config: Config) {
  if (config.CARD_VAULT_KEYS) {
    const keys = parseVaultKeyList(config.CARD_VAULT_KEYS);
    const activeKeyId = config.CARD_VAULT_ACTIVE_KEY ?? Object.keys(keys)[0] ?? '';
    return { keys, activeKeyId };
  }
  if (config.SIPS_ENV !== 'simulator') {
    throw new Error('CARD_VAULT_KEYS is required unless SIPS_ENV=simulator');
  }
  // Only fake cards reach the simulator: the publicly known development key is allowed there.
  const dev = INSECURE_simulatorOnlyDevKey();
  return { keys: { [dev.keyId]: dev.key }, activeKeyId: dev.keyId, allowInsecureDevKey: true };
}

/** Without PUBLIC_URL: the API on this machine (a wildcard listen address is not one to browse to). */
function defaultPublicUrl(config: Config): string {
  const host = ['0.0.0.0', '::', '[::]'].includes(config.HOST) ? '127.0.0.1' : config.HOST;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${config.PORT}`;
}

interface RedisPlace {
  target: RedisTarget;
  display: string;
  setting: 'REDIS_URL' | 'REDIS_CLUSTER_NODES';
  redisServer?: RedisServerHandle;
}

/** REDIS_CLUSTER_NODES, REDIS_URL, or a private redis-server when none answers and we may start one. */
async function placeRedis(
  config: Config,
  options: ComposeOptions,
  logger: Logger,
): Promise<RedisPlace> {
  if (config.REDIS_CLUSTER_NODES) {
    const nodes = config.REDIS_CLUSTER_NODES;
    return {
      target: { clusterNodes: nodes },
      display: `cluster ${nodes.map((node) => `${node.host}:${node.port}`).join(',')}`,
      setting: 'REDIS_CLUSTER_NODES',
    };
  }
  const redisUrl = config.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(redisUrl)) {
    return { target: { url: redisUrl }, display: redisUrl, setting: 'REDIS_URL' };
  }
  if (config.REDIS_URL || options.startRedis === false) {
    throw new ConfigError([`REDIS_URL: no Redis answers at ${config.REDIS_URL ?? redisUrl}`]);
  }
  const dataDir = resolve(config.DATA_DIR, 'redis');
  const redisServer = await startRedisServer({ persistence: 'aof', dataDir });
  logger.info({ redisUrl: redisServer.url, dataDir }, 'started a private redis-server');
  return {
    target: { url: redisServer.url },
    display: redisServer.url,
    setting: 'REDIS_URL',
    redisServer,
  };
}

/** REDIS_DURABILITY defaults to `none` with the simulator, `verify` elsewhere. */
export function durabilitySettings(config: Config): DurabilitySettings {
  return {
    mode: config.REDIS_DURABILITY ?? (config.SIPS_ENV === 'simulator' ? 'none' : 'verify'),
    waitReplicas: config.REDIS_WAIT_REPLICAS,
    waitTimeoutMs: config.REDIS_WAIT_TIMEOUT[0] ?? 1_000,
  };
}

/**
 * Connects once to check that the servers answer and can honour
 * REDIS_DURABILITY; every failure names the setting, none hangs.
 */
async function checkRedis(
  place: RedisPlace,
  config: Config,
  settings: DurabilitySettings,
  logger: Logger,
): Promise<DurabilityReport> {
  const connection = connectRedis(place.target, {
    connectionName: `${config.KEY_PREFIX}-startup-check`,
    maxRetriesPerRequest: 1,
  });
  connection.on('error', () => undefined);
  try {
    const report = await checkDurability(connection, {
      ...settings,
      timeoutMs: config.REDIS_CONNECT_TIMEOUT[0] ?? 10_000,
      production: config.SIPS_ENV !== 'simulator',
      fsyncAsserted: config.REDIS_FSYNC_ASSERTED,
      setting: place.setting,
      ...(config.REDIS_DURABILITY_ALLOW_UNSAFE
        ? { allowUnsafe: config.REDIS_DURABILITY_ALLOW_UNSAFE }
        : {}),
    });
    for (const warning of report.warnings) logger.warn({ durability: settings.mode }, warning);
    return report;
  } catch (error) {
    throw new ConfigError([(error as Error).message]);
  } finally {
    connection.disconnect();
  }
}

/**
 * The shops of MERCHANTS_FILE on the simulator environment: the embedded
 * simulator knows them (merchantId and keys) besides its built-in test shops.
 */
function simulatorShops(config: Config): MerchantConfig[] {
  if (!config.MERCHANTS_FILE) return [];
  let merchants: Merchants;
  try {
    merchants = loadMerchantsFile(config.MERCHANTS_FILE, { simulatorUrl: 'http://127.0.0.1' });
  } catch (error) {
    if (error instanceof MerchantsConfigError) throw new ConfigError(error.problems);
    throw error;
  }
  return [...merchants.values()]
    .filter((merchant) => merchant.environment === 'simulator')
    .map((merchant) => ({
      merchantId: merchant.merchantId,
      name: merchant.id,
      keys: Object.fromEntries(merchant.acceptedKeys.map((key) => [key.version, key.secretKey])),
    }));
}

/** Webhook delivery as configured; private receivers and http are the simulator's defaults only. */
function webhookSettings(config: Config, options: ComposeOptions = {}): WebhookOptions {
  const simulator = config.SIPS_ENV === 'simulator';
  return {
    policy: {
      allowPrivateAddresses: config.WEBHOOK_ALLOW_PRIVATE_ADDRESSES ?? simulator,
      allowHttp: config.WEBHOOK_ALLOW_HTTP ?? simulator,
    },
    deliver: (options.workers ?? true) && config.WORKER_ROLES.webhooks,
    retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER[0] ?? 5 * 86_400_000,
    secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP[0] ?? 86_400_000,
    maxEndpointsPerMerchant: config.WEBHOOK_MAX_ENDPOINTS,
    retentionMs: config.WEBHOOK_LOG_RETENTION[0] ?? 30 * 86_400_000,
    concurrency: config.WEBHOOK_CONCURRENCY,
    claimIdleMs: config.WEBHOOK_CLAIM_IDLE[0] ?? 30_000,
    connectTimeoutMs: config.WEBHOOK_CONNECT_TIMEOUT[0] ?? 5_000,
    responseTimeoutMs: config.WEBHOOK_RESPONSE_TIMEOUT[0] ?? 15_000,
    ...(options.onWebhookAttempt ? { onAttempt: options.onWebhookAttempt } : {}),
  };
}

export async function compose(config: Config, options: ComposeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, name: 'sogenactif' });
  const place = await placeRedis(config, options, logger);
  const { redisServer } = place;
  const durability = durabilitySettings(config);
  let report: DurabilityReport;
  try {
    report = await checkRedis(place, config, durability, logger);
  } catch (error) {
    await redisServer?.stop();
    throw error;
  }

  let simulator: RunningSimulator | undefined;
  let baseUrl = config.SIPS_BASE_URL;
  if (config.SIPS_ENV === 'simulator' && !baseUrl && options.embedSimulator !== false) {
    let shops: MerchantConfig[];
    try {
      shops = simulatorShops(config);
    } catch (error) {
      await redisServer?.stop();
      throw error;
    }
    simulator = await startSimulator({
      port: config.SIMULATOR_PORT,
      host: config.HOST,
      logger,
      control: true,
      merchants: shops,
    });
    baseUrl = simulator.url;
  }
  const sips = resolveSipsEnvironment({
    env: config.SIPS_ENV,
    baseUrl,
    merchantId: config.SIPS_MERCHANT_ID,
    secretKey: config.SIPS_SECRET_KEY,
    keyVersion: config.SIPS_KEY_VERSION,
  });
  const readMerchants = () =>
    config.MERCHANTS_FILE
      ? loadMerchantsFile(config.MERCHANTS_FILE, simulator ? { simulatorUrl: simulator.url } : {})
      : undefined;
  let merchants: Merchants | undefined;
  try {
    merchants = readMerchants();
  } catch (error) {
    await simulator?.close();
    await redisServer?.stop();
    if (error instanceof MerchantsConfigError) throw new ConfigError(error.problems);
    throw error;
  }
  const vault = vaultOptions(config);
  const firstKey = Object.values(vault.keys)[0] ?? Buffer.alloc(32);
  const orchestrator = await createOrchestrator({
    redis: place.target,
    durability,
    ...(merchants ? { merchants } : {}),
    sips: {
      baseUrl: sips.baseUrl,
      merchantId: sips.merchantId,
      secretKey: sips.secretKey,
      keyVersion: sips.keyVersion,
      interfaceVersion: config.SIPS_INTERFACE_VERSION,
      timeoutMs: config.SIPS_TIMEOUT_MS,
      allowUnsealedResponses: config.SIPS_ALLOW_UNSEALED_RESPONSES,
    },
    vault,
    keyPrefix: config.KEY_PREFIX,
    shards: config.SHARDS,
    workers: (options.workers ?? true) && config.WORKER_ROLES.steps,
    concurrency: config.WORKER_CONCURRENCY,
    retry: {
      attempts: config.RETRY_ATTEMPTS,
      baseMs: config.RETRY_BASE_MS,
      capMs: config.RETRY_MAX_MS,
    },
    inquiryScheduleMs: config.INQUIRY_SCHEDULE,
    stalledIntervalMs: config.STALLED_INTERVAL_MS,
    lockDurationMs: config.LOCK_DURATION_MS,
    // Stable across key rotation: derived from the first key of the list.
    requestHashSecret: createHash('sha256').update('idempotency:').update(firstKey).digest(),
    idempotencyTtlMs: config.IDEMPOTENCY_KEY_TTL[0] ?? 86_400_000,
    refundBeforeRemittance: config.REFUND_BEFORE_REMITTANCE,
    logger,
    ...(options.onCall ? { onCall: options.onCall } : {}),
    authenticationTimeoutMs: config.AUTHENTICATION_TIMEOUT[0] ?? 900_000,
    captureLimit: {
      warnBeforeMs: config.CAPTURE_LIMIT_WARN_BEFORE[0] ?? 86_400_000,
      actBeforeMs: config.CAPTURE_LIMIT_ACT_BEFORE[0] ?? 21_600_000,
      defaultPolicy: config.CAPTURE_LIMIT_POLICY,
      maxReauthorizations: config.CAPTURE_LIMIT_MAX_REAUTHORIZATIONS,
    },
    janitor: {
      intervalMs: config.JANITOR_INTERVAL[0] ?? 60_000,
      escalateAfterMs: config.JANITOR_ESCALATE_AFTER[0] ?? 21_600_000,
      ...(config.JANITOR_THRESHOLDS ? { thresholdsMs: config.JANITOR_THRESHOLDS } : {}),
    },
    publicUrl: config.PUBLIC_URL ?? defaultPublicUrl(config),
    webhooks: webhookSettings(config, options),
  });
  return {
    config,
    logger,
    redisUrl: place.display,
    redisTarget: place.target,
    durability: report,
    reloadMerchants() {
      const next = readMerchants();
      if (next) orchestrator.merchants.replace(next);
      return orchestrator.merchants.list();
    },
    sips,
    orchestrator,
    ...(simulator ? { simulator } : {}),
    ...(redisServer ? { redisServer } : {}),
    async close() {
      await orchestrator.close();
      await simulator?.close();
      await redisServer?.stop();
    },
  };
}

/** SIGHUP reloads MERCHANTS_FILE; a refused file is logged with every problem and changes nothing. */
export function reloadMerchantsOnSighup(runtime: Runtime): void {
  process.on('SIGHUP', () => {
    try {
      const merchants = runtime.reloadMerchants();
      runtime.logger.info(
        { merchants: merchants.map((merchant) => merchant.id) },
        'merchants reloaded',
      );
    } catch (error) {
      const problems =
        error instanceof MerchantsConfigError ? error.problems : [(error as Error).message];
      runtime.logger.error({ problems }, 'merchants file refused: the shops in force stay');
    }
  });
}
