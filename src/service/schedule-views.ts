/**
 * Subscriptions and instalment plans as callers see them. Every instant is
 * an RFC 3339 string in UTC (`2026-03-01T09:00:00.000Z`), as on payments;
 * the stored records keep epoch milliseconds and are converted here only,
 * so records written by earlier versions read as they always did.
 * Durations (`schedule.intervalMs`, `intervalDays`, `retryOnDeclineDays`)
 * and an instalment's `date` (YYYYMMDD, as sent to Sips) are not instants
 * and stay as they are.
 */
import type { InstalmentPlan, SubscriptionView } from '../schedules/index.ts';

type Occurrence = SubscriptionView['occurrences'][number];
type Instalment = InstalmentPlan['instalments'][number];

export interface PublicOccurrence extends Omit<Occurrence, 'scheduledAt' | 'nextRetryAt'> {
  scheduledAt: string;
  nextRetryAt?: string;
}

export interface PublicSubscription extends Omit<
  SubscriptionView,
  'createdAt' | 'updatedAt' | 'anchorAt' | 'occurrences'
> {
  createdAt: string;
  updatedAt: string;
  /** When period 0 (the first payment) was made. */
  anchorAt: string;
  occurrences: PublicOccurrence[];
}

export interface PublicInstalment extends Omit<Instalment, 'dueAt'> {
  dueAt: string;
}

export interface PublicInstalmentPlan extends Omit<
  InstalmentPlan,
  'createdAt' | 'updatedAt' | 'instalments'
> {
  createdAt: string;
  updatedAt: string;
  instalments: PublicInstalment[];
}

/** Epoch milliseconds as RFC 3339 in UTC. */
const iso = (ms: number): string => new Date(ms).toISOString();

function occurrenceView(occurrence: Occurrence): PublicOccurrence {
  const { scheduledAt, nextRetryAt, ...rest } = occurrence;
  return {
    ...rest,
    scheduledAt: iso(scheduledAt),
    ...(nextRetryAt === undefined ? {} : { nextRetryAt: iso(nextRetryAt) }),
  };
}

export function subscriptionView(subscription: SubscriptionView): PublicSubscription {
  return {
    ...subscription,
    createdAt: iso(subscription.createdAt),
    updatedAt: iso(subscription.updatedAt),
    anchorAt: iso(subscription.anchorAt),
    occurrences: subscription.occurrences.map(occurrenceView),
  };
}

export function instalmentPlanView(plan: InstalmentPlan): PublicInstalmentPlan {
  return {
    ...plan,
    createdAt: iso(plan.createdAt),
    updatedAt: iso(plan.updatedAt),
    instalments: plan.instalments.map((instalment) => ({
      ...instalment,
      dueAt: iso(instalment.dueAt),
    })),
  };
}
