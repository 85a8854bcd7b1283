/**
 * Inquiries: getTransactionData establishes what happened to a call whose
 * outcome is unknown. `runInquiry` follows the inquiry schedule after an
 * unknown outcome; `inquireNow` is one inquiry outside it (the janitor,
 * before a command). Neither ever resends the call.
 */
import type { PaymentEvent } from '../../machines/contract.ts';
import { pendingOperationOf, stepPayment } from '../../machines/index.ts';
import { evidenceFields } from '../payments/review.ts';
import type { PaymentRecord, TimelineEntry } from '../payments/store.ts';
import { maskCardData } from '../sips/mask.ts';
import { inquiryAnswer } from '../sips/translate.ts';
import { engineDataOf, pendingFollowUp, type EngineContext, sipsClientOf } from './context.ts';
import { StepRetryError, type InquireNowResult } from './contract.ts';
import type { EngineData } from './engine-data.ts';
import { dispatch } from './follow-ups.ts';
import { inquiryJobId, type InquiryJob } from './jobs.ts';
import { apply } from './step.ts';

/** What one inquiry found, ready to be written with the step it makes. */
export interface Inquiry {
  /** The machine event of the answer; absent when the answer is not usable yet. */
  event: PaymentEvent | undefined;
  /** Keeps the (masked) answer with the payment's engine data. */
  remember: (data: EngineData) => void;
  timeline: TimelineEntry[];
  detail: string;
}

/** One getTransactionData: the machine event it makes (if any) and what to record. */
export async function inquire(
  engine: EngineContext,
  record: PaymentRecord,
  attempt: number,
  by: string,
): Promise<Inquiry> {
  const { clock } = engine.deps;
  const client = sipsClientOf(engine, record);
  const result = await client.getTransactionData({
    transactionReference: record.transactionReference,
  });
  engine.deps.onCall?.(result);
  const answer = inquiryAnswer(result, record.captureMode);
  const note: Record<string, unknown> = {
    attempt,
    by,
    at: new Date(clock.now()).toISOString(),
    outcome: result.kind,
    ...(result.kind === 'ok' ||
    result.kind === 'refused' ||
    result.kind === 'invalid' ||
    result.kind === 'pending'
      ? { response: evidenceFields(maskCardData(result.response)) }
      : {}),
  };
  const remember = (data: EngineData): void => {
    data.inquiries = [...(data.inquiries ?? []), note].slice(-10);
  };
  const timeline: TimelineEntry[] = [
    {
      at: clock.now(),
      kind: 'inquiry',
      detail: { attempt, by, found: String(answer.found) },
    },
  ];
  let event: PaymentEvent | undefined;
  if (answer.found === true) event = { type: 'inquiry.found', view: answer.view };
  else if (answer.found === 'credentials_refused') {
    event = { type: 'inquiry.credentials_refused', responseCode: answer.responseCode };
  } else if (answer.found === false) event = { type: 'inquiry.not_found' };
  const detail = answer.found === 'unclear' ? answer.detail : 'answer not usable yet';
  return { event, remember, timeline, detail };
}

/** The machine takes the event without moving: it only asks for another inquiry. */
export function onlyAsksAgain(record: PaymentRecord, event: PaymentEvent): boolean {
  const outcome = stepPayment(record.snapshot, event);
  return (
    outcome.accepted &&
    outcome.status === record.status &&
    outcome.effects.some((effect) => effect.type === 'inquire') &&
    !outcome.effects.some((effect) => effect.type === 'call')
  );
}

/**
 * Establishes now, with getTransactionData, what happened to a payment whose
 * outcome is unknown or whose call lost its job (a call status with no live
 * job: the caller checks that). Never resends anything itself.
 */
