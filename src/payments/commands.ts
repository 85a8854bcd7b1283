/**
 * The commands merchants send, parsed at the edge. Everything past this point
 * trusts the parsed value: amounts are positive integers in minor units,
 * currencies ISO 4217 numeric codes, card fields well formed.
 */
import { z } from 'zod';
import { containsPan } from './card-guard.ts';

/** Free text we store and publish: a card number in it would leak card data. */
export const freeText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((value) => !containsPan(value), 'must not contain a card number');

/** The largest amount Sips accepts (N12). */
export const MAX_AMOUNT = 999_999_999_999;

export const amount = z
  .number({ error: 'must be an integer number of minor units (e.g. 1050 for 10.50)' })
  .int('must be an integer number of minor units (e.g. 1050 for 10.50), never a decimal')
  .positive('must be positive')
  .max(MAX_AMOUNT, `must be at most ${MAX_AMOUNT}`);

/** ISO 4217 numeric, or the alphabetic code of a few common currencies. */
const ALPHA_TO_NUMERIC: Record<string, string> = {
  EUR: '978',
  USD: '840',
  GBP: '826',
  CHF: '756',
  JPY: '392',
  CAD: '124',
  AUD: '036',
  SEK: '752',
  DKK: '208',
  NOK: '578',
  PLN: '985',
  CZK: '203',
};

export const currency = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const upper = value.toUpperCase();
    if (/^\d{3}$/.test(upper)) return upper;
    const numeric = ALPHA_TO_NUMERIC[upper];
    if (numeric) return numeric;
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 4217 numeric code such as 978 (EUR)' });
    return z.NEVER;
  });

export const card = z.strictObject({
  number: z
    .string()
    .transform((value) => value.replace(/[\s-]/g, ''))
    .pipe(z.string().regex(/^\d{12,19}$/, 'must be 12 to 19 digits')),
  /** YYYYMM, or MM/YY, or MM/YYYY. */
  expiry: z
    .string()
    .trim()
    .transform((value, ctx) => {
      const yyyymm = /^(\d{4})(0[1-9]|1[0-2])$/.exec(value);
      if (yyyymm) return value;
      const mmyy = /^(0[1-9]|1[0-2])\/(\d{2}|\d{4})$/.exec(value);
      if (mmyy) {
        const year = (mmyy[2] as string).length === 2 ? `20${mmyy[2]}` : (mmyy[2] as string);
        return `${year}${mmyy[1]}`;
      }
      ctx.addIssue({ code: 'custom', message: 'must be YYYYMM (or MM/YY)' });
      return z.NEVER;
    }),
  csc: z
    .string()
    .regex(/^\d{3,4}$/, 'must be 3 or 4 digits')
    .optional(),
});

export const wallet = z.strictObject({
  merchantWalletId: z.string().min(1).max(21),
  paymentMeanId: z.string().min(1).max(6),
});

export const customer = z.strictObject({
  id: freeText(47).pipe(z.string().min(1)).optional(),
  email: z.email('must be an email address').max(128).optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IP address' }).optional(),
});

export const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(512);

/** A deferred capture: at an instant, or N days after the authorisation; and the capture-limit policy. */
export const captureSchedule = z
  .strictObject({
    at: z.iso
      .datetime({
        offset: true,
        error: 'must be an ISO 8601 date-time such as 2026-12-01T10:00:00Z',
      })
      .optional(),
    afterDays: z.number().int().min(0).max(99).optional(),
    afterMs: z
      .number()
      .int()
      .min(0)
      .max(99 * 86_400_000)
      .optional(),
    atLimit: z.enum(['capture', 'cancel', 'reauthorize', 'none']).optional(),
  })
  .refine(
    (value) =>
      [value.at, value.afterDays, value.afterMs].filter((part) => part !== undefined).length <= 1,
    'takes one of at, afterDays and afterMs',
  );

export const PAYMENT_METHODS = ['card', 'card_3ds', 'wallet', 'wallet_3ds', 'provider'] as const;

