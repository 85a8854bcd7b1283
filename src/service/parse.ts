/**
 * Commands parsed at the edge of the service: a faulty field is
 * `invalid_command` naming it, or the failure's own code (a card refused up
 * front: `card_number_invalid`, `card_expired`). The refusal lists every
 * invalid field (`errors`); its code, `field` and message are the first one's.
 */
import { CommandError } from '../engine/errors.ts';
import type { ParseFailure } from '../payments/commands.ts';

/** The refusal of a command that does not parse. */
export function parseFailureError(failure: ParseFailure): CommandError {
  return new CommandError(
    failure.code ?? 'invalid_command',
    `${failure.field} ${failure.message}`,
    {
      field: failure.field,
      errors: failure.errors,
    },
  );
}

/** The refusal of one faulty field (`detail` follows the field's name in the message). */
export function invalidField(field: string, detail: string): CommandError {
  return new CommandError('invalid_command', `${field} ${detail}`, {
    field,
    errors: [{ field, detail }],
  });
}

export function parseOrThrow<T>(
  result: { ok: true; value: T } | ({ ok: false } & ParseFailure),
): T {
  if (!result.ok) throw parseFailureError(result);
  return result.value;
}

/** A parsed command's card in the shape the vault seals. */
export function cardOf(card: { number: string; expiry: string; csc?: string | undefined }): {
  pan: string;
  expiry: string;
  csc?: string;
} {
  return { pan: card.number, expiry: card.expiry, ...(card.csc ? { csc: card.csc } : {}) };
}
