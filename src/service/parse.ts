/** Commands parsed at the edge of the service: a faulty field is `invalid_command` naming it. */
import { CommandError } from '../engine/errors.ts';

export function parseOrThrow<T>(
  result: { ok: true; value: T } | { ok: false; field: string; message: string },
): T {
  if (!result.ok) {
    throw new CommandError('invalid_command', `${result.field} ${result.message}`, {
      field: result.field,
    });
  }
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
