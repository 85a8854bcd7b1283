/**
 * Instalment plans: a total split into instalments, the first one now.
 * `payments` scope.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';
import { scopedSchedules } from '../../service/scope.ts';
import { commandOptions, listOptions, sendIdempotent, planId } from '../request.ts';

export interface InstalmentPlanRoutesOptions {
  instalmentPlans: Orchestrator['instalmentPlans'];
  guard: Guard;
}

export const instalmentPlanRoutes: FastifyPluginAsync<InstalmentPlanRoutesOptions> = async (
  app,
  options,
) => {
  const { guard } = options;
  const scoped = (request: FastifyRequest) =>
    scopedSchedules(options.instalmentPlans, merchantScopeOf(request), 'plan_not_found');

  app.post('/v1/instalment-plans', guard, async (request, reply) => {
    const result = await scoped(request).create(request.body, commandOptions(request, true));
    // A replay is answered 201 like the first request, with `Idempotent-Replayed: true`.
    return sendIdempotent(reply, {
      status: 201,
      replayed: !result.created,
      location: `/v1/instalment-plans/${result.plan.id}`,
      body: { plan: result.plan, firstPayment: result.firstPayment },
    });
  });

  app.get('/v1/instalment-plans', guard, async (request) => {
    return { items: await scoped(request).list(listOptions(request.query)) };
  });

  app.get<{ Params: { id: string } }>('/v1/instalment-plans/:id', guard, async (request) =>
    scoped(request).get(planId(request.params.id)),
  );

  app.post<{ Params: { id: string } }>('/v1/instalment-plans/:id/cancel', guard, async (request) =>
    scoped(request).cancel(planId(request.params.id)),
  );
};
