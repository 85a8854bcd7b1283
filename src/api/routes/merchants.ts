/**
 * The shops served (`ops` scope): their public settings (never a key), and a
 * reload of MERCHANTS_FILE, as SIGHUP does. A refused file changes nothing.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { MerchantSummary, Orchestrator } from '../../orchestrator.ts';
import { requireAllMerchants, type Guard } from '../auth.ts';
import { ApiError } from '../problems.ts';

export interface MerchantRoutesOptions {
  merchants: Orchestrator['merchants'];
  /** Reads the merchants file again and applies it; throws with `problems` when refused. */
  reload?: () => MerchantSummary[];
  guard: Guard;
}

export const merchantRoutes: FastifyPluginAsync<MerchantRoutesOptions> = async (app, options) => {
  const { merchants, reload, guard } = options;
  app.get('/v1/merchants', guard, async (request) => {
    requireAllMerchants(request);
    return merchants.list();
  });
  app.post('/v1/merchants/reload', guard, async (request) => {
    requireAllMerchants(request);
    if (!reload) {
      throw new ApiError('not_found', 'this process has no merchants file to reload');
    }
    try {
      return reload();
    } catch (error) {
      const problems = (error as { problems?: readonly string[] }).problems;
      if (!problems) throw error;
      throw new ApiError('merchants_file_invalid', problems.join('; '));
    }
  });
};
