/**
 * Workers only: runs the step and schedules workers (and the janitor) and
 * webhook delivery (WORKER_ROLES picks) against REDIS_URL (or
 * REDIS_CLUSTER_NODES) and the configured Sips platform, for scaling out
 * (`node --import tsx workers/main.ts`).
 * SIGTERM or SIGINT: jobs in flight finish, then the process exits.
 */
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
  const runtime = await compose(config, {
    workers: true,
    startRedis: false,
    embedSimulator: false,
  });
  const roles = config.WORKER_ROLES;
  runtime.logger.info(
    {
      sips: runtime.sips.baseUrl,
      shards: config.SHARDS,
      durability: runtime.durability.mode,
      webhooks: roles.webhooks,
    },
    roles.steps ? 'step workers running' : 'webhook workers running',
  );
  reloadMerchantsOnSighup(runtime);
  stopOnSignals(() => runtime.close(), runtime.logger);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
