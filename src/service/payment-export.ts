/**
 * Exports of a search: CSV (RFC 4180, a header line) or JSON Lines (one
 * payment summary per line), written batch by batch from the indexes, so an
 * export of any size holds one batch in memory at a time.
 */
import type { PaymentListing } from '../payments/search.ts';
import { invalidField } from './parse.ts';
import { summaryOf, type PaymentSummary } from './payment-search.ts';

const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/jsonl; charset=utf-8',
};

/** The CSV columns, in order; amounts in minor units. */
export const CSV_COLUMNS = [
  'id',
  'merchant',
  'orderId',
  'customerId',
  'createdAt',
  'status',
  'kind',
  'currency',
  'amount',
  'authorized',
  'captured',
  'cancelled',
  'refunded',
  'transactionReference',
  'lastResponseCode',
] as const;

export function exportFormatOf(value: unknown): ExportFormat {
  if (value === undefined || value === '') return 'csv';
  if (EXPORT_FORMATS.includes(value as ExportFormat)) return value as ExportFormat;
  throw invalidField('format', 'must be csv or jsonl');
}

/**
 * One CSV cell: quoted when it holds a comma, a quote or a line break. Text
 * a spreadsheet would run as a formula (=, +, -, @ first) gets a `'` before it.
 */
function cell(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvLine(summary: PaymentSummary): string {
  const values: Record<(typeof CSV_COLUMNS)[number], string | number | undefined> = {
    id: summary.id,
    merchant: summary.merchant,
    orderId: summary.orderId,
    customerId: summary.customerId,
    createdAt: summary.createdAt,
    status: summary.status,
    kind: summary.kind,
    currency: summary.currency,
    amount: summary.amount,
    authorized: summary.amounts.authorized,
    captured: summary.amounts.captured,
    cancelled: summary.amounts.cancelled,
    refunded: summary.amounts.refunded,
    transactionReference: summary.transactionReference,
    lastResponseCode: summary.lastResponseCode,
  };
  return `${CSV_COLUMNS.map((column) => cell(values[column])).join(',')}\r\n`;
}

/** The export's text, one chunk per batch of payments (the CSV header first). */
export async function* exportChunks(
  format: ExportFormat,
  batches: AsyncIterable<PaymentListing[]>,
): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    let chunk = '';
    for (const listing of batch) {
      const summary = summaryOf(listing);
      chunk += format === 'csv' ? csvLine(summary) : `${JSON.stringify(summary)}\n`;
    }
    yield chunk;
  }
}
