/**
 * Subscriptions and instalment plans as merchants command them: parsed,
 * created once per idempotency key, and shown with their first payment.
 */
import type { Schedules } from '../schedules/index.ts';
import {
  ChangeSubscriptionCommand,
  CreateInstalmentPlanCommand,
  CreateSubscriptionCommand,
} from '../schedules/commands.ts';
import { parseCommand } from '../payments/commands.ts';
import type { CommandOptions, ServiceContext } from './context.ts';
import { onceForKey } from './idempotency.ts';
import { cardOf, parseOrThrow } from './parse.ts';
import { viewPayment, type PaymentView } from './views.ts';
import {
  instalmentPlanView,
  subscriptionView,
  type PublicInstalmentPlan,
  type PublicSubscription,
} from './schedule-views.ts';
import { DEFAULT_MERCHANT_ID } from '../engine/engine.ts';
import { merchantOf as shopOf, scopedToMerchant } from './payments.ts';

export type { PublicInstalmentPlan, PublicSubscription } from './schedule-views.ts';

export interface SubscriptionCommands {
  create(
    command: unknown,
    options?: CommandOptions,
  ): Promise<{ created: boolean; subscription: PublicSubscription; firstPayment: PaymentView }>;
  get(id: string): Promise<PublicSubscription>;
  list(options?: { limit?: number }): Promise<PublicSubscription[]>;
  pause(id: string): Promise<PublicSubscription>;
  resume(id: string): Promise<PublicSubscription>;
  cancel(id: string): Promise<PublicSubscription>;
  /** Later occurrences are charged the new amount. */
  changeAmount(id: string, command: unknown): Promise<PublicSubscription>;
}

export interface InstalmentPlanCommands {
  create(
    command: unknown,
    options?: CommandOptions,
  ): Promise<{ created: boolean; plan: PublicInstalmentPlan; firstPayment: PaymentView }>;
  get(id: string): Promise<PublicInstalmentPlan>;
  list(options?: { limit?: number }): Promise<PublicInstalmentPlan[]>;
  /** Instalments not yet due are not taken. */
  cancel(id: string): Promise<PublicInstalmentPlan>;
}

export function createSubscriptionCommands(
  ctx: ServiceContext,
  schedules: Pick<Schedules, 'subscriptions'>,
): SubscriptionCommands {
  const { subscriptions } = schedules;
  return {
    async create(input, options = {}) {
      const { command, scoped } = withShop(
        ctx,
        parseOrThrow(parseCommand(CreateSubscriptionCommand, input)),
        options,
      );
      const created = await onceForKey(
        ctx,
        'subscription',
        scoped.idempotencyKey,
        command,
        (seed) =>
          subscriptions
            .create(command, command.card ? cardOf(command.card) : undefined, seed)
            .then(({ subscription }) => subscription.id),
      );
      const subscription = await subscriptions.get(created.id);
      return {
        created: created.created,
        subscription: subscriptionView(subscription),
        firstPayment: await viewPayment(ctx, subscription.firstPaymentId),
      };
    },
    get: async (id) => subscriptionView(await subscriptions.get(id)),
    list: async (options) => (await subscriptions.list(options)).map(subscriptionView),
    pause: async (id) => subscriptionView(await subscriptions.pause(id)),
    resume: async (id) => subscriptionView(await subscriptions.resume(id)),
    cancel: async (id) => subscriptionView(await subscriptions.cancel(id)),
    async changeAmount(id, input) {
      const { amount } = parseOrThrow(parseCommand(ChangeSubscriptionCommand, input));
      return subscriptionView(await subscriptions.changeAmount(id, amount));
    },
  };
}

export function createInstalmentPlanCommands(
  ctx: ServiceContext,
  schedules: Pick<Schedules, 'plans'>,
): InstalmentPlanCommands {
  const { plans } = schedules;
  return {
    async create(input, options = {}) {
      const { command, scoped } = withShop(
        ctx,
        parseOrThrow(parseCommand(CreateInstalmentPlanCommand, input)),
        options,
      );
      const created = await onceForKey(ctx, 'instalments', scoped.idempotencyKey, command, (seed) =>
        plans.create(command, cardOf(command.card), seed).then((plan) => plan.id),
      );
      const plan = await plans.get(created.id);
      return {
        created: created.created,
        plan: instalmentPlanView(plan),
        firstPayment: await viewPayment(
          ctx,
          (plan.instalments[0] as { paymentId: string }).paymentId,
        ),
      };
    },
    get: async (id) => instalmentPlanView(await plans.get(id)),
    list: async (options) => (await plans.list(options)).map(instalmentPlanView),
    cancel: async (id) => instalmentPlanView(await plans.cancel(id)),
  };
}

/**
 * The shop a new schedule belongs to (the one named, the only one, or
 * `default`), kept on the command only when it is not `default` so that
 * commands and their idempotency hashes stay as they were for one shop.
 */
function withShop<C extends { merchant?: string | undefined }>(
  ctx: ServiceContext,
  parsed: C,
  options: CommandOptions,
): { command: C; scoped: CommandOptions } {
  const shop = shopOf(ctx, parsed.merchant);
  const command = { ...parsed };
  if (shop === DEFAULT_MERCHANT_ID) delete command.merchant;
  else command.merchant = shop;
  return { command, scoped: scopedToMerchant(shop, options) };
}
