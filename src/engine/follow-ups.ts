/**
 * Follow-ups: the jobs a committed step asks for. They are planned into the
 * engine data written with the step (the outbox of jobs), and dispatched to
 * the JobSink after the write, with deterministic job ids so that a
 * re-dispatch never doubles a job.
 */
import type { Effect, PaymentStatus } from '../../machines/contract.ts';
import type { ReviewEvidence } from '../payments/review.ts';
import type { PaymentRecord } from '../payments/store.ts';
import { captureLimitAt } from './capture-limit.ts';
import { readEngineData, type EngineContext } from './context.ts';
import type { EngineData } from './engine-data.ts';
import {
  abandonJobId,
  callJobId,
  inquiryJobId,
  reauthorizeJobId,
  settledJobId,
  timerJobId,
  type FollowUp,
  type TimerName,
} from './jobs.ts';

/** Statuses whose arrival is told to the payment's schedule. */
export const SETTLED_FOR_SCHEDULES: ReadonlySet<PaymentStatus> = new Set([
  'authorized',
  'captured',
  'refused',
  'failed',
  'expired',
  'cancelled',
  'in_review',
]);

/** The least time a capture-limit policy keeps in hand before the limit. */
const POLICY_MARGIN_MS = 30 * 60_000;

/** The follow-ups a step's effects ask for. */
export function followUpsOf(
  engine: EngineContext,
  paymentId: string,
  version: number,
  effects: Effect[],
  inquiryAttempt = 0,
): FollowUp[] {
  const schedule = engine.inquirySchedule;
  const followUps: FollowUp[] = [];
  for (const effect of effects) {
    if (effect.type === 'call') {
      followUps.push({
        type: 'call',
        jobId: callJobId(paymentId, version, effect.operation),
        operation: effect.operation,
        ...(effect.amount !== undefined ? { amount: effect.amount } : {}),
      });
    } else if (effect.type === 'inquire') {
      const attempt = inquiryAttempt + 1;
      followUps.push({
        type: 'inquire',
        jobId: inquiryJobId(paymentId, version, attempt),
        attempt,
        delayMs:
          effect.promptly === true && attempt === 1
            ? 0
            : (schedule[Math.min(attempt - 1, schedule.length - 1)] ?? 10_000),
      });
    } else if (effect.type === 'review') {
      followUps.push({ type: 'review', reason: effect.reason });
    } else if (effect.type === 'reauthorize') {
      followUps.push({
        type: 'reauthorize',
        jobId: reauthorizeJobId(paymentId, version),
        newPaymentId: effect.newPaymentId,
      });
    }
  }
  return followUps;
}

/**
 * Records in `data` every follow-up of the step that moves `record` to
 * `outcome` at `version`: those its effects ask for, the abandon job of a
 * customer sent away, the capture-limit timers of a new authorisation and the
 * schedule's notice of a settled payment.
 */
export function planFollowUps(
  engine: EngineContext,
  record: PaymentRecord,
  data: EngineData,
  outcome: { status: PaymentStatus; effects: Effect[] },
  version: number,
  inquiryAttempt?: number,
): void {
  data.followUps = followUpsOf(engine, record.id, version, outcome.effects, inquiryAttempt);
  if (outcome.status === 'awaiting_authentication' && record.status !== 'awaiting_authentication') {
    // Nothing else would ever move a payment whose customer never comes back.
    data.followUps.push({
      type: 'abandon',
      jobId: abandonJobId(record.id, version),
      delayMs: engine.deps.authenticationTimeoutMs ?? 15 * 60_000,
    });
  }
  if (outcome.status === 'authorized' && !data.timersPlanned) {
    planTimers(engine, record, data, version);
  }
  if (
    data.request.link &&
    outcome.status !== record.status &&
    SETTLED_FOR_SCHEDULES.has(outcome.status)
  ) {
    data.followUps.push({ type: 'settled', jobId: settledJobId(record.id, version) });
  }
  data.followUpsVersion = version;
}

/**
 * VALIDATION mode: an authorisation lapses at its capture limit, so the
 * step that authorises plans the warning and the limit policy (and the
 * deferred capture) as delayed jobs stored with the step.
 */
