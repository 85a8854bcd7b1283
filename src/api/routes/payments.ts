/**
 * Payments for merchant backends: create, read, capture, cancel, refund,
 * duplicate, and the decision on a fraud challenge. `payments` scope.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import type { Guard } from '../auth.ts';
import { commandOptions, requireJson } from '../request.ts';

export interface PaymentRoutesOptions {
  payments: Orchestrator['payments'];
  guard: Guard;
}

export const paymentRoutes: FastifyPluginAsync<PaymentRoutesOptions> = async (app, options) => {
  const { payments, guard } = options;

  app.post('/v1/payments', guard, async (request, reply) => {
    requireJson(request);
    const result = await payments.create(request.body, commandOptions(request, true));
    if (!result.created) reply.header('Idempotent-Replayed', 'true');
    return reply.code(result.created ? 201 : 200).send(result.payment);
  });

  app.get<{ Params: { id: string } }>('/v1/payments/:id', guard, async (request) => {
    return payments.get(request.params.id);
  });

  for (const [path, command] of [
    ['captures', 'capture'],
    ['cancellations', 'cancel'],
    ['refunds', 'refund'],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/v1/payments/:id/${path}`,
      guard,
      async (request, reply) => {
        requireJson(request);
        const options = commandOptions(request, false);
        const payment = await payments[command](request.params.id, request.body, options);
        return reply.code(202).send(payment);
      },
    );
  }

  app.post<{ Params: { id: string } }>(
    '/v1/payments/:id/duplicates',
    guard,
    async (request, reply) => {
      requireJson(request);
      const result = await payments.duplicate(
        request.params.id,
        request.body,
        commandOptions(request, true),
      );
      if (!result.created) reply.header('Idempotent-Replayed', 'true');
      return reply.code(result.created ? 201 : 200).send(result.payment);
    },
  );

  for (const [path, command] of [
    ['accept', 'acceptChallenge'],
    ['refuse', 'refuseChallenge'],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/v1/payments/:id/challenge/${path}`,
      guard,
      async (request, reply) => {
        const payment = await payments[command](request.params.id, commandOptions(request, false));
        return reply.code(202).send(payment);
      },
    );
  }
};
