/** What will run later: timers, inquiries, occurrences, instalments. `ops` scope. */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { requireAllMerchants, type Guard } from '../auth.ts';
import { listOptions } from '../request.ts';

export interface ScheduleRoutesOptions {
  ops: Orchestrator['ops'];
  guard: Guard;
}

export const scheduleRoutes: FastifyPluginAsync<ScheduleRoutesOptions> = async (app, options) => {
  const { ops, guard } = options;
  app.get('/v1/schedules', guard, async (request) => {
    // Timers of every merchant's payments and schedules: a deployment-wide view.
    requireAllMerchants(request);
    return { items: await ops.schedules(listOptions(request.query)) };
  });
};
