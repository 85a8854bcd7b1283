/**
 * What an orchestrator published: every entry of the event streams of all
 * its shards, shard after shard, in stream order.
 */
import { testPortsOf, type Orchestrator } from '../../src/orchestrator.ts';

/** Each entry's stream id and its `event` field parsed (throws on an entry without one). */
export async function streamedEvents<Event>(
  orchestrator: Orchestrator,
): Promise<Array<{ streamId: string; event: Event }>> {
  const { keyspace, redis } = testPortsOf(orchestrator);
  const published: Array<{ streamId: string; event: Event }> = [];
  for (const shard of keyspace.allShards) {
    const entries = (await redis.xrange(keyspace.eventsStream(shard), '-', '+')) as [
      string,
      string[],
    ][];
    for (const [streamId, fields] of entries) {
      const at = fields.indexOf('event');
      if (at < 0) throw new Error(`stream entry ${streamId} has no event field`);
      published.push({ streamId, event: JSON.parse(fields[at + 1] as string) as Event });
    }
  }
  return published;
}
