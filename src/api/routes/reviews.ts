/**
 * The manual-review items: list, read, resolve. `ops` scope. A decision is
 * recorded under the name of the API key that sent it; the body cannot name
 * anyone (`by` is refused as an unknown field).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import { parseCommand } from '../../payments/commands.ts';
import { parseOrThrow } from '../../service/parse.ts';
import { reviewItemView } from '../../service/review-views.ts';
import { ResolveReviewBody } from '../../service/reviews.ts';
import { keyNameOf, merchantScopeOf, type Guard } from '../auth.ts';
import { scopedReviews } from '../../service/scope.ts';
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
    return { items: (await scoped(request).list({ limit: 100 })).map(reviewItemView) };
  });

  app.get<{ Params: { jobId: string } }>('/v1/reviews/:jobId', guard, async (request) => {
    const item = await reviewItem(request, request.params.jobId);
    if (!item) throw new ApiError('not_found', `no review item ${request.params.jobId}`);
    return reviewItemView(item);
  });

  app.post<{ Params: { jobId: string }; Body: unknown }>(
    '/v1/reviews/:jobId/resolve',
    guard,
    async (request) => {
      const body = parseOrThrow(parseCommand(ResolveReviewBody, request.body ?? {}));
      if (!(await reviewItem(request, request.params.jobId))) {
        throw new ApiError('not_found', `no review item ${request.params.jobId}`);
      }
      const { item, payment } = await scoped(request).resolve(request.params.jobId, {
        ...body,
        by: keyNameOf(request),
      });
      return { item: reviewItemView(item), payment };
    },
  );
};
