/**
 * Searching payments: filters parsed at the edge (a bad one is
 * `invalid_command` naming it), pages newest first with an opaque cursor,
 * and every match in batches for exports. A key bound to merchants reads
 * only its shops' indexes, so another shop's payments never reach it.
 *
 * Creation time and shop come from the indexes (src/payments/search.ts);
 * status, orderId and customerId are checked on the records, so a page reads
 * at most a bounded number of index entries: with selective filters it may
 * hold fewer than `limit` payments while `nextCursor` says there is more.
 */
import { merchantIdOf } from '../payments/store.ts';
import { z } from 'zod';
import { PAYMENT_STATUSES, type PaymentStatus } from '../../machines/contract.ts';
import { parseCommand } from '../payments/commands.ts';
import {
  createIndexGuard,
  backfillIndexes,
  indexPositions,
  readListings,
  type IndexPosition,
  type PaymentListing,
  type SearchContext,
} from '../payments/search.ts';
import { invalidField, parseOrThrow } from './parse.ts';
import { allows, type MerchantScope } from './scope.ts';
import { coreFieldsOf, type CoreFields } from './views.ts';

export const DEFAULT_SEARCH_LIMIT = 50;
export const MAX_SEARCH_LIMIT = 200;
/** Index entries one page may examine at most, per payment asked for (at least 1 000). */
const EXAMINED_PER_ITEM = 20;

/** A payment as listings show it: no timeline, no card, no engine data. */
export interface PaymentSummary extends CoreFields {
  orderId?: string;
  customerId?: string;
  maskedPan?: string;
  /**
   * The responseCode of Sips' last answer about the payment that was not a
   * success (a refusal, an invalid or a pending answer); absent when every
   * answer was 00.
   */
  lastResponseCode?: string;
}

export interface SearchPage {
  data: PaymentSummary[];
  /** Give it back as `cursor` for the next page; null: no more. */
  nextCursor: string | null;
}

const emptyIsAbsent = (value: unknown) => (value === '' ? undefined : value);
const text = (max: number) => z.preprocess(emptyIsAbsent, z.string().min(1).max(max).optional());
const instant = z.preprocess(
  emptyIsAbsent,
  z.iso
    .datetime({ offset: true, message: 'must be an RFC 3339 date-time, e.g. 2025-01-31T00:00:00Z' })
    .optional(),
);

/** The filters of GET /v1/payments and its export, as query parameters. */
const SearchQuery = z
  .object({
    status: z.preprocess(
      emptyIsAbsent,
      z
        .string()
        .refine((value) => value.split(',').every((status) => isPaymentStatus(status)), {
          message: `must be statuses joined by commas, among ${PAYMENT_STATUSES.join(', ')}`,
        })
        .optional(),
    ),
    merchant: text(64),
    createdFrom: instant,
    createdTo: instant,
    orderId: text(128),
    customerId: text(128),
    limit: z.preprocess(
      emptyIsAbsent,
      z.coerce.number().int().min(1).max(MAX_SEARCH_LIMIT).optional(),
    ),
    cursor: text(512),
  })
  .strict();

const isPaymentStatus = (value: string): boolean =>
  (PAYMENT_STATUSES as readonly string[]).includes(value);

export interface SearchFilters {
  statuses?: ReadonlySet<PaymentStatus>;
  merchant?: string;
  /** Epoch ms, inclusive. */
  createdFrom?: number;
  /** Epoch ms, exclusive. */
  createdTo?: number;
  orderId?: string;
  customerId?: string;
  limit: number;
  after?: IndexPosition;
}

function encodeCursor(position: IndexPosition): string {
  return Buffer.from(JSON.stringify({ c: position.createdAt, i: position.id })).toString(
    'base64url',
  );
}

function decodeCursor(cursor: string): IndexPosition {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      c?: unknown;
      i?: unknown;
    };
    if (Number.isSafeInteger(value.c) && typeof value.i === 'string' && value.i.length <= 100) {
      return { createdAt: value.c as number, id: value.i };
    }
  } catch {
    // answered below
  }
  throw invalidField('cursor', 'is not a cursor this API gave');
}

/** The filters of a query string; `invalid_command` naming the first faulty parameter. */
export function parseSearchQuery(query: unknown): SearchFilters {
  const parsed = parseOrThrow(parseCommand(SearchQuery, query ?? {}));
  const filters: SearchFilters = { limit: parsed.limit ?? DEFAULT_SEARCH_LIMIT };
  if (parsed.status) filters.statuses = new Set(parsed.status.split(',') as PaymentStatus[]);
  if (parsed.merchant) filters.merchant = parsed.merchant;
  if (parsed.createdFrom) filters.createdFrom = Date.parse(parsed.createdFrom);
  if (parsed.createdTo) filters.createdTo = Date.parse(parsed.createdTo);
  if (
    filters.createdFrom !== undefined &&
    filters.createdTo !== undefined &&
    filters.createdTo <= filters.createdFrom
  ) {
    throw invalidField('createdTo', 'must be after createdFrom');
  }
  if (parsed.orderId) filters.orderId = parsed.orderId;
  if (parsed.customerId) filters.customerId = parsed.customerId;
  if (parsed.cursor) filters.after = decodeCursor(parsed.cursor);
  return filters;
}

