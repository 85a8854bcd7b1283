/**
 * The abandon job: a customer sent to an ACS or a provider who does not come
 * back in time leaves the payment waiting; the job expires it.
 */
import { pendingFollowUp, type EngineContext } from './context.ts';
import { StepRetryError } from './contract.ts';
import type { AbandonJob } from './jobs.ts';
import { apply } from './step.ts';

/** The customer did not come back in time: the payment expires if it is still waiting. */
export async function runAbandon(
  engine: EngineContext,
  job: AbandonJob,
  context: { jobId: string },
): Promise<void> {
  const record = await engine.deps.store.get(job.paymentId, { timeline: false });
  if (!record || record.status !== 'awaiting_authentication') return;
  if (!pendingFollowUp(engine, record, context.jobId)) return;
  const applied = await apply(
    engine,
    record,
    { type: 'customer.abandoned' },
    { timeline: [{ at: engine.deps.clock.now(), kind: 'authentication.abandoned' }] },
  );
  if (!applied.ok && applied.reason === 'version_conflict') {
    throw new StepRetryError('payment changed while expiring an abandoned authentication');
  }
}
