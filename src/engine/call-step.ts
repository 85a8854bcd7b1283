/**
 * The step of a call job (architecture §5): the intent is written before
 * anything is sent, then the sealed call goes out, and its result is
 * committed as the machine's next step. A job that finds its own intent
 * without an outcome was interrupted after the intent: the call may have
 * reached Sips, so it is never resent; the machine is told the outcome is
 * unknown and inquires.
 */
import type { PaymentEvent } from '../../machines/contract.ts';
import { MONEY_MOVING } from '../../machines/contract.ts';
import type { PaymentIntent, PaymentRecord, PaymentStore } from '../payments/store.ts';
import { eventForResult, requestFields } from '../sips/translate.ts';
import { absorbResult, callTimeline, operationInput } from './call-input.ts';
import {
  DEFAULT_MERCHANT_ID,
  pendingFollowUp,
  readEngineData,
  type EngineContext,
  sipsClientOf,
} from './context.ts';
import { addToLogContext } from '../platform/log-context.ts';
import { StepRetryError } from './contract.ts';
import { dispatch } from './follow-ups.ts';
import type { CallJob } from './jobs.ts';
import { clearToSend, markNotSent, type WrittenIntent } from './send-guard.ts';
import { apply } from './step.ts';

/** The payment as read for a call, and the version of the intent written with the read. */
type CallRead = NonNullable<Awaited<ReturnType<PaymentStore['readForCall']>>>;

/** Runs one call job: intent, sealed call, outcome. */
export async function runCall(
  engine: EngineContext,
  job: CallJob,
  context: { jobId: string; attemptsLeft: boolean },
): Promise<void> {
  const { store, clock, logger } = engine.deps;
  // The usual case in one script: the payment is still at the version that
  // recorded this job's call, with no intent, so the call's first intent
  // is written with the read.
  const claimedAt = clock.now();
  const read = await store.readForCall(job.paymentId, job.version, {
    op: job.operation,
    attempt: 1,
    at: claimedAt,
    jobId: context.jobId,
  });
  const record = read?.record;
  if (!read || !record) {
    logger.warn(
      { paymentId: job.paymentId, jobId: context.jobId },
      'call job for an unknown payment',
    );
    return;
  }
  addToLogContext({ merchant: record.merchant.id ?? DEFAULT_MERCHANT_ID });
  const intent = record.intent;
  const followUp = pendingFollowUp(engine, record, context.jobId);
  if (intent && intent.jobId === context.jobId && intent.answered !== 'not_processed') {
    await recoverInterrupted(engine, record, job);
    return;
  }
  if (!intent && !followUp) {
    if (read.intentVersion !== undefined) {
      // Not reached: the version that recorded this job lists its call. The
      // intent written stays; the next attempt treats the call as interrupted.
      throw new StepRetryError('an intent was written for a call the payment does not list');
    }
    // The step this job belongs to already happened: only make sure what
    // it asked for next exists.
    await dispatch(engine, record);
    return;
  }
  if (intent && intent.jobId !== context.jobId) {
    throw new StepRetryError(`another call (${intent.op}) is in flight for this payment`);
  }
  const amount = followUp && followUp.type === 'call' ? followUp.amount : intent?.amount;
  const nextIntent: PaymentIntent = {
    op: job.operation,
    attempt: (intent?.attempt ?? 0) + 1,
    at: read.intentVersion !== undefined ? claimedAt : clock.now(),
    transactionReference: record.transactionReference,
    jobId: context.jobId,
    ...(amount !== undefined ? { amount } : {}),
  };
  const written = {
    intent: nextIntent,
    intentVersion: await writeCallIntent(engine, read, nextIntent),
  };
  // REDIS_DURABILITY: the intent must survive before the call may go out.
  if (!(await clearToSend(engine, record, job.operation, written))) return;
  await sendAndCommit(engine, record, job, context, written);
}

