/**
 * Creating a payment: the record, its first step's follow-ups and its
 * `payment.received` event written in one create script with the idempotency
 * record, then the first step's job enqueued.
 */
import type { CaptureMode, PaymentKind } from '../../machines/contract.ts';
import { MACHINE_VERSION, startPayment } from '../../machines/index.ts';
import { engineDataOf } from '../engine/engine.ts';
import { emptyEngineData, type EngineData } from '../engine/engine-data.ts';
import { PaymentsError } from '../payments/errors.ts';
import { buildEvent } from '../payments/events.ts';
import { merchantIdOf, type NewPayment, type PaymentRecord } from '../payments/store.ts';
import { maskPan } from '../sips/mask.ts';
import { addToLogContext } from '../platform/log-context.ts';
import type { CommandOptions, ServiceContext } from './context.ts';
import { createConflict, whileHoldingKey } from './idempotency.ts';
import { loadPayment, toView, type PaymentView } from './views.ts';

export interface NewPaymentFields {
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  card?: { pan: string; expiry: string; csc?: string };
  merchant: PaymentRecord['merchant'];
  request: EngineData['request'];
}

export interface CreatedPayment {
  created: boolean;
  payment: PaymentView;
}

/** Letters and digits only, at most 35: what Sips accepts as transactionReference. */
export function transactionReferenceFor(paymentId: string): string {
  return paymentId.replace(/[^A-Za-z0-9]/g, '').slice(0, 35);
}

/**
 * Creates a payment once per idempotency key. `requestForHash` is what tells
 * a replay from another request under the same key; `presetId` an id its
 * caller recorded before (a schedule, a reauthorisation).
 */
export function createPayment(
  ctx: ServiceContext,
  kind: PaymentKind,
  fields: NewPaymentFields,
  requestForHash: unknown,
  options: CommandOptions,
  presetId?: string,
): Promise<CreatedPayment> {
  return whileHoldingKey(ctx, options.idempotencyKey, () =>
    createPaymentOnce(ctx, kind, fields, requestForHash, options, presetId),
  );
}

function newRecord(ctx: ServiceContext, id: string, kind: PaymentKind, fields: NewPaymentFields) {
  const start = startPayment({
    kind,
    amount: fields.amount,
    currency: fields.currency,
    captureMode: fields.captureMode,
  });
  const data = emptyEngineData(fields.request);
  data.followUps = ctx.engine.followUpsOf(id, 1, start.effects);
  data.followUpsVersion = 1;
  const transactionReference = transactionReferenceFor(id);
  const events = start.effects.flatMap((effect) =>
    effect.type === 'emit'
      ? [
          buildEvent(
            {
              type: effect.name,
              paymentId: id,
              sequence: 1,
              merchant: merchantIdOf(fields.merchant),
              data: {
                ...effect.data,
                paymentId: id,
                kind,
                amount: fields.amount,
                currency: fields.currency,
                transactionReference,
              },
            },
            ctx.events,
          ),
        ]
      : [],
  );
  const payment = {
    id,
    machineVersion: MACHINE_VERSION,
    kind,
    status: start.status,
    amount: fields.amount,
    currency: fields.currency,
    captureMode: fields.captureMode,
    amounts: start.amounts,
    snapshot: start.snapshot,
    transactionReference,
    merchant: fields.merchant,
    engine: JSON.stringify(data),
    timeline: [
      {
        at: ctx.clock.now(),
        kind: 'created',
        detail: { kind, amount: fields.amount, currency: fields.currency },
      },
    ],
    ...(fields.card
      ? { card: ctx.vault.seal(id, fields.card), maskedPan: maskPan(fields.card.pan) }
      : {}),
  } satisfies NewPayment;
  return { payment, data, events };
}

async function createPaymentOnce(
  ctx: ServiceContext,
  kind: PaymentKind,
  fields: NewPaymentFields,
  requestForHash: unknown,
  options: CommandOptions,
  presetId?: string,
): Promise<CreatedPayment> {
  const id = presetId ?? ctx.keyspace.newPaymentId(ctx.ids, options.idempotencyKey);
  const { payment, data, events } = newRecord(ctx, id, kind, fields);
  const result = await ctx.store
    .create(payment, {
      events,
      ...(options.idempotencyKey !== undefined
        ? {
            idempotencyKey: options.idempotencyKey,
            requestHash: ctx.hashRequest(requestForHash),
          }
        : {}),
    })
    .catch((error: unknown) => {
      // A preset id was recorded by its caller before this create (a
      // schedule, a reauthorisation): a payment already there under it is
      // that caller's, made by an earlier try whose idempotency record has
      // since expired. It is the same payment, never a second one.
      if (
        presetId !== undefined &&
        error instanceof PaymentsError &&
        error.code === 'payment_id_taken'
      ) {
        return { created: false, conflict: false, id: presetId } as const;
      }
      throw error;
    });
  if (result.conflict) throw createConflict();
  // The view is the payment as stored when the first step was
  // (re-)enqueued: a new one is what the create script just wrote (nothing
  // else writes a payment before its first step job exists); a replay is
  // read back.
  const record: PaymentRecord = result.created
    ? {
        ...payment,
        shard: ctx.keyspace.shardOf(id),
        version: 1,
        createdAt: result.createdAt,
        updatedAt: result.createdAt,
      }
    : await loadPayment(ctx, result.id, true);
  if (!result.created && presetId !== undefined && !madeFor(record, kind, fields)) {
    // Only with an id generator that repeats itself (random ids do not):
    // never take another payment for this one.
    throw new PaymentsError('payment_id_taken', `payment id ${presetId} is already used`);
  }
  // A replay also re-enqueues the first step, in case the first request
  // died between storing the payment and enqueueing its job.
  // A new record's engine data is `data`, as written.
  const written = result.created ? data : engineDataOf(record);
  const merchant = merchantIdOf(record.merchant);
  addToLogContext({ paymentId: record.id, merchant });
  await ctx.engine.dispatch(record, written);
  const line = { paymentId: record.id, merchant, kind, status: record.status };
  if (result.created) ctx.logger.info(line, 'payment created');
  else ctx.logger.debug(line, 'payment create replayed');
  return { created: result.created, payment: toView(record, written) };
}

/** Whether a payment found under a preset id is the one these fields describe. */
function madeFor(
  record: PaymentRecord,
  kind: PaymentKind,
  fields: { amount: number; request: EngineData['request'] },
): boolean {
  const link = engineDataOf(record).request.link;
  const wanted = fields.request.link;
  return (
    record.kind === kind &&
    record.amount === fields.amount &&
    link?.type === wanted?.type &&
    link?.id === wanted?.id
  );
}
