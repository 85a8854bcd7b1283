/**
 * The daily reconciliation: for the payments created on one UTC day, our
 * authorised, captured, cancelled and refunded amounts against what Sips
 * holds for the same transactions (getTransactionData, a bounded number in
 * flight), totals per currency and every difference listed. It only reads:
 * nothing is adopted or changed (the janitor and manual review do that).
 */
import type { Amounts, CaptureMode, GatewayView } from '../../machines/contract.ts';
import { invalidField } from './parse.ts';
import type { PaymentListing } from '../payments/search.ts';
import { merchantIdOf, type PaymentRecord } from '../payments/store.ts';
import type { SipsClient } from '../sips/client.ts';
import { inquiryAnswer } from '../sips/translate.ts';
import type { PaymentSearch } from './payment-search.ts';
import type { MerchantScope } from './scope.ts';

const DAY_MS = 86_400_000;
const AMOUNT_FIELDS = ['authorized', 'captured', 'cancelled', 'refunded'] as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface ReconciliationTotals {
  currency: string;
  payments: number;
  ours: Amounts;
  /** Over the payments Sips answered about. */
  sips: Amounts;
}

export interface ReconciliationMismatch {
  paymentId: string;
  merchant: string;
  currency: string;
  field: (typeof AMOUNT_FIELDS)[number];
  ours: number;
  sips: number;
}

export interface ReconciliationReport {
  /** The UTC day, YYYY-MM-DD. */
  date: string;
  generatedAt: string;
  /** Payments created that day. */
  payments: number;
  /** Of them, those Sips answered about (a transaction unknown to Sips counts: nothing moved). */
  compared: number;
  totals: ReconciliationTotals[];
  mismatches: ReconciliationMismatch[];
  /** Payments Sips gave no usable answer about: compare them again later. */
  unavailable: { paymentId: string; detail: string }[];
}

export interface ReconciliationDeps {
  search: PaymentSearch;
  /** The Sips client of a payment's shop; throws when the shop is not served any more. */
  clientOf(record: PaymentRecord): SipsClient;
  clock: { now(): number };
  /** getTransactionData calls in flight at most. @defaultValue 8 */
  concurrency?: number;
}

const zero = (): Amounts => ({ authorized: 0, captured: 0, cancelled: 0, refunded: 0 });

/** `YYYY-MM-DD` as the UTC day's first millisecond; `invalid_command` naming `date` otherwise. */
function parseDay(date: unknown): number {
  const start = typeof date === 'string' && DATE.test(date) ? Date.parse(`${date}T00:00:00Z`) : NaN;
  if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== date) {
    throw invalidField('date', 'must be a day, YYYY-MM-DD (UTC)');
  }
  return start;
}

/** The amounts Sips' view of a transaction stands for, in our words. */
function sipsAmounts(view: GatewayView, captureMode: CaptureMode): Amounts {
  const original = view.originalAmount;
  const remaining = view.remainingAmount;
  switch (view.state) {
    case 'awaiting_authorization':
    case 'refused':
    case 'expired':
      return zero();
    case 'cancelled':
      return { authorized: original, captured: 0, cancelled: original, refunded: 0 };
    case 'challenge':
      return { authorized: original, captured: 0, cancelled: original - remaining, refunded: 0 };
    case 'authorized': {
      const validated = captureMode === 'validation' && view.awaitingValidation === false;
      return {
        authorized: original,
        captured: validated ? remaining : 0,
        cancelled: original - remaining,
        refunded: 0,
      };
    }
    case 'captured':
    case 'refunded': {
      const refunded = view.refundedAmount ?? 0;
      const captured = remaining + refunded;
      return { authorized: original, captured, cancelled: original - captured, refunded };
    }
  }
}

type Comparison = { sips: Amounts } | { unavailable: string };

async function compareOne(deps: ReconciliationDeps, listing: PaymentListing): Promise<Comparison> {
  let client: SipsClient;
  try {
    client = deps.clientOf({ merchant: listing.merchant } as PaymentRecord);
  } catch (error) {
    return { unavailable: (error as Error).message };
  }
  try {
    const result = await client.getTransactionData({
      transactionReference: listing.transactionReference,
    });
    const answer = inquiryAnswer(result, listing.captureMode);
    if (answer.found === true) return { sips: sipsAmounts(answer.view, listing.captureMode) };
    if (answer.found === false) return { sips: zero() };
    return {
      unavailable:
        answer.found === 'unclear' ? answer.detail : `credentials refused (${answer.responseCode})`,
    };
  } catch (error) {
    return { unavailable: (error as Error).message };
  }
}

/** Runs `work` on every item with at most `limit` in flight; results in item order. */
async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>) {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function add(into: Amounts, amounts: Amounts): void {
  for (const field of AMOUNT_FIELDS) into[field] += amounts[field];
}

export interface Reconciliation {
  /** The report of a UTC day (`YYYY-MM-DD`) over the payments the scope may see. */
  report(date: unknown, scope: MerchantScope): Promise<ReconciliationReport>;
}

export function createReconciliation(deps: ReconciliationDeps): Reconciliation {
  const concurrency = deps.concurrency ?? 8;
  return {
    async report(date, scope) {
      const start = parseDay(date);
      const report: ReconciliationReport = {
        date: date as string,
        generatedAt: new Date(deps.clock.now()).toISOString(),
        payments: 0,
        compared: 0,
        totals: [],
        mismatches: [],
        unavailable: [],
      };
      const totals = new Map<string, ReconciliationTotals>();
      const filters = { limit: 1, createdFrom: start, createdTo: start + DAY_MS };
      for await (const batch of deps.search.all(filters, scope, 200)) {
        const results = await pooled(batch, concurrency, (listing) => compareOne(deps, listing));
        for (const [index, listing] of batch.entries()) {
          const result = results[index] as Comparison;
          const merchant = merchantIdOf(listing.merchant);
          let total = totals.get(listing.currency);
          if (!total) {
            total = { currency: listing.currency, payments: 0, ours: zero(), sips: zero() };
            totals.set(listing.currency, total);
          }
          report.payments++;
          total.payments++;
          add(total.ours, listing.amounts);
          if ('unavailable' in result) {
            report.unavailable.push({ paymentId: listing.id, detail: result.unavailable });
            continue;
          }
          report.compared++;
          add(total.sips, result.sips);
          for (const field of AMOUNT_FIELDS) {
            if (listing.amounts[field] !== result.sips[field]) {
              report.mismatches.push({
                paymentId: listing.id,
                merchant,
                currency: listing.currency,
                field,
                ours: listing.amounts[field],
                sips: result.sips[field],
              });
            }
          }
        }
      }
      report.totals = [...totals.values()].sort((a, b) => a.currency.localeCompare(b.currency));
      return report;
    },
  };
}
