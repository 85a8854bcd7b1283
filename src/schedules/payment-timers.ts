/**
 * The capture-limit lifecycle's I/O: the timers of an authorisation in
 * VALIDATION mode and the policy `reauthorize`'s new authorisation. What they
 * do is the machine's (machines/capture-limit.ts); here each timer, each
 * new payment made and each hand-over becomes a machine event, applied with
 * compare-and-set. A timer acts only while the payment still holds that
 * timer with that job id, and the write that acts removes it, so a timer
 * fired twice (a re-enqueue, a restart) acts once.
 */
import type { Effect, PaymentEvent } from '../../machines/contract.ts';
import type { LimitAlertKind } from '../../machines/contract.ts';
import { earliestLimitOfNew } from '../engine/capture-limit.ts';
import {
  engineDataOf,
  reauthorizationOf,
  StepRetryError,
  type ApplyResult,
  type PaymentEngine,
} from '../engine/engine.ts';
import type { EngineData } from '../engine/engine-data.ts';
import { CommandError } from '../engine/errors.ts';
import type { ReauthorizeJob, TimerJob } from '../engine/jobs.ts';
import { PaymentsError } from '../payments/errors.ts';
import type { PaymentRecord, PaymentStore, TimelineEntry } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { LimitPolicy } from '../../machines/contract.ts';
import type { Alerts } from './alerts.ts';

export interface PaymentTimersDeps {
  store: PaymentStore;
  engine: PaymentEngine;
  alerts: Alerts;
  clock: Clock;
  logger: Logger;
  shardOf(paymentId: string): number;
  defaultPolicy: LimitPolicy;
  /** Renewals of one payment's authorisation by `reauthorize` before it only alerts. */
  maxReauthorizations: number;
  reauthorization: Reauthorization;
}

/** The new authorisation of the capture-limit policy `reauthorize`. */
export interface Reauthorization {
  /** The id the new payment will have, recorded with the claim before it is made. */
  newPaymentId(replacedId: string): string;
  /**
   * Authorises the same card again (a duplicate) under `newPaymentId`, or
   * finds the payment an earlier try made; returns its id.
   */
  make(record: PaymentRecord, newPaymentId: string): Promise<string>;
}

/** How many reauthorisations led to this authorisation (0: the payment's own). */
export function reauthorizationGeneration(data: EngineData): number {
  const link = data.request.link;
  return link?.type === 'reauthorization' ? (link.generation ?? 1) : 0;
}

/**
 * Whether an authorisation made by the policy `reauthorize` lapses later than
 * the one it replaced (always true of any other authorisation).
 */
function gainedTime(data: EngineData): boolean {
  const link = data.request.link;
  if (link?.type !== 'reauthorization' || link.replacedLimitAt === undefined) return true;
  const limitAt = data.facts.captureLimitAt;
  return limitAt === undefined || Date.parse(limitAt) > Date.parse(link.replacedLimitAt);
}

/**
 * Whether a new authorisation made at `now` would surely lapse later than
 * this one: not when both may fall on the same capture-limit day (captureDay
 * 0, whose limit is the day it was made).
 */
function newOneWouldGain(data: EngineData, now: number): boolean {
  const limitAt = data.facts.captureLimitAt;
  if (limitAt === undefined) return true;
  return earliestLimitOfNew(now, data.request.captureDay) > Date.parse(limitAt);
}

/**
 * Why the policy `reauthorize` must not make a new authorisation of this one
 * now, if it must not: another would only put a second hold on the card.
 */
function whyNotReauthorize(
  data: EngineData,
  now: number,
  maxReauthorizations: number,
): string | undefined {
  // Made on the same capture-limit day, or a replacement that gained no time:
  // a chain of them would run until the day ends.
  if (!newOneWouldGain(data, now) || !gainedTime(data)) {
    return 'a new authorisation made now would lapse no later';
  }
  // Renewed every day for as long as nobody captures: bounded, so a
  // forgotten order does not hold the customer's money for ever.
  const generation = reauthorizationGeneration(data);
  if (generation >= maxReauthorizations) {
    return `it was reauthorised ${generation} times already (CAPTURE_LIMIT_MAX_REAUTHORIZATIONS)`;
  }
  return undefined;
}

