/**
 * The instalment plan record and the pure rules over it: the instalments of a
 * new plan, the payment idempotency key, job id and payment of an
 * instalment, and how a plan changes when it is cancelled, when an instalment falls due and when
 * an instalment's payment settles. Nothing here reads or writes Redis.
 */
import type { CaptureMode, PaymentStatus } from '../../machines/contract.ts';
import { DAY_MS, sipsDate } from '../engine/capture-limit.ts';
import type { ScheduleLink } from '../engine/engine-data.ts';
import { CommandError } from '../engine/errors.ts';
import { splitAmount, type CreateInstalmentPlanCommand } from './commands.ts';
import type { EventSpec, VersionedRecord } from './records.ts';
import type { ScheduledPaymentInput } from './scheduled-payments.ts';

export interface Instalment {
  index: number;
  amount: number;
  /** YYYYMMDD, as sent in datesList. */
  date: string;
  dueAt: number;
  paymentId: string;
  transactionReference: string;
  status: 'scheduled' | 'processing' | 'paid' | 'declined' | 'in_review' | 'cancelled';
}

export interface InstalmentPlan extends VersionedRecord {
  status: 'active' | 'completed' | 'failed' | 'cancelled';
  method: 'card' | 'card_3ds';
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  intervalDays: number;
  merchant: {
    /** Our id of the shop (MERCHANTS_FILE); absent: `default`. */
    id?: string;
    orderId?: string;
    customerId?: string;
    customerEmail?: string;
    metadata?: Record<string, string>;
  };
  instalments: Instalment[];
  chain?: { transactionReference: string; schemeTransactionIdentifier?: string };
  reason?: string;
}

export type InstalmentLink = Extract<ScheduleLink, { type: 'instalments' }>;

/** A plan as it is to be stored, with the events that tell why. */
export interface PlanChange {
  record: InstalmentPlan;
  events: EventSpec[];
}

const PAID: ReadonlySet<PaymentStatus> = new Set(['authorized', 'captured']);
const DECLINED: ReadonlySet<PaymentStatus> = new Set(['refused', 'failed', 'expired', 'cancelled']);

/** The idempotency key of an instalment's payment. */
export function paymentKeyOf(planId: string, index: number): string {
  return `instalments:${planId}:i${index}`;
}

export function jobIdOf(planId: string, index: number): string {
  return `instalments-${planId}-i${index}`;
}

/** The plan with `instalment` in place of the one of its index. */
export function withInstalment(plan: InstalmentPlan, instalment: Instalment): InstalmentPlan {
  return {
    ...plan,
    instalments: plan.instalments.map((entry) =>
      entry.index === instalment.index ? instalment : entry,
    ),
  };
}

/** Instalments not yet due are never taken. */
export function cancelScheduled(instalments: Instalment[]): Instalment[] {
  return instalments.map((entry) =>
    entry.status === 'scheduled' ? { ...entry, status: 'cancelled' } : entry,
  );
}

function settledAll(instalments: Instalment[]): boolean {
  return instalments.every(
    (entry) => entry.status !== 'scheduled' && entry.status !== 'processing',
  );
}

/**
 * The amounts of a new plan and its instalments, the first being made now.
 * `paymentIdOf` and `referenceOf` are asked in instalment order.
 */
export function newInstalments(
  command: CreateInstalmentPlanCommand,
  planId: string,
  now: number,
  dayMs: number,
  paymentIdOf: (idempotencyKey: string) => string,
  referenceOf: (paymentId: string) => string,
): { amounts: number[]; instalments: Instalment[] } {
  const amounts = command.amounts ?? splitAmount(command.amount, command.count as number);
  const instalments: Instalment[] = amounts.map((amount, index) => {
    const dueAt = now + index * command.intervalDays * dayMs;
    const paymentId = paymentIdOf(paymentKeyOf(planId, index));
    return {
      index,
      amount,
      // Calendar days for Sips, whatever `dayMs` says about when jobs run.
      date: sipsDate(now + index * command.intervalDays * DAY_MS),
      dueAt,
      paymentId,
      transactionReference: referenceOf(paymentId),
      status: index === 0 ? 'processing' : 'scheduled',
    };
  });
  return { amounts, instalments };
}

export type InstalmentCard = { pan: string; expiry: string; csc?: string };

/**
 * The payment of an instalment: the first is sent with the whole plan in
 * `instalmentData`, each later one is a duplicate of the first, chained to
 * its schemeTransactionIdentifier.
 */
