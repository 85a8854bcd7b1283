/**
 * Subscriptions: a first customer-initiated payment, then one per period.
 * `payments` scope.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';
import { scopedSchedules } from '../../service/scope.ts';
import { commandOptions, listOptions, sendIdempotent, subscriptionId } from '../request.ts';

export interface SubscriptionRoutesOptions {
  subscriptions: Orchestrator['subscriptions'];
  guard: Guard;
}

export const subscriptionRoutes: FastifyPluginAsync<SubscriptionRoutesOptions> = async (
  app,
  options,
) => {
  const { guard } = options;
  const scoped = (request: FastifyRequest) =>
    scopedSchedules(options.subscriptions, merchantScopeOf(request), 'subscription_not_found');

  app.post('/v1/subscriptions', guard, async (request, reply) => {
    const result = await scoped(request).create(request.body, commandOptions(request, true));
    // A replay is answered 201 like the first request, with `Idempotent-Replayed: true`.
    return sendIdempotent(reply, {
      status: 201,
      replayed: !result.created,
      location: `/v1/subscriptions/${result.subscription.id}`,
      body: { subscription: result.subscription, firstPayment: result.firstPayment },
    });
  });

  app.get('/v1/subscriptions', guard, async (request) => {
    return { items: await scoped(request).list(listOptions(request.query)) };
  });

  app.get<{ Params: { id: string } }>('/v1/subscriptions/:id', guard, async (request) => {
    return scoped(request).get(subscriptionId(request.params.id));
  });

  app.patch<{ Params: { id: string } }>('/v1/subscriptions/:id', guard, async (request) => {
    return scoped(request).changeAmount(subscriptionId(request.params.id), request.body);
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    // Idempotent by status: pausing a paused subscription answers it as it is.
    app.post<{ Params: { id: string } }>(
      `/v1/subscriptions/:id/${action}`,
      guard,
      async (request) => scoped(request)[action](subscriptionId(request.params.id)),
    );
  }
};