/** Whether `replacement` was made by the policy `reauthorize` of `replacedId`. */
function replaces(replacement: PaymentRecord, replacedId: string): boolean {
  const link = engineDataOf(replacement).request.link;
  return link?.type === 'reauthorization' && link.id === replacedId;
}

/** Statuses in which a new authorisation that never authorised has failed for good. */
const REPLACEMENT_FAILED = new Set(['refused', 'failed', 'expired', 'cancelled']);

/**
 * What became of a new authorisation. Judged on whether it ever authorised,
 * not on its status now: one handled late may be captured, refunded or even
 * cancelled by the merchant since, and is still the one that replaced the old.
 */
function replacementVerdict(
  replacement: Pick<PaymentRecord, 'status' | 'amounts'>,
): 'replaced' | 'failed' | 'in_review' | 'pending' {
  if (replacement.amounts.authorized > 0) return 'replaced';
  if (REPLACEMENT_FAILED.has(replacement.status)) return 'failed';
  return replacement.status === 'in_review' ? 'in_review' : 'pending';
}

/** The text of an ops alert the capture-limit lifecycle raises. */
/** The likely cause of a credentials refusal, in the words of the go-live check. */
export function credentialsCause(responseCode: string): string {
  return responseCode === '03'
    ? 'unknown merchantId, or the contract does not allow the service'
    : 'wrong secret key or key version';
}

export function limitAlertMessage(
  paymentId: string,
  kind: LimitAlertKind,
  data: Record<string, unknown>,
): string {
  const limitAt = String(data.captureLimitAt ?? 'unknown');
  const uncaptured = String(data.uncaptured);
  switch (kind) {
    case 'inquiry_conflict':
      return `in review: ${String(data.detail)}; the payment's timeline has our commands, its review item Sips' answers`;
    case 'capture_limit_near':
      return `${uncaptured} minor units authorised and not captured; the authorisation lapses at ${limitAt}`;
    case 'capture_limit_reached':
      return `capture limit ${limitAt} reached with ${uncaptured} minor units uncaptured and ${String(data.why)}: capture or cancel now`;
    case 'reauthorization_failed':
      return data.newPaymentId === undefined
        ? `the new authorisation could not be made (${String(data.code)}: ${String(data.reason)}); ${paymentId} can be captured until its limit ${limitAt}`
        : `the new authorisation ${String(data.newPaymentId)} ended ${String(data.status)}; ${paymentId} can be captured until its limit ${limitAt}`;
    case 'operation_failed':
      return `the ${String(data.type)} ${String(data.operationId)} of ${String(data.amount)} minor units failed (Sips ${String(data.performedAs)}: ${String(data.reason)}${data.responseCode === undefined ? '' : `, responseCode ${String(data.responseCode)}`}); the money stayed where it was: tell the customer or send it again`;
    case 'merchant_credentials_invalid':
      return `Sips refused the credentials of merchant ${String(data.merchant ?? 'default')} (${String(data.responseCode)}: ${credentialsCause(String(data.responseCode))}) for the call and the inquiry; fix MERCHANTS_FILE or SIPS_* and reload. ${paymentId} failed, nothing happened at Sips`;
  }
}

