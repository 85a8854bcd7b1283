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
import { engineDataOf, StepRetryError, type PaymentEngine } from '../engine/engine.ts';
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
  /** Authorises the same card again (a duplicate); returns the new payment's id. */
  reauthorize(record: PaymentRecord): Promise<string>;
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
    const remainder = uncapturedRemainder(record.amounts);
    if (remainder <= 0) return;
    const limitAt = data.facts.captureLimitAt ?? 'unknown';
    switch (job.timer) {
      case 'capture':
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
        const policy = data.request.capture?.atLimit ?? deps.defaultPolicy;
        const claimed = data.facts.reauthorizing === 'true';
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
      // makes the claim fail, and the retry finds the payment captured. The
      // timer stays until the end, so a crash after the claim resumes here,
      // and the new authorisation is made once (its idempotency key).
      let current = record;
      if (!reauthorizationClaimed) {
        const claimed = await engine.annotate(record, {
          timeline: [{ at: clock.now(), kind: 'capture_limit.reauthorizing' }],
          update: (data) => {
            data.facts.reauthorizing = 'true';
          },
        });
        if (!claimed.ok) {
          throw new StepRetryError('payment changed while claiming the reauthorisation');
        }
        current = claimed.record;
      }
      const newPaymentId = await deps.reauthorize(current);
      await annotate(
        current,
        (data) => {
          consume(data);
          delete data.facts.reauthorizing;
          data.facts.reauthorizedAs = newPaymentId;
        },
        { name: 'payment.reauthorized', data: { newPaymentId, captureLimitAt: limitAt } },
      );
    } else {
      await alerts.raise(deps.shardOf(record.id), {
        kind: 'capture_limit_reached',
        paymentId: record.id,
        message: `capture limit ${limitAt} reached with ${remainder} minor units uncaptured and no policy: capture or cancel now`,
      });
      await annotate(record, consume, {
        name: 'payment.authorisation_limit_reached',
        data: { captureLimitAt: limitAt, uncaptured: remainder },
      });
    }
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

  return { run };
}

export type PaymentTimers = ReturnType<typeof createPaymentTimers>;
