/**
 * The timers of an authorisation in VALIDATION mode, planned by the engine in
 * the step that authorises (see engine.ts `planTimers`): the deferred capture,
 * the warning before the capture limit and the policy at the limit. Each
 * timer is a delayed job; it acts only while the payment still holds that
 * timer with that job id, and the write that acts removes it, so a timer
 * fired twice (a re-enqueue, a restart) acts once.
 */
import { isChallenged } from '../../machines/index.ts';
import { uncapturedRemainder } from '../../machines/model.ts';
import { earliestLimitOfNew } from '../engine/capture-limit.ts';
import { engineDataOf, StepRetryError, type PaymentEngine } from '../engine/engine.ts';
import { CommandError } from '../engine/errors.ts';
import { PaymentsError } from '../payments/errors.ts';
import type { EngineData, LimitPolicy } from '../engine/engine-data.ts';
import type { TimerJob } from '../engine/jobs.ts';
import type { PaymentRecord, PaymentStore } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
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
   * finds the payment an earlier try made; returns its id. Without an id
   * (a claim recorded before ids were), one is made up.
   */
  make(record: PaymentRecord, newPaymentId: string | undefined): Promise<string>;
}

/**
 * Facts of a payment being replaced at its capture limit (policy
 * `reauthorize`): `reauthorizing` is the claim and `reauthorizationId` the id
 * the new payment gets (recorded with the claim, before it exists),
 * `reauthorizedAs` the new payment once made and noted,
 * `reauthorizationOutcome` what became of it (`replaced`: the new one is
 * authorised and this one's remainder was cancelled; `failed`: the new one was
 * not authorised and this one is capturable again until it lapses).
 */
export function replacementInProgress(
  facts: Readonly<Record<string, string>>,
): { paymentId?: string } | undefined {
  if (facts.reauthorizationOutcome !== undefined) return undefined;
  if (facts.reauthorizedAs !== undefined) return { paymentId: facts.reauthorizedAs };
  if (facts.reauthorizing !== 'true') return undefined;
  return facts.reauthorizationId === undefined ? {} : { paymentId: facts.reauthorizationId };
}

/** Ends a claim: its new payment was made (noted next) or will not be. */
function endClaim(facts: Record<string, string>): void {
  delete facts.reauthorizing;
  delete facts.reauthorizationId;
}