export async function inquireNow(
  engine: EngineContext,
  record: PaymentRecord,
  reason: string,
): Promise<InquireNowResult> {
  let current = record;
  const pending = pendingOperationOf(current.snapshot);
  if (current.status !== 'outcome_unknown' && pending !== null) {
    // The call's job is gone, but the call may have reached Sips: from
    // here on it is an unknown outcome, settled by inquiry, never resent blindly.
    const applied = await apply(
      engine,
      current,
      { type: 'sips.unknown', operation: pending.operation, reason },
      { timeline: [{ at: engine.deps.clock.now(), kind: 'sips.lost', detail: { reason } }] },
    );
    if (!applied.ok) {
      return { outcome: 'unclear', record: current, detail: `not stored: ${applied.reason}` };
    }
    current = applied.record;
  }
  const { event, remember, timeline, detail } = await inquire(engine, current, 0, reason);
  if (!event) return { outcome: 'unclear', record: current, detail };
  const outcome = stepPayment(current.snapshot, event);
  if (!outcome.accepted || onlyAsksAgain(current, event)) {
    return { outcome: 'unclear', record: current, detail };
  }
  if (outcome.status === current.status && outcome.effects.length === 0) {
    return { outcome: 'unchanged', record: current };
  }
  const applied = await apply(engine, current, event, {
    timeline,
    update: remember,
    clearIntent: true,
  });
  if (!applied.ok) {
    return { outcome: 'unclear', record: current, detail: `not stored: ${applied.reason}` };
  }
  return { outcome: 'reconciled', record: applied.record };
}

/** Runs one inquiry of the schedule: settles the payment, exhausts the schedule or plans the next. */
export async function runInquiry(
  engine: EngineContext,
  job: InquiryJob,
  context: { jobId: string },
): Promise<void> {
  const schedule = engine.inquirySchedule;
  const record = await engine.deps.store.get(job.paymentId, { timeline: false });
  if (!record) return;
  if (!pendingFollowUp(engine, record, context.jobId)) {
    await dispatch(engine, record);
    return;
  }
  const inquiry = await inquire(engine, record, job.attempt, 'schedule');
  const { event, remember, timeline } = inquiry;
  // An answer that decides nothing (the machine only asks to inquire again)
  // on the last inquiry of the schedule exhausts it, like no answer at all.
  if (event && !(job.attempt >= schedule.length && onlyAsksAgain(record, event))) {
    const applied = await apply(engine, record, event, {
      timeline,
      update: remember,
      inquiryAttempt: job.attempt,
      clearIntent: true,
    });
    if (applied.ok) return;
    if (applied.reason !== 'not_allowed') {
      throw new StepRetryError(`inquiry result not stored: ${applied.reason}`);
    }
    // The machine cannot use this answer yet (e.g. still being processed): ask again later.
  }
  if (job.attempt >= schedule.length) {
    const applied = await apply(
      engine,
      record,
      { type: 'inquiry.exhausted' },
      { timeline, update: remember },
    );
    if (!applied.ok && applied.reason !== 'not_allowed') {
      throw new StepRetryError(`inquiry exhaustion not stored: ${applied.reason}`);
    }
    return;
  }
  await scheduleNextInquiry(engine, record, job, inquiry);
}

/** Records this inquiry and schedules the next one, in one write. */
async function scheduleNextInquiry(
  engine: EngineContext,
  record: PaymentRecord,
  job: InquiryJob,
  inquiry: Inquiry,
): Promise<void> {
  const version = record.version + 1;
  const data = engineDataOf(record);
  inquiry.remember(data);
  const attempt = job.attempt + 1;
  data.followUps = [
    {
      type: 'inquire',
      jobId: inquiryJobId(record.id, version, attempt),
      attempt,
      delayMs: engine.inquirySchedule[attempt - 1] ?? 10_000,
    },
  ];
  data.followUpsVersion = version;
  const written = await engine.deps.store.commitStep(record.id, record.version, {
    snapshot: record.snapshot,
    status: record.status,
    amounts: record.amounts,
    clearIntent: false,
    timeline: inquiry.timeline,
    engine: JSON.stringify(data),
    currentStatus: record.status,
  });
  if (!written.ok) throw new StepRetryError(`next inquiry not scheduled: ${written.reason}`);
  await dispatch(engine, {
    ...record,
    version: written.version,
    engine: JSON.stringify(data),
  } as PaymentRecord);
}
