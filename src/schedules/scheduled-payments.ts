/**
 * What the schedules layer needs of the payments layer: create a payment with
 * an id fixed in advance and an idempotency key (so a schedule that fires
 * twice finds the same payment), and read one back.
 */
import type { CaptureMode, PaymentKind } from '../../machines/contract.ts';
import type { EngineData } from '../engine/engine-data.ts';
import type { MerchantRef, PaymentRecord } from '../payments/store.ts';

export interface ScheduledPaymentInput {
  /** From `newPaymentId(idempotencyKey)`. */
  id: string;
  idempotencyKey: string;
  kind: PaymentKind;
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  captureDay: number;
  merchant: MerchantRef;
  card?: { pan: string; expiry: string; csc?: string };
  request: Omit<EngineData['request'], 'captureDay'>;
}

export interface ScheduledPayments {
  /** A payment id on the shard of `idempotencyKey`, to record before the payment exists. */
  newPaymentId(idempotencyKey: string): string;
  /** Creates the payment, or finds the one made earlier with the same key. */
  create(input: ScheduledPaymentInput): Promise<{ created: boolean; paymentId: string }>;
  get(id: string): Promise<PaymentRecord | undefined>;
}
