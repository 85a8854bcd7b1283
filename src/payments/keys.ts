/**
 * Every Redis key and BullMQ name of the payments layer, in one place.
 *
 * Layout (prefix `sog`, shard 3):
 *
 * | key | type | what |
 * |---|---|---|
 * | `{sog:s3}:payment:<id>` | hash | the payment record |
 * | `{sog:s3}:payment:<id>:timeline` | list | timeline entries (JSON), oldest first |
 * | `{sog:s3}:payment:<id>:lock` | string | the per-payment lock token |
 * | `{sog:s3}:idem:<idempotency key>` | hash | `id`, `requestHash`; expires |
 * | `{sog:s3}:status:<status>` | sorted set | payment ids by last status write (ms) |
 * | `{sog:s3}:payments:by_created` | sorted set | payment ids by createdAt (ms) |
 * | `{sog:s3}:payments:by_merchant:<merchant>` | sorted set | a shop's payment ids by createdAt (ms) |
 * | `{sog:s3}:payments:indexed` | string | set once the shard's records older than the indexes are in them |
 * | `{sog:s3}:events` | stream | CloudEvents of the shard's payments |
 * | `{sog:s3}:events:dead` | stream | entries a consumer group gave up on |
 * | `{sog:s3}:review:<jobId>:decision` | string | a resolved review item (JSON) |
 * | `{sog:s3}:<queue>:…` | BullMQ | queues, with `prefix: '{sog:s3}'` |
 *
 * The hash tag is `{<prefix>:s<shard>}`: the prefix sits inside the braces so
 * that two deployments sharing a cluster never share a slot by accident, and
 * the same string is the BullMQ `prefix` of the shard's queues. Everything a
 * payment touches (record, timeline, lock, status indexes, event stream,
 * queues) therefore hashes to one slot, and each atomic write stays on one
 * Redis Cluster node.
 *
 * Payment ids carry their shard: `pay_<shard>_<token>`. A payment created with
 * an idempotency key gets the shard the key hashes to, so the create script
 * checks the key and writes the record in the same slot.
 *
 * The shard count may grow, never shrink, while payments live: ids keep their
 * shard, but an idempotency key hashes to another shard after a change, so a
 * retried create that straddles the change could make a second payment. Change
 * it with commands drained (or after the idempotency window).
 */
import type { PaymentStatus } from '../../machines/contract.ts';
import { PAYMENT_STATUSES } from '../../machines/contract.ts';
import type { IdGenerator } from '../platform/ids.ts';
import { PaymentsError } from './errors.ts';

export interface KeyspaceOptions {
  /** Prefix of every key and BullMQ prefix. Letters, digits, `.`, `_`, `-`, `:`. @defaultValue `sog` */
  prefix?: string;
  /** Number of shards (slots used, queues, event streams). @defaultValue 1 */
  shards?: number;
}

export interface Keyspace {
  readonly prefix: string;
  readonly shards: number;
  /** `[0, 1, … shards - 1]` */
  readonly allShards: readonly number[];
  /** `{sog:s3}`: the Redis Cluster hash tag of a shard. */
  hashTag(shard: number): string;
  /** Stable FNV-1a hash of a text, modulo the shard count. */
  shardForText(text: string): number;
  /** The shard encoded in a payment id. Throws on a malformed id. */
  shardOf(paymentId: string): number;
  /**
   * A new payment id. With an idempotency key the shard is the key's, so the
   * create script can check the key and write the record atomically.
   */
  newPaymentId(ids: IdGenerator, idempotencyKey?: string): string;
  isPaymentId(value: string): boolean;
  paymentKey(paymentId: string): string;
  timelineKey(paymentId: string): string;
  lockKey(paymentId: string): string;
  /** The shard an idempotency key lives in (and the shard of the payment it creates). */
  shardForIdempotencyKey(idempotencyKey: string): number;
  idempotencyKey(idempotencyKey: string): string;
  statusIndexKey(shard: number, status: PaymentStatus): string;
  /** All status index keys of a shard, in `PAYMENT_STATUSES` order. */
  statusIndexKeys(shard: number): string[];
  /** Every payment of the shard, scored by createdAt (ms); written by the create. */
  createdIndexKey(shard: number): string;
  /** One shop's payments of the shard (our id of the shop), scored by createdAt (ms). */
  merchantIndexKey(shard: number, merchant: string): string;
  /** Present once records made before the created indexes existed were added to them. */
  indexedMarkerKey(shard: number): string;
  eventsStream(shard: number): string;
  deadLetterStream(shard: number): string;
  reviewDecisionKey(shard: number, jobId: string): string;
  /** BullMQ `prefix` for a shard's queues: the hash tag itself. */
  bullmqPrefix(shard: number): string;
  /** `payments-s3`: the queue the engine's step jobs go to. */
  paymentsQueueName(shard: number): string;
  /** `manual-review`: the same name in every shard; the prefix tells shards apart. */
  readonly reviewQueueName: string;
}

