/**
 * Manual-review items as API callers see them: the instants `enqueuedAt` and
 * `resolution.at` as RFC 3339 strings in UTC, as on payments. The queue keeps
 * epoch milliseconds; they are converted here only.
 */
import type { ReviewItem } from '../payments/review.ts';

export interface PublicReviewItem extends Omit<ReviewItem, 'enqueuedAt' | 'resolution'> {
  enqueuedAt: string;
  resolution?: Omit<NonNullable<ReviewItem['resolution']>, 'at'> & { at: string };
}

export function reviewItemView(item: ReviewItem): PublicReviewItem {
  const { enqueuedAt, resolution, ...rest } = item;
  return {
    ...rest,
    enqueuedAt: new Date(enqueuedAt).toISOString(),
    ...(resolution
      ? { resolution: { ...resolution, at: new Date(resolution.at).toISOString() } }
      : {}),
  };
}
