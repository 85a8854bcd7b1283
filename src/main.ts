/**
 * `npm start`: the HTTP API, the step workers and (by default) the embedded
 * simulator in one process, with a private redis-server when none answers.
 * `WORKERS=0` runs the API alone (scale workers with workers/main.ts).
 * SIGTERM or SIGINT: stop accepting requests, let calls in flight finish and
 * be stored, then stop the simulator and the private Redis.
 */
import { resolve } from 'node:path';
import { buildApi, parseApiKeys, type ApiKey } from './api/app.ts';
import { createMetrics } from './api/metrics.ts';
import { loadConfig, ConfigError, type Config } from './config/config.ts';
import { compose, reloadMerchantsOnSighup } from './compose.ts';
import { stopOnSignals } from './platform/shutdown.ts';

const DEV_API_KEY = 'dev-key';

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
  const app = buildApi({
    orchestrator: runtime.orchestrator,
    apiKeys: keys,
    logger: runtime.logger,
    metrics,
    ...(publicUrl ? { publicUrl } : {}),
    ...(config.MERCHANTS_FILE ? { reloadMerchants: () => runtime.reloadMerchants() } : {}),
  });
  let address: string;
  try {
    address = await app.listen({ host: config.HOST, port: config.PORT });
  } catch (error) {
    // The port is taken, say: stop what was started (private Redis, simulator) first.
    await app.close().catch(() => undefined);
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
