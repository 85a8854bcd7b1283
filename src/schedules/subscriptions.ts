/**
 * Subscriptions: a customer-initiated first payment (RECURRING_1, with
 * 3-D Secure when the method asks for it), then one merchant-initiated
 * payment (RECURRING_N) per period, chained to the first with its
 * schemeTransactionIdentifier. Periods are fired by a BullMQ Job Scheduler
 * (`interval` or `cron`); a declined occurrence is tried again on the
 * retry-on-decline days, apart from the technical 90/99 backoff of each call.
 *
 * One payment per subscription per period, however often a period fires:
 * the occurrence is recorded (compare-and-set) with a payment id fixed
 * before the payment exists, and the payment is created with an idempotency
 * key made of the subscription, the period and the attempt.
 */
import type { CaptureMode, PaymentKind, PaymentStatus } from '../../machines/contract.ts';
import { DAY_MS } from '../engine/capture-limit.ts';
import { CommandError } from '../engine/errors.ts';
import type { ScheduleLink } from '../engine/engine-data.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { merchantOf, type CreateSubscriptionCommand } from './commands.ts';
import {
  updateWithRetry,
  type EventSpec,
  type RecordStore,
  type VersionedRecord,
} from './records.ts';
import type { ScheduleJob, ScheduleQueues } from './schedule-queues.ts';
import type { ScheduledPayments } from './scheduled-payments.ts';

/** Occurrences kept on the record; older ones stay visible through their payments. */
const OCCURRENCES_KEPT = 60;