/**
 * We wrote the intent and died before storing the outcome: the call may have
 * reached Sips. Resending a money-moving call could charge twice, so the
 * machine is told the outcome is unknown and inquires instead.
 */
async function recoverInterrupted(
  engine: EngineContext,
  record: PaymentRecord,
  job: CallJob,
): Promise<void> {
  const interrupted: PaymentEvent = {
    type: 'sips.unknown',
    operation: job.operation,
    reason: 'interrupted: the worker stopped before the answer was stored',
  };
  const applied = await apply(engine, record, interrupted, {
    timeline: [
      {
        at: engine.deps.clock.now(),
        kind: 'sips.interrupted',
        detail: { operation: job.operation, moneyMoving: MONEY_MOVING.has(job.operation) },
      },
    ],
  });
  if (!applied.ok && applied.reason === 'version_conflict') {
    throw new StepRetryError('payment changed while recovering an interrupted call');
  }
}

/** Stores `intent` unless the read already did; the payment's version after it. */
async function writeCallIntent(
  engine: EngineContext,
  read: CallRead,
  intent: PaymentIntent,
): Promise<number> {
  const { store } = engine.deps;
  const { record } = read;
  const intentWritten =
    read.intentVersion !== undefined && intent.amount === undefined
      ? // Written with the read, and it is this intent (no intent before: attempt 1).
        ({ ok: true, version: read.intentVersion } as const)
      : read.intentVersion !== undefined
        ? // Written with the read, without the amount of this call: complete it.
          await store.writeIntent(record.id, read.intentVersion, intent, {
            replacePending: true,
          })
        : await store.writeIntent(record.id, record.version, intent, {
            replacePending: record.intent !== undefined,
          });
  if (!intentWritten.ok) {
    throw new StepRetryError(`could not write the intent: ${intentWritten.reason}`);
  }
  return intentWritten.version;
}

/**
 * Sends the sealed call and commits its result as the machine's next step;
 * a 90/99 while attempts remain marks the intent answered and asks for a retry.
 */
async function sendAndCommit(
  engine: EngineContext,
  record: PaymentRecord,
  job: CallJob,
  context: { jobId: string; attemptsLeft: boolean },
  written: WrittenIntent,
): Promise<void> {
  const { logger } = engine.deps;
  const client = sipsClientOf(engine, record);
  const request = requestFields(
    operationInput(engine, record, job.operation, written.intent.amount),
  );
  const result = await client.call(request.service, request.fields);
  engine.deps.onCall?.(result);
  const event = eventForResult(job.operation, result, context.attemptsLeft);
  if (result.kind === 'retryable' && !context.attemptsLeft) {
    logger.warn(
      { paymentId: record.id, operation: job.operation, responseCode: result.responseCode },
      'Sips retries exhausted',
    );
  }
  const timeline = [callTimeline(engine, result, job.operation)];
  if (event === 'retry') {
    // Sips said it did not process the call (90/99): mark the intent
    // answered so the next attempt resends instead of inquiring.
    await markNotSent(engine, record, written, timeline);
    const code = result.kind === 'retryable' ? result.responseCode : undefined;
    throw new StepRetryError(`Sips answered ${code ?? 'a retryable code'}`, code);
  }
  // The engine data read for the call is handed over to the step, which
  // changes it: forgotten here so that nothing reads it as the record's.
  const engineData = readEngineData(engine, record);
  engine.parsedEngineData.delete(record);
  const applied = await apply(engine, { ...record, version: written.intentVersion }, event, {
    timeline,
    update: absorbResult(result, job.operation),
    engineData,
  });
  if (!applied.ok) {
    if (applied.reason === 'not_allowed') {
      logger.error(
        { paymentId: record.id, event: event.type, detail: applied.detail },
        'the machine refused the outcome of its own call',
      );
      return;
    }
    throw new StepRetryError(`could not store the outcome: ${applied.reason}`);
  }
}
