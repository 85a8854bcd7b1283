/**
 * What an API key bound to merchants may see and do. A record of another
 * merchant is answered exactly as a missing one (the same code and message),
 * so a key cannot even learn that it exists.
 */
import { CommandError } from '../engine/errors.ts';
import { DEFAULT_MERCHANT_ID } from '../engine/engine.ts';
import type { OpsAlert } from '../schedules/alerts.ts';
import type { CommandOptions } from './context.ts';
import type { PaymentCommands } from './payments.ts';
import type { ReviewCommands } from './reviews.ts';
import type { InstalmentPlanCommands, SubscriptionCommands } from './schedule-commands.ts';

/** Every merchant (a platform operator's key), or these. */
export type MerchantScope = 'all' | ReadonlySet<string>;

export function allows(scope: MerchantScope, merchant: string): boolean {
  return scope === 'all' || scope.has(merchant);
}

/**
 * A create command as the key may send it: without `merchant`, the key's only
 * merchant is meant; another merchant's id is refused as an unknown one.
 */
export function commandForScope(input: unknown, scope: ReadonlySet<string>): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const command = input as Record<string, unknown>;
  if (command.merchant === undefined) {
    if (scope.size === 1) return { ...command, merchant: [...scope][0] };
    // Never the deployment's choice (`default`, or its only shop): the key's own, named.
    throw new CommandError('invalid_command', 'merchant is required: this key may use several', {
      field: 'merchant',
    });
  }
  if (typeof command.merchant === 'string' && !allows(scope, command.merchant)) {
    throw new CommandError('invalid_command', `merchant ${command.merchant} is not configured`, {
      field: 'merchant',
    });
  }
  return command;
}

function notFound(id: string): CommandError {
  return new CommandError('payment_not_found', `no payment ${id}`);
}

export function scopedPayments(payments: PaymentCommands, scope: MerchantScope): PaymentCommands {
  if (scope === 'all') return payments;
  /** A command on a payment, run only when the payment is one of the key's merchants'. */
  const owning =
    <A extends unknown[], R>(command: (id: string, ...rest: A) => Promise<R>) =>
    async (id: string, ...rest: A): Promise<R> => {
      const view = await payments.get(id);
      if (!allows(scope, view.merchant)) throw notFound(id);
      return command(id, ...rest);
    };
  return {
    create: (input, options) => payments.create(commandForScope(input, scope), options),
    // One read: the view itself tells the merchant.
    get: async (id) => {
      const view = await payments.get(id);
      if (!allows(scope, view.merchant)) throw notFound(id);
      return view;
    },
    capture: owning(payments.capture),
    cancel: owning(payments.cancel),
    refund: owning(payments.refund),
    duplicate: owning(payments.duplicate),
    acceptChallenge: owning(payments.acceptChallenge),
    refuseChallenge: owning(payments.refuseChallenge),
    completeAuthentication: owning(payments.completeAuthentication),
  };
}

/** The merchant of a payment, or undefined when there is no such payment. */
async function merchantOfPayment(
  payments: PaymentCommands,
  paymentId: string | undefined,
): Promise<string | undefined> {
  if (paymentId === undefined) return undefined;
  try {
    return (await payments.get(paymentId)).merchant;
  } catch {
    return undefined;
  }
}

export function scopedReviews(
  reviews: ReviewCommands,
  payments: PaymentCommands,
  scope: MerchantScope,
): ReviewCommands {
  if (scope === 'all') return reviews;
  const visible = async (paymentId: string | undefined) => {
    const merchant = await merchantOfPayment(payments, paymentId);
    return merchant !== undefined && allows(scope, merchant);
  };
  return {
    async list(options) {
      const items = await reviews.list(options);
      const kept = await Promise.all(items.map((item) => visible(item.paymentId)));
      return items.filter((_, index) => kept[index]);
    },
    async get(jobId) {
      const item = await reviews.get(jobId);
      return item && (await visible(item.paymentId)) ? item : undefined;
    },
    async resolve(jobId, decision) {
      const item = await reviews.get(jobId).catch(() => undefined);
      if (!item || !(await visible(item.paymentId))) {
        throw new CommandError('payment_not_found', `no review item ${jobId}`);
      }
      return reviews.resolve(jobId, decision);
    },
  };
}

/** Alerts about payments of the key's merchants; alerts about no payment are for global keys. */
export async function scopedAlerts(
  alerts: readonly OpsAlert[],
  payments: PaymentCommands,
  scope: MerchantScope,
): Promise<OpsAlert[]> {
  if (scope === 'all') return [...alerts];
  const merchants = await Promise.all(
    alerts.map((alert) => merchantOfPayment(payments, alert.paymentId)),
  );
  return alerts.filter((_, index) => {
    const merchant = merchants[index];
    return merchant !== undefined && allows(scope, merchant);
  });
}

type ScheduleRecord = { merchant: { id?: string } };
type AnyMethod = (...args: never[]) => Promise<unknown>;

/** Subscriptions and instalment plans of the key's merchants only, as for payments. */
export function scopedSchedules<T extends SubscriptionCommands | InstalmentPlanCommands>(
  commands: T,
  scope: MerchantScope,
  missing: 'subscription_not_found' | 'plan_not_found',
): T {
  if (scope === 'all') return commands;
  const visible = (record: ScheduleRecord) =>
    allows(scope, record.merchant.id ?? DEFAULT_MERCHANT_ID);
  const hidden = (id: unknown) =>
    new CommandError(
      missing,
      `no ${missing === 'plan_not_found' ? 'plan' : 'subscription'} ${String(id)}`,
    );
  const get = commands.get as (id: string) => Promise<ScheduleRecord>;
  const methods = commands as unknown as Record<string, AnyMethod>;
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(methods)) {
    if (name === 'list') {
      wrapped[name] = async (...args: never[]) =>
        ((await method.apply(commands, args)) as ScheduleRecord[]).filter(visible);
    } else if (name === 'create') {
      wrapped[name] = (input: unknown, options?: CommandOptions) =>
        (method as (input: unknown, options?: CommandOptions) => Promise<unknown>).call(
          commands,
          commandForScope(input, scope),
          options,
        );
    } else {
      wrapped[name] = async (id: string, ...rest: never[]) => {
        const record = await get.call(commands, id);
        if (!visible(record)) throw hidden(id);
        return name === 'get' ? record : (method as AnyMethod).call(commands, id as never, ...rest);
      };
    }
  }
  return wrapped as T;
}
