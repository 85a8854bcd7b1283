/**
 * The merchant's commands on subscriptions: create (with its first,
 * customer-initiated payment), read, list, pause, resume, cancel and change
 * the amount of the periods to come.
 */
import { merchantOf, type CreateSubscriptionCommand } from './commands.ts';
import { updateWithRetry, type EventSpec } from './records.ts';
import {
  changeSubscription,
  loadSubscription,
  makeOccurrencePayment,
  notAllowed,
  startScheduler,
  stopScheduler,
  viewSubscription,
  type SubscriptionCard,
  type SubscriptionsContext,
} from './subscription-context.ts';
import {
  paymentKeyOf,
  withRetryGivenUp,
  type Occurrence,
  type Subscription,
  type SubscriptionChange,
  type SubscriptionView,
} from './subscription-model.ts';

/** The record of a new subscription, pending until its first payment is paid. */
export function newSubscriptionRecord(
  command: CreateSubscriptionCommand,
  id: string,
  now: number,
  first: Occurrence,
): Omit<Subscription, 'version' | 'createdAt' | 'updatedAt'> {
  const merchant = merchantOf(command);
  return {
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
  };
}

export async function createSubscription(
  ctx: SubscriptionsContext,
  command: CreateSubscriptionCommand,
  card: SubscriptionCard | undefined,
  seed?: string,
): Promise<{ subscription: SubscriptionView }> {
  const id = ctx.store.newId(seed);
  const now = ctx.clock.now();
  const first: Occurrence = {
    period: 0,
    scheduledAt: now,
    amount: command.amount,
    status: 'processing',
    paymentIds: [ctx.payments.newPaymentId(paymentKeyOf(id, 0, 1))],
  };
  const subscription = await ctx.store.create(newSubscriptionRecord(command, id, now, first), [
    { type: 'created', data: { amount: command.amount, currency: command.currency } },
  ]);
  // Made again from the same seed (a retry after a crash), the stored
  // record and its first payment id are the ones that count.
  const stored = subscription.occurrences[0] ?? first;
  try {
    await makeOccurrencePayment(ctx, subscription, stored, 1, card);
  } catch (error) {
    await settleFirstPaymentError(ctx, id, stored, error);
  }
  return { subscription: await viewSubscription(ctx, subscription) };
}

/**
 * The payment may exist even though its creation reported a failure
 * (stored, then enqueueing failed): then the subscription stands, and the
 * janitor sends a first call that never left. Only without a payment does
 * the subscription fail (and `error` is thrown again), so a retry makes a
 * new one.
 */
async function settleFirstPaymentError(
  ctx: SubscriptionsContext,
  id: string,
  first: Occurrence,
  error: unknown,
): Promise<void> {
  if (!(await ctx.payments.get(first.paymentIds[0] as string))) {
    const reason = 'the first payment could not be created';
    await updateWithRetry(
      ctx.store,
      id,
      (current): { record: Subscription; events: EventSpec[] } => ({
        record: { ...current, status: 'failed', reason },
        events: [{ type: 'failed', data: { reason } }],
      }),
    );
    throw error;
  }
  ctx.logger.warn({ err: error, subscriptionId: id }, 'first payment stored with an error');
}

export async function getSubscription(
  ctx: SubscriptionsContext,
  id: string,
): Promise<SubscriptionView> {
  return viewSubscription(ctx, await loadSubscription(ctx, id));
}

export async function listSubscriptions(
  ctx: SubscriptionsContext,
  options?: { limit?: number },
): Promise<SubscriptionView[]> {
  return Promise.all(
    (await ctx.store.list(options)).map((subscription) => viewSubscription(ctx, subscription)),
  );
}

export async function pauseSubscription(
  ctx: SubscriptionsContext,
  id: string,
): Promise<SubscriptionView> {
  const paused = await changeSubscription(ctx, id, (subscription) => {
    if (subscription.status === 'paused') return undefined;
    if (subscription.status !== 'active') notAllowed(subscription, 'pause');
    return { record: { ...subscription, status: 'paused' }, events: [{ type: 'paused' }] };
  });
  await stopScheduler(ctx, paused);
  return viewSubscription(ctx, paused);
}

export async function resumeSubscription(
  ctx: SubscriptionsContext,
  id: string,
): Promise<SubscriptionView> {
  const resumed = await changeSubscription(ctx, id, (subscription) => {
    if (subscription.status === 'active') return undefined;
    if (subscription.status !== 'paused') notAllowed(subscription, 'resume');
    return { record: { ...subscription, status: 'active' }, events: [{ type: 'resumed' }] };
  });
  // Periods missed while paused are not charged: the next one is the first after now.
  await startScheduler(ctx, resumed);
  return viewSubscription(ctx, resumed);
}

/**
 * The cancellation of a subscription. A declined occurrence waiting for its
 * retry is given up in the same write: its retry job then finds nothing to do.
 */
export function cancellationOf(subscription: Subscription): SubscriptionChange | undefined {
  if (subscription.status === 'cancelled') return undefined;
  if (subscription.status === 'failed') notAllowed(subscription, 'cancel');
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
}

export async function cancelSubscription(
  ctx: SubscriptionsContext,
  id: string,
): Promise<SubscriptionView> {
  const cancelled = await changeSubscription(ctx, id, cancellationOf);
  await stopScheduler(ctx, cancelled);
  return viewSubscription(ctx, cancelled);
}

export async function changeSubscriptionAmount(
  ctx: SubscriptionsContext,
  id: string,
  amount: number,
): Promise<SubscriptionView> {
  const changed = await changeSubscription(ctx, id, (subscription) => {
    if (subscription.status === 'cancelled' || subscription.status === 'failed') {
      notAllowed(subscription, 'change');
    }
    if (subscription.amount === amount) return undefined;
    return {
      record: { ...subscription, amount },
      events: [{ type: 'amount_changed', data: { from: subscription.amount, to: amount } }],
    };
  });
  return viewSubscription(ctx, changed);
}
