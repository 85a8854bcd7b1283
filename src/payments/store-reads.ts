/** Reading payments: one record (with or without its timeline) and the status indexes. */
import type { PaymentStatus } from '../../machines/contract.ts';
import { loadScript, runScript } from './lua.ts';
import { checkStatus, decode, hashOf } from './store-codec.ts';
import type { PaymentRecord, StatusIndexEntry, StoreContext } from './store-types.ts';

const READ = loadScript('payments.read', new URL('./lua/read.lua', import.meta.url));

export async function getPayment(
  { redis, keyspace }: StoreContext,
  id: string,
  options: { timeline?: boolean } = {},
): Promise<PaymentRecord | undefined> {
  // One command either way (no MULTI): a single HGETALL is atomic, and the
  // script reads the hash and the timeline in one atomic step.
  if (options.timeline === false) {
    const hash = await redis.hgetall(keyspace.paymentKey(id));
    return Object.keys(hash).length === 0 ? undefined : decode(hash, []);
  }
  const [flat, timeline] = (await runScript(
    redis,
    READ,
    [keyspace.paymentKey(id), keyspace.timelineKey(id)],
    [],
  )) as [string[], string[]];
  if (flat.length === 0) return undefined;
  return decode(hashOf(flat), timeline);
}

export async function listByStatus(
  { redis, keyspace }: StoreContext,
  status: PaymentStatus,
  options: { olderThan?: number; after?: number; limit?: number } = {},
): Promise<StatusIndexEntry[]> {
  checkStatus(status);
  const limit = options.limit ?? 100;
  const max = options.olderThan === undefined ? '+inf' : `(${options.olderThan}`;
  const min = options.after === undefined ? '-inf' : `(${options.after}`;
  const perShard = await Promise.all(
    keyspace.allShards.map((shard) =>
      redis.zrangebyscore(
        keyspace.statusIndexKey(shard, status),
        min,
        max,
        'WITHSCORES',
        'LIMIT',
        0,
        limit,
      ),
    ),
  );
  const entries: StatusIndexEntry[] = [];
  for (const flat of perShard) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      entries.push({ id: flat[i] as string, updatedAt: Number(flat[i + 1]) });
    }
  }
  entries.sort((a, b) => a.updatedAt - b.updatedAt || (a.id < b.id ? -1 : 1));
  return entries.slice(0, limit);
}
