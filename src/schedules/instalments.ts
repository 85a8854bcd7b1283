/**
 * Payment in instalments: a total split into N instalments (dates and
 * amounts that sum to the total exactly). The first instalment is a
 * customer-initiated payment sent with paymentPattern INSTALMENT and the
 * whole plan in `instalmentData` (number, datesList, amountsList,
 * transactionReferencesList); each later one is its own payment, made on its
 * date as a merchant-initiated duplicate of the first (chained to its
 * schemeTransactionIdentifier) under the transactionReference announced in
 * the plan. Every instalment is visible, with its own payment and events.
 */
import type { CaptureMode, PaymentStatus } from '../../machines/contract.ts';
import { DAY_MS, sipsDate } from '../engine/capture-limit.ts';
import type { ScheduleLink } from '../engine/engine-data.ts';
import { CommandError } from '../engine/errors.ts';
import type { Clock } from '../platform/clock.ts';
import { merchantOf, splitAmount, type CreateInstalmentPlanCommand } from './commands.ts';
import {
  updateWithRetry,
  type EventSpec,
  type RecordStore,
  type VersionedRecord,
} from './records.ts';
import type { ScheduleJob, ScheduleQueues } from './schedule-queues.ts';
import type { ScheduledPayments } from './scheduled-payments.ts';

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
    orderId?: string;
    customerId?: string;
    customerEmail?: string;
    metadata?: Record<string, string>;
  };
  instalments: Instalment[];
  chain?: { transactionReference: string; schemeTransactionIdentifier?: string };
  reason?: string;
}

export interface InstalmentPlansDeps {
  store: RecordStore<InstalmentPlan>;
  queues: ScheduleQueues;
  payments: ScheduledPayments & { referenceOf(paymentId: string): string };
  clock: Clock;
  /** Length of a day between instalments (shorter in tests). @defaultValue 24 h */
  dayMs?: number;
}

export interface InstalmentPlans {
  create(
    command: CreateInstalmentPlanCommand,
    card: { pan: string; expiry: string; csc?: string },
    /** The idempotency key and request hash: the same seed makes the same plan. */
    seed?: string,
  ): Promise<InstalmentPlan>;
  get(id: string): Promise<InstalmentPlan>;
  list(options?: { limit?: number }): Promise<InstalmentPlan[]>;
  cancel(id: string): Promise<InstalmentPlan>;
  runInstalment(job: Extract<ScheduleJob, { task: 'instalment' }>): Promise<void>;
  onPaymentSettled(
    link: Extract<ScheduleLink, { type: 'instalments' }>,
    paymentId: string,
    status: PaymentStatus,
    facts: Record<string, string>,
  ): Promise<void>;
}

const PAID: ReadonlySet<PaymentStatus> = new Set(['authorized', 'captured']);
const DECLINED: ReadonlySet<PaymentStatus> = new Set(['refused', 'failed', 'expired', 'cancelled']);

/** The plan with `instalment` in place of the one of its index. */
function withInstalment(plan: InstalmentPlan, instalment: Instalment): InstalmentPlan {
  return {
    ...plan,
    instalments: plan.instalments.map((entry) =>
      entry.index === instalment.index ? instalment : entry,
    ),
  };
}

/** Instalments not yet due are never taken. */
function cancelScheduled(instalments: Instalment[]): Instalment[] {
  return instalments.map((entry) =>
    entry.status === 'scheduled' ? { ...entry, status: 'cancelled' } : entry,
  );
}

function jobIdOf(planId: string, index: number): string {
  return `instalments-${planId}-i${index}`;
}