/** Timeline entries of what a capture-limit step did, in the words the timeline has always used. */
function describe(trigger: string, effects: readonly Effect[], now: number): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const effect of effects) {
    if (
      effect.type === 'call' &&
      (effect.operation === 'capture' || effect.operation === 'cancel')
    ) {
      entries.push({
        at: now,
        kind: trigger,
        detail: { type: effect.operation, amount: effect.amount },
      });
    } else if (effect.type === 'reauthorize') {
      entries.push({
        at: now,
        kind: 'capture_limit.reauthorizing',
        detail: { newPaymentId: effect.newPaymentId },
      });
    } else if (effect.type === 'emit' && !effect.name.endsWith('_requested')) {
      // The command's own event (capture_requested...) is told by the call above.
      const { amounts: _amounts, currency: _currency, ...detail } = effect.data ?? {};
      entries.push({ at: now, kind: effect.name.slice('payment.'.length), detail });
    }
  }
  return entries;
}

/** Applies a capture-limit event; false when the machine had nothing to do with it. */
async function step(
  deps: PaymentTimersDeps,
  record: PaymentRecord,
  event: PaymentEvent,
  trigger: string,
  update?: (data: EngineData) => void,
): Promise<ApplyResult> {
  const applied = await deps.engine.apply(record, event, {
    describe: (effects) => describe(trigger, effects, deps.clock.now()),
    ...(update ? { update } : {}),
  });
  if (applied.ok) return applied;
  if (applied.reason === 'version_conflict') {
    throw new StepRetryError(`payment changed while applying ${event.type}`);
  }
  if (applied.reason === 'not_allowed' && applied.waitFor !== undefined) {
    throw new StepRetryError(`${event.type} waits: ${applied.detail}`);
  }
  // Nothing left for it to do (captured, lapsed, acted already): the job ends.
  deps.logger.debug({ paymentId: record.id, event: event.type, outcome: applied }, 'nothing to do');
  return applied;
}

function timerEvent(
  deps: PaymentTimersDeps,
  job: TimerJob,
  record: PaymentRecord,
  data: EngineData,
): PaymentEvent {
  const captureLimitAt = data.facts.captureLimitAt ?? 'unknown';
  if (job.timer === 'capture') return { type: 'timer.capture' };
  if (job.timer === 'limit_warning') return { type: 'timer.limit_warning', captureLimitAt };
  const policy = data.request.capture?.atLimit ?? deps.defaultPolicy;
  const refusal =
    policy === 'reauthorize'
      ? whyNotReauthorize(data, deps.clock.now(), deps.maxReauthorizations)
      : undefined;
  return {
    type: 'timer.limit_policy',
    policy,
    captureLimitAt,
    newPaymentId: deps.reauthorization.newPaymentId(record.id),
    ...(refusal !== undefined ? { reauthorizeRefusal: refusal } : {}),
  };
}

export async function runTimer(
  deps: PaymentTimersDeps,
  job: TimerJob,
  context: { jobId: string },
): Promise<void> {
  const record = await deps.store.get(job.paymentId, { timeline: false });
  if (!record) return;
  const data = engineDataOf(record);
  const timer = data.timers?.[job.timer];
  if (!timer || timer.jobId !== context.jobId) return;
  const trigger =
    job.timer === 'capture'
      ? 'schedule.capture'
      : `capture_limit.${data.request.capture?.atLimit ?? deps.defaultPolicy}`;
  await step(deps, record, timerEvent(deps, job, record, data), trigger, (next) => {
    if (next.timers) delete next.timers[job.timer];
  });
}

/**
 * Makes the new authorisation a claim asked for, once: under the id
 * recorded with the claim, which a try resuming however late (its
 * idempotency record lapsed) finds instead of making a second.
 */
export async function runReauthorize(deps: PaymentTimersDeps, job: ReauthorizeJob): Promise<void> {
  const record = await deps.store.get(job.paymentId, { timeline: false });
  if (!record) return;
  const reauthorization = reauthorizationOf(record);
  if (reauthorization?.phase !== 'claimed') return;
  const captureLimitAt = engineDataOf(record).facts.captureLimitAt ?? 'unknown';
  let newPaymentId: string;
  try {
    newPaymentId = await deps.reauthorization.make(
      record,
      reauthorization.newPaymentId ?? job.newPaymentId,
    );
  } catch (error) {
    // Refused for good (not a race, not Redis): the claim is released, so
    // the merchant can still capture this one before it lapses.
    const forGood =
      (error instanceof CommandError || error instanceof PaymentsError) && !error.retryable;
    if (!forGood) throw error;
    await step(
      deps,
      record,
      {
        type: 'reauthorization.refused',
        code: error.code,
        reason: error.message,
        captureLimitAt,
      },
      'capture_limit.refused',
    );
    return;
  }
  await step(
    deps,
    record,
    { type: 'reauthorization.made', newPaymentId, captureLimitAt },
    'capture_limit.made',
  );
}

