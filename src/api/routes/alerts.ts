/** The ops alerts, newest first: capture limits, escalations, failed schedules. `ops` scope. */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';
import { scopedAlerts } from '../../service/scope.ts';
import { listOptions } from '../request.ts';

export interface AlertRoutesOptions {
  ops: Orchestrator['ops'];
  payments: Orchestrator['payments'];
  guard: Guard;
}

export const alertRoutes: FastifyPluginAsync<AlertRoutesOptions> = async (app, options) => {
  const { ops, guard } = options;
  app.get('/v1/alerts', guard, async (request) => {
    const alerts = await ops.alerts(listOptions(request.query));
    return { items: await scopedAlerts(alerts, options.payments, merchantScopeOf(request)) };
  });
};