export function planTimers(
  engine: EngineContext,
  record: PaymentRecord,
  data: EngineData,
  version: number,
): void {
  const { clock } = engine.deps;
  data.timersPlanned = true;
  if (record.captureMode !== 'validation') return;
  const limit = engine.deps.captureLimit ?? {};
  const limitAt = captureLimitAt(data.facts.captureLimitDate, clock.now(), data.request.captureDay);
  data.facts.captureLimitAt = new Date(limitAt).toISOString();
  const now = clock.now();
  // The policy acts `actBeforeMs` before the limit, but never sooner than
  // halfway from the authorisation to the limit: a captureDay-0 payment
  // authorised late in the day keeps time to be validated by the merchant
  // instead of meeting its policy (a capture, an alert) as it is made. It
  // keeps half an hour in hand all the same (a retry, a busy payment), and
  // acts at once when less is left.
  const policyAt = Math.max(
    limitAt - (limit.actBeforeMs ?? 6 * 3_600_000),
    Math.min(now + Math.floor((limitAt - now) / 2), limitAt - POLICY_MARGIN_MS),
  );
  const captureAt = data.request.capture?.at;
  // A capture due at or after the policy time is the action at the limit:
  // no policy beside it to race it.
  const captureIsPolicy = captureAt !== undefined && captureAt >= policyAt;
  const warnAt = limitAt - (limit.warnBeforeMs ?? 24 * 3_600_000);
  const timers: [TimerName, number][] = [
    captureIsPolicy ? ['capture', policyAt] : ['limit_policy', policyAt],
  ];
  // An authorisation that lapses sooner than the warning window (captureDay
  // 0 lapses the same day) would be warned about as it is made, for every
  // such payment: the policy time is its only reminder.
  if (warnAt > now) timers.push(['limit_warning', warnAt]);
  if (captureAt !== undefined && !captureIsPolicy) timers.push(['capture', captureAt]);
  data.timers = {};
  for (const [timer, at] of timers) {
    const jobId = timerJobId(record.id, version, timer);
    data.timers[timer] = { jobId, at };
    data.followUps.push({ type: 'timer', jobId, timer, at });
  }
}

/**
 * Enqueues the follow-ups recorded on the payment (idempotent: deterministic
 * job ids). `parsed`: the record's engine data when the caller has it (read only).
 */
export async function dispatch(
  engine: EngineContext,
  record: PaymentRecord,
  parsed?: EngineData,
): Promise<void> {
  const { jobs, clock, reviews } = engine.deps;
  const data = parsed ?? readEngineData(engine, record);
  for (const followUp of data.followUps) {
    switch (followUp.type) {
      case 'call':
        await jobs.enqueueCall(
          {
            task: 'call',
            paymentId: record.id,
            version: data.followUpsVersion,
            operation: followUp.operation,
          },
          followUp.jobId,
        );
        break;
      case 'inquire':
        await jobs.enqueueInquiry(
          {
            task: 'inquire',
            paymentId: record.id,
            version: data.followUpsVersion,
            attempt: followUp.attempt,
          },
          followUp.jobId,
          followUp.delayMs,
        );
        break;
      case 'abandon':
        await jobs.enqueueAbandon(
          { task: 'abandon', paymentId: record.id, version: data.followUpsVersion },
          followUp.jobId,
          followUp.delayMs,
        );
        break;
      case 'timer':
        await jobs.enqueueTimer(
          { task: 'timer', paymentId: record.id, timer: followUp.timer },
          followUp.jobId,
          Math.max(0, followUp.at - clock.now()),
        );
        break;
      case 'settled':
        await jobs.enqueueSettled(record.id, followUp.jobId);
        break;
      case 'reauthorize':
        await jobs.enqueueReauthorize(
          {
            task: 'reauthorize',
            paymentId: record.id,
            version: data.followUpsVersion,
            newPaymentId: followUp.newPaymentId,
          },
          followUp.jobId,
        );
        break;
      case 'review': {
        const evidence: ReviewEvidence = { ...(data.evidence ?? {}) };
        if (data.inquiries && data.inquiries.length > 0) evidence.inquiries = data.inquiries;
        await reviews.enqueueReview({
          paymentId: record.id,
          version: data.followUpsVersion,
          reason: followUp.reason,
          evidence,
        });
        break;
      }
    }
  }
}
