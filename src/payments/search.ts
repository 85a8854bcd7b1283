/**
 * Payments newest first, across shards, from the indexes by creation time
 * the create script writes (keys.ts): `{…:s<n>}:payments:by_created` holds
 * every payment of a shard, `{…:s<n>}:payments:by_merchant:<shop>` one
 * shop's, both scored by createdAt (ms). Statuses change, so they are not
 * indexed here: callers check them on the records.
 *
 * The order is (createdAt, id), both descending. A position in it is the
 * createdAt and id of the last payment seen; the next ones are read from each
 * index after that position and merged (k-way), a batch per index at a time,
 * so memory stays bounded whatever the number of payments.
 *
 * Records written before these indexes existed are added to them once
 * (`createIndexGuard`, at start-up and before the first search): every master is SCANned for the shards' records and each
 * is added with its createdAt, then a marker per shard says the shard is done.
 * Adding is idempotent (ZADD of the same score), so two processes doing it at
 * once, or a pass cut short and run again, leave the same indexes.
 */
import { writableServers, type RedisClient } from '../platform/redis.ts';
import type { Keyspace } from './keys.ts';
import type { Amounts, CaptureMode, PaymentKind, PaymentStatus } from '../../machines/contract.ts';
import { merchantIdOf, type MerchantRef, type PaymentRecord } from './store-types.ts';

/** Where a listing stands: the last payment seen. */
export interface IndexPosition {
  createdAt: number;
  id: string;
}

export interface IndexQuery {
  /** Our ids of the shops whose indexes are read; absent: the index of all payments. */
  merchants?: readonly string[] | undefined;
  /** Epoch ms, inclusive. */
  createdFrom?: number | undefined;
  /** Epoch ms, exclusive. */
  createdTo?: number | undefined;
  /** Continue after this position. */
  after?: IndexPosition | undefined;
  /** Entries read from each index per round trip. @defaultValue 100 */
  batch?: number;
}

export interface SearchContext {
  redis: RedisClient;
  keyspace: Keyspace;
}

/** The fields of a record a listing shows: no snapshot, card or timeline. */
const LISTING_FIELDS = [
  'id',
  'status',
  'kind',
  'merchant',
  'amount',
  'currency',
  'captureMode',
  'amounts',
  'transactionReference',
  'maskedPan',
  'createdAt',
  'updatedAt',
  'engine',
] as const satisfies readonly (keyof PaymentRecord)[];

/** A record's listing fields; `engine` is the engine's data (JSON text), for the facts Sips gave. */
export type PaymentListing = Pick<PaymentRecord, (typeof LISTING_FIELDS)[number]>;

/** The global order: newer first, then the greater id first. */
function comesBefore(a: IndexPosition, b: IndexPosition): boolean {
  return a.createdAt !== b.createdAt ? a.createdAt > b.createdAt : a.id > b.id;
}

function pairs(flat: readonly string[]): IndexPosition[] {
  const out: IndexPosition[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out.push({ id: flat[i] as string, createdAt: Number(flat[i + 1]) });
  }
  return out;
}

/** Up to `count` entries of one index after `after` (or from the top), within the range. */
async function readIndex(
  redis: RedisClient,
  key: string,
  after: IndexPosition | undefined,
  query: IndexQuery,
  count: number,
): Promise<IndexPosition[]> {
  const min = query.createdFrom === undefined ? '-inf' : String(query.createdFrom);
  if (after === undefined) {
    const max = query.createdTo === undefined ? '+inf' : `(${query.createdTo}`;
    const flat = await redis.zrange(
      key,
      max,
      min,
      'BYSCORE',
      'REV',
      'LIMIT',
      0,
      count,
      'WITHSCORES',
    );
    return pairs(flat);
  }
  // Entries of the same millisecond come in id order, descending: those below the position's id.
  const ties = (await redis.zrange(key, after.createdAt, after.createdAt, 'BYSCORE', 'REV'))
    .filter((id) => id < after.id)
    .slice(0, count)
    .map((id) => ({ id, createdAt: after.createdAt }));
  if (
    ties.length >= count ||
    (query.createdFrom !== undefined && after.createdAt <= query.createdFrom)
  ) {
    return ties;
  }
  const rest = await redis.zrange(
    key,
    `(${after.createdAt}`,
    min,
    'BYSCORE',
    'REV',
    'LIMIT',
    0,
    count - ties.length,
    'WITHSCORES',
  );
  return [...ties, ...pairs(rest)];
}

interface Source {
  key: string;
  buffer: IndexPosition[];
  /** The last entry read from this index. */
  last: IndexPosition | undefined;
  done: boolean;
}

