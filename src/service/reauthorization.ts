/**
 * The capture-limit policy `reauthorize`: a new authorisation of what is
 * still uncaptured, from the same card (a duplicate), made once per payment:
 * under the id the claim recorded (found again however late a retry comes)
 * and an idempotency key (the same request within its window).
 */
import { uncapturedRemainder } from '../../machines/model.ts';
import { engineDataOf } from '../engine/engine.ts';
import type { PaymentRecord } from '../payments/store.ts';
import type { Reauthorization } from '../schedules/payment-timers.ts';
import { reauthorizationGeneration } from '../schedules/payment-timers.ts';
import type { ServiceContext } from './context.ts';
import { createPayment } from './payment-create.ts';

const reauthorizationKey = (replacedId: string): string => `reauthorize:${replacedId}`;

export function createReauthorization(ctx: ServiceContext): Reauthorization {
  return {
    newPaymentId: (replacedId) =>
      ctx.keyspace.newPaymentId(ctx.ids, reauthorizationKey(replacedId)),
    make: (record, newPaymentId) => reauthorize(ctx, record, newPaymentId),
  };
}

async function reauthorize(
  ctx: ServiceContext,
  record: PaymentRecord,
  newPaymentId?: string,
): Promise<string> {
  const data = engineDataOf(record);
  const result = await createPayment(
    ctx,
    'duplicate',
    {
      amount: uncapturedRemainder(record.amounts),
      currency: record.currency,
      captureMode: record.captureMode,
      merchant: record.merchant,
      request: {
        captureDay: data.request.captureDay,
        fromTransactionReference: record.transactionReference,
        fromPaymentId: record.id,
        // Its settling releases the old authorisation or unblocks it.
        link: {
          type: 'reauthorization',
          id: record.id,
          generation: reauthorizationGeneration(data) + 1,
          ...(data.facts.captureLimitAt ? { replacedLimitAt: data.facts.captureLimitAt } : {}),
        },
        ...(data.request.capture?.atLimit
          ? { capture: { atLimit: data.request.capture.atLimit } }
          : {}),
      },
    },
    { reauthorizes: record.id },
    { idempotencyKey: reauthorizationKey(record.id) },
    newPaymentId,
  );
  return result.payment.id;
}
