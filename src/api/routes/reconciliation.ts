/**
 * The daily reconciliation report (`ops` scope): GET /v1/reconciliation/{date}
 * compares the payments created on that UTC day with what Sips holds for
 * them. A key bound to merchants gets the report of their payments only.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';

export interface ReconciliationRoutesOptions {
  reconciliation: Orchestrator['reconciliation'];
  guard: Guard;
}

export const reconciliationRoutes: FastifyPluginAsync<ReconciliationRoutesOptions> = async (
  app,
  options,
) => {
  const { reconciliation, guard } = options;
  app.get<{ Params: { date: string } }>('/v1/reconciliation/:date', guard, async (request) => {
    return reconciliation.report(request.params.date, merchantScopeOf(request));
  });
};