const PREFIX_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const PAYMENT_ID_PATTERN = /^pay_(\d{1,5})_([A-Za-z0-9_-]{1,64})$/;
/**
 * The one rule for idempotency keys, wherever they arrive (API header, library
 * call, schedule): 1 to 255 visible ASCII characters (0x21–0x7E), so no
 * space, tab, control or non-ASCII character. Braces are fine after the hash tag.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const IDEMPOTENCY_KEY_RULE =
  'an idempotency key has 1 to 255 visible ASCII characters (0x21-0x7E): no space, tab, control or non-ASCII character';
const MAX_SHARDS = 16_384;

/** FNV-1a, 32 bits, over the UTF-8 bytes. Stable across processes and versions. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function createKeyspace(options: KeyspaceOptions = {}): Keyspace {
  const prefix = options.prefix ?? 'sog';
  const shards = options.shards ?? 1;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new PaymentsError('keyspace_invalid', `invalid key prefix ${JSON.stringify(prefix)}`);
  }
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new PaymentsError('keyspace_invalid', `shards must be an integer in 1..${MAX_SHARDS}`);
  }
  const allShards = Object.freeze(Array.from({ length: shards }, (_, i) => i));

  const tag = (shard: number): string => {
    if (!Number.isInteger(shard) || shard < 0 || shard >= MAX_SHARDS) {
      throw new PaymentsError('keyspace_invalid', `invalid shard ${shard}`);
    }
    return `{${prefix}:s${shard}}`;
  };

  const shardOf = (paymentId: string): number => {
    const match = PAYMENT_ID_PATTERN.exec(paymentId);
    if (!match) {
      throw new PaymentsError('keyspace_invalid', 'malformed payment id', {
        details: { paymentId },
      });
    }
    return Number(match[1]);
  };

  const shardForText = (text: string): number => fnv1a32(text) % shards;

  const checkIdempotencyKey = (key: string): void => {
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new PaymentsError('idempotency_key_invalid', IDEMPOTENCY_KEY_RULE);
    }
  };

  const paymentKey = (id: string): string => `${tag(shardOf(id))}:payment:${id}`;

  return {
    prefix,
    shards,
    allShards,
    hashTag: tag,
    shardForText,
    shardOf,
    newPaymentId(ids, idempotencyKey) {
      const token = ids.next();
      let shard: number;
      if (idempotencyKey !== undefined) {
        checkIdempotencyKey(idempotencyKey);
        shard = shardForText(idempotencyKey);
      } else {
        shard = shardForText(token);
      }
      const id = `pay_${shard}_${token}`;
      if (!PAYMENT_ID_PATTERN.test(id)) {
        throw new PaymentsError('keyspace_invalid', 'the id generator made an unusable token', {
          details: { token },
        });
      }
      return id;
    },
    isPaymentId: (value) => PAYMENT_ID_PATTERN.test(value),
    paymentKey,
    timelineKey: (id) => `${paymentKey(id)}:timeline`,
    lockKey: (id) => `${paymentKey(id)}:lock`,
    shardForIdempotencyKey(key) {
      checkIdempotencyKey(key);
      return shardForText(key);
    },
    idempotencyKey(key) {
      checkIdempotencyKey(key);
      return `${tag(shardForText(key))}:idem:${key}`;
    },
    statusIndexKey: (shard, status) => `${tag(shard)}:status:${status}`,
    statusIndexKeys: (shard) => PAYMENT_STATUSES.map((status) => `${tag(shard)}:status:${status}`),
    createdIndexKey: (shard) => `${tag(shard)}:payments:by_created`,
    merchantIndexKey: (shard, merchant) =>
      `${tag(shard)}:payments:by_merchant:${encodeURIComponent(merchant)}`,
    indexedMarkerKey: (shard) => `${tag(shard)}:payments:indexed`,
    eventsStream: (shard) => `${tag(shard)}:events`,
    deadLetterStream: (shard) => `${tag(shard)}:events:dead`,
    reviewDecisionKey: (shard, jobId) => `${tag(shard)}:review:${jobId}:decision`,
    bullmqPrefix: tag,
    paymentsQueueName: (shard) => {
      tag(shard);
      return `payments-s${shard}`;
    },
    reviewQueueName: 'manual-review',
  };
}
