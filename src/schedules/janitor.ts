/**
 * The janitor finds payments that stayed too long in a status that should
 * not last (a call in flight, an unknown outcome, a customer who never came
 * back, an AUTHOR_CAPTURE authorisation past its remittance date) and
 * settles them:
 *
 * - a follow-up job of the payment is still waiting or running: nothing to do;
 * - a call status with no intent: the call was never sent, so its job is
 *   enqueued again;
 * - a call status with an intent, or an unknown outcome: the call may have
 *   reached Sips, so it is never resent; an inquiry (getTransactionData)
 *   establishes what happened and the machine adopts it;
 * - Sips gives no usable answer and the payment has been stuck longer than
 *   `escalateAfterMs`: it goes to manual review, with an ops alert.
 *
 * Thresholds are per status. It runs on a Job Scheduler, and on demand.
 */
import type { PaymentStatus } from '../../machines/contract.ts';
import { engineDataOf, type PaymentEngine } from '../engine/engine.ts';
import { DAY_MS, endOfSipsDate, startOfUtcDay } from '../engine/capture-limit.ts';
import type { PaymentRecord, PaymentStore } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { StepQueues } from '../../workers/payment-worker.ts';
import type { Alerts } from './alerts.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface JanitorOptions {
  /** How long a payment may stay in a status before the janitor looks at it. */
  thresholdsMs?: Partial<Record<PaymentStatus, number>>;
  /** Stuck longer than this with Sips giving no usable answer: manual review. @defaultValue 6 h */
  escalateAfterMs?: number;
  /** Authorisations: inquire this long after the remittance date (AUTHOR_CAPTURE) or the capture limit (VALIDATION). @defaultValue 2 h */
  remittanceCheckAfterMs?: number;
  /** Payments looked at per status and run. @defaultValue 200 */
  batch?: number;
}

export const DEFAULT_THRESHOLDS_MS: Readonly<Partial<Record<PaymentStatus, number>>> = {
  received: 5 * MINUTE,
  enrolling: 5 * MINUTE,
  authorizing: 5 * MINUTE,
  authenticating: 5 * MINUTE,
  capturing: 5 * MINUTE,
  cancelling: 5 * MINUTE,
  refunding: 5 * MINUTE,
  outcome_unknown: 30 * MINUTE,
  awaiting_authentication: 30 * MINUTE,
};

const LIVE_JOB_STATES = new Set([
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
]);

export type JanitorVerdict =
  | 'waiting'
  | 'redispatched'
  | 'reconciled'
  | 'unchanged'
  | 'unclear'
  | 'escalated'
  | 'expired'
  | 'skipped';

export interface JanitorReport {
  checked: number;
  /** Scheduled payments whose settled notice was lost (a crash before it was sent), handled now. */
  noticesHandled?: number;
  verdicts: Partial<Record<JanitorVerdict, number>>;
  payments: { id: string; status: PaymentStatus; verdict: JanitorVerdict; detail?: string }[];
}

export interface JanitorDeps {
  store: PaymentStore;
  engine: PaymentEngine;
  queues: StepQueues;
  alerts: Alerts;
  clock: Clock;
  logger: Logger;
  shardOf(paymentId: string): number;
  /**
   * Hands an authorisation over to its replacement (capture-limit policy
   * `reauthorize`) when the replacement settled and its notice was lost.
   */
  handOverIfSettled(record: PaymentRecord): Promise<boolean>;
  /** Where the sweep of authorised payments stopped (kept in Redis between runs). */
  cursor: { get(): Promise<number | undefined>; set(value: number | undefined): Promise<void> };
}

