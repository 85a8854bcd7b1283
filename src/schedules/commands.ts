/**
 * Commands of the schedules layer (subscriptions, instalment plans), parsed
 * at the edge like the payment commands they reuse.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { amount, card, currency, customer, freeText, url, wallet } from '../payments/commands.ts';

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** `30d`, `1w`, `12h`, `15m`, `90s`: a period between occurrences. */
export const interval = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const match = /^(\d{1,6})([smhdw])$/.exec(value);
    const ms = match ? Number(match[1]) * (UNIT_MS[match[2] as string] as number) : 0;
    if (!match || ms < 1_000 || ms > 366 * 86_400_000) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a period such as 30d, 1w, 12h, 15m or 90s (1 s to 366 d)',
      });
      return z.NEVER;
    }
    return ms;
  });

/** Five or six cron fields (seconds optional), parsed as the job scheduler will parse them. */
export const cronPattern = z
  .string()
  .trim()
  .max(120)
  .regex(/^(\S+\s+){4,5}\S+$/, 'must be a cron pattern of 5 or 6 fields, such as "0 9 1 * *"')
  .refine((value) => {
    try {
      CronExpressionParser.parse(value).next();
      return true;
    } catch {
      return false;
    }
  }, 'is not a cron pattern that ever fires, such as "0 9 1 * *"');

const timezone = z
  .string()
  .max(64)
  .refine((value) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: value });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as Europe/Paris');

export const SUBSCRIPTION_METHODS = ['card', 'card_3ds', 'wallet', 'wallet_3ds'] as const;

/** Our id of a shop (MERCHANTS_FILE). */
const merchantId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a merchant id: lowercase letters, digits, - and _')
  .optional();

export const CreateSubscriptionCommand = z
  .strictObject({
    method: z.enum(SUBSCRIPTION_METHODS).default('card'),
    /** Our id of the shop; required when the deployment serves several. */
    merchant: merchantId,
    amount,
    currency: currency.default('978'),
    /** Between occurrences, e.g. `30d`; or `cron`. */
    interval: interval.optional(),
    cron: cronPattern.optional(),
    timezone: timezone.optional(),
    captureMode: z.enum(['author_capture', 'validation']).default('author_capture'),
    captureDay: z.number().int().min(0).max(99).default(0),
    card: card.optional(),
    wallet: wallet.optional(),
    customer: customer.optional(),
    orderId: freeText(32)
      .regex(/^[\x20-\x7e]*$/, 'printable ASCII only')
      .optional(),
    returnUrl: url.optional(),
    /** A declined occurrence is tried again this many days after its first attempt. */
    retryOnDeclineDays: z
      .array(z.number().int().min(1).max(60))
      .max(6)
      .refine(
        (days) => days.every((day, k) => k === 0 || day > (days[k - 1] as number)),
        'must be increasing, e.g. [1, 3, 7]',
      )
      .default([1, 3, 7]),
    metadata: z.record(freeText(64), freeText(256)).optional(),
  })
  .superRefine((command, ctx) => {
    if ((command.interval === undefined) === (command.cron === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'give interval or cron (one)' });
    }
    if (command.timezone && !command.cron) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: 'is only used with cron' });
    }
    const usesCard = command.method === 'card' || command.method === 'card_3ds';
    if (usesCard && !command.card) {
      ctx.addIssue({
        code: 'custom',
        path: ['card'],
        message: `is required for ${command.method}`,
      });
    }
    if (!usesCard && !command.wallet) {
      ctx.addIssue({
        code: 'custom',
        path: ['wallet'],
        message: `is required for ${command.method}`,
      });
    }
    if (!usesCard && command.card) {
      ctx.addIssue({ code: 'custom', path: ['card'], message: `is not used by ${command.method}` });
    }
    if (command.method.endsWith('_3ds') && !command.returnUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['returnUrl'],
        message: `is required for ${command.method}`,
      });
    }
  });
export type CreateSubscriptionCommand = z.output<typeof CreateSubscriptionCommand>;

export const ChangeSubscriptionCommand = z.strictObject({ amount });

export const MAX_INSTALMENTS = 12;

export const CreateInstalmentPlanCommand = z
  .strictObject({
    method: z.enum(['card', 'card_3ds']).default('card'),
    /** Our id of the shop; required when the deployment serves several. */
    merchant: merchantId,
    /** The total, in minor units; the instalments sum to it exactly. */
    amount,
    currency: currency.default('978'),
    count: z.number().int().min(2).max(MAX_INSTALMENTS).optional(),
    /** Explicit instalment amounts (minor units) instead of an even split; they must sum to amount. */
    amounts: z.array(amount).min(2).max(MAX_INSTALMENTS).optional(),
    /** Days between instalments. @defaultValue 30 */
    intervalDays: z.number().int().min(1).max(366).default(30),
    captureMode: z.enum(['author_capture', 'validation']).default('author_capture'),
    card,
    customer: customer.optional(),
    orderId: freeText(32)
      .regex(/^[\x20-\x7e]*$/, 'printable ASCII only')
      .optional(),
    returnUrl: url.optional(),
    metadata: z.record(freeText(64), freeText(256)).optional(),
  })
  .superRefine((command, ctx) => {
    if ((command.count === undefined) === (command.amounts === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['count'], message: 'give count or amounts (one)' });
    }
    if (command.amounts) {
      const sum = command.amounts.reduce((total, part) => total + part, 0);
      if (sum !== command.amount) {
        ctx.addIssue({
          code: 'custom',
          path: ['amounts'],
          message: `must sum to amount (${command.amount}); they sum to ${sum}`,
        });
      }
    }
    if (command.count !== undefined && command.amount < command.count) {
      ctx.addIssue({
        code: 'custom',
        path: ['count'],
        message: `cannot split ${command.amount} minor units into ${command.count} instalments`,
      });
    }
    if (command.method === 'card_3ds' && !command.returnUrl) {
      ctx.addIssue({ code: 'custom', path: ['returnUrl'], message: 'is required for card_3ds' });
    }
  });
export type CreateInstalmentPlanCommand = z.output<typeof CreateInstalmentPlanCommand>;

/**
 * An even split in integer minor units: the remainder goes one unit at a time
 * to the first instalments, so the parts always sum to the total exactly.
 */
export function splitAmount(total: number, count: number): number[] {
  const base = Math.floor(total / count);
  const remainder = total - base * count;
  return Array.from({ length: count }, (_, k) => base + (k < remainder ? 1 : 0));
}

/** The merchant's references of a schedule command, kept on every payment it makes. */
export function merchantOf(command: {
  merchant?: string | undefined;
  orderId?: string | undefined;
  customer?: { id?: string | undefined; email?: string | undefined } | undefined;
  metadata?: Record<string, string> | undefined;
}): {
  id?: string;
  orderId?: string;
  customerId?: string;
  customerEmail?: string;
  metadata?: Record<string, string>;
} {
  const merchant: ReturnType<typeof merchantOf> = {};
  // Our id of the shop, carried by every payment the schedule makes; absent: `default`.
  if (command.merchant) merchant.id = command.merchant;
  if (command.orderId) merchant.orderId = command.orderId;
  if (command.customer?.id) merchant.customerId = command.customer.id;
  if (command.customer?.email) merchant.customerEmail = command.customer.email;
  if (command.metadata) merchant.metadata = command.metadata;
  return merchant;
}
