/**
 * Keys that hold something: an event stream is created empty at start-up by
 * the consumer groups that read it (webhook delivery), which writes nothing.
 */
import type { RedisClient } from '../../src/platform/redis.ts';

export async function withoutEmptyStreams(redis: RedisClient, keys: string[]): Promise<string[]> {
  const lengths = await Promise.all(
    keys.map((key) => (key.endsWith(':events') ? redis.xlen(key) : 1)),
  );
  return keys.filter((_, index) => (lengths[index] ?? 1) > 0);
}
