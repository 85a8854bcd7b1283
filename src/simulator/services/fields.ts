/** Reading request fields that may come as JSON strings or numbers. */
import type { SipsRequest } from '../protocol.ts';

export function str(body: SipsRequest, name: string): string | undefined {
  const value = body[name];
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function int(body: SipsRequest, name: string): number | undefined {
  const value = str(body, name);
  return value === undefined ? undefined : Number(value);
}

function s10Reference(container: unknown): string | undefined {
  if (typeof container !== 'object' || container === null) return undefined;
  const { s10TransactionId, s10TransactionIdDate } = container as Record<string, unknown>;
  if (s10TransactionId === undefined || s10TransactionIdDate === undefined) return undefined;
  return `S10-${String(s10TransactionIdDate)}-${String(s10TransactionId)}`;
}

/**
 * The transaction a request names: its transactionReference, or for shops
 * migrated from Sips 1.0 the s10 container, mapped to one internal reference.
 */
export function referenceOf(
  body: SipsRequest,
  field: 'transactionReference' | 'fromTransactionReference' = 'transactionReference',
): string | undefined {
  const direct = str(body, field);
  if (direct !== undefined) return direct;
  return s10Reference(
    body[
      field === 'transactionReference' ? 's10TransactionReference' : 's10FromTransactionReference'
    ],
  );
}

/** The reference echo of an answer: whichever form the request used. */
export function referenceEcho(body: SipsRequest, reference: string): Record<string, unknown> {
  return body.transactionReference === undefined && body.s10TransactionReference !== undefined
    ? { s10TransactionReference: body.s10TransactionReference }
    : { transactionReference: reference };
}
