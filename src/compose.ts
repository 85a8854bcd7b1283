/**
 * Builds the running parts from the configuration, in one place: the Redis
 * connection (a private redis-server when none answers and we may start one),
 * the Sips platform (the embedded simulator by default), the card vault keys
 * and the orchestrator. `npm start`, the workers-only and API-only entry
 * points and the tools all go through here.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Config } from './config/config.ts';
import { createOrchestrator, type Orchestrator } from './orchestrator.ts';
import { INSECURE_simulatorOnlyDevKey, parseVaultKeyList } from './payments/card-vault.ts';
import { redisAnswers, startRedisServer, type RedisServerHandle } from './platform/redis-server.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { resolveSipsEnvironment, type SipsEnvironment } from './sips/environments.ts';
import type { SipsResult } from './sips/result.ts';
import { startSimulator, type RunningSimulator } from './simulator/index.ts';

export interface Runtime {
  config: Config;
  logger: Logger;
  redisUrl: string;
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

export async function compose(config: Config, options: ComposeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, name: 'sogenactif' });
  let redisServer: RedisServerHandle | undefined;
  let redisUrl = config.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(redisUrl))) {
    if (config.REDIS_URL || options.startRedis === false) {
      throw new Error(`no Redis answers at ${config.REDIS_URL ?? redisUrl}`);
    }
    redisServer = await startRedisServer({
      persistence: 'aof',
      dataDir: resolve(config.DATA_DIR, 'redis'),
    });
    redisUrl = redisServer.url;
    logger.info(
      { redisUrl, dataDir: resolve(config.DATA_DIR, 'redis') },
      'started a private redis-server',
    );
  }

  let simulator: RunningSimulator | undefined;
  let baseUrl = config.SIPS_BASE_URL;
  if (config.SIPS_ENV === 'simulator' && !baseUrl && options.embedSimulator !== false) {
    simulator = await startSimulator({
      port: config.SIMULATOR_PORT,
      host: config.HOST,
      logger,
      control: true,
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
  const vault = vaultOptions(config);
  const firstKey = Object.values(vault.keys)[0] ?? Buffer.alloc(32);
  const orchestrator = await createOrchestrator({
    redis: redisUrl,
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
    workers: options.workers ?? true,
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
  });
  return {
    config,
    logger,
    redisUrl,
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
