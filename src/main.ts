/**
 * `npm start`: the HTTP API, the step workers and (by default) the embedded
 * simulator in one process, with a private redis-server when none answers.
 * `WORKERS=0` runs the API alone (scale workers with workers/main.ts).
 * SIGTERM or SIGINT: stop accepting requests, let calls in flight finish and
 * be stored, then stop the simulator and the private Redis.
 */
// First: tracing (when OTEL_* asks for it) starts before node:http and undici load.
import './config/tracing-start.ts';
import { DEV_API_KEY } from './cli/ops.ts';
import { resolve } from 'node:path';
import { buildApi, parseApiKeys, type ApiKey } from './api/app.ts';
import { type LimitOptions, type ServerLimitSettings } from './api/limits.ts';
import { createMetrics } from './api/metrics.ts';
import { loadConfig, ConfigError, type Config } from './config/config.ts';
import { compose, reloadMerchantsOnSighup } from './compose.ts';
import { connectRedis, type RedisClient } from './platform/redis.ts';
import { stopOnSignals } from './platform/shutdown.ts';

function apiKeys(config: Config): { keys: ApiKey[]; devKey: boolean } {
  if (config.API_KEYS) {
    try {
      return { keys: parseApiKeys(config.API_KEYS), devKey: false };
    } catch (error) {
      // The messages name entries by position and name, never by secret.
      throw new ConfigError([(error as Error).message]);
    }
  }
  if (config.SIPS_ENV !== 'simulator') {
    throw new ConfigError(['API_KEYS: is required unless SIPS_ENV=simulator']);
  }
  return { keys: parseApiKeys(`dev:${DEV_API_KEY}:payments|ops`), devKey: true };
}

/** The HTTP server's time limits and connection cap (HTTP_*). */
function serverLimitSettings(config: Config): ServerLimitSettings {
  return {
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT[0] ?? 30_000,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT[0] ?? 10_000,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT[0] ?? 5_000,
    maxConnections: config.HTTP_MAX_CONNECTIONS,
  };
}

/** HTTP_* and RATE_LIMIT*: the rate limit counts on a Redis connection of its own. */
function limitOptions(
  config: Config,
  keys: readonly ApiKey[],
  redis: RedisClient | undefined,
): LimitOptions {
  return {
    server: serverLimitSettings(config),
    ...(redis
      ? {
          rate: {
            redis,
            max: config.RATE_LIMIT,
            timeWindowMs: config.RATE_LIMIT_WINDOW[0] ?? 60_000,
            keyPrefix: config.KEY_PREFIX,
            apiKeys: keys,
          },
        }
      : {}),
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const { keys, devKey } = apiKeys(config);
  const workers = config.WORKERS;
  const metrics = createMetrics();
  const runtime = await compose(config, {
    workers,
    onCall: (result) => metrics.onCall(result),
    onWebhookAttempt: (report) => metrics.onWebhookAttempt(report),
  });
  const publicUrl = config.PUBLIC_URL?.replace(/\/+$/, '');
  // Commands fail after one reconnection attempt; the rate limit then lets the request through.
  const rateLimitRedis =
    config.RATE_LIMIT > 0
      ? connectRedis(runtime.redisTarget, {
          connectionName: `${config.KEY_PREFIX}-rate-limit`,
          maxRetriesPerRequest: 1,
        })
      : undefined;
  rateLimitRedis?.on('error', (error: Error) =>
    runtime.logger.warn({ err: error.message }, 'rate limit: Redis connection error'),
  );
  const app = buildApi({
    orchestrator: runtime.orchestrator,
    apiKeys: keys,
    logger: runtime.logger,
    metrics,
    ...(publicUrl ? { publicUrl } : {}),
    ...(config.MERCHANTS_FILE ? { reloadMerchants: () => runtime.reloadMerchants() } : {}),
    limits: limitOptions(config, keys, rateLimitRedis),
  });
  let address: string;
  try {
    address = await app.listen({ host: config.HOST, port: config.PORT });
  } catch (error) {
    // The port is taken, say: stop what was started (private Redis, simulator) first.
    await app.close().catch(() => undefined);
    rateLimitRedis?.disconnect();
    await runtime.close();
    throw error;
  }

  const lines = [
    `sogenactif-orchestrator is running`,
    `  API         ${address}  (POST /v1/payments, GET /v1/payments/:id)`,
    `  docs        ${address}/docs  (OpenAPI: ${address}/openapi.json)`,
    `  console     ${address}/ops  (ops scope; metrics at /metrics, health at /healthz, /readyz)`,
    `  workers     ${workers ? `in this process, concurrency ${config.WORKER_CONCURRENCY}` : 'off (WORKERS=0)'}`,
    `  Sips        ${runtime.simulator ? 'embedded simulator' : runtime.sips.name} at ${runtime.sips.baseUrl}, merchant ${runtime.sips.merchantId}`,
    `  Redis       ${withoutCredentials(runtime.redisUrl)}${runtime.redisServer ? ` (private server, data in ${resolve(config.DATA_DIR, 'redis')})` : ''}, durability ${runtime.durability.mode}`,
  ];
  if (publicUrl) lines.push(`  public URL  ${publicUrl}  (3-D Secure returns)`);
  if (devKey) lines.push(`  API key     ${DEV_API_KEY}  (development only: set API_KEYS)`);
  process.stdout.write(`${lines.join('\n')}\n`);

  reloadMerchantsOnSighup(runtime);
  stopOnSignals(async () => {
    await app.close();
    rateLimitRedis?.disconnect();
    await runtime.close();
  }, runtime.logger);
}

/** Credentials inside URLs (redis://user:password@host) are not printed. */
function withoutCredentials(text: string): string {
  return text.replace(/\/\/[^@/\s]*@/g, '//***@');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else if (error instanceof Error) console.error(withoutCredentials(error.stack ?? error.message));
  else console.error(withoutCredentials(String(error)));
  process.exit(1);
});
