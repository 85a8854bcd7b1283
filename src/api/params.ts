/** Parameters and values shared by the API routes, the ops console and the OpenAPI document. */
import { z } from 'zod';

/** Ids of the schedules layer: `sub_<shard>_<token>`, `plan_<shard>_<token>`. */
export const SUBSCRIPTION_ID = /^sub_\d{1,4}_[A-Za-z0-9]{1,40}$/;
export const PLAN_ID = /^plan_\d{1,4}_[A-Za-z0-9]{1,40}$/;

export const MAX_LIST_LIMIT = 500;

/** `?limit=`: how many items, newest or soonest first. An empty value means the default. */
export const ListQuery = z.object({
  limit: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).optional(),
  ),
});

/** The decisions on a manual-review item, as the API and the console's forms name them. */
export const REVIEW_ACTIONS = ['adopt', 'mark', 'reinquire', 'dismiss'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export const isReviewAction = (value: unknown): value is ReviewAction =>
  REVIEW_ACTIONS.includes(value as ReviewAction);
