/**
 * A test's private corner of the shared test Redis: a unique key prefix, Redis
 * connections named after it, and a close() that deletes its keys and fails
 * when a connection of the namespace (including BullMQ's, which carry the
 * prefix in their client name) was left open.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

const open = new Set<string>();

export function openNamespaces(): ReadonlySet<string> {
  return open;
}

export interface TestNamespace {
  /** Unique prefix, also usable as a BullMQ `prefix`. */
  readonly ns: string;
  readonly redisUrl: string;
  /** A new connection, named after the namespace; closed by close() if still open. */
  redis(options?: { forBullmq?: boolean }): Redis;
  close(): Promise<void>;
}

export function openTestNamespace(label = 't'): TestNamespace {
  const ns = `test-${label}-${randomUUID().slice(0, 8)}`;
  const redisUrl = inject('redisUrl');
  const connections: Redis[] = [];
  open.add(ns);
  return {
    ns,
    redisUrl,
    redis(options) {
      const connection = new Redis(redisUrl, {
        connectionName: ns,
        lazyConnect: false,
        ...(options?.forBullmq ? { maxRetriesPerRequest: null } : {}),
      });
      connections.push(connection);
      return connection;
    },
    async close() {
      const admin = new Redis(redisUrl, { connectionName: `${ns}-admin` });
      try {
        const stillOpen = await waitForNamespaceClients(admin, ns, connections);
        for (const connection of connections) connection.disconnect();
        await deleteKeys(admin, ns);
        if (stillOpen.length > 0) {
          throw new Error(`Redis connections of ${ns} left open: ${stillOpen.join(', ')}`);
        }
      } finally {
        admin.disconnect();
        open.delete(ns);
      }
    },
  };
}

async function waitForNamespaceClients(admin: Redis, ns: string, own: Redis[]): Promise<string[]> {
  // Connections made through redis() are closed by close(); any other client
  // carrying the namespace (BullMQ workers, queues) must have been closed by the test.
  for (const connection of own) connection.disconnect();
  const deadline = Date.now() + 2_000;
  for (;;) {
    const list = (await admin.client('LIST')) as string;
    const names = list
      .split('\n')
      .map((line) => /name=(\S*)/.exec(line)?.[1] ?? '')
      .filter((name) => name.includes(ns) && name !== `${ns}-admin`);
    if (names.length === 0 || Date.now() > deadline) return names;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function deleteKeys(admin: Redis, ns: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `*${ns}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
}
