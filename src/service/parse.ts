/**
 * Commands parsed at the edge of the service: a faulty field is
 * `invalid_command` naming it, or the failure's own code (a card refused up
 * front: `card_number_invalid`, `card_expired`).
 */
import { CommandError } from '../engine/errors.ts';
import type { ParseFailure } from '../payments/commands.ts';

export function parseOrThrow<T>(
  result: { ok: true; value: T } | ({ ok: false } & ParseFailure),
): T {
  if (!result.ok) {
    throw new CommandError(result.code ?? 'invalid_command', `${result.field} ${result.message}`, {
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
