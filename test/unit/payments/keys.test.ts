import { describe, expect, it } from 'vitest';
import { PAYMENT_STATUSES } from '../../../machines/contract.ts';
import { createKeyspace, fnv1a32 } from '../../../src/payments/keys.ts';
import { sequentialIds } from '../../../src/platform/ids.ts';
import { clusterSlot, crc16Xmodem, hashedPart } from '../../support/cluster-slot.ts';

describe('cluster slot helper', () => {
  it('matches the CRC16/XMODEM check value and the cluster spec examples', () => {
    expect(crc16Xmodem('123456789')).toBe(0x31c3);
    expect(hashedPart('{user1000}.following')).toBe('user1000');
    expect(hashedPart('foo{}{bar}')).toBe('foo{}{bar}');
    expect(hashedPart('foo{{bar}}zap')).toBe('{bar');
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
  });
});

describe('keyspace', () => {
  const keyspace = createKeyspace({ prefix: 'sog', shards: 8 });

  it('puts every key of a payment, its shard stream and its shard queues in one slot', () => {
    const ids = sequentialIds('tok');
    for (let n = 0; n < 50; n++) {
      const id = keyspace.newPaymentId(ids);
      const shard = keyspace.shardOf(id);
      const prefix = keyspace.bullmqPrefix(shard);
      const keys = [
        keyspace.paymentKey(id),
        keyspace.timelineKey(id),
        keyspace.lockKey(id),
        keyspace.eventsStream(shard),
        keyspace.deadLetterStream(shard),
        keyspace.reviewDecisionKey(shard, `review-${id}-3`),
        ...keyspace.statusIndexKeys(shard),
        // BullMQ builds `${prefix}:${queueName}:${suffix}`.
        `${prefix}:${keyspace.paymentsQueueName(shard)}:wait`,
        `${prefix}:${keyspace.paymentsQueueName(shard)}:${id}`,
        `${prefix}:${keyspace.reviewQueueName}:wait`,
      ];
      const slots = new Set(keys.map(clusterSlot));
      expect(slots.size, keys.join(' ')).toBe(1);
      expect(keys.every((key) => hashedPart(key) === `sog:s${shard}`)).toBe(true);
    }
  });

  it('gives a payment created with an idempotency key the key’s slot', () => {
    const ids = sequentialIds('tok');
    for (const key of ['order-1', 'order-2', 'client-9:abc', '{weird}key', 'x'.repeat(255)]) {
      const id = keyspace.newPaymentId(ids, key);
      expect(keyspace.shardOf(id)).toBe(keyspace.shardForIdempotencyKey(key));
      expect(clusterSlot(keyspace.idempotencyKey(key))).toBe(clusterSlot(keyspace.paymentKey(id)));
    }
  });

  it('hashes stably and spreads over the shards', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    const counts = new Array<number>(8).fill(0);
    for (let n = 0; n < 8000; n++) counts[keyspace.shardForText(`key-${n}`)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('lays keys out as documented', () => {
    const id = 'pay_3_ABC';
    expect(keyspace.paymentKey(id)).toBe('{sog:s3}:payment:pay_3_ABC');
    expect(keyspace.timelineKey(id)).toBe('{sog:s3}:payment:pay_3_ABC:timeline');
    expect(keyspace.eventsStream(3)).toBe('{sog:s3}:events');
    expect(keyspace.deadLetterStream(3)).toBe('{sog:s3}:events:dead');
    expect(keyspace.statusIndexKey(3, 'authorized')).toBe('{sog:s3}:status:authorized');
    expect(keyspace.statusIndexKeys(3)).toHaveLength(PAYMENT_STATUSES.length);
    expect(keyspace.bullmqPrefix(3)).toBe('{sog:s3}');
    expect(keyspace.paymentsQueueName(3)).toBe('payments-s3');
    expect(keyspace.reviewQueueName).toBe('manual-review');
    expect(createKeyspace().allShards).toEqual([0]);
    expect(createKeyspace().paymentKey('pay_0_X')).toBe('{sog:s0}:payment:pay_0_X');
  });

  it('refuses bad prefixes, shard counts, ids and idempotency keys', () => {
    expect(() => createKeyspace({ prefix: 'a{b}' })).toThrow(/prefix/);
    expect(() => createKeyspace({ prefix: '' })).toThrow(/prefix/);
    expect(() => createKeyspace({ shards: 0 })).toThrow(/shards/);
    expect(() => createKeyspace({ shards: 1.5 })).toThrow(/shards/);
    expect(() => keyspace.shardOf('pay_x_1')).toThrow(/malformed/);
    expect(() => keyspace.paymentKey('other')).toThrow(/malformed/);
    expect(() => keyspace.idempotencyKey('')).toThrow(/idempotency/);
    expect(() => keyspace.idempotencyKey('has space')).toThrow(/idempotency/);
    expect(() => keyspace.idempotencyKey('x'.repeat(256))).toThrow(/idempotency/);
  });
});
