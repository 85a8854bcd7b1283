/** GET /metrics: the Prometheus text exposition. `ops` scope. */
import type { FastifyPluginAsync } from 'fastify';
import { requireAllMerchants, type Guard } from '../auth.ts';
import type { Metrics, MetricsSource } from '../metrics.ts';

export interface MetricsRoutesOptions {
  metrics: Metrics;
  source: MetricsSource;
  guard: Guard;
}

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, options) => {
  const { metrics, source, guard } = options;
  app.get('/metrics', guard, async (request, reply) => {
    requireAllMerchants(request);
    const text = await metrics.render(source);
    return reply.type(metrics.registry.contentType).send(text);
  });
};
