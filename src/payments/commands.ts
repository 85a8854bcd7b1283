/**
 * The commands merchants send, parsed at the edge. Everything past this point
 * trusts the parsed value: amounts are positive integers in minor units,
 * currencies ISO 4217 numeric codes, card fields well formed.
 */
import { z } from 'zod';
import type { CommandErrorCode } from '../platform/errors.ts';
import { containsPan } from './card-guard.ts';
import { containsCardNumber, luhnValid } from './pan-detect.ts';

/**
 * No card number in it, by the edge's rule (src/payments/pan-detect.ts) nor
 * by the rule events are checked with before they are published
 * (card-guard.ts): what is stored never stops an event later.
 */
const holdsNoCardNumber = (value: string): boolean =>
  !containsCardNumber(value) && !containsPan(value);

const NO_CARD_NUMBER = 'must not contain a card number';

/** Free text we store and publish: a card number in it would leak card data. */
export const freeText = (max: number) =>
  z.string().max(max).refine(holdsNoCardNumber, NO_CARD_NUMBER);

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

/** The codes of a card refused up front, before anything is stored or sent to Sips. */
export type CardErrorCode = Extract<CommandErrorCode, 'card_number_invalid' | 'card_expired'>;

const CARD_ERROR_CODES: ReadonlySet<string> = new Set<CardErrorCode>([
  'card_number_invalid',
  'card_expired',
]);

/**
 * Test card numbers with a wrong check digit, taken nevertheless: the 3-D
 * Secure cards of the simulator (src/simulator/cards.ts) and the cards
 * Worldline quotes for its simulation platform. No issuer gives them out, so
 * outside tests Sips refuses them.
 */
export const LUHN_EXEMPT_TEST_CARDS: ReadonlySet<string> = new Set([
  '4000000000003001',
  '4000000000003019',
  '4000000000003027',
  '4000000000003035',
  '4100000000000000',
  '4100000000000005',
  '5100000000000000',
]);

function cardIssue(ctx: z.RefinementCtx, code: CardErrorCode, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message, params: { code } });
  return z.NEVER;
}

/** YYYYMM of the month `ms` falls in, in UTC, as a number. */
function monthOf(ms: number): number {
  const date = new Date(ms);
  return date.getUTCFullYear() * 100 + date.getUTCMonth() + 1;
}

/**
 * A card as commands carry it. The number: 12 to 19 digits (spaces and
 * dashes dropped), else `invalid_command`, passing the Luhn check, else
 * `card_number_invalid`; the expiry: YYYYMM (or MM/YY, MM/YYYY), else
 * `invalid_command`, this month or later in UTC by `now`, else `card_expired`
 * (a card is valid to the end of its expiry month).
 */
export function cardSchema(now: () => number = Date.now) {
  return z.strictObject({
    number: z.string().transform((value, ctx) => {
      const digits = value.replace(/[\s-]/g, '');
      if (!/^\d{12,19}$/.test(digits)) {
        ctx.addIssue({ code: 'custom', message: 'must be 12 to 19 digits' });
        return z.NEVER;
      }
      if (!luhnValid(digits) && !LUHN_EXEMPT_TEST_CARDS.has(digits)) {
        return cardIssue(
          ctx,
          'card_number_invalid',
          'is not a card number: its check digit is wrong (Luhn)',
        );
      }
      return digits;
    }),
    /** YYYYMM, or MM/YY, or MM/YYYY. */
    expiry: z
      .string()
      .trim()
      .transform((value, ctx) => {
        let yyyymm: string | undefined;
        if (/^(\d{4})(0[1-9]|1[0-2])$/.test(value)) yyyymm = value;
        const mmyy = /^(0[1-9]|1[0-2])\/(\d{2}|\d{4})$/.exec(value);
        if (mmyy) {
          const year = (mmyy[2] as string).length === 2 ? `20${mmyy[2]}` : (mmyy[2] as string);
          yyyymm = `${year}${mmyy[1]}`;
        }
        if (yyyymm === undefined) {
          ctx.addIssue({ code: 'custom', message: 'must be YYYYMM (or MM/YY)' });
          return z.NEVER;
        }
        if (Number(yyyymm) < monthOf(now())) {
          return cardIssue(
            ctx,
            'card_expired',
            `is past: the card expired at the end of ${yyyymm.slice(4)}/${yyyymm.slice(0, 4)}`,
          );
        }
        return yyyymm;
      }),
    csc: z
      .string()
      .regex(/^\d{3,4}$/, 'must be 3 or 4 digits')
      .optional(),
  });
}

export const card = cardSchema();

export const wallet = z.strictObject({
  merchantWalletId: freeText(21).min(1),
  paymentMeanId: z.string().min(1).max(6),
});

export const customer = z.strictObject({
  id: freeText(47).pipe(z.string().min(1)).optional(),
  email: z
    .email('must be an email address')
    .max(128)
    .refine(holdsNoCardNumber, NO_CARD_NUMBER)
    .optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IP address' }).optional(),
});

export const url = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(512)
  .refine(holdsNoCardNumber, NO_CARD_NUMBER);

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
      .refine(holdsNoCardNumber, NO_CARD_NUMBER)
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

/** One invalid field of a command: its dotted path, what is wrong, and its own code, if any. */
export interface FieldError {
  field: string;
  /** A sentence naming the field: `amount must be positive`. */
  detail: string;
  /** A refusal with a code of its own (a card refused up front); otherwise `invalid_command`. */
  code?: CardErrorCode;
}

export interface ParseFailure {
  /** The first invalid field. */
  field: string;
  message: string;
  /** The first field's own code (a card refused up front); otherwise `invalid_command`. */
  code?: CardErrorCode;
  /** Every invalid field, the first one first; one entry per field (each unknown key is one). */
  errors: FieldError[];
}

/** The field errors of one zod issue: one per unknown key, else one. */
function fieldErrorsOf(issue: z.core.$ZodIssue): (FieldError & { message: string })[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => fieldError([...path, key].join('.'), 'is not a known field'));
  }
  const code = issue.code === 'custom' ? issue.params?.code : undefined;
  return [
    fieldError(
      path.length > 0 ? path.join('.') : '(body)',
      issue.message || 'is not valid',
      typeof code === 'string' && CARD_ERROR_CODES.has(code) ? (code as CardErrorCode) : undefined,
    ),
  ];
}

function fieldError(
  field: string,
  message: string,
  code?: CardErrorCode,
): FieldError & { message: string } {
  return { field, detail: `${field} ${message}`, message, ...(code ? { code } : {}) };
}

/**
 * Parses with a schema. A failure lists every invalid field (dotted), in the
 * order zod found them, the first problem of a field only; the first one is
 * also the failure's own `field`, `message` and `code`.
 */
export function parseCommand<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; value: z.output<S> } | ({ ok: false } & ParseFailure) {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const found = new Map<string, FieldError & { message: string }>();
  for (const issue of parsed.error.issues) {
    for (const error of fieldErrorsOf(issue)) {
      if (!found.has(error.field)) found.set(error.field, error);
    }
  }
  const all = [...found.values()];
  const first = all[0] ?? fieldError('(body)', 'is not valid');
  const errors = (all.length > 0 ? all : [first]).map(({ field, detail, code }) =>
    code ? { field, detail, code } : { field, detail },
  );
  return {
    ok: false,
    field: first.field,
    message: first.message,
    ...(first.code ? { code: first.code } : {}),
    errors,
  };
}
