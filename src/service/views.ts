/**
 * What callers see of a payment: the record read back and shaped for the API
 * (amounts, masked card, facts, timeline as ISO times).
 */
import type { CaptureMode, PaymentKind, PaymentStatus } from '../../machines/contract.ts';
import { FINAL_STATUSES } from '../../machines/contract.ts';
import { isChallenged } from '../../machines/index.ts';
import { reauthorizationFacts } from '../../machines/capture-limit.ts';
import { engineDataOf, reauthorizationOf } from '../engine/engine.ts';
import type { EngineData, Redirection } from '../engine/engine-data.ts';
import { CommandError } from '../engine/errors.ts';
import { merchantIdOf, type PaymentRecord } from '../payments/store.ts';
import type { ServiceContext } from './context.ts';
import { operationViews, type OperationView } from './operations-views.ts';

export interface PaymentView {
  id: string;
  status: PaymentStatus;
  final: boolean;
  kind: PaymentKind;
  /** Our id of the shop (MERCHANTS_FILE); `default` with the single-shop settings. */
  merchant: string;
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  amounts: { authorized: number; captured: number; cancelled: number; refunded: number };
  transactionReference: string;
  maskedPan?: string;
  authorisationId?: string;
  /** Where the customer must be sent to authenticate, while the payment waits for it. */
  redirection?: Redirection;
  /** The merchant's page the customer returns to after authentication. */
  returnUrl?: string;
  /** Present (true) while an authorisation is held for a fraud check: accept or refuse it. */
  challenged?: true;
  facts: Record<string, string>;
  version: number;
  createdAt: string;
  updatedAt: string;
  timeline: { at: string; kind: string; detail?: Record<string, unknown> }[];
  /** The captures, cancellations and refunds asked for, oldest first. */
  operations: OperationView[];
}

/** The record fields every view of a payment is built from. */
type CoreKey =
  | 'id'
  | 'status'
  | 'kind'
  | 'merchant'
  | 'amount'
  | 'currency'
  | 'captureMode'
  | 'amounts'
  | 'transactionReference'
  | 'createdAt'
  | 'updatedAt';

export type CoreFields = Pick<PaymentView, CoreKey | 'final'>;

/** What a payment shows wherever it is shown, listings included. */
export function coreFieldsOf(record: Pick<PaymentRecord, CoreKey>): CoreFields {
  return {
    id: record.id,
    status: record.status,
    final: FINAL_STATUSES.has(record.status),
    kind: record.kind,
    merchant: merchantIdOf(record.merchant),
    amount: record.amount,
    currency: record.currency,
    captureMode: record.captureMode,
    amounts: { ...record.amounts },
    transactionReference: record.transactionReference,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
}

export function toView(
  record: PaymentRecord,
  data: EngineData = engineDataOf(record),
): PaymentView {
  const view: PaymentView = {
    ...coreFieldsOf(record),
    // The reauthorisation is the machine's; shown in the facts' words as ever.
    facts: { ...data.facts, ...reauthorizationFacts(reauthorizationOf(record, data)) },
    version: record.version,
    timeline: record.timeline.map((entry) => ({
      at: new Date(entry.at).toISOString(),
      kind: entry.kind,
      ...(entry.detail ? { detail: entry.detail } : {}),
    })),
    operations: operationViews(record),
  };
  const maskedPan = record.maskedPan ?? data.facts.maskedPan;
  if (maskedPan) view.maskedPan = maskedPan;
  if (data.facts.authorisationId) view.authorisationId = data.facts.authorisationId;
  if (data.redirection && record.status === 'awaiting_authentication') {
    view.redirection = data.redirection;
  }
  if (data.request.returnUrl) view.returnUrl = data.request.returnUrl;
  if (record.status === 'authorized' && isChallenged(record.snapshot)) view.challenged = true;
  return view;
}

/** A payment by id; `payment_not_found` for an id that is not ours or no payment. */
export async function loadPayment(
  ctx: Pick<ServiceContext, 'keyspace' | 'store'>,
  id: string,
  timeline = false,
): Promise<PaymentRecord> {
  if (!ctx.keyspace.isPaymentId(id)) {
    throw new CommandError('payment_not_found', `no payment ${id}`);
  }
  const record = await ctx.store.get(id, { timeline });
  if (!record) throw new CommandError('payment_not_found', `no payment ${id}`);
  return record;
}

export async function viewPayment(
  ctx: Pick<ServiceContext, 'keyspace' | 'store'>,
  id: string,
): Promise<PaymentView> {
  return toView(await loadPayment(ctx, id, true));
}
