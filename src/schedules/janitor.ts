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
import type { StepQueues } from '../queues/steps.ts';
import type { Alerts } from './alerts.ts';
import { sweepHeldRefunds } from './held-refunds.ts';

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
  /** Held refunds (REFUND_BEFORE_REMITTANCE=hold): inquire their payment at most this often. @defaultValue 1 h */
  heldRefundCheckAfterMs?: number;
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
  /** The event streams: entries trimmed, shards near their cap (stream-retention.ts). */
  streams?: { trimmed: number; nearCap: number[] };
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
  /** Where the sweep of captured payments holding a refund stopped. */
  heldRefundsCursor?: {
    get(): Promise<number | undefined>;
    set(value: number | undefined): Promise<void>;
  };
}

/** What a janitor run works with: its deps, and its options with their defaults. */
export interface JanitorContext {
  deps: JanitorDeps;
  thresholds: Partial<Record<PaymentStatus, number>>;
  escalateAfterMs: number;
  remittanceAfterMs: number;
  heldRefundAfterMs: number;
  batch: number;
}

export function janitorContext(deps: JanitorDeps, options: JanitorOptions = {}): JanitorContext {
  return {
    deps,
    thresholds: { ...DEFAULT_THRESHOLDS_MS, ...(options.thresholdsMs ?? {}) },
    escalateAfterMs: options.escalateAfterMs ?? 6 * HOUR,
    remittanceAfterMs: options.remittanceCheckAfterMs ?? 2 * HOUR,
    heldRefundAfterMs: options.heldRefundCheckAfterMs ?? HOUR,
    batch: options.batch ?? 200,
  };
}

/** A follow-up job of the payment (or its intent's) is still waiting or running. */
async function liveJob(deps: JanitorDeps, record: PaymentRecord): Promise<boolean> {
  const data = engineDataOf(record);
  const jobIds = data.followUps.flatMap((followUp) =>
    'jobId' in followUp && followUp.type !== 'settled' && followUp.type !== 'timer'
      ? [followUp.jobId]
      : [],
  );
  if (record.intent?.jobId) jobIds.push(record.intent.jobId);
  const queue = deps.queues.queue(deps.shardOf(record.id));
  for (const jobId of new Set(jobIds)) {
    if (LIVE_JOB_STATES.has(await queue.getJobState(jobId))) return true;
  }
  return false;
}

async function escalate(
  deps: JanitorDeps,
  record: PaymentRecord,
  detail: string,
): Promise<JanitorVerdict> {
  const { engine, clock } = deps;
  const applied = await engine.apply(
    record,
    { type: 'inquiry.exhausted' },
    { timeline: [{ at: clock.now(), kind: 'janitor.escalated', detail: { detail } }] },
  );
  if (!applied.ok) return 'unclear';
  await deps.alerts.raise(deps.shardOf(record.id), {
    kind: 'janitor_escalated',
    paymentId: record.id,
    message: `stuck in ${record.status}; Sips gave no usable answer (${detail}): sent to manual review`,
  });
  return 'escalated';
}

/** Settles a payment stuck in its status since `since` (see the rules above). */
export async function settleStuck(
  ctx: JanitorContext,
  record: PaymentRecord,
  since: number,
): Promise<{ verdict: JanitorVerdict; detail?: string }> {
  const { deps } = ctx;
  const { engine, clock } = deps;
  if (await liveJob(deps, record)) return { verdict: 'waiting' };
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
    const queue = deps.queues.queue(deps.shardOf(record.id));
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
  if (clock.now() - since >= ctx.escalateAfterMs && result.record.status === 'outcome_unknown') {
    return { verdict: await escalate(deps, result.record, result.detail), detail: result.detail };
  }
  return { verdict: 'unclear', detail: result.detail };
}

/** When an authorisation should have been remitted, validated or lapsed. */
function remittanceDueAt(record: PaymentRecord): number {
  const data = engineDataOf(record);
  const limitAt = data.facts.captureLimitAt ? Date.parse(data.facts.captureLimitAt) : undefined;
  // The end of the limit day, when the remittance run is surely over (the
  // lapse estimate, 20:00 UTC, may come before the run in winter).
  return (
    endOfSipsDate(data.facts.captureLimitDate) ??
    (record.captureMode === 'validation' && limitAt !== undefined
      ? startOfUtcDay(limitAt) + DAY_MS
      : undefined) ??
    record.updatedAt + (data.request.captureDay + 1) * DAY_MS
  );
}

/**
 * An authorisation past its date: AUTHOR_CAPTURE should have been remitted
 * (the payment becomes captured), VALIDATION should have been validated or
 * has lapsed (the payment becomes expired). Sips' view tells which.
 */
