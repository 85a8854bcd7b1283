/**
 * Redis connections, standalone or Redis Cluster, built in one place.
 *
 * Everything above this module speaks to a `RedisClient`: a standalone
 * connection or an ioredis Cluster. Our keys are hash-tagged per shard
 * (src/payments/keys.ts), so every script, MULTI and pipeline of ours
 * touches one slot and runs unchanged on either.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** How a call's intent survives Redis (REDIS_DURABILITY): src/payments/durability.ts. */
export const DURABILITY_MODES = ['replica', 'fsync', 'verify', 'none'] as const;
export type DurabilityMode = (typeof DURABILITY_MODES)[number];

/** A standalone connection or a cluster client: every key of one call shares a slot. */
export type RedisClient = Redis | Cluster;

export interface ClusterNode {
  host: string;
  port: number;
}

/** Where the data lives: one server (or a primary behind a stable address), or a cluster. */
export type RedisTarget = { url: string } | { clusterNodes: readonly ClusterNode[] };

export interface ConnectOptions {
  connectionName: string;
  /** Pipeline commands issued in the same tick into one round trip. @defaultValue false */
  autoPipelining?: boolean;
  /** Fail commands after this many reconnections; `null` waits (BullMQ requires it). @defaultValue null */
  maxRetriesPerRequest?: number | null;
  /** Do not connect before the first command. @defaultValue false */
  lazyConnect?: boolean;
}

/** `host:port,host:port`, as REDIS_CLUSTER_NODES holds it. Throws naming the bad entry. */
export function parseClusterNodes(text: string): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  for (const entry of text.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65_535) {
      throw new TypeError(`"${entry}" is not host:port`);
    }
    nodes.push({ host: (match[1] as string).replace(/^\[|\]$/g, ''), port });
  }
  if (nodes.length === 0) throw new TypeError('no node given');
  return nodes;
}

function nodeOptions(options: ConnectOptions): RedisOptions {
  return {
    connectionName: options.connectionName,
    maxRetriesPerRequest:
      options.maxRetriesPerRequest === undefined ? null : options.maxRetriesPerRequest,
    ...(options.lazyConnect ? { lazyConnect: true } : {}),
  };
}

function clusterOptions(options: ConnectOptions): ClusterOptions {
  return {
    redisOptions: nodeOptions(options),
    enableAutoPipelining: options.autoPipelining ?? false,
    // After a failover the slots move: ask again soon, and keep retrying
    // commands while the cluster elects a new master.
    slotsRefreshTimeout: 2_000,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    ...(options.lazyConnect ? { lazyConnect: true } : {}),
  };
}

export function connectRedis(target: RedisTarget, options: ConnectOptions): RedisClient {
  if ('url' in target) {
    return new Redis(target.url, {
      ...nodeOptions(options),
      enableAutoPipelining: options.autoPipelining ?? false,
    });
  }
  return new Cluster(
    target.clusterNodes.map((node) => ({ host: node.host, port: node.port })),
    clusterOptions(options),
  );
}

/** Another connection to the same place, e.g. for blocking reads or BullMQ workers. */
export function duplicateConnection(
  connection: RedisClient,
  options: Partial<ConnectOptions> = {},
): RedisClient {
  if (connection instanceof Cluster) {
    const redisOptions = {
      ...connection.options.redisOptions,
      ...(options.connectionName ? { connectionName: options.connectionName } : {}),
      ...(options.maxRetriesPerRequest !== undefined
        ? { maxRetriesPerRequest: options.maxRetriesPerRequest }
        : {}),
    };
    return connection.duplicate([], {
      redisOptions,
      ...(options.autoPipelining !== undefined
        ? { enableAutoPipelining: options.autoPipelining }
        : {}),
    });
  }
  return connection.duplicate({
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    ...(options.maxRetriesPerRequest !== undefined
      ? { maxRetriesPerRequest: options.maxRetriesPerRequest }
      : {}),
    ...(options.autoPipelining !== undefined
      ? { enableAutoPipelining: options.autoPipelining }
      : {}),
  });
}

export function isCluster(connection: RedisClient): connection is Cluster {
  return connection instanceof Cluster;
}

/**
 * The servers that accept writes: the connection itself, or every master of
 * the cluster (ask once the connection is ready: see `untilReady`).
 */
export function writableServers(connection: RedisClient): Redis[] {
  return connection instanceof Cluster ? connection.nodes('master') : [connection];
}

/** `host:port` of a server connection, for messages. */
export function serverName(server: Redis): string {
  return `${server.options.host ?? '127.0.0.1'}:${server.options.port ?? 6379}`;
}

/**
 * Resolves when the connection is ready; rejects after `timeoutMs` with the
 * last connection error, naming the setting, instead of retrying forever.
 */
export async function untilReady(
  connection: RedisClient,
  timeoutMs: number,
  setting: string,
): Promise<void> {
  if (connection.status === 'ready') return;
  let lastError: Error | undefined;
  const onError = (error: Error) => {
    lastError = error;
  };
  connection.on('error', onError);
  try {
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => {
        connection.off('ready', onReady);
        reject(
          new Error(
            `${setting}: Redis did not become ready within ${timeoutMs} ms${lastError ? ` (${lastError.message})` : ''}`,
          ),
        );
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolveReady();
      };
      connection.once('ready', onReady);
    });
  } finally {
    connection.off('error', onError);
  }
}
