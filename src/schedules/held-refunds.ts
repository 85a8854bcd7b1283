/**
 * Refunds held until Sips remits their payment (REFUND_BEFORE_REMITTANCE=
 * hold): the janitor inquires the captured payments that hold one, at most
 * once per `checkAfterMs` each; the inquiry that shows the payment remitted
 * sends the refund (the machine's `sendHeldRefund`). Captured payments are
 * paged through a batch per run, so the ones without a held refund never
 * hide the ones behind them, and only those whose status was written within
 * `windowMs`: a refund is held until the next remittance run, and each
 * check that finds it still held notes it (which writes its status again),
 * so older captured payments, the great majority, are never read.
 */
import { commandOperationsOf } from '../../machines/index.ts';
import type { PaymentEngine } from '../engine/engine.ts';
import type { PaymentRecord, PaymentStore } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';

export interface HeldRefundSweep {
  store: PaymentStore;
  engine: PaymentEngine;
  clock: Clock;
  logger: Logger;
  cursor: { get(): Promise<number | undefined>; set(value: number | undefined): Promise<void> };
  checkAfterMs: number;
  /** How far back a held refund's last status write may be. @defaultValue 3 days */
  windowMs?: number;
  batch: number;
}

const DAY_MS = 86_400_000;

function holdsRefund(record: PaymentRecord): boolean {
  return commandOperationsOf(record.snapshot).some(
    (operation) => operation.type === 'refund' && operation.status === 'held',
  );
}

/** One page of captured payments; returns the ids whose held refund was sent. */
export async function sweepHeldRefunds(sweep: HeldRefundSweep): Promise<string[]> {
  const { store, engine, clock, logger } = sweep;
  const since = clock.now() - (sweep.windowMs ?? 3 * DAY_MS);
  const after = Math.max((await sweep.cursor.get()) ?? since, since);
  const page = await store.listByStatus('captured', {
    olderThan: clock.now() - sweep.checkAfterMs,
    limit: sweep.batch,
    after,
  });
  await sweep.cursor.set(page.length < sweep.batch ? undefined : page.at(-1)?.updatedAt);
  const sent: string[] = [];
  for (const entry of page) {
    const record = await store.get(entry.id, { timeline: false });
    if (!record || record.status !== 'captured' || !holdsRefund(record)) continue;
    try {
      const result = await engine.inquireNow(record, 'janitor: a refund waits for the remittance');
      if (result.outcome === 'unchanged') {
        // Not remitted yet: noted, which also moves it to the back of the queue.
        await engine.annotate(record, {
          timeline: [{ at: clock.now(), kind: 'remittance.pending' }],
        });
      } else {
        sent.push(record.id);
      }
    } catch (error) {
      logger.warn({ err: error, paymentId: record.id }, 'janitor held-refund check failed');
    }
  }
  return sent;
}