/** Writes down the new payment of a claim, which ends the claim. */
function noteReplacement(facts: Record<string, string>, newPaymentId: string): void {
  endClaim(facts);
  facts.reauthorizedAs = newPaymentId;
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

/** How many reauthorisations led to this authorisation (0: the payment's own). */
export function reauthorizationGeneration(data: EngineData): number {
  const link = data.request.link;
  return link?.type === 'reauthorization' ? (link.generation ?? 1) : 0;
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

/**
 * Statuses in which a timer waits (its job is tried again with backoff, for
 * days): the payment is between two steps, or a person decides.
 */
const BUSY = new Set([
  'capturing',
  'cancelling',
  'refunding',
  'outcome_unknown',
  'authorizing',
  'in_review',
]);

export function createPaymentTimers(deps: PaymentTimersDeps) {
  const { store, engine, alerts, clock, logger } = deps;

  async function run(job: TimerJob, context: { jobId: string }): Promise<void> {
    const record = await store.get(job.paymentId, { timeline: false });
    if (!record) return;
    const data = engineDataOf(record);
    const timer = data.timers?.[job.timer];
    if (!timer || timer.jobId !== context.jobId) return;
    if (BUSY.has(record.status)) {
      throw new StepRetryError(`${job.timer} timer waits: the payment is ${record.status}`);
    }
    const consume = (next: EngineData): void => {
      if (next.timers) delete next.timers[job.timer];
    };
    // Captured, cancelled, expired, in review...: nothing left to protect.
    if (record.status !== 'authorized' || isChallenged(record.snapshot)) return;
    // Replaced at its limit (its release may have been declined by Sips): the
    // new authorisation is the one to capture; this one is left to lapse.
    if (data.facts.reauthorizationOutcome === 'replaced') return;
    const remainder = uncapturedRemainder(record.amounts);
    if (remainder <= 0) return;
    const limitAt = data.facts.captureLimitAt ?? 'unknown';
    switch (job.timer) {
      case 'capture':
        // A capture held up past the policy time must not take the old
        // authorisation while a new one is being made: it waits, like a
        // merchant capture, and finds the old one cancelled if it was replaced.
        if (replacementInProgress(data.facts)) {
          throw new StepRetryError('capture timer waits: the authorisation is being replaced');
        }
        await act(record, { type: 'capture', amount: remainder }, 'schedule.capture', consume);
        return;
      case 'limit_warning': {
        // The alert first: raised twice at worst (a retry), never lost.
        await alerts.raise(deps.shardOf(record.id), {
          kind: 'capture_limit_near',
          paymentId: record.id,
          message: `${remainder} minor units authorised and not captured; the authorisation lapses at ${limitAt}`,
        });
        await annotate(record, consume, {
          name: 'payment.authorisation_expiring',
          data: { captureLimitAt: limitAt, uncaptured: remainder },
        });
        return;
      }
      case 'limit_policy': {
        // Applied already: its new authorisation failed (the outcome was
        // written by the hand-over before this job, resumed, got here).
        if (data.facts.reauthorizationOutcome !== undefined) return;
        const claimed = data.facts.reauthorizing === 'true';
        const policy = data.request.capture?.atLimit ?? deps.defaultPolicy;
        const whyNot =
          policy === 'reauthorize' && !claimed
            ? whyNotReauthorize(data, clock.now(), deps.maxReauthorizations)
            : undefined;
        if (whyNot !== undefined) {
          await limitReached(record, remainder, limitAt, consume, whyNot);
          return;
        }
        await applyPolicy(record, policy, remainder, limitAt, consume, claimed);
        return;
      }
    }
  }

  async function applyPolicy(
    record: PaymentRecord,
    policy: LimitPolicy,
    remainder: number,
    limitAt: string,
    consume: (data: EngineData) => void,
    reauthorizationClaimed: boolean,
  ): Promise<void> {
    if (policy === 'capture') {
      await act(record, { type: 'capture', amount: remainder }, 'capture_limit.capture', consume);
    } else if (policy === 'cancel') {
      await act(record, { type: 'cancel', amount: remainder }, 'capture_limit.cancel', consume);
    } else if (policy === 'reauthorize') {
      // Claimed first with a compare-and-set: a capture racing the policy
      // makes the claim fail, and the retry finds the payment captured. Once
      // claimed, merchant captures and cancels of this payment are refused
      // (`reauthorization_in_progress`) until the new authorisation settles,
      // so the customer's card never carries two capturable authorisations.
      // The timer stays until the end, so a crash after the claim resumes
      // here, and the new authorisation is made once: under the id recorded
      // with the claim, which a try resuming however late (its idempotency
      // record lapsed) finds instead of making a second.
      let current = record;
      if (!reauthorizationClaimed) {
        const newPaymentId = deps.reauthorization.newPaymentId(record.id);
        const claimed = await engine.annotate(record, {
          timeline: [
            { at: clock.now(), kind: 'capture_limit.reauthorizing', detail: { newPaymentId } },
          ],
          update: (data) => {
            data.facts.reauthorizing = 'true';
            data.facts.reauthorizationId = newPaymentId;
          },
        });
        if (!claimed.ok) {
          throw new StepRetryError('payment changed while claiming the reauthorisation');
        }
        current = claimed.record;
      }
      let newPaymentId: string;
      try {
        newPaymentId = await deps.reauthorization.make(
          current,
          engineDataOf(current).facts.reauthorizationId,
        );
      } catch (error) {
        // Refused for good (not a race, not Redis): the claim is released, so
        // the merchant can still capture this one before it lapses.
        const forGood =
          (error instanceof CommandError || error instanceof PaymentsError) && !error.retryable;
        if (!forGood) throw error;
        await alerts.raise(deps.shardOf(record.id), {
          kind: 'reauthorization_failed',
          paymentId: record.id,
          message: `the new authorisation could not be made (${error.code}: ${error.message}); ${record.id} can be captured until its limit ${limitAt}`,
        });
        await annotate(
          current,
          (data) => {
            consume(data);
            endClaim(data.facts);
            data.facts.reauthorizationOutcome = 'failed';
          },
          {
            name: 'payment.reauthorization_settled',
            data: { outcome: 'failed', reason: error.code },
          },
        );
        return;
      }
      await annotate(
        current,
        (data) => {
          consume(data);
          noteReplacement(data.facts, newPaymentId);
        },
        { name: 'payment.reauthorized', data: { newPaymentId, captureLimitAt: limitAt } },
      );
    } else {
      await limitReached(record, remainder, limitAt, consume, 'no policy');
    }
  }

  /** The limit is near and nothing will be done about it: an event and an ops alert. */
  async function limitReached(
    record: PaymentRecord,
    remainder: number,
    limitAt: string,
    consume: (data: EngineData) => void,
    why: string,
  ): Promise<void> {
    await alerts.raise(deps.shardOf(record.id), {
      kind: 'capture_limit_reached',
      paymentId: record.id,
      message: `capture limit ${limitAt} reached with ${remainder} minor units uncaptured and ${why}: capture or cancel now`,
    });
    await annotate(record, consume, {
      name: 'payment.authorisation_limit_reached',
      data: { captureLimitAt: limitAt, uncaptured: remainder },
    });
  }

  async function act(
    record: PaymentRecord,
    event: { type: 'capture' | 'cancel'; amount: number },
    kind: string,
    consume: (data: EngineData) => void,
  ): Promise<void> {
    const applied = await engine.apply(record, event, {
      timeline: [{ at: clock.now(), kind, detail: { ...event } }],
      update: consume,
    });
    if (applied.ok) return;
    if (applied.reason === 'version_conflict') {
      throw new StepRetryError(`payment changed while running ${kind}`);
    }
    logger.warn({ paymentId: record.id, kind, reason: applied }, 'timer could not act');
  }

  async function annotate(
    record: PaymentRecord,
    update: (data: EngineData) => void,
    event: { name: `payment.${string}`; data: Record<string, unknown> },
  ): Promise<void> {
    const written = await engine.annotate(record, {
      event,
      timeline: [
        { at: clock.now(), kind: event.name.slice('payment.'.length), detail: event.data },
      ],
      update,
    });
    if (!written.ok) throw new StepRetryError(`payment changed while noting ${event.name}`);
  }

  /**
   * The new authorisation made by the policy `reauthorize` settled. Authorised:
   * what is left of the old one is cancelled (its hold released), so only the
   * new one can be captured. Not authorised: the old one is capturable again
   * until it lapses, and ops are told. In review: ops are told; the old one
   * stays blocked until the new one settles either way.
   */
  async function onReplacementSettled(
    replacedId: string,
    replacement: Pick<PaymentRecord, 'id' | 'status' | 'amounts'>,
  ): Promise<void> {
    const record = await store.get(replacedId, { timeline: false });
    if (record) await handOver(record, replacement);
  }

  /** The hand-over from `record` (the replaced payment) once `replacement` settled. */
  async function handOver(
    record: PaymentRecord,
    replacement: Pick<PaymentRecord, 'id' | 'status' | 'amounts'>,
  ): Promise<void> {
    const facts = engineDataOf(record).facts;
    if (facts.reauthorizationOutcome !== undefined) return;
    // Made under the id recorded with the claim, but not noted yet (the timer
    // job that made it stopped before its note): it is the new one all the
    // same, and the hand-over notes it with the outcome.
    const ours =
      facts.reauthorizedAs === replacement.id ||
      (facts.reauthorizedAs === undefined && facts.reauthorizationId === replacement.id);
    if (!ours) {
      // A new payment made without a recorded id (a claim older than them)
      // is noted by its timer, which will.
      if (facts.reauthorizedAs === undefined && facts.reauthorizing === 'true') {
        throw new StepRetryError(`${record.id} has not noted its new authorisation yet`);
      }
      return;
    }
    const shard = deps.shardOf(record.id);
    const verdict = replacementVerdict(replacement);
    if (verdict === 'replaced') {
      if (BUSY.has(record.status)) {
        throw new StepRetryError(`the replaced payment waits: it is ${record.status}`);
      }
      const remainder = uncapturedRemainder(record.amounts);
      const settle = (data: EngineData): void => {
        noteReplacement(data.facts, replacement.id);
        data.facts.reauthorizationOutcome = 'replaced';
      };
      if (record.status === 'authorized' && !isChallenged(record.snapshot) && remainder > 0) {
        const applied = await engine.apply(
          record,
          { type: 'cancel', amount: remainder },
          {
            timeline: [
              {
                at: clock.now(),
                kind: 'capture_limit.replaced',
                detail: { by: replacement.id, cancelled: remainder },
              },
            ],
            update: settle,
          },
        );
        if (applied.ok) return;
        if (applied.reason === 'version_conflict') {
          throw new StepRetryError('payment changed while releasing the replaced authorisation');
        }
        logger.warn(
          { paymentId: record.id, reason: applied },
          'replaced authorisation could not be cancelled',
        );
      }
      // Nothing left to release (lapsed, captured in full before the claim...).
      await annotate(record, settle, {
        name: 'payment.reauthorization_settled',
        data: { newPaymentId: replacement.id, outcome: 'replaced' },
      });
      return;
    }
    if (verdict === 'failed') {
      await alerts.raise(shard, {
        kind: 'reauthorization_failed',
        paymentId: record.id,
        message: `the new authorisation ${replacement.id} ended ${replacement.status}; ${record.id} can be captured until its limit ${facts.captureLimitAt ?? 'unknown'}`,
      });
      await annotate(
        record,
        (data) => {
          noteReplacement(data.facts, replacement.id);
          data.facts.reauthorizationOutcome = 'failed';
        },
        {
          name: 'payment.reauthorization_settled',
          data: { newPaymentId: replacement.id, outcome: 'failed', status: replacement.status },
        },
      );
      return;
    }
    if (verdict === 'in_review') {
      await alerts.raise(shard, {
        kind: 'reauthorization_in_review',
        paymentId: record.id,
        message: `the new authorisation ${replacement.id} is in review; captures and cancels of ${record.id} wait until it is decided`,
      });
    }
  }

  /**
   * The hand-over again, for a payment whose new authorisation settled but
   * whose notice was lost (a crash between that step and its notice): true
   * when the new one has settled and the hand-over ran.
   */
  async function handOverIfSettled(record: PaymentRecord): Promise<boolean> {
    const facts = engineDataOf(record).facts;
    const replacementId = replacementInProgress(facts)?.paymentId;
    if (replacementId === undefined) return false;
    const replacement = await store.get(replacementId, { timeline: false });
    if (!replacement) return false;
    // Under a recorded id not noted yet, only the payment made for this one
    // (the note itself is written once the timer made it).
    if (facts.reauthorizedAs === undefined && !replaces(replacement, record.id)) return false;
    const verdict = replacementVerdict(replacement);
    if (verdict !== 'replaced' && verdict !== 'failed') return false;
    await handOver(record, replacement);
    return true;
  }

  return { run, onReplacementSettled, handOverIfSettled };
}

export type PaymentTimers = ReturnType<typeof createPaymentTimers>;
