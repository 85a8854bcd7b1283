/**
 * The local Redis Cluster of test/support/redis-cluster.ts against a real
 * ioredis Cluster client: keys with different hash tags land on different
 * masters, and a key written with `WAIT 1` survives its master being killed,
 * read back through the same client from the replica promoted in its place.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.ts';

const TIMEOUT_MS = 60_000;

let redisCluster: RedisClusterHandle | undefined;
let client: Cluster | undefined;

function clusterClient(startupNodes: string): Cluster {
  const nodes = startupNodes.split(',').map((address) => {
    const [host = '', port = ''] = address.split(':');
    return { host, port: Number(port) };
  });
  return new Cluster(nodes, {
    // While a master is being replaced: retry CLUSTERDOWN and refetch the slots
    // after a lost connection rather than failing the command at once.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    maxRedirections: 32,
    slotsRefreshTimeout: 2_000,
    redisOptions: { connectTimeout: 2_000 },
  });
}

/** GET on a plain connection to one node, closed afterwards. */
async function getOnNode(port: number, key: string): Promise<string | null> {
  const direct = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  try {
    await direct.connect();
    return await direct.get(key);
  } finally {
    direct.disconnect();
  }
}

beforeAll(async () => {
  redisCluster = await startRedisCluster();
  client = clusterClient(redisCluster.startupNodes);
}, TIMEOUT_MS);

afterAll(async () => {
  client?.disconnect();
  await redisCluster?.stop();
}, TIMEOUT_MS);

describe('local Redis Cluster', () => {
  it('starts 3 masters and 3 replicas on distinct ports and bus ports', async () => {
    const cluster = redisCluster!;
    expect(cluster.nodes).toHaveLength(6);
    const ports = cluster.nodes.flatMap((node) => [node.port, node.busPort]);
    expect(new Set(ports).size).toBe(12);
    const roles = await Promise.all(cluster.nodes.map((node) => node.role()));
    expect(roles.filter((role) => role === 'master')).toHaveLength(3);
    expect(roles.filter((role) => role === 'replica')).toHaveLength(3);
    expect(cluster.startupNodes.split(',')).toEqual(
      cluster.nodes.map((node) => `127.0.0.1:${node.port}`),
    );
  });

  it(
    'lets a Cluster client SET and GET keys with different hash tags, each on its master',
    async () => {
      const cluster = redisCluster!;
      const keys = ['{a}:k', '{b}:k', '{c}:k', '{d}:k', '{e}:k', '{f}:k', '{x}:k'];
      for (const key of keys) expect(await client!.set(key, `value of ${key}`)).toBe('OK');
      const masters = new Set<number>();
      for (const key of keys) {
        expect(await client!.get(key)).toBe(`value of ${key}`);
        const master = await cluster.masterFor(key);
        expect(await master.role()).toBe('master');
        expect(await getOnNode(master.port, key)).toBe(`value of ${key}`);
        masters.add(master.port);
      }
      expect(masters.size).toBeGreaterThan(1);
    },
    TIMEOUT_MS,
  );

  it(
    'serves a key written with WAIT 1 from the replica promoted when its master is killed',
    async () => {
      const cluster = redisCluster!;
      const key = '{x}:k';
      const value = `written before the failover ${Date.now()}`;
      // SET and WAIT in one pipeline go to the key's master on one connection,
      // so WAIT counts the replicas that acknowledged this SET.
      const replies = await client!.pipeline().set(key, value).wait(1, 1_000).exec();
      expect(replies).toEqual([
        [null, 'OK'],
        [null, 1],
      ]);

      const oldMaster = await cluster.masterFor(key);
      const started = Date.now();
      const newMaster = await cluster.failover(oldMaster);
      const failoverMs = Date.now() - started;

      expect(newMaster.port).not.toBe(oldMaster.port);
      expect(await newMaster.role()).toBe('master');
      expect((await cluster.masterFor(key)).port).toBe(newMaster.port);
      expect(failoverMs).toBeLessThan(30_000);

      // The same client, which knew the old master, finds the new one.
      expect(await client!.get(key)).toBe(value);
      const slot = Number(await client!.cluster('KEYSLOT', key));
      expect(client!.slots[slot]?.[0]).toBe(`127.0.0.1:${newMaster.port}`);
      expect(client!.nodes('master').map((node) => node.options.port)).toContain(newMaster.port);
      expect(client!.nodes('master').map((node) => node.options.port)).not.toContain(
        oldMaster.port,
      );
      expect(await getOnNode(newMaster.port, key)).toBe(value);

      // And writes go there too.
      expect(await client!.set(key, 'after the failover')).toBe('OK');
      expect(await getOnNode(newMaster.port, key)).toBe('after the failover');
    },
    TIMEOUT_MS,
  );
});