export async function checkRemittance(
  ctx: JanitorContext,
  record: PaymentRecord,
): Promise<JanitorVerdict> {
  const { engine, clock } = ctx.deps;
  const dueAt = remittanceDueAt(record);
  if (clock.now() < dueAt + ctx.remittanceAfterMs) return 'skipped';
  const result = await engine.inquireNow(record, 'janitor: past the remittance or capture limit');
  if (result.outcome === 'unchanged') {
    // Not remitted yet: noted, which also moves it to the back of the queue.
    await engine.annotate(record, {
      timeline: [{ at: clock.now(), kind: 'remittance.pending' }],
    });
  }
  return result.outcome;
}

function note(
  report: JanitorReport,
  record: PaymentRecord,
  verdict: JanitorVerdict,
  detail?: string,
): void {
  report.checked++;
  report.verdicts[verdict] = (report.verdicts[verdict] ?? 0) + 1;
  report.payments.push({
    id: record.id,
    status: record.status,
    verdict,
    ...(detail ? { detail } : {}),
  });
}

/** Payments in a status that should not last, there since before its threshold. */
async function sweepStale(ctx: JanitorContext, report: JanitorReport, now: number): Promise<void> {
  const { store, logger } = ctx.deps;
  for (const [status, threshold] of Object.entries(ctx.thresholds) as [PaymentStatus, number][]) {
    const stale = await store.listByStatus(status, {
      olderThan: now - threshold,
      limit: ctx.batch,
    });
    for (const entry of stale) {
      const record = await store.get(entry.id, { timeline: false });
      if (!record || record.status !== status) continue;
      try {
        const { verdict, detail } = await settleStuck(ctx, record, entry.updatedAt);
        note(report, record, verdict, detail);
      } catch (error) {
        logger.warn({ err: error, paymentId: record.id }, 'janitor could not settle a payment');
        note(report, record, 'unclear', error instanceof Error ? error.message : String(error));
      }
    }
  }
}

/** Authorised payments: handed over to a settled replacement, or checked past their date. */
async function sweepAuthorized(
  ctx: JanitorContext,
  report: JanitorReport,
  now: number,
): Promise<void> {
  const { deps, batch } = ctx;
  const { store, logger } = deps;
  // Authorised payments are paged through a batch per run, so those not due
  // yet (a long captureDay) never hide the ones behind them; a pass that
  // reaches the end starts again from the oldest.
  const after = await deps.cursor.get();
  const authorized = await store.listByStatus('authorized', {
    olderThan: now - ctx.remittanceAfterMs,
    limit: batch,
    ...(after !== undefined ? { after } : {}),
  });
  await deps.cursor.set(authorized.length < batch ? undefined : authorized.at(-1)?.updatedAt);
  for (const entry of authorized) {
    const record = await store.get(entry.id, { timeline: false });
    if (!record || record.status !== 'authorized') continue;
    try {
      if (await deps.handOverIfSettled(record)) {
        note(report, record, 'reconciled', 'its new authorisation settled: handed over');
        continue;
      }
      const verdict = await checkRemittance(ctx, record);
      if (verdict !== 'skipped') note(report, record, verdict);
    } catch (error) {
      logger.warn({ err: error, paymentId: record.id }, 'janitor remittance check failed');
    }
  }
}

export async function runJanitor(ctx: JanitorContext): Promise<JanitorReport> {
  const { clock, logger } = ctx.deps;
  const report: JanitorReport = { checked: 0, verdicts: {}, payments: [] };
  const now = clock.now();
  await sweepStale(ctx, report, now);
  await sweepAuthorized(ctx, report, now);
  const { heldRefundsCursor } = ctx.deps;
  if (heldRefundsCursor !== undefined) {
    const sent = await sweepHeldRefunds({
      ...ctx.deps,
      cursor: heldRefundsCursor,
      checkAfterMs: ctx.heldRefundAfterMs,
      batch: ctx.batch,
    });
    report.checked += sent.length;
    if (sent.length > 0) {
      report.verdicts.reconciled = (report.verdicts.reconciled ?? 0) + sent.length;
    }
  }
  if (report.checked > 0) logger.info({ verdicts: report.verdicts }, 'janitor run');
  return report;
}

export function createJanitor(deps: JanitorDeps, options: JanitorOptions = {}) {
  const ctx = janitorContext(deps, options);
  return { run: (): Promise<JanitorReport> => runJanitor(ctx) };
}

export type Janitor = ReturnType<typeof createJanitor>;
