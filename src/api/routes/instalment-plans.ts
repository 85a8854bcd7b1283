/**
 * Instalment plans: a total split into instalments, the first one now.
 * `payments` scope.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import type { Guard } from '../auth.ts';
import { commandOptions, listOptions, planId, requireJson } from '../request.ts';

export interface InstalmentPlanRoutesOptions {
  instalmentPlans: Orchestrator['instalmentPlans'];
  guard: Guard;
}

export const instalmentPlanRoutes: FastifyPluginAsync<InstalmentPlanRoutesOptions> = async (
  app,
  options,
) => {
  const { instalmentPlans, guard } = options;

  app.post('/v1/instalment-plans', guard, async (request, reply) => {
    requireJson(request);
    const result = await instalmentPlans.create(request.body, commandOptions(request, true));
    if (!result.created) reply.header('Idempotent-Replayed', 'true');
    return reply
      .code(result.created ? 201 : 200)
      .send({ plan: result.plan, firstPayment: result.firstPayment });
  });

  app.get('/v1/instalment-plans', guard, async (request) => {
    return { items: await instalmentPlans.list(listOptions(request.query)) };
  });

  app.get<{ Params: { id: string } }>('/v1/instalment-plans/:id', guard, async (request) =>
    instalmentPlans.get(planId(request.params.id)),
  );

  app.post<{ Params: { id: string } }>('/v1/instalment-plans/:id/cancel', guard, async (request) =>
    instalmentPlans.cancel(planId(request.params.id)),
  );
};