export function createJanitor(deps: JanitorDeps, options: JanitorOptions = {}) {
  const { store, engine, queues, alerts, clock, logger } = deps;
  const thresholds = { ...DEFAULT_THRESHOLDS_MS, ...(options.thresholdsMs ?? {}) };
  const escalateAfterMs = options.escalateAfterMs ?? 6 * HOUR;
  const remittanceAfterMs = options.remittanceCheckAfterMs ?? 2 * HOUR;
  const batch = options.batch ?? 200;

  async function liveJob(record: PaymentRecord): Promise<boolean> {
    const data = engineDataOf(record);
    const jobIds = data.followUps.flatMap((followUp) =>
      'jobId' in followUp && followUp.type !== 'settled' && followUp.type !== 'timer'
        ? [followUp.jobId]
        : [],
    );
    if (record.intent?.jobId) jobIds.push(record.intent.jobId);
    const queue = queues.queue(deps.shardOf(record.id));
    for (const jobId of new Set(jobIds)) {
      if (LIVE_JOB_STATES.has(await queue.getJobState(jobId))) return true;
    }
    return false;
  }

  async function escalate(record: PaymentRecord, detail: string): Promise<JanitorVerdict> {
    const applied = await engine.apply(
      record,
      { type: 'inquiry.exhausted' },
      { timeline: [{ at: clock.now(), kind: 'janitor.escalated', detail: { detail } }] },
    );
    if (!applied.ok) return 'unclear';
    await alerts.raise(deps.shardOf(record.id), {
      kind: 'janitor_escalated',
      paymentId: record.id,
      message: `stuck in ${record.status}; Sips gave no usable answer (${detail}): sent to manual review`,
    });
    return 'escalated';
  }

  async function settle(
    record: PaymentRecord,
    since: number,
  ): Promise<{ verdict: JanitorVerdict; detail?: string }> {
    if (await liveJob(record)) return { verdict: 'waiting' };
    if (record.status === 'awaiting_authentication') {
      const applied = await engine.apply(
        record,
        { type: 'customer.abandoned' },
        { timeline: [{ at: clock.now(), kind: 'janitor.abandoned' }] },
      );
      return { verdict: applied.ok ? 'expired' : 'skipped' };
    }
    if (record.status !== 'outcome_unknown' && !record.intent) {
      // No intent: the call was never sent; sending it now is safe.
      const queue = queues.queue(deps.shardOf(record.id));
      for (const followUp of engineDataOf(record).followUps) {
        if (followUp.type === 'call') await queue.remove(followUp.jobId);
      }
      await engine.dispatch(record);
      return { verdict: 'redispatched' };
    }
    const result = await engine.inquireNow(record, `janitor: ${record.status} with no job`);
    if (result.outcome === 'reconciled' || result.outcome === 'unchanged') {
      return { verdict: result.outcome };
    }
    if (clock.now() - since >= escalateAfterMs && result.record.status === 'outcome_unknown') {
      return { verdict: await escalate(result.record, result.detail), detail: result.detail };
    }
    return { verdict: 'unclear', detail: result.detail };
  }

  /**
   * An authorisation past its date: AUTHOR_CAPTURE should have been remitted
   * (the payment becomes captured), VALIDATION should have been validated or
   * has lapsed (the payment becomes expired). Sips' view tells which.
   */
  async function checkRemittance(record: PaymentRecord): Promise<JanitorVerdict> {
    const data = engineDataOf(record);
    const limitAt = data.facts.captureLimitAt ? Date.parse(data.facts.captureLimitAt) : undefined;
    // The end of the limit day, when the remittance run is surely over (the
    // lapse estimate, 20:00 UTC, may come before the run in winter).
    const dueAt =
      endOfSipsDate(data.facts.captureLimitDate) ??
      (record.captureMode === 'validation' && limitAt !== undefined
        ? startOfUtcDay(limitAt) + DAY_MS
        : undefined) ??
      record.updatedAt + (data.request.captureDay + 1) * DAY_MS;
    if (clock.now() < dueAt + remittanceAfterMs) return 'skipped';
    const result = await engine.inquireNow(record, 'janitor: past the remittance or capture limit');
    if (result.outcome === 'unchanged') {
      // Not remitted yet: noted, which also moves it to the back of the queue.
      await engine.annotate(record, {
        timeline: [{ at: clock.now(), kind: 'remittance.pending' }],
      });
    }
    return result.outcome;
  }

  async function run(): Promise<JanitorReport> {
    const report: JanitorReport = { checked: 0, verdicts: {}, payments: [] };
    const note = (record: PaymentRecord, verdict: JanitorVerdict, detail?: string): void => {
      report.checked++;
      report.verdicts[verdict] = (report.verdicts[verdict] ?? 0) + 1;
      report.payments.push({
        id: record.id,
        status: record.status,
        verdict,
        ...(detail ? { detail } : {}),
      });
    };
    const now = clock.now();
    for (const [status, threshold] of Object.entries(thresholds) as [PaymentStatus, number][]) {
      const stale = await store.listByStatus(status, { olderThan: now - threshold, limit: batch });
      for (const entry of stale) {
        const record = await store.get(entry.id, { timeline: false });
        if (!record || record.status !== status) continue;
        try {
          const { verdict, detail } = await settle(record, entry.updatedAt);
          note(record, verdict, detail);
        } catch (error) {
          logger.warn({ err: error, paymentId: record.id }, 'janitor could not settle a payment');
          note(record, 'unclear', error instanceof Error ? error.message : String(error));
        }
      }
    }
    // Authorised payments are paged through a batch per run, so those not due
    // yet (a long captureDay) never hide the ones behind them; a pass that
    // reaches the end starts again from the oldest.
    const after = await deps.cursor.get();
    const authorised = await store.listByStatus('authorized', {
      olderThan: now - remittanceAfterMs,
      limit: batch,
      ...(after !== undefined ? { after } : {}),
    });
    await deps.cursor.set(authorised.length < batch ? undefined : authorised.at(-1)?.updatedAt);
    for (const entry of authorised) {
      const record = await store.get(entry.id, { timeline: false });
      if (!record || record.status !== 'authorized') continue;
      try {
        if (await deps.handOverIfSettled(record)) {
          note(record, 'reconciled', 'its new authorisation settled: handed over');
          continue;
        }
        const verdict = await checkRemittance(record);
        if (verdict !== 'skipped') note(record, verdict);
      } catch (error) {
        logger.warn({ err: error, paymentId: record.id }, 'janitor remittance check failed');
      }
    }
    if (report.checked > 0) logger.info({ verdicts: report.verdicts }, 'janitor run');
    return report;
  }

  return { run };
}

export type Janitor = ReturnType<typeof createJanitor>;
