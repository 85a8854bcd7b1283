/**
 * Health checks, without API keys: /healthz says the process is up, /readyz
 * that Redis answers and every shard's step queue (the queue commands write
 * to) can be read, each within a time limit.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ApiPorts } from '../ports.ts';

export interface HealthRoutesOptions {
  ports: Pick<ApiPorts, 'shards' | 'pingRedis' | 'stepJobCounts' | 'stepQueuePaused'>;
  /** How long /readyz waits for Redis and the queues. */
  readinessTimeoutMs: number;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  const { ports, readinessTimeoutMs } = options;
  const within = <T>(work: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out')), readinessTimeoutMs);
      work.then(resolve, reject).finally(() => clearTimeout(timer));
    });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await within(ports.pingRedis());
    } catch {
      return reply.code(503).send({ status: 'unavailable', redis: 'unreachable' });
    }
    try {
      const shards = await within(
        Promise.all(
          ports.shards().map(async (shard) => {
            const [counts, paused] = await Promise.all([
              ports.stepJobCounts(shard, ['waiting', 'active', 'delayed']),
              ports.stepQueuePaused(shard),
            ]);
            return { shard, paused, ...counts };
          }),
        ),
      );
      return { status: 'ready', redis: 'ok', queues: shards };
    } catch {
      return reply.code(503).send({ status: 'unavailable', redis: 'ok', queues: 'unreachable' });
    }
  });
};
