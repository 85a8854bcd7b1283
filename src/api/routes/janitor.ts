/** The janitor on demand: one pass now, answered with its report. `ops` scope. */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { requireAllMerchants, type Guard } from '../auth.ts';

export interface JanitorRoutesOptions {
  ops: Orchestrator['ops'];
  guard: Guard;
}

export const janitorRoutes: FastifyPluginAsync<JanitorRoutesOptions> = async (app, options) => {
  const { ops, guard } = options;
  app.post('/v1/janitor/runs', guard, async (request) => {
    requireAllMerchants(request);
    return ops.runJanitor();
  });
};