/** Index positions in the global order, after `query.after`, until the indexes run out. */
export async function* indexPositions(
  { redis, keyspace }: SearchContext,
  query: IndexQuery,
): AsyncGenerator<IndexPosition> {
  const batch = query.batch ?? 100;
  const keys = keyspace.allShards.flatMap((shard) =>
    query.merchants === undefined
      ? [keyspace.createdIndexKey(shard)]
      : query.merchants.map((merchant) => keyspace.merchantIndexKey(shard, merchant)),
  );
  const sources: Source[] = keys.map((key) => ({
    key,
    buffer: [],
    last: query.after,
    done: false,
  }));
  const refill = async (source: Source): Promise<void> => {
    const read = await readIndex(redis, source.key, source.last, query, batch);
    source.buffer = read;
    if (read.length < batch) source.done = true;
    if (read.length > 0) source.last = read[read.length - 1];
  };
  await Promise.all(sources.map(refill));
  for (;;) {
    let best: Source | undefined;
    for (const source of sources) {
      const head = source.buffer[0];
      if (
        head !== undefined &&
        (best === undefined || comesBefore(head, best.buffer[0] as IndexPosition))
      ) {
        best = source;
      }
    }
    if (best === undefined) return;
    const next = best.buffer.shift() as IndexPosition;
    // An index whose batch ran out is read again before its next entry is compared.
    if (best.buffer.length === 0 && !best.done) await refill(best);
    yield next;
  }
}

function listingOf(values: readonly (string | null)[]): PaymentListing | undefined {
  const field = (name: (typeof LISTING_FIELDS)[number]) =>
    values[LISTING_FIELDS.indexOf(name)] ?? undefined;
  const id = field('id');
  if (id === undefined) return undefined;
  try {
    const listing: PaymentListing = {
      id,
      status: field('status') as PaymentStatus,
      kind: field('kind') as PaymentKind,
      merchant: JSON.parse(field('merchant') ?? '{}') as MerchantRef,
      amount: Number(field('amount')),
      currency: field('currency') ?? '',
      captureMode: field('captureMode') as CaptureMode,
      amounts: JSON.parse(field('amounts') ?? '{}') as Amounts,
      transactionReference: field('transactionReference') ?? '',
      createdAt: Number(field('createdAt')),
      updatedAt: Number(field('updatedAt')),
    };
    const maskedPan = field('maskedPan');
    if (maskedPan !== undefined) listing.maskedPan = maskedPan;
    const engine = field('engine');
    if (engine !== undefined) listing.engine = engine;
    return listing;
  } catch {
    // An unreadable record is left out of listings; reading it by id reports it.
    return undefined;
  }
}

/** The listings of these payments, in the same order; a payment gone is left out. */
export async function readListings(
  { redis, keyspace }: SearchContext,
  ids: readonly string[],
): Promise<PaymentListing[]> {
  const rows = await Promise.all(
    ids.map((id) => redis.hmget(keyspace.paymentKey(id), ...LISTING_FIELDS)),
  );
  return rows.map(listingOf).filter((listing) => listing !== undefined);
}

function recordKeyPattern(keyspace: Keyspace): RegExp {
  const prefix = keyspace.prefix.replace(/[.]/g, '\\.');
  return new RegExp(`^\\{${prefix}:s(\\d+)\\}:payment:([^:]+)$`);
}

/**
 * Adds every payment record of the keyspace to the indexes by creation time;
 * answers how many records were seen. Idempotent; see the header.
 */
export async function backfillIndexes({ redis, keyspace }: SearchContext): Promise<number> {
  const pattern = recordKeyPattern(keyspace);
  let seen = 0;
  const servers = writableServers(redis);
  // A cluster client lists its masters once connected: none means not ready yet.
  if (servers.length === 0) throw new Error('no Redis server to scan for payment records yet');
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(
        cursor,
        'MATCH',
        `{${keyspace.prefix}:s*}:payment:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      const records = keys.filter((key) => {
        const match = pattern.exec(key);
        return (
          match !== null &&
          Number(match[1]) < keyspace.shards &&
          keyspace.isPaymentId(match[2] as string)
        );
      });
      const fields = await Promise.all(
        records.map((key) => redis.hmget(key, 'id', 'createdAt', 'merchant')),
      );
      await Promise.all(
        fields.map(async ([id, createdAt, merchantJson]) => {
          if (!id || !createdAt || !keyspace.isPaymentId(id)) return;
          const shard = keyspace.shardOf(id);
          let merchant = 'default';
          try {
            merchant = merchantIdOf(JSON.parse(merchantJson ?? '{}') as MerchantRef);
          } catch {
            // An unreadable merchant: listed under `default`, like payments made before shops.
          }
          seen++;
          await redis.zadd(keyspace.createdIndexKey(shard), createdAt, id);
          await redis.zadd(keyspace.merchantIndexKey(shard, merchant), createdAt, id);
        }),
      );
    } while (cursor !== '0');
  }
  return seen;
}

/**
 * Makes sure the indexes hold the records made before them, once per
 * process: the markers tell a shard done; a shard without one is backfilled.
 */
export function createIndexGuard(context: SearchContext): () => Promise<void> {
  let ready: Promise<void> | undefined;
  const check = async (): Promise<void> => {
    const { redis, keyspace } = context;
    const markers = await Promise.all(
      keyspace.allShards.map((shard) => redis.exists(keyspace.indexedMarkerKey(shard))),
    );
    if (markers.every((present) => present === 1)) return;
    // Nothing found, nothing written: an empty keyspace is looked at again at the next start.
    if ((await backfillIndexes(context)) === 0) return;
    await Promise.all(
      keyspace.allShards.map((shard) =>
        redis.set(keyspace.indexedMarkerKey(shard), String(Date.now())),
      ),
    );
  };
  return () => {
    ready ??= check().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
}
