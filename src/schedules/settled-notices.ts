/**
 * Notices of settled scheduled payments: a payment made for a subscription,
 * an instalment plan or a reauthorisation tells its owner when it settles
 * (a `settled` job of the schedules queue, a follow-up of the step that
 * settled it). The janitor finds the notices a crash lost.
 */
import { engineDataOf, SETTLED_FOR_SCHEDULES } from '../engine/engine.ts';
import type { PaymentRecord, PaymentStore } from '../payments/store.ts';
import type { Logger } from '../platform/logger.ts';
import type { InstalmentPlan, InstalmentPlans } from './instalments.ts';
import type { PaymentTimers } from './payment-timers.ts';
import type { RecordStore, VersionedRecord, WaitingCursor } from './records.ts';
import type { Subscription, Subscriptions } from './subscriptions.ts';

/** Where a paging pass stopped, kept in Redis between runs; unset, a pass starts at the beginning. */
export interface RedisCursor<T> {
  get(): Promise<T | undefined>;
  set(value: T | undefined): Promise<void>;
}

/** Occurrence and instalment statuses that wait for their payment to settle. */
export const WAITING: ReadonlySet<string> = new Set(['processing', 'in_review']);

export interface SettledNoticesDeps {
  store: PaymentStore;
  logger: Logger;
  timers: Pick<PaymentTimers, 'onReplacementSettled'>;
  subscriptions: Pick<Subscriptions, 'onPaymentSettled'>;
  plans: Pick<InstalmentPlans, 'onPaymentSettled'>;
  subscriptionStore: RecordStore<Subscription>;
  planStore: RecordStore<InstalmentPlan>;
  subscriptionsCursor: RedisCursor<WaitingCursor>;
  plansCursor: RedisCursor<WaitingCursor>;
  /** Waiting records read per store and pass. @defaultValue 200 */
  batch?: number;
}

/** Tells the payment's schedule (or the payment it replaces) that it settled. */
export async function notifySettled(
  deps: SettledNoticesDeps,
  record: PaymentRecord,
): Promise<void> {
  const data = engineDataOf(record);
  const link = data.request.link;
  if (!link) return;
  if (link.type === 'reauthorization') {
    await deps.timers.onReplacementSettled(link.id, record);
  } else if (link.type === 'subscription') {
    await deps.subscriptions.onPaymentSettled(
      link,
      record.id,
      record.status,
      data.facts,
      record.transactionReference,
    );
  } else {
    await deps.plans.onPaymentSettled(link, record.id, record.status, data.facts);
  }
}

export async function onSettled(deps: SettledNoticesDeps, paymentId: string): Promise<void> {
  const record = await deps.store.get(paymentId, { timeline: false });
  if (record) await notifySettled(deps, record);
}

/**
 * The next page of a store's waiting records: a run goes on where the last
 * one stopped, so records that wait for long (a payment in review) never
 * hide the ones behind them; the end wraps to the start.
 */
async function nextWaiting<T extends VersionedRecord>(
  recordStore: RecordStore<T>,
  cursor: RedisCursor<WaitingCursor>,
  batch: number,
): Promise<T[]> {
  const after = await cursor.get();
  const page = await recordStore.listWaiting({
    limit: batch,
    ...(after === undefined ? {} : { after }),
  });
  await cursor.set(page.next);
  return page.records;
}

/** The payments the next page of waiting subscriptions and plans waits on. */
async function waitingPayments(
  deps: SettledNoticesDeps,
): Promise<{ paymentId: string; inReview: boolean }[]> {
  const batch = deps.batch ?? 200;
  const waiting: { paymentId: string; inReview: boolean }[] = [];
  for (const subscription of await nextWaiting(
    deps.subscriptionStore,
    deps.subscriptionsCursor,
    batch,
  )) {
    for (const occurrence of subscription.occurrences) {
      if (!WAITING.has(occurrence.status)) continue;
      const paymentId = occurrence.paymentIds.at(-1);
      if (paymentId) waiting.push({ paymentId, inReview: occurrence.status === 'in_review' });
    }
  }
  for (const plan of await nextWaiting(deps.planStore, deps.plansCursor, batch)) {
    for (const instalment of plan.instalments) {
      if (!WAITING.has(instalment.status)) continue;
      waiting.push({
        paymentId: instalment.paymentId,
        inReview: instalment.status === 'in_review',
      });
    }
  }
  return waiting;
}

/**
 * A settled notice is a follow-up of the step that settled the payment; a
 * crash between that step and its dispatch loses it when no job of the
 * payment runs again (commands, janitor inquiries). Entries still waiting
 * for a payment that has settled are handled here instead.
 */
export async function handleLostNotices(deps: SettledNoticesDeps): Promise<number> {
  let handled = 0;
  for (const { paymentId, inReview } of await waitingPayments(deps)) {
    const record = await deps.store.get(paymentId, { timeline: false });
    if (!record || !SETTLED_FOR_SCHEDULES.has(record.status)) continue;
    if (inReview && record.status === 'in_review') continue;
    try {
      await notifySettled(deps, record);
      handled++;
    } catch (error) {
      // One that cannot be handled now (a busy record) waits for the next pass.
      deps.logger.warn({ err: error, paymentId }, 'janitor could not handle a settled notice');
    }
  }
  return handled;
}
