/**
 * Wire formats of single Sips fields, shared by every request and response
 * schema. Formats follow the data dictionary (reference §5, §6.3): amounts are
 * integer minor units, sent as a JSON integer or a digit string, never a float,
 * because a float amount is either a bug or a rounding error on real money.
 *
 * None of these schemas transforms its input: a parsed message keeps the exact
 * values it was given, so the seal computed over it stays valid.
 */
import { z } from 'zod';
import { interfaceVersionPattern } from '../interface-version.ts';
import { SEAL_ALGORITHMS } from '../seal.ts';

/** A JSON integer or a string of digits. */
function digitsOrInteger(maxDigits: number) {
  return z.union(
    [
      z
        .int()
        .nonnegative()
        .max(10 ** maxDigits - 1),
      z.string().regex(new RegExp(`^\\d{1,${maxDigits}}$`)),
    ],
    { error: `an integer of at most ${maxDigits} digits (JSON integer or digit string)` },
  );
}

/** Amount in the currency's smallest unit (1050 = 10.50 EUR), at most 12 digits. */
export const amount = digitsOrInteger(12);

/** ISO 4217 numeric currency code, e.g. "978" for EUR. */
export const currencyCode = z.string().regex(/^\d{3}$/, '3 digits (ISO 4217)');

/** Shop identifier: 15 digits. */
export const merchantId = z.string().regex(/^\d{15}$/, '15 digits');

/** Version of the secret key, an integer sent as a number or a digit string. */
export const keyVersion = digitsOrInteger(10);

/** Hex seal: 64 characters (SHA-256 family) or 128 (HMAC-SHA-512). */
export const seal = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/, '64 or 128 hexadecimal characters');

export const sealAlgorithm = z.enum(SEAL_ALGORITHMS);

/** `IR_WS_2.55` and the like: the service's prefix followed by a version number (interface-version.ts). */
export function interfaceVersion(prefix: string) {
  const pattern = interfaceVersionPattern(prefix);
  return z.string().regex(pattern, `${prefix} followed by a version number like 2.55`);
}

/** Merchant-chosen transaction id: alphanumeric, 1 to 35 characters. */
export const transactionReference = z
  .string()
  .regex(/^[A-Za-z0-9]{1,35}$/, '1 to 35 letters or digits');

/** Clear card number: 12 to 19 digits. Tokens and CSE blobs are checked separately. */
export const PAN_PATTERN = /^\d{12,19}$/;
/** Card number as sent: a clear PAN, a token or an encrypted value depending on panType. */
export const cardNumber = z.string().min(1).max(512);

/** Card expiry month, YYYYMM. */
export const yearMonth = z.string().regex(/^\d{4}(?:0[1-9]|1[0-2])$/, 'a year and month, YYYYMM');

/** Calendar date, YYYYMMDD. */
export const yearMonthDay = z
  .string()
  .regex(/^\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$/, 'a date, YYYYMMDD');

/** Clear card security code: 3 or 4 digits (encrypted codes are checked separately). */
export const CSC_PATTERN = /^\d{3,4}$/;
export const cardCSCValue = z.string().min(1).max(512);

/** Number of days before automatic remittance (0 = the same day's run). */
export const captureDay = digitsOrInteger(2);

export const captureMode = z.enum(['AUTHOR_CAPTURE', 'VALIDATION', 'IMMEDIATE']);
export const orderChannel = z.enum(['INTERNET', 'MOTO', 'INAPP', 'MAIL_ORDER', 'TELEPHONE_ORDER']);
export const panType = z.enum(['PAN', 'CSE', 'TOKEN_PAN']);
export const cscType = z.enum(['PLAIN', 'CSE']);
export const paymentPattern = z.enum(['ONE_SHOT', 'RECURRING_1', 'RECURRING_N', 'INSTALMENT']);

/** ISO 8601 date-time with an offset, e.g. 2023-04-05T10:01:56.520+02:00. */
export const dateTime = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/,
    'an ISO 8601 date-time with an offset',
  );

export const url = z.string().regex(/^https?:\/\/\S+$/, 'an http(s) URL');

/** Free text of bounded length (most Sips text fields are ANS up to a few hundred). */
export function text(max = 512) {
  return z.string().max(max);
}

/** Non-empty text: a required field given as "" counts as missing (it seals as absent). */
export function requiredText(max = 512) {
  return z.string().min(1).max(max);
}

/** Wallet ids: merchantWalletId (ANS21) and paymentMeanId. */
export const merchantWalletId = z.string().min(1).max(21);
export const paymentMeanId = digitsOrInteger(6);

/** A scalar as it may appear in a response: text or a number (nulls allowed by the caller). */
export const wireScalar = z.union([z.string(), z.number()]);
