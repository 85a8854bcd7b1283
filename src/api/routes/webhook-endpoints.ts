/**
 * Webhook endpoints of the key's merchants, their delivery log and replay.
 * `payments` scope: a merchant's backend manages where its events go.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Orchestrator } from '../../orchestrator.ts';
import { parseCommand } from '../../payments/commands.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';
import { parseOrThrow } from '../../service/parse.ts';

export interface WebhookEndpointRoutesOptions {
  webhooks: Orchestrator['webhooks'];
  guard: Guard;
}

const DeliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  /** RFC 3339: messages created before it (the next page). */
  before: z.iso.datetime({ offset: true }).optional(),
});

function deliveriesQuery(query: unknown): { limit?: number; before?: number } {
  const { limit, before } = parseOrThrow(parseCommand(DeliveriesQuery, query ?? {}));
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(before === undefined ? {} : { before: Date.parse(before) }),
  };
}

type WithId = { Params: { id: string } };

export const webhookEndpointRoutes: FastifyPluginAsync<WebhookEndpointRoutesOptions> = async (
  app,
  options,
) => {
  const { guard } = options;
  const endpoints = options.webhooks.endpoints;
  const scope = (request: FastifyRequest) => merchantScopeOf(request);

  app.post('/v1/webhook-endpoints', guard, async (request, reply) => {
    const created = await endpoints.create(request.body, scope(request));
    reply.header('Location', `/v1/webhook-endpoints/${created.endpoint.id}`);
    return reply.code(201).send({ ...created.endpoint, secret: created.secret });
  });

  app.get('/v1/webhook-endpoints', guard, async (request) => {
    return { items: await endpoints.list(scope(request)) };
  });

  app.get<WithId>('/v1/webhook-endpoints/:id', guard, async (request) => {
    return endpoints.get(request.params.id, scope(request));
  });

  app.patch<WithId>('/v1/webhook-endpoints/:id', guard, async (request) => {
    return endpoints.update(request.params.id, request.body, scope(request));
  });

  app.delete<WithId>('/v1/webhook-endpoints/:id', guard, async (request, reply) => {
    await endpoints.remove(request.params.id, scope(request));
    return reply.code(204).send();
  });

  app.post<WithId>('/v1/webhook-endpoints/:id/rotate-secret', guard, async (request) => {
    const rotated = await endpoints.rotateSecret(request.params.id, request.body, scope(request));
    return { ...rotated.endpoint, secret: rotated.secret };
  });

  app.get<WithId>('/v1/webhook-endpoints/:id/deliveries', guard, async (request) => {
    const items = await endpoints.deliveries(
      request.params.id,
      scope(request),
      deliveriesQuery(request.query),
    );
    return { items };
  });

  app.post<{ Params: { id: string; messageId: string } }>(
    '/v1/webhook-endpoints/:id/deliveries/:messageId/replay',
    guard,
    async (request, reply) => {
      const delivery = await endpoints.replay(
        request.params.id,
        request.params.messageId,
        scope(request),
      );
      return reply.code(202).send(delivery);
    },
  );

  app.post<WithId>('/v1/webhook-endpoints/:id/replay', guard, async (request, reply) => {
    const result = await endpoints.replaySince(request.params.id, request.body, scope(request));
    return reply.code(202).send(result);
  });
};