export function summaryOf(listing: PaymentListing): PaymentSummary {
  const summary: PaymentSummary = coreFieldsOf(listing);
  if (listing.merchant.orderId) summary.orderId = listing.merchant.orderId;
  if (listing.merchant.customerId) summary.customerId = listing.merchant.customerId;
  if (listing.maskedPan) summary.maskedPan = listing.maskedPan;
  const code = lastResponseCodeOf(listing.engine);
  if (code) summary.lastResponseCode = code;
  return summary;
}

function lastResponseCodeOf(engine: string | undefined): string | undefined {
  if (engine === undefined) return undefined;
  try {
    const code = (JSON.parse(engine) as { facts?: Record<string, unknown> }).facts
      ?.lastResponseCode;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** The shops whose indexes a search reads: undefined is the index of all payments. */
function merchantsToRead(filters: SearchFilters, scope: MerchantScope): string[] | undefined {
  if (filters.merchant !== undefined) {
    // As for a create: a shop the key may not use reads as an unknown one.
    if (!allows(scope, filters.merchant)) {
      throw invalidField('merchant', `${filters.merchant} is not configured`);
    }
    return [filters.merchant];
  }
  return scope === 'all' ? undefined : [...scope];
}

function matcher(
  filters: SearchFilters,
  scope: MerchantScope,
): (listing: PaymentListing) => boolean {
  return (listing) =>
    allows(scope, merchantIdOf(listing.merchant)) &&
    (filters.statuses === undefined || filters.statuses.has(listing.status)) &&
    (filters.orderId === undefined || listing.merchant.orderId === filters.orderId) &&
    (filters.customerId === undefined || listing.merchant.customerId === filters.customerId);
}

const filtersRecords = (filters: SearchFilters): boolean =>
  filters.statuses !== undefined ||
  filters.orderId !== undefined ||
  filters.customerId !== undefined;

export interface PaymentSearch {
  /** One page, newest first. */
  page(filters: SearchFilters, scope: MerchantScope): Promise<SearchPage>;
  /** Every match after `filters.after`, newest first, in batches of at most `batch`. */
  all(
    filters: SearchFilters,
    scope: MerchantScope,
    batch?: number,
  ): AsyncGenerator<PaymentListing[]>;
  /** Adds records made before the indexes to them (idempotent); answers how many were seen. */
  backfill(): Promise<number>;
}

export function createPaymentSearch(context: SearchContext): PaymentSearch {
  const indexed = createIndexGuard(context);
  // Started now, so that records of an earlier version are indexed before the
  // first search; a failure here is tried again by the first search.
  indexed().catch(() => undefined);

  /** The shops' index entries a search reads, in batches of `batch`, and the check of each record. */
  async function positionsFor(filters: SearchFilters, scope: MerchantScope, batch: number) {
    const merchants = merchantsToRead(filters, scope);
    await indexed();
    const keep = matcher(filters, scope);
    const positions = indexPositions(context, {
      merchants,
      createdFrom: filters.createdFrom,
      createdTo: filters.createdTo,
      after: filters.after,
      batch,
    });
    return { keep, positions };
  }

  async function* all(
    filters: SearchFilters,
    scope: MerchantScope,
    batch = 500,
  ): AsyncGenerator<PaymentListing[]> {
    const { keep, positions } = await positionsFor(filters, scope, batch);
    let ids: string[] = [];
    for await (const position of positions) {
      ids.push(position.id);
      if (ids.length < batch) continue;
      yield (await readListings(context, ids)).filter(keep);
      ids = [];
    }
    if (ids.length > 0) yield (await readListings(context, ids)).filter(keep);
  }

  async function page(filters: SearchFilters, scope: MerchantScope): Promise<SearchPage> {
    const { limit } = filters;
    const checksRecords = filtersRecords(filters);
    const { keep, positions } = await positionsFor(filters, scope, checksRecords ? 200 : limit + 1);
    const budget = Math.max(1_000, limit * EXAMINED_PER_ITEM);
    const chunkSize = checksRecords ? 100 : limit;
    const data: PaymentSummary[] = [];
    let examined = 0;
    let last: IndexPosition | undefined;
    let leftOver = false;
    while (data.length < limit && examined < budget) {
      const chunk: IndexPosition[] = [];
      while (chunk.length < Math.min(chunkSize, budget - examined)) {
        const next = await positions.next();
        if (next.done) break;
        chunk.push(next.value);
      }
      if (chunk.length === 0) return { data, nextCursor: null };
      examined += chunk.length;
      const listings = new Map(
        (
          await readListings(
            context,
            chunk.map((position) => position.id),
          )
        ).map((listing) => [listing.id, listing]),
      );
      for (const [index, position] of chunk.entries()) {
        last = position;
        const listing = listings.get(position.id);
        if (listing && keep(listing)) data.push(summaryOf(listing));
        if (data.length === limit) {
          leftOver = index < chunk.length - 1;
          break;
        }
      }
    }
    // Full or out of budget: more only when the indexes have more.
    const more = leftOver || !(await positions.next()).done;
    await positions.return(undefined);
    return { data, nextCursor: more && last ? encodeCursor(last) : null };
  }

  return { page, all, backfill: () => backfillIndexes(context) };
}