/**
 * The new authorisation made by the policy `reauthorize` settled.
 * Authorised: what is left of the old one is cancelled (its hold released),
 * so only the new one can be captured. Not authorised: the old one is
 * capturable again until it lapses, and ops are told. In review: ops are
 * told; the old one stays blocked until the new one settles either way.
 */
export async function onReplacementSettled(
  deps: PaymentTimersDeps,
  replacedId: string,
  replacement: Pick<PaymentRecord, 'id' | 'status' | 'amounts'>,
): Promise<void> {
  const record = await deps.store.get(replacedId, { timeline: false });
  if (record) await handOver(deps, record, replacement);
}

async function handOver(
  deps: PaymentTimersDeps,
  record: PaymentRecord,
  replacement: Pick<PaymentRecord, 'id' | 'status' | 'amounts'>,
): Promise<void> {
  const verdict = replacementVerdict(replacement);
  if (verdict === 'pending') return;
  if (verdict === 'in_review') {
    const pending = reauthorizationOf(record);
    if (pending?.newPaymentId !== replacement.id) return;
    await deps.alerts.raise(deps.shardOf(record.id), {
      kind: 'reauthorization_in_review',
      paymentId: record.id,
      message: `the new authorisation ${replacement.id} is in review; captures and cancels of ${record.id} wait until it is decided`,
    });
    return;
  }
  const captureLimitAt = engineDataOf(record).facts.captureLimitAt ?? 'unknown';
  await step(
    deps,
    record,
    {
      type: 'reauthorization.settled',
      newPaymentId: replacement.id,
      outcome: verdict,
      status: replacement.status,
      captureLimitAt,
    },
    'capture_limit.replaced',
  );
}

/**
 * The hand-over again, for a payment whose new authorisation settled but
 * whose notice was lost (a crash between that step and its notice): true
 * when the new one has settled and the hand-over ran.
 */
export async function handOverIfSettled(
  deps: PaymentTimersDeps,
  record: PaymentRecord,
): Promise<boolean> {
  const reauthorization = reauthorizationOf(record);
  if (reauthorization?.phase !== 'claimed' && reauthorization?.phase !== 'made') return false;
  if (reauthorization.newPaymentId === undefined) return false;
  const replacement = await deps.store.get(reauthorization.newPaymentId, { timeline: false });
  if (!replacement) return false;
  // Under a recorded id not noted yet, only the payment made for this one.
  if (reauthorization.phase === 'claimed' && !replaces(replacement, record.id)) return false;
  const verdict = replacementVerdict(replacement);
  if (verdict !== 'replaced' && verdict !== 'failed') return false;
  await handOver(deps, record, replacement);
  return true;
}

/** The capture-limit jobs over `deps`. */
export function createPaymentTimers(deps: PaymentTimersDeps) {
  return {
    run: (job: TimerJob, context: { jobId: string }) => runTimer(deps, job, context),
    runReauthorize: (job: ReauthorizeJob) => runReauthorize(deps, job),
    onReplacementSettled: (
      replacedId: string,
      replacement: Pick<PaymentRecord, 'id' | 'status' | 'amounts'>,
    ) => onReplacementSettled(deps, replacedId, replacement),
    handOverIfSettled: (record: PaymentRecord) => handOverIfSettled(deps, record),
  };
}

export type PaymentTimers = ReturnType<typeof createPaymentTimers>;
