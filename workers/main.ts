/**
 * Workers only: runs the step and schedules workers (and the janitor) and
 * webhook delivery (WORKER_ROLES picks) against REDIS_URL (or
 * REDIS_CLUSTER_NODES) and the configured Sips platform, for scaling out
 * (`npm run worker`; compiled: `node dist/workers/main.js`).
 * With METRICS_PORT, GET /metrics on HOST:METRICS_PORT (no authentication).
 * SIGTERM or SIGINT: jobs in flight finish, then the process exits.
 */
// First: tracing (when OTEL_* asks for it) starts before node:http and undici load.
import '../src/config/tracing-start.ts';
import { createMetrics, metricsSourceOf } from '../src/api/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../src/api/metrics-server.ts';
import { loadConfig, ConfigError } from '../src/config/config.ts';
import { compose, reloadMerchantsOnSighup } from '../src/compose.ts';
import { stopOnSignals } from '../src/platform/shutdown.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.REDIS_URL && !config.REDIS_CLUSTER_NODES) {
    throw new ConfigError([
      'REDIS_URL: is required for a workers-only process (or REDIS_CLUSTER_NODES)',
    ]);
  }
  const metrics = createMetrics();
  const runtime = await compose(config, {
    workers: true,
    startRedis: false,
    embedSimulator: false,
    onCall: (result) => metrics.onCall(result),
    onWebhookAttempt: (report) => metrics.onWebhookAttempt(report),
  });
  let metricsServer: MetricsServer | undefined;
  if (config.METRICS_PORT !== undefined) {
    try {
      metricsServer = await startMetricsServer({
        metrics,
        source: metricsSourceOf(runtime.orchestrator),
        host: config.HOST,
        port: config.METRICS_PORT,
        onError: (error) =>
          runtime.logger.warn({ err: error }, 'metrics: reading the queue figures failed'),
      });
    } catch (error) {
      // The port is taken, say: stop the workers before giving up.
      await runtime.close();
      throw error;
    }
  }
  const roles = config.WORKER_ROLES;
  runtime.logger.info(
    {
      sips: runtime.sips.baseUrl,
      shards: config.SHARDS,
      durability: runtime.durability.mode,
      webhooks: roles.webhooks,
      ...(metricsServer ? { metrics: `${metricsServer.url}/metrics` } : {}),
    },
    roles.steps ? 'step workers running' : 'webhook workers running',
  );
  reloadMerchantsOnSighup(runtime);
  stopOnSignals(async () => {
    await metricsServer?.close();
    await runtime.close();
  }, runtime.logger);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