export const SUBSCRIPTION_STATUSES = [
  'pending',
  'active',
  'paused',
  'cancelled',
  'failed',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export interface Occurrence {
  /** 0 is the first, customer-initiated payment. With `interval`, n is due at anchorAt + n × interval; with `cron`, the scheduled instant (ms). */
  period: number;
  scheduledAt: number;
  amount: number;
  status: 'processing' | 'paid' | 'retrying' | 'failed' | 'in_review';
  /** One payment per attempt, the first attempt first. */
  paymentIds: string[];
  nextRetryAt?: number;
}

export interface Subscription extends VersionedRecord {
  status: SubscriptionStatus;
  method: CreateSubscriptionCommand['method'];
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  captureDay: number;
  schedule: { intervalMs?: number; cron?: string; timezone?: string };
  /** When period 0 (the first payment) was made. */
  anchorAt: number;
  retryOnDeclineDays: number[];
  wallet?: { merchantWalletId: string; paymentMeanId: string };
  merchant: {
    orderId?: string;
    customerId?: string;
    customerEmail?: string;
    metadata?: Record<string, string>;
  };
  firstPaymentId: string;
  /** The customer-initiated payment the merchant-initiated ones are chained to. */
  chain?: { paymentId: string; transactionReference: string; schemeTransactionIdentifier?: string };
  occurrences: Occurrence[];
  /** Why it ended (failed, cancelled). */
  reason?: string;
}

export interface SubscriptionView extends Subscription {
  nextRunAt?: string;
}

export interface SubscriptionsDeps {
  store: RecordStore<Subscription>;
  queues: ScheduleQueues;
  payments: ScheduledPayments;
  clock: Clock;
  logger: Logger;
  /** Length of a retry-on-decline "day" (shorter in tests). @defaultValue 24 h */
  dayMs?: number;
}

export interface Subscriptions {
  create(
    command: CreateSubscriptionCommand,
    card: { pan: string; expiry: string; csc?: string } | undefined,
    /** The idempotency key and request hash: the same seed makes the same subscription. */
    seed?: string,
  ): Promise<{ subscription: SubscriptionView }>;
  get(id: string): Promise<SubscriptionView>;
  list(options?: { limit?: number }): Promise<SubscriptionView[]>;
  pause(id: string): Promise<SubscriptionView>;
  resume(id: string): Promise<SubscriptionView>;
  cancel(id: string): Promise<SubscriptionView>;
  changeAmount(id: string, amount: number): Promise<SubscriptionView>;
  /** Schedule jobs. */
  runOccurrence(
    job: Extract<ScheduleJob, { task: 'occurrence' }>,
    scheduledAt: number | undefined,
  ): Promise<void>;
  runRetry(job: Extract<ScheduleJob, { task: 'retry' }>): Promise<void>;
  onPaymentSettled(
    link: Extract<ScheduleLink, { type: 'subscription' }>,
    paymentId: string,
    status: PaymentStatus,
    facts: Record<string, string>,
    transactionReference: string,
  ): Promise<void>;
}

const PAID: ReadonlySet<PaymentStatus> = new Set(['authorized', 'captured']);
const DECLINED: ReadonlySet<PaymentStatus> = new Set(['refused', 'failed', 'expired', 'cancelled']);

/** The subscription with `occurrence` in place of the one of its period. */
function withOccurrence(subscription: Subscription, occurrence: Occurrence): Subscription {
  return {
    ...subscription,
    occurrences: subscription.occurrences.map((entry) =>
      entry.period === occurrence.period ? occurrence : entry,
    ),
  };
}

/** The subscription with a retrying occurrence given up (failed), and the event that says so. */
function withRetryGivenUp(
  subscription: Subscription,
  occurrence: Occurrence,
  reason: string,
): { record: Subscription; event: EventSpec } {
  const given: Occurrence = { ...occurrence, status: 'failed' };
  delete given.nextRetryAt;
  return {
    record: withOccurrence(subscription, given),
    event: { type: 'occurrence_failed', data: { period: occurrence.period, reason } },
  };
}

export function schedulerIdOf(subscriptionId: string): string {
  return `subscription-${subscriptionId}`;
}

export function createSubscriptions(deps: SubscriptionsDeps): Subscriptions {
  const { store, queues, payments, clock, logger } = deps;
  const dayMs = deps.dayMs ?? DAY_MS;

  async function load(id: string): Promise<Subscription> {
    const subscription = await store.get(id);
    if (!subscription) throw new CommandError('subscription_not_found', `no subscription ${id}`);
    return subscription;
  }

  async function view(subscription: Subscription): Promise<SubscriptionView> {
    const result: SubscriptionView = { ...subscription };
    if (subscription.status === 'active') {
      const next = await queues.nextRunOf(
        store.shardOf(subscription.id),
        schedulerIdOf(subscription.id),
      );
      if (next !== undefined) result.nextRunAt = new Date(next).toISOString();
    }
    return result;
  }

  function paymentKey(id: string, period: number, attempt: number): string {
    return `subscription:${id}:p${period}:a${attempt}`;
  }

  /** The first period after `after` (interval schedules stay aligned on the anchor). */
  function nextIntervalStart(subscription: Subscription, after: number): number {
    const every = subscription.schedule.intervalMs as number;
    const periods = Math.floor((after - subscription.anchorAt) / every) + 1;
    return subscription.anchorAt + Math.max(1, periods) * every;
  }

  async function startScheduler(subscription: Subscription): Promise<void> {
    const shard = store.shardOf(subscription.id);
    const job: ScheduleJob = { task: 'occurrence', subscriptionId: subscription.id };
    const { intervalMs, cron, timezone } = subscription.schedule;
    if (intervalMs !== undefined) {
      await queues.upsertScheduler(
        shard,
        schedulerIdOf(subscription.id),
        { every: intervalMs, startDate: nextIntervalStart(subscription, clock.now()) },
        job,
      );
    } else if (cron !== undefined) {
      await queues.upsertScheduler(
        shard,
        schedulerIdOf(subscription.id),
        { pattern: cron, ...(timezone ? { tz: timezone } : {}) },
        job,
      );
    }
  }

  async function stopScheduler(subscription: Subscription): Promise<void> {
    await queues.removeScheduler(store.shardOf(subscription.id), schedulerIdOf(subscription.id));
  }

  /** Creates (or finds again) the payment of one attempt of one occurrence. */
  async function makePayment(
    subscription: Subscription,
    occurrence: Occurrence,
    attempt: number,
    card?: { pan: string; expiry: string; csc?: string },
  ) {
    const paymentId = occurrence.paymentIds[attempt - 1] as string;
    const link: ScheduleLink = {
      type: 'subscription',
      id: subscription.id,
      period: occurrence.period,
      attempt,
    };
    const first = occurrence.period === 0;
    const chain = subscription.chain;
    if (!first && !chain) {
      throw new Error(`subscription ${subscription.id} has no first payment to chain to`);
    }
    const walletMethod = subscription.method === 'wallet' || subscription.method === 'wallet_3ds';
    let kind: PaymentKind;
    if (first) kind = subscription.method;
    else kind = walletMethod ? 'wallet' : 'duplicate';
    const merchant = { ...subscription.merchant };
    return payments.create({
      id: paymentId,
      idempotencyKey: paymentKey(subscription.id, occurrence.period, attempt),
      kind,
      amount: occurrence.amount,
      currency: subscription.currency,
      captureMode: subscription.captureMode,
      captureDay: subscription.captureDay,
      merchant,
      ...(card ? { card } : {}),
      request: {
        link,
        paymentPattern: first ? 'RECURRING_1' : 'RECURRING_N',
        ...(walletMethod && subscription.wallet ? { wallet: subscription.wallet } : {}),
        ...(!first && chain
          ? {
              ...(kind === 'duplicate'
                ? {
                    fromTransactionReference: chain.transactionReference,
                    fromPaymentId: chain.paymentId,
                  }
                : {}),
              ...(chain.schemeTransactionIdentifier
                ? { initialSchemeTransactionIdentifier: chain.schemeTransactionIdentifier }
                : {}),
            }
          : {}),
      },
    });
  }

  function keepRecent(occurrences: Occurrence[]): Occurrence[] {
    return occurrences.slice(-OCCURRENCES_KEPT);
  }

  async function change(
    id: string,
    mutate: (
      subscription: Subscription,
    ) => { record: Subscription; events?: EventSpec[] } | undefined,
  ): Promise<Subscription> {
    const updated = await updateWithRetry(store, id, mutate);
    if (!updated) throw new CommandError('subscription_not_found', `no subscription ${id}`);
    return updated;
  }

  function notAllowed(subscription: Subscription, what: string): never {
    throw new CommandError(
      'command_not_allowed',
      `cannot ${what} a subscription that is ${subscription.status}`,
    );
  }

  return {
    async create(command, card, seed) {
      const id = store.newId(seed);
      const now = clock.now();
      const first: Occurrence = {
        period: 0,
        scheduledAt: now,
        amount: command.amount,
        status: 'processing',
        paymentIds: [payments.newPaymentId(paymentKey(id, 0, 1))],
      };
      const merchant = merchantOf(command);
      const subscription = await store.create(
        {
          id,
          status: 'pending',
          method: command.method,
          amount: command.amount,
          currency: command.currency,
          captureMode: command.captureMode,
          captureDay: command.captureDay,
          schedule: {
            ...(command.interval !== undefined ? { intervalMs: command.interval } : {}),
            ...(command.cron !== undefined ? { cron: command.cron } : {}),
            ...(command.timezone !== undefined ? { timezone: command.timezone } : {}),
          },
          anchorAt: now,
          retryOnDeclineDays: command.retryOnDeclineDays,
          ...(command.wallet
            ? {
                wallet: {
                  merchantWalletId: command.wallet.merchantWalletId,
                  paymentMeanId: command.wallet.paymentMeanId,
                },
              }
            : {}),
          merchant,
          firstPaymentId: first.paymentIds[0] as string,
          occurrences: [first],
        },
        [{ type: 'created', data: { amount: command.amount, currency: command.currency } }],
      );
      // Made again from the same seed (a retry after a crash), the stored
      // record and its first payment id are the ones that count.
      const stored = subscription.occurrences[0] ?? first;
      try {
        await makePayment(subscription, stored, 1, card);
      } catch (error) {
        // The payment may exist even though its creation reported a failure
        // (stored, then enqueueing failed): then the subscription stands, and
        // the janitor sends a first call that never left. Only without a
        // payment does the subscription fail, so a retry makes a new one.
        if (!(await payments.get(stored.paymentIds[0] as string))) {
          const reason = 'the first payment could not be created';
          await updateWithRetry(
            store,
            id,
            (current): { record: Subscription; events: EventSpec[] } => ({
              record: { ...current, status: 'failed', reason },
              events: [{ type: 'failed', data: { reason } }],
            }),
          );
          throw error;
        }
        logger.warn({ err: error, subscriptionId: id }, 'first payment stored with an error');
      }
      return { subscription: await view(subscription) };
    },

    async get(id) {
      return view(await load(id));
    },

    async list(listOptions) {
      return Promise.all((await store.list(listOptions)).map(view));
    },

    async pause(id) {
      const paused = await change(id, (subscription) => {
        if (subscription.status === 'paused') return undefined;
        if (subscription.status !== 'active') notAllowed(subscription, 'pause');
        return { record: { ...subscription, status: 'paused' }, events: [{ type: 'paused' }] };
      });
      await stopScheduler(paused);
      return view(paused);
    },

    async resume(id) {
      const resumed = await change(id, (subscription) => {
        if (subscription.status === 'active') return undefined;
        if (subscription.status !== 'paused') notAllowed(subscription, 'resume');
        return { record: { ...subscription, status: 'active' }, events: [{ type: 'resumed' }] };
      });
      // Periods missed while paused are not charged: the next one is the first after now.
      await startScheduler(resumed);
      return view(resumed);
    },

    async cancel(id) {
      const cancelled = await change(id, (subscription) => {
        if (subscription.status === 'cancelled') return undefined;
        if (subscription.status === 'failed') notAllowed(subscription, 'cancel');
        // A declined occurrence waiting for its retry is given up now, in the
        // same write: its retry job then finds nothing to do.
        let record: Subscription = {
          ...subscription,
          status: 'cancelled',
          reason: 'cancelled by the merchant',
        };
        const events: EventSpec[] = [{ type: 'cancelled' }];
        for (const occurrence of subscription.occurrences) {
          if (occurrence.status !== 'retrying') continue;
          const givenUp = withRetryGivenUp(record, occurrence, 'subscription cancelled');
          record = givenUp.record;
          events.push(givenUp.event);
        }
        return { record, events };
      });
      await stopScheduler(cancelled);
      return view(cancelled);
    },

    async changeAmount(id, amount) {
      const changed = await change(id, (subscription) => {
        if (subscription.status === 'cancelled' || subscription.status === 'failed') {
          notAllowed(subscription, 'change');
        }
        if (subscription.amount === amount) return undefined;
        return {
          record: { ...subscription, amount },
          events: [{ type: 'amount_changed', data: { from: subscription.amount, to: amount } }],
        };
      });
      return view(changed);
    },

    async runOccurrence(job, scheduledAt) {
      const subscription = await store.get(job.subscriptionId);
      if (!subscription || subscription.status !== 'active') return;
      const at = scheduledAt ?? clock.now();
      const every = subscription.schedule.intervalMs;
      const period =
        job.period ?? (every !== undefined ? Math.round((at - subscription.anchorAt) / every) : at);
      if (period <= 0) return;
      const updated = await change(subscription.id, (current) => {
        if (current.status !== 'active') return undefined;
        const existing = current.occurrences.find((entry) => entry.period === period);
        if (existing) return undefined;
        const occurrence: Occurrence = {
          period,
          scheduledAt: at,
          amount: current.amount,
          status: 'processing',
          paymentIds: [payments.newPaymentId(paymentKey(current.id, period, 1))],
        };
        return {
          record: { ...current, occurrences: keepRecent([...current.occurrences, occurrence]) },
          events: [
            {
              type: 'occurrence_started',
              data: { period, amount: current.amount, paymentId: occurrence.paymentIds[0] },
            },
          ],
        };
      });
      // Only what was stored counts (a write that lost its race proves
      // nothing). A period fired again finds its occurrence and makes sure its
      // payment exists: the first run may have died between the two writes.
      const current = updated.occurrences.find((entry) => entry.period === period);
      if (!current || updated.status !== 'active' || current.status !== 'processing') return;
      await makePayment(updated, current, current.paymentIds.length);
    },

    async runRetry(job) {
      const subscription = await store.get(job.subscriptionId);
      if (!subscription) return;
      const updated = await change(subscription.id, (current) => {
        const occurrence = current.occurrences.find((entry) => entry.period === job.period);
        if (!occurrence || occurrence.status !== 'retrying') return undefined;
        if (occurrence.paymentIds.length >= job.attempt) return undefined;
        if (current.status !== 'active') {
          // Paused or cancelled since the decline: the customer is not charged again.
          const { record, event } = withRetryGivenUp(
            current,
            occurrence,
            `subscription ${current.status}`,
          );
          return { record, events: [event] };
        }
        const next: Occurrence = {
          ...occurrence,
          status: 'processing',
          paymentIds: [
            ...occurrence.paymentIds,
            payments.newPaymentId(paymentKey(current.id, job.period, job.attempt)),
          ],
        };
        delete next.nextRetryAt;
        return {
          record: withOccurrence(current, next),
          events: [
            {
              type: 'occurrence_retried',
              data: { period: job.period, attempt: job.attempt, paymentId: next.paymentIds.at(-1) },
            },
          ],
        };
      });
      const occurrence = updated.occurrences.find((entry) => entry.period === job.period);
      if (
        !occurrence ||
        updated.status !== 'active' ||
        occurrence.status !== 'processing' ||
        occurrence.paymentIds.length !== job.attempt
      ) {
        return;
      }
      await makePayment(updated, occurrence, job.attempt);
    },

    async onPaymentSettled(link, paymentId, status, facts, transactionReference) {
      if (link.period === 0 && PAID.has(status)) {
        // The scheduler exists before the subscription shows as active; its
        // first run is an interval away and skips anything not active.
        const pending = await store.get(link.id);
        if (pending?.status === 'pending') await startScheduler(pending);
      }
      const decided = await change(link.id, (subscription) => {
        const occurrence = subscription.occurrences.find((entry) => entry.period === link.period);
        // Only the latest attempt of an occurrence still being processed decides it.
        if (!occurrence || occurrence.paymentIds.at(-1) !== paymentId) return undefined;
        // Decided once; a payment in review may still settle later.
        if (occurrence.status !== 'processing' && occurrence.status !== 'in_review') {
          return undefined;
        }
        const events: EventSpec[] = [];
        const next: Occurrence = { ...occurrence };
        let record: Subscription = { ...subscription };
        const data = { period: link.period, attempt: link.attempt, paymentId, status };
        if (PAID.has(status)) {
          next.status = 'paid';
          events.push({ type: 'occurrence_paid', data });
          if (link.period === 0 && subscription.status === 'pending') {
            record = {
              ...record,
              status: 'active',
              chain: {
                paymentId,
                transactionReference,
                ...(facts.schemeTransactionIdentifier
                  ? { schemeTransactionIdentifier: facts.schemeTransactionIdentifier }
                  : {}),
              },
            };
            events.push({ type: 'activated' });
          }
        } else if (status === 'in_review') {
          next.status = 'in_review';
          events.push({ type: 'occurrence_in_review', data });
        } else if (DECLINED.has(status)) {
          if (link.period === 0) {
            next.status = 'failed';
            record = { ...record, status: 'failed', reason: `the first payment was ${status}` };
            events.push(
              { type: 'occurrence_failed', data },
              { type: 'failed', data: { reason: record.reason } },
            );
          } else {
            const days = subscription.retryOnDeclineDays[link.attempt - 1];
            if (days !== undefined && subscription.status !== 'cancelled') {
              const at = occurrence.scheduledAt + days * dayMs;
              next.status = 'retrying';
              next.nextRetryAt = at;
              events.push({
                type: 'occurrence_declined',
                data: { ...data, retryAt: new Date(at).toISOString() },
              });
            } else {
              next.status = 'failed';
              events.push({ type: 'occurrence_failed', data });
            }
          }
        } else {
          return undefined;
        }
        return { record: withOccurrence(record, next), events };
      });
      // What the decision asks for is derived from the stored record, not from
      // this run's write, so a notice handled again after a crash (its write
      // done, these not) still starts the scheduler or schedules the retry.
      if (link.period === 0) {
        // Read again: a pause or cancel may have come since the decision.
        const fresh = (await store.get(link.id)) ?? decided;
        if (fresh.status === 'active') await startScheduler(fresh);
        else if (fresh.status !== 'pending' && fresh.status !== 'paused') {
          await stopScheduler(fresh);
        }
      }
      const occurrence = decided.occurrences.find((entry) => entry.period === link.period);
      if (
        occurrence?.status === 'retrying' &&
        occurrence.nextRetryAt !== undefined &&
        occurrence.paymentIds.at(-1) === paymentId &&
        decided.status !== 'cancelled'
      ) {
        const attempt = occurrence.paymentIds.length + 1;
        await queues.add(
          store.shardOf(link.id),
          { task: 'retry', subscriptionId: link.id, period: link.period, attempt },
          {
            jobId: `subscription-${link.id}-p${link.period}-retry-${attempt}`,
            delayMs: Math.max(0, occurrence.nextRetryAt - clock.now()),
          },
        );
        logger.info(
          { subscriptionId: link.id, period: link.period, attempt },
          'declined occurrence: retry scheduled',
        );
      }
    },
  };
}
