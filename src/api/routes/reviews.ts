/** The manual-review items: list, read, resolve. `ops` scope. */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';
import { scopedReviews } from '../../service/scope.ts';
import { isReviewAction } from '../params.ts';
import { ApiError } from '../problems.ts';

export interface ReviewRoutesOptions {
  reviews: Orchestrator['reviews'];
  payments: Orchestrator['payments'];
  guard: Guard;
}

export const reviewRoutes: FastifyPluginAsync<ReviewRoutesOptions> = async (app, options) => {
  const { guard } = options;
  // A key bound to merchants sees the items of their payments only.
  const scoped = (request: FastifyRequest) =>
    scopedReviews(options.reviews, options.payments, merchantScopeOf(request));

  /** A review item, or undefined for an unknown or malformed id. */
  const reviewItem = (request: FastifyRequest, jobId: string) =>
    scoped(request)
      .get(jobId)
      .catch(() => undefined);

  app.get('/v1/reviews', guard, async (request) => {
    return { items: await scoped(request).list({ limit: 100 }) };
  });

  app.get<{ Params: { jobId: string } }>('/v1/reviews/:jobId', guard, async (request) => {
    const item = await reviewItem(request, request.params.jobId);
    if (!item) throw new ApiError('not_found', `no review item ${request.params.jobId}`);
    return item;
  });

  app.post<{ Params: { jobId: string }; Body: Record<string, unknown> }>(
    '/v1/reviews/:jobId/resolve',
    guard,
    async (request) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const action = body.action;
      if (!isReviewAction(action)) {
        throw new ApiError(
          'invalid_command',
          'action is adopt, mark, reinquire or dismiss',
          'action',
        );
      }
      if (typeof body.note !== 'string' || body.note.trim() === '') {
        throw new ApiError('invalid_command', 'note is required', 'note');
      }
      const details = typeof body.status === 'string' ? { status: body.status } : undefined;
      if (!(await reviewItem(request, request.params.jobId))) {
        throw new ApiError('not_found', `no review item ${request.params.jobId}`);
      }
      return scoped(request).resolve(request.params.jobId, {
        action,
        note: body.note,
        by: typeof body.by === 'string' ? body.by : 'api',
        ...(details ? { details } : {}),
      });
    },
  );
};
