/**
 * The last check between a written intent and the call (REDIS_DURABILITY,
 * src/payments/durability.ts). The intent is what stops a call from going
 * out twice; if Redis can lose it, something else must hold:
 *
 * - `replica`: the intent is on enough replicas before the call is sent;
 * - `verify`: Sips itself is read before every call it does not deduplicate,
 *   and the call is sent only if the transaction is where our record holds
 *   it. An authorisation needs no read: Sips refuses a second one with the
 *   same transactionReference (94).
 *
 * When the check cannot be made, the intent is marked not sent (nothing went
 * out) and the job retries later. When Sips already moved, the call is never
 * sent: the machine is told the outcome is unknown, and the inquiry that
 * follows adopts what our commands explain or puts the payment in review.
 */
import type { Operation, PaymentEvent } from '../../machines/contract.ts';
import { checkBeforeCall } from '../../machines/index.ts';
import type { PaymentIntent, PaymentRecord, TimelineEntry } from '../payments/store.ts';
import { inquiryAnswer } from '../sips/translate.ts';
import { sipsClientOf, type EngineContext } from './context.ts';
import { StepRetryError } from './contract.ts';
import { apply } from './step.ts';

/**
 * Calls Sips does not deduplicate, or whose repetition it is unclear to us
 * that it refuses: read before sending in `verify` mode.
 */
export const VERIFIED_BEFORE_SEND: ReadonlySet<Operation> = new Set<Operation>([
  'complete_authentication',
  'finalize_provider',
  'capture',
  'cancel',
  'refund',
  'accept_challenge',
  'refuse_challenge',
]);

export interface WrittenIntent {
  intent: PaymentIntent;
  intentVersion: number;
}

/** True when the call may go out now; false when it must not (the payment inquires instead). */
export async function clearToSend(
  engine: EngineContext,
  record: PaymentRecord,
  operation: Operation,
  written: WrittenIntent,
): Promise<boolean> {
  const durability = engine.deps.durability;
  if (durability?.mode === 'replica') {
    try {
      await durability.barrier.confirm(record.id);
    } catch (error) {
      await markNotSent(engine, record, written);
      throw new StepRetryError(
        `the intent is not held by enough replicas: ${(error as Error).message}`,
      );
    }
    return true;
  }
  if (durability?.mode !== 'verify' || !VERIFIED_BEFORE_SEND.has(operation)) return true;
  return verifyAtSips(engine, record, operation, written);
}

async function verifyAtSips(
  engine: EngineContext,
  record: PaymentRecord,
  operation: Operation,
  written: WrittenIntent,
): Promise<boolean> {
  const { clock, logger } = engine.deps;
  const client = sipsClientOf(engine, record);
  const result = await client.getTransactionData({
    transactionReference: record.transactionReference,
  });
  engine.deps.onCall?.(result);
  const answer = inquiryAnswer(result, record.captureMode);
  if (answer.found === 'unclear' || answer.found === 'credentials_refused') {
    await markNotSent(engine, record, written);
    const why =
      answer.found === 'unclear' ? answer.detail : `credentials refused (${answer.responseCode})`;
    throw new StepRetryError(`could not read the transaction before ${operation}: ${why}`);
  }
  const verdict = checkBeforeCall(record.snapshot, answer.found ? answer.view : null);
  if (verdict.send) return true;
  // Sips already moved: an earlier attempt, whose intent Redis may have lost,
  // could have been processed. Resending could move money twice.
  logger.warn(
    { paymentId: record.id, operation, reason: verdict.reason },
    'not sent: Sips does not show what the record expects',
  );
  const unknown: PaymentEvent = {
    type: 'sips.unknown',
    operation,
    reason: `not sent: ${verdict.reason}`,
  };
  const applied = await apply(engine, { ...record, version: written.intentVersion }, unknown, {
    timeline: [
      {
        at: clock.now(),
        kind: 'sips.verify_mismatch',
        detail: { operation, reason: verdict.reason },
      },
    ],
  });
  if (!applied.ok && applied.reason === 'version_conflict') {
    throw new StepRetryError('payment changed while verifying a call at Sips');
  }
  if (!applied.ok) {
    // Not sent either way; the janitor will inquire on the intent left behind.
    logger.error(
      { paymentId: record.id, operation, reason: applied.reason },
      'the machine refused the unknown outcome of a call held back by the Sips check',
    );
  }
  return false;
}

/**
 * Nothing went out (held back here, or Sips answered 90/99): the intent is
 * marked so that the next attempt sends instead of inquiring.
 */
export async function markNotSent(
  engine: EngineContext,
  record: PaymentRecord,
  written: WrittenIntent,
  timeline: readonly TimelineEntry[] = [],
): Promise<void> {
  const marked = await engine.deps.store.writeIntent(
    record.id,
    written.intentVersion,
    { ...written.intent, answered: 'not_processed' },
    { replacePending: true, timeline },
  );
  if (!marked.ok) {
    throw new StepRetryError(`could not record that the call was not sent: ${marked.reason}`);
  }
}
