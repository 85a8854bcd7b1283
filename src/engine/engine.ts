/**
 * The step protocol (architecture §5): load -> transition -> persist -> act.
 *
 * A worker that runs a call job:
 * 1. loads the payment; a job that no longer matches the payment's pending
 *    follow-ups belongs to a step that already happened: it re-enqueues the
 *    current follow-ups (same job ids, so nothing doubles) and stops;
 * 2. writes the intent (compare-and-set on version) before sending anything;
 * 3. sends the sealed call; the client verifies the response seal;
 * 4. turns the result into a machine event and, in one atomic write, stores
 *    the new snapshot, clears the intent, appends the domain events and
 *    records the follow-ups;
 * 5. enqueues the follow-ups with deterministic ids.
 *
 * A job that finds its own intent without an outcome was interrupted between
 * 2 and 4: the call may have reached Sips. It never resends it; it feeds the
 * machine an unknown outcome, which asks for an inquiry (getTransactionData).
 *
 * The parts: contract.ts (what the engine needs and offers), context.ts (what
 * its functions share), step.ts (the atomic commit of one transition),
 * follow-ups.ts (the jobs a step asks for), call-step.ts (a call job),
 * call-input.ts (engine data to a Sips request, a result back to engine
 * data), inquiry.ts (getTransactionData after an unknown outcome) and
 * abandon.ts (a customer who never came back). This module binds them to
 * one context and is the public surface.
 */
import { runAbandon } from './abandon.ts';
import { runCall } from './call-step.ts';
import { createEngineContext } from './context.ts';
import type { EngineDeps, PaymentEngine } from './contract.ts';
import { dispatch, followUpsOf } from './follow-ups.ts';
import { inquireNow, runInquiry } from './inquiry.ts';
import { annotate, apply } from './step.ts';

export {
  StepRetryError,
  type Annotation,
  type ApplyOptions,
  type AlertSink,
  type ApplyResult,
  type CaptureLimitOptions,
  type EngineDeps,
  type InquireNowResult,
  type JobSink,
  type PaymentEngine,
} from './contract.ts';
export { DEFAULT_MERCHANT_ID, engineDataOf, type EngineContext } from './context.ts';
export { SETTLED_FOR_SCHEDULES } from './follow-ups.ts';
export { reauthorizationOf } from './reauthorization.ts';

/**
 * The engine over `deps`: the functions of the step protocol bound to one
 * shared context (dependencies, inquiry schedule, parsed engine data).
 */
export function createPaymentEngine(deps: EngineDeps): PaymentEngine {
  const engine = createEngineContext(deps);
  return {
    apply: (record, event, options) => apply(engine, record, event, options),
    annotate: (record, note) => annotate(engine, record, note),
    dispatch: (record, data) => dispatch(engine, record, data),
    runCall: (job, context) => runCall(engine, job, context),
    runInquiry: (job, context) => runInquiry(engine, job, context),
    runAbandon: (job, context) => runAbandon(engine, job, context),
    inquireNow: (record, reason) => inquireNow(engine, record, reason),
    followUpsOf: (paymentId, version, effects, inquiryAttempt) =>
      followUpsOf(engine, paymentId, version, effects, inquiryAttempt),
  };
}