export const CreatePaymentCommand = z
  .strictObject({
    method: z.enum(PAYMENT_METHODS).default('card'),
    /** Our id of the shop (MERCHANTS_FILE); required when the deployment serves several. */
    merchant: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a merchant id: lowercase letters, digits, - and _')
      .optional(),
    amount,
    currency: currency.default('978'),
    captureMode: z.enum(['author_capture', 'validation']).default('author_capture'),
    /** Days before remittance (author_capture) or the capture limit (validation). */
    captureDay: z.number().int().min(0).max(99).default(0),
    card: card.optional(),
    wallet: wallet.optional(),
    orderId: freeText(32)
      .regex(/^[\x20-\x7e]*$/, 'printable ASCII only')
      .optional(),
    customer: customer.optional(),
    /** Where the customer goes after 3-D Secure or the provider page. */
    returnUrl: url.optional(),
    /** The external provider, e.g. PAYPAL. */
    paymentMeanBrand: z
      .string()
      .regex(/^[A-Z0-9_]{2,32}$/, 'must be a Sips brand such as PAYPAL')
      .optional(),
    metadata: z.record(freeText(64), freeText(256)).optional(),
    /** VALIDATION mode: capture automatically, and what to do at the capture limit. */
    capture: captureSchedule.optional(),
  })
  .superRefine((command, ctx) => {
    if (command.capture && command.captureMode !== 'validation') {
      ctx.addIssue({
        code: 'custom',
        path: ['capture'],
        message: 'is only for captureMode validation',
      });
    }
    if (
      command.capture?.afterDays !== undefined &&
      command.capture.afterDays > command.captureDay
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['capture', 'afterDays'],
        message: `must be at most captureDay (${command.captureDay}): the authorisation lapses then`,
      });
    }
    const needsCard = command.method === 'card' || command.method === 'card_3ds';
    const needsWallet = command.method === 'wallet' || command.method === 'wallet_3ds';
    if (needsCard && !command.card) {
      ctx.addIssue({
        code: 'custom',
        path: ['card'],
        message: `is required for ${command.method}`,
      });
    }
    if (needsWallet && !command.wallet) {
      ctx.addIssue({
        code: 'custom',
        path: ['wallet'],
        message: `is required for ${command.method}`,
      });
    }
    if (!needsCard && command.card) {
      ctx.addIssue({ code: 'custom', path: ['card'], message: `is not used by ${command.method}` });
    }
    if (command.method === 'provider' && !command.paymentMeanBrand) {
      ctx.addIssue({
        code: 'custom',
        path: ['paymentMeanBrand'],
        message: 'is required for provider',
      });
    }
    if ((command.method.endsWith('_3ds') || command.method === 'provider') && !command.returnUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['returnUrl'],
        message: `is required for ${command.method}`,
      });
    }
  });

export type CreatePaymentCommand = z.output<typeof CreatePaymentCommand>;

export const AmountCommand = z.strictObject({ amount });
export type AmountCommand = z.output<typeof AmountCommand>;

export const DuplicateCommand = z.strictObject({
  amount,
  captureMode: z.enum(['author_capture', 'validation']).default('author_capture'),
  captureDay: z.number().int().min(0).max(99).default(0),
  orderId: freeText(32).optional(),
});
export type DuplicateCommand = z.output<typeof DuplicateCommand>;

/** What the browser posts back after 3-D Secure (TermUrl or merchantReturnUrl). */
export const AuthenticationReturn = z.strictObject({
  paRes: z.string().min(1).max(20_000).optional(),
  redirectionData: z.string().min(1).max(20_000).optional(),
  messageVersion: z.string().min(1).max(16).optional(),
});
export type AuthenticationReturn = z.output<typeof AuthenticationReturn>;

export interface ParseFailure {
  field: string;
  message: string;
}

/** Parses with a schema; the first problem names its field (dotted). */
export function parseCommand<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; value: z.output<S> } | ({ ok: false } & ParseFailure) {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue ? issue.path.map(String) : [];
  if (issue?.code === 'unrecognized_keys') {
    return {
      ok: false,
      field: [...path, issue.keys[0] ?? ''].join('.'),
      message: 'is not a known field',
    };
  }
  const field = path.length > 0 ? path.join('.') : '(body)';
  return { ok: false, field, message: issue?.message ?? 'is not valid' };
}
