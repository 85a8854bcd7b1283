/**
 * Payments for merchant backends: create, read, capture, cancel, refund,
 * duplicate, and the decision on a fraud challenge. `payments` scope.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';
import { scopedPayments } from '../../service/scope.ts';
import { CommandError } from '../../engine/errors.ts';
import { commandOptions, sendIdempotent, watchedCommandOptions } from '../request.ts';

export interface PaymentRoutesOptions {
  payments: Orchestrator['payments'];
  guard: Guard;
}

export const paymentRoutes: FastifyPluginAsync<PaymentRoutesOptions> = async (app, options) => {
  const { guard } = options;
  // A key bound to merchants sees and commands only their payments.
  const scoped = (request: FastifyRequest) =>
    scopedPayments(options.payments, merchantScopeOf(request));

  // A replay (same key, same body) is answered 201 like the first request,
  // with `Idempotent-Replayed: true` and the payment as it is now.
  app.post('/v1/payments', guard, async (request, reply) => {
    const result = await scoped(request).create(request.body, commandOptions(request, true));
    return sendIdempotent(reply, {
      status: 201,
      replayed: !result.created,
      location: `/v1/payments/${result.payment.id}`,
      body: result.payment,
    });
  });

  app.get<{ Params: { id: string } }>('/v1/payments/:id', guard, async (request) => {
    return scoped(request).get(request.params.id);
  });

  for (const [path, command] of [
    ['captures', 'capture'],
    ['cancellations', 'cancel'],
    ['refunds', 'refund'],
  ] as const) {
    // Each command is a resource: Location names it, as on its replay.
    app.post<{ Params: { id: string } }>(
      `/v1/payments/:id/${path}`,
      guard,
      async (request, reply) => {
        const { options, replayed } = watchedCommandOptions(request, false);
        let operationId: string | undefined;
        const payment = await scoped(request)[command](request.params.id, request.body, {
          ...options,
          onOperation: (id) => {
            operationId = id;
          },
        });
        return sendIdempotent(reply, {
          status: 202,
          replayed: replayed(),
          ...(operationId === undefined
            ? {}
            : { location: `/v1/payments/${payment.id}/${path}/${operationId}` }),
          body: payment,
        });
      },
    );

    app.get<{ Params: { id: string } }>(`/v1/payments/:id/${path}`, guard, async (request) => {
      const payment = await scoped(request).get(request.params.id);
      return { data: payment.operations.filter((operation) => operation.type === command) };
    });

    app.get<{ Params: { id: string; operationId: string } }>(
      `/v1/payments/:id/${path}/:operationId`,
      guard,
      async (request) => {
        const payment = await scoped(request).get(request.params.id);
        const found = payment.operations.find(
          (operation) => operation.type === command && operation.id === request.params.operationId,
        );
        if (found === undefined) {
          throw new CommandError(
            'operation_not_found',
            `no ${command} ${request.params.operationId.slice(0, 80)} on payment ${payment.id}`,
          );
        }
        return found;
      },
    );
  }

  app.post<{ Params: { id: string } }>(
    '/v1/payments/:id/duplicates',
    guard,
    async (request, reply) => {
      const result = await scoped(request).duplicate(
        request.params.id,
        request.body,
        commandOptions(request, true),
      );
      // The new payment is the resource created: Location names it.
      return sendIdempotent(reply, {
        status: 201,
        replayed: !result.created,
        location: `/v1/payments/${result.payment.id}`,
        body: result.payment,
      });
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
        const { options, replayed } = watchedCommandOptions(request, false);
        const payment = await scoped(request)[command](request.params.id, options);
        return sendIdempotent(reply, { status: 202, replayed: replayed(), body: payment });
      },
    );
  }
};