export function createInstalmentPlans(deps: InstalmentPlansDeps): InstalmentPlans {
  const { store, queues, payments, clock } = deps;
  const dayMs = deps.dayMs ?? DAY_MS;

  async function load(id: string): Promise<InstalmentPlan> {
    const plan = await store.get(id);
    if (!plan) throw new CommandError('plan_not_found', `no instalment plan ${id}`);
    return plan;
  }

  function keyOf(planId: string, index: number): string {
    return `instalments:${planId}:i${index}`;
  }

  async function makePayment(
    plan: InstalmentPlan,
    instalment: Instalment,
    card?: { pan: string; expiry: string; csc?: string },
  ) {
    const link: ScheduleLink = { type: 'instalments', id: plan.id, index: instalment.index };
    const first = instalment.index === 0;
    if (!first && !plan.chain) {
      throw new Error(`plan ${plan.id} has no first instalment to chain to`);
    }
    const firstInstalment = plan.instalments[0] as Instalment;
    return payments.create({
      id: instalment.paymentId,
      idempotencyKey: keyOf(plan.id, instalment.index),
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
    });
  }

  function settledAll(instalments: Instalment[]): boolean {
    return instalments.every(
      (entry) => entry.status !== 'scheduled' && entry.status !== 'processing',
    );
  }

  return {
    async create(command, card, seed) {
      const id = store.newId(seed);
      const now = clock.now();
      const amounts = command.amounts ?? splitAmount(command.amount, command.count as number);
      const instalments: Instalment[] = amounts.map((amount, index) => {
        const dueAt = now + index * command.intervalDays * dayMs;
        const paymentId = payments.newPaymentId(keyOf(id, index));
        return {
          index,
          amount,
          // Calendar days for Sips, whatever `dayMs` says about when jobs run.
          date: sipsDate(now + index * command.intervalDays * DAY_MS),
          dueAt,
          paymentId,
          transactionReference: payments.referenceOf(paymentId),
          status: index === 0 ? 'processing' : 'scheduled',
        };
      });
      const merchant = merchantOf(command);
      const plan = await store.create(
        {
          id,
          status: 'active',
          method: command.method,
          amount: command.amount,
          currency: command.currency,
          captureMode: command.captureMode,
          intervalDays: command.intervalDays,
          merchant,
          instalments,
        },
        [
          {
            type: 'created',
            data: { amount: command.amount, currency: command.currency, amounts },
          },
        ],
      );
      // Made again from the same seed, the stored plan is the one that counts.
      const first = plan.instalments[0] as Instalment;
      try {
        await makePayment(plan, first, card);
      } catch (error) {
        // Stored despite the error (enqueueing failed): the plan stands and the
        // janitor sends the first call. Without a payment, the plan fails.
        if (await payments.get(first.paymentId)) return plan;
        const reason = 'the first instalment could not be created';
        await updateWithRetry(
          store,
          id,
          (current): { record: InstalmentPlan; events: EventSpec[] } => ({
            record: {
              ...current,
              status: 'failed',
              reason,
              instalments: current.instalments.map((entry) => ({ ...entry, status: 'cancelled' })),
            },
            events: [{ type: 'failed', data: { reason } }],
          }),
        );
        throw error;
      }
      return plan;
    },

    get: load,

    list: (listOptions) => store.list(listOptions),

    async cancel(id) {
      const cancelled = await updateWithRetry(store, id, (plan) => {
        if (plan.status === 'cancelled') return undefined;
        if (plan.status !== 'active') {
          throw new CommandError(
            'command_not_allowed',
            `cannot cancel a plan that is ${plan.status}`,
          );
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
      });
      if (!cancelled) throw new CommandError('plan_not_found', `no instalment plan ${id}`);
      const shard = store.shardOf(id);
      for (const entry of cancelled.instalments) {
        if (entry.status === 'cancelled') await queues.remove(shard, jobIdOf(id, entry.index));
      }
      return cancelled;
    },

    async runInstalment(job) {
      const plan = await updateWithRetry(store, job.planId, (current) => {
        const entry = current.instalments[job.index];
        // Fired again: the payment is made already (or being made).
        if (current.status !== 'active' || !entry || entry.status !== 'scheduled') return undefined;
        const next: Instalment = { ...entry, status: 'processing' };
        return {
          record: withInstalment(current, next),
          events: [
            {
              type: 'instalment_due',
              data: { index: job.index, amount: entry.amount, paymentId: entry.paymentId },
            },
          ],
        };
      });
      // Only what was stored counts: a plan cancelled meanwhile takes nothing.
      const due = plan?.instalments[job.index];
      if (!plan || plan.status !== 'active' || due?.status !== 'processing') return;
      await makePayment(plan, due);
    },

    async onPaymentSettled(link, paymentId, status, facts) {
      const plan = await updateWithRetry(store, link.id, (current) => {
        const entry = current.instalments[link.index];
        if (!entry || entry.paymentId !== paymentId) return undefined;
        // Decided once; a payment in review may still settle later.
        if (entry.status !== 'processing' && entry.status !== 'in_review') return undefined;
        const events: EventSpec[] = [];
        const data = { index: link.index, paymentId, amount: entry.amount, status };
        let nextStatus: Instalment['status'];
        let record: InstalmentPlan = { ...current };
        if (PAID.has(status)) {
          nextStatus = 'paid';
          events.push({ type: 'instalment_paid', data });
          if (link.index === 0) {
            record.chain = {
              transactionReference: entry.transactionReference,
              ...(facts.schemeTransactionIdentifier
                ? { schemeTransactionIdentifier: facts.schemeTransactionIdentifier }
                : {}),
            };
          }
        } else if (status === 'in_review') {
          nextStatus = 'in_review';
          events.push({ type: 'instalment_in_review', data });
        } else if (DECLINED.has(status)) {
          nextStatus = 'declined';
          events.push({ type: 'instalment_declined', data });
        } else {
          return undefined;
        }
        record = withInstalment(record, { ...entry, status: nextStatus });
        if (link.index === 0 && nextStatus === 'declined') {
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
      });
      // Derived from the stored plan, so a notice handled again after a crash
      // still schedules what its first run stored (job ids make it once).
      if (!plan || plan.status !== 'active' || !plan.chain) return;
      const shard = store.shardOf(plan.id);
      for (const entry of plan.instalments) {
        if (entry.status !== 'scheduled') continue;
        await queues.add(
          shard,
          { task: 'instalment', planId: plan.id, index: entry.index },
          { jobId: jobIdOf(plan.id, entry.index), delayMs: Math.max(0, entry.dueAt - clock.now()) },
        );
      }
    },
  };
}
