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
import type { PaymentStatus } from '../../machines/contract.ts';
import { DAY_MS } from '../engine/capture-limit.ts';
import { CommandError } from '../engine/errors.ts';
import type { Clock } from '../platform/clock.ts';
import { merchantOf, type CreateInstalmentPlanCommand } from './commands.ts';
import {
  cancellationOf,
  dueChange,
  failureOfFirst,
  instalmentPaymentInput,
  jobIdOf,
  newInstalments,
  settlementChange,
  type Instalment,
  type InstalmentCard,
  type InstalmentLink,
  type InstalmentPlan,
} from './instalment-model.ts';
import { updateWithRetry, type RecordStore } from './records.ts';
import type { ScheduleJob, ScheduleQueues } from '../queues/schedules.ts';
import type { ScheduledPayments } from './scheduled-payments.ts';

export type { Instalment, InstalmentPlan } from './instalment-model.ts';

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
  runInstalment(job: InstalmentJob): Promise<void>;
  onPaymentSettled(
    link: InstalmentLink,
    paymentId: string,
    status: PaymentStatus,
    facts: Record<string, string>,
  ): Promise<void>;
}

/** What every plan operation runs with: the deps, with the length of a day settled. */
export interface InstalmentPlansContext {
  store: RecordStore<InstalmentPlan>;
  queues: ScheduleQueues;
  payments: InstalmentPlansDeps['payments'];
  clock: Clock;
  dayMs: number;
}

export type InstalmentJob = Extract<ScheduleJob, { task: 'instalment' }>;

export async function loadPlan(ctx: InstalmentPlansContext, id: string): Promise<InstalmentPlan> {
  const plan = await ctx.store.get(id);
  if (!plan) throw new CommandError('plan_not_found', `no instalment plan ${id}`);
  return plan;
}

/** Creates (or finds again) the payment of one instalment. */
export async function makeInstalmentPayment(
  ctx: InstalmentPlansContext,
  plan: InstalmentPlan,
  instalment: Instalment,
  card?: InstalmentCard,
): Promise<{ created: boolean; paymentId: string }> {
  return ctx.payments.create(instalmentPaymentInput(plan, instalment, card));
}

/** Stores the plan and makes its first payment now; the later ones wait for it to be paid. */
export async function createPlan(
  ctx: InstalmentPlansContext,
  command: CreateInstalmentPlanCommand,
  card: InstalmentCard,
  seed?: string,
): Promise<InstalmentPlan> {
  const { store, payments } = ctx;
  const id = store.newId(seed);
  const { amounts, instalments } = newInstalments(
    command,
    id,
    ctx.clock.now(),
    ctx.dayMs,
    (idempotencyKey) => payments.newPaymentId(idempotencyKey),
    (paymentId) => payments.referenceOf(paymentId),
  );
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
    await makeInstalmentPayment(ctx, plan, first, card);
  } catch (error) {
    // Stored despite the error (enqueueing failed): the plan stands and the
    // janitor sends the first call. Without a payment, the plan fails.
    if (await payments.get(first.paymentId)) return plan;
    const reason = 'the first instalment could not be created';
    await updateWithRetry(store, id, (current) => failureOfFirst(current, reason));
    throw error;
  }
  return plan;
}

/** Cancels the plan and removes the jobs of the instalments not yet due. */
export async function cancelPlan(ctx: InstalmentPlansContext, id: string): Promise<InstalmentPlan> {
  const { store, queues } = ctx;
  const cancelled = await updateWithRetry(store, id, cancellationOf);
  if (!cancelled) throw new CommandError('plan_not_found', `no instalment plan ${id}`);
  const shard = store.shardOf(id);
  for (const entry of cancelled.instalments) {
    if (entry.status === 'cancelled') await queues.remove(shard, jobIdOf(id, entry.index));
  }
  return cancelled;
}

/** An instalment's date came: its payment is made, once. */
export async function runInstalment(
  ctx: InstalmentPlansContext,
  job: InstalmentJob,
): Promise<void> {
  const plan = await updateWithRetry(ctx.store, job.planId, (current) =>
    dueChange(current, job.index),
  );
  // Only what was stored counts: a plan cancelled meanwhile takes nothing.
  const due = plan?.instalments[job.index];
  if (!plan || plan.status !== 'active' || due?.status !== 'processing') return;
  await makeInstalmentPayment(ctx, plan, due);
}

/** Enqueues the instalments still scheduled, each on its date. */
async function scheduleInstalments(
  ctx: InstalmentPlansContext,
  plan: InstalmentPlan,
): Promise<void> {
  const shard = ctx.store.shardOf(plan.id);
  for (const entry of plan.instalments) {
    if (entry.status !== 'scheduled') continue;
    await ctx.queues.add(
      shard,
      { task: 'instalment', planId: plan.id, index: entry.index },
      {
        jobId: jobIdOf(plan.id, entry.index),
        delayMs: Math.max(0, entry.dueAt - ctx.clock.now()),
      },
    );
  }
}

/** An instalment's payment settled: the plan notes it, and once chained schedules the rest. */
export async function onInstalmentSettled(
  ctx: InstalmentPlansContext,
  link: InstalmentLink,
  paymentId: string,
  status: PaymentStatus,
  facts: Record<string, string>,
): Promise<void> {
  const plan = await updateWithRetry(ctx.store, link.id, (current) =>
    settlementChange(current, link, paymentId, status, facts),
  );
  // Derived from the stored plan, so a notice handled again after a crash
  // still schedules what its first run stored (job ids make it once).
  if (!plan || plan.status !== 'active' || !plan.chain) return;
  await scheduleInstalments(ctx, plan);
}

export function createInstalmentPlans(deps: InstalmentPlansDeps): InstalmentPlans {
  const ctx: InstalmentPlansContext = {
    store: deps.store,
    queues: deps.queues,
    payments: deps.payments,
    clock: deps.clock,
    dayMs: deps.dayMs ?? DAY_MS,
  };
  return {
    create: (command, card, seed) => createPlan(ctx, command, card, seed),
    get: (id) => loadPlan(ctx, id),
    list: (listOptions) => ctx.store.list(listOptions),
    cancel: (id) => cancelPlan(ctx, id),
    runInstalment: (job) => runInstalment(ctx, job),
    onPaymentSettled: (link, paymentId, status, facts) =>
      onInstalmentSettled(ctx, link, paymentId, status, facts),
  };
}
