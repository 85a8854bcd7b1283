/** The ops alerts, newest first: capture limits, escalations, failed schedules. `ops` scope. */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import type { Guard } from '../auth.ts';
import { listOptions } from '../request.ts';

export interface AlertRoutesOptions {
  ops: Orchestrator['ops'];
  guard: Guard;
}

export const alertRoutes: FastifyPluginAsync<AlertRoutesOptions> = async (app, options) => {
  const { ops, guard } = options;
  app.get('/v1/alerts', guard, async (request) => {
    return { items: await ops.alerts(listOptions(request.query)) };
  });
};