export function instalmentPaymentInput(
  plan: InstalmentPlan,
  instalment: Instalment,
  card?: InstalmentCard,
): ScheduledPaymentInput {
  const link: ScheduleLink = { type: 'instalments', id: plan.id, index: instalment.index };
  const first = instalment.index === 0;
  if (!first && !plan.chain) {
    throw new Error(`plan ${plan.id} has no first instalment to chain to`);
  }
  const firstInstalment = plan.instalments[0] as Instalment;
  return {
    id: instalment.paymentId,
    idempotencyKey: paymentKeyOf(plan.id, instalment.index),
    kind: first ? plan.method : 'duplicate',
    amount: instalment.amount,
    currency: plan.currency,
    captureMode: plan.captureMode,
    captureDay: 0,
    merchant: { ...plan.merchant },
    ...(card ? { card } : {}),
    request: {
      link,
      paymentPattern: 'INSTALMENT',
      ...(first
        ? {
            instalmentData: {
              number: plan.instalments.length,
              datesList: plan.instalments.map((entry) => entry.date),
              amountsList: plan.instalments.map((entry) => entry.amount),
              transactionReferencesList: plan.instalments.map(
                (entry) => entry.transactionReference,
              ),
            },
          }
        : {
            fromTransactionReference: firstInstalment.transactionReference,
            fromPaymentId: firstInstalment.paymentId,
            ...(plan.chain?.schemeTransactionIdentifier
              ? { initialSchemeTransactionIdentifier: plan.chain.schemeTransactionIdentifier }
              : {}),
          }),
    },
  };
}

/** A plan whose first payment could not be made: it fails and nothing is taken. */
export function failureOfFirst(current: InstalmentPlan, reason: string): PlanChange {
  return {
    record: {
      ...current,
      status: 'failed',
      reason,
      instalments: current.instalments.map((entry) => ({ ...entry, status: 'cancelled' })),
    },
    events: [{ type: 'failed', data: { reason } }],
  };
}

/** Cancelled by the merchant; nothing to change when it is cancelled already, not allowed once it ended. */
export function cancellationOf(plan: InstalmentPlan): PlanChange | undefined {
  if (plan.status === 'cancelled') return undefined;
  if (plan.status !== 'active') {
    throw new CommandError('command_not_allowed', `cannot cancel a plan that is ${plan.status}`);
  }
  return {
    record: {
      ...plan,
      status: 'cancelled' as const,
      reason: 'cancelled by the merchant',
      instalments: cancelScheduled(plan.instalments),
    },
    events: [{ type: 'cancelled' }],
  };
}

/** Instalment `index` falls due: it is being paid, unless the plan moved on. */
export function dueChange(current: InstalmentPlan, index: number): PlanChange | undefined {
  const entry = current.instalments[index];
  // Fired again: the payment is made already (or being made).
  if (current.status !== 'active' || !entry || entry.status !== 'scheduled') return undefined;
  const next: Instalment = { ...entry, status: 'processing' };
  return {
    record: withInstalment(current, next),
    events: [
      {
        type: 'instalment_due',
        data: { index, amount: entry.amount, paymentId: entry.paymentId },
      },
    ],
  };
}

/** What a settled payment status makes of its instalment; undefined while it is undecided. */
function outcomeOf(
  status: PaymentStatus,
): { status: 'paid' | 'in_review' | 'declined'; event: string } | undefined {
  if (PAID.has(status)) return { status: 'paid', event: 'instalment_paid' };
  if (status === 'in_review') return { status: 'in_review', event: 'instalment_in_review' };
  if (DECLINED.has(status)) return { status: 'declined', event: 'instalment_declined' };
  return undefined;
}

/**
 * The payment of instalment `link.index` settled in `status`: the instalment
 * is decided, and with it perhaps the plan (failed without its first
 * instalment, completed or failed once every instalment is decided).
 */
export function settlementChange(
  current: InstalmentPlan,
  link: InstalmentLink,
  paymentId: string,
  status: PaymentStatus,
  facts: Record<string, string>,
): PlanChange | undefined {
  const entry = current.instalments[link.index];
  if (!entry || entry.paymentId !== paymentId) return undefined;
  // Decided once; a payment in review may still settle later.
  if (entry.status !== 'processing' && entry.status !== 'in_review') return undefined;
  const outcome = outcomeOf(status);
  if (!outcome) return undefined;
  const data = { index: link.index, paymentId, amount: entry.amount, status };
  const events: EventSpec[] = [{ type: outcome.event, data }];
  let record: InstalmentPlan = { ...current };
  if (outcome.status === 'paid' && link.index === 0) {
    record.chain = {
      transactionReference: entry.transactionReference,
      ...(facts.schemeTransactionIdentifier
        ? { schemeTransactionIdentifier: facts.schemeTransactionIdentifier }
        : {}),
    };
  }
  record = withInstalment(record, { ...entry, status: outcome.status });
  if (link.index === 0 && outcome.status === 'declined') {
    // Without the first instalment there is no plan: the rest is never taken.
    record = {
      ...record,
      status: 'failed',
      reason: `the first instalment was ${status}`,
      instalments: cancelScheduled(record.instalments),
    };
    events.push({ type: 'failed', data: { reason: record.reason } });
  } else if (record.status === 'active' && settledAll(record.instalments)) {
    const complete = record.instalments.every((item) => item.status === 'paid');
    record = complete
      ? { ...record, status: 'completed' }
      : { ...record, status: 'failed', reason: 'an instalment was not paid' };
    events.push({ type: complete ? 'completed' : 'failed' });
  }
  return { record, events };
}
