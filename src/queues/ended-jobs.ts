/**
 * Delayed jobs that end with the state that needed them: the abandon job of
 * a payment no longer waiting for its customer (3-D Secure or provider page
 * done), and the capture-limit timers of a payment no longer authorised
 * (captured, refunded, cancelled, refused...). The worker whose step ended
 * the state removes them after its write committed, so they no longer wait
 * in the queue nor show as scheduled. A timer that fires all the same (a
 * removal that failed, a job promoted meanwhile) still does nothing: the
 * abandon job acts only on a payment awaiting authentication, a timer only
 * on a plain authorisation (machines/capture-limit.ts).
 */
import type { Queue } from 'bullmq';
import { LIMIT_WAITS_IN } from '../../machines/capture-limit.ts';
import type { PaymentStatus } from '../../machines/contract.ts';
import { engineDataOf } from '../engine/engine.ts';
import type { PaymentRecord } from '../payments/store.ts';
import type { Logger } from '../platform/logger.ts';

/** Statuses in which the capture-limit timers may still act, at once or after a step. */
const TIMERS_LIVE_IN: ReadonlySet<PaymentStatus> = new Set<PaymentStatus>([
  'authorized',
  ...LIMIT_WAITS_IN,
]);

/**
 * The ids of the delayed jobs the step from `before` to `after` made useless:
 * only a step that leaves the state looks, so later steps neither parse the
 * engine data nor ask the queue about jobs already handled.
 */
function endedJobIds(before: PaymentRecord, after: PaymentRecord): string[] {
  const ids: string[] = [];
  if (before.status === 'awaiting_authentication' && after.status !== before.status) {
    for (const followUp of engineDataOf(before).followUps) {
      if (followUp.type === 'abandon') ids.push(followUp.jobId);
    }
  }
  if (TIMERS_LIVE_IN.has(before.status) && !TIMERS_LIVE_IN.has(after.status)) {
    for (const timer of Object.values(engineDataOf(after).timers ?? {})) {
      if (timer) ids.push(timer.jobId);
    }
  }
  return ids;
}

/**
 * Removes the jobs `endedJobIds` names that are still delayed. Never
 * throws: the step is stored whatever becomes of its clean-up.
 */
export async function removeEndedJobs(
  deps: { queueOf(paymentId: string): Queue; logger: Logger },
  before: PaymentRecord,
  after: PaymentRecord,
): Promise<void> {
  const ids = endedJobIds(before, after);
  if (ids.length === 0) return;
  const queue = deps.queueOf(after.id);
  for (const jobId of ids) {
    try {
      if ((await queue.getJobState(jobId)) === 'delayed') await queue.remove(jobId);
    } catch (error) {
      deps.logger.warn(
        { err: error, jobId, paymentId: after.id },
        'could not remove a delayed job that ended with its payment state; it will do nothing when it runs',
      );
    }
  }
}
