/**
 * A real Redis Cluster of private redis-server children on loopback, for tests
 * that need slots, redirections and failover: `startRedisCluster()` starts the
 * nodes (3 masters + 1 replica each by default), joins them with
 * `redis-cli --cluster create`, and waits until every node agrees the cluster
 * is up and every replica is in sync. `failover()` SIGKILLs a master and waits
 * for one of its replicas to take over.
 *
 * Both the client port and the cluster bus port of each node are picked free:
 * the default bus port (port + 10000) can be past 65535 or already taken.
 * Admin queries use short-lived plain ioredis connections (never a Cluster
 * client), each closed right after its query.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { findFreePort } from '../../src/platform/redis-server.ts';

export interface ClusterNodeHandle {
  host: string;
  port: number;
  /** The cluster bus port (`--cluster-port`), picked free rather than port + 10000. */
  busPort: number;
  pid: number;
  /** What the node says it is now (INFO replication). */
  role(): Promise<'master' | 'replica'>;
  /** Sends `signal` (SIGKILL unless told: a crash) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface RedisClusterHandle {
  nodes: readonly ClusterNodeHandle[];
  /** "127.0.0.1:p1,127.0.0.1:p2,..." of all nodes, the format of the REDIS_CLUSTER_NODES setting */
  startupNodes: string;
  /** The node currently master for a key (CLUSTER KEYSLOT, then CLUSTER SLOTS, on a live node). */
  masterFor(key: string): Promise<ClusterNodeHandle>;
  /**
   * SIGKILLs a master and resolves with the replica promoted in its place, once
   * every live node sees that replica as master and reports `cluster_state:ok`.
   */
  failover(master: ClusterNodeHandle): Promise<ClusterNodeHandle>;
  /**
   * Starts a killed node again on its ports and data (its cluster identity
   * is in its nodes file): a master that was failed over comes back as a
   * replica of the node that replaced it. Resolves once it replicates.
   */
  rejoin(node: ClusterNodeHandle): Promise<ClusterNodeHandle>;
  /** Kills every node and removes the data directory; safe to call more than once. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** @defaultValue 3 (the least `redis-cli --cluster create` accepts) */
  masters?: number;
  /** @defaultValue 1 */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long before a silent node is suspected. @defaultValue 1000 */
  nodeTimeoutMs?: number;
  /** @defaultValue false */
  appendonly?: boolean;
  /** Used when `appendonly` is true. @defaultValue 'everysec' */
  appendfsync?: 'always' | 'everysec' | 'no';
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const NODE_START_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 100;
const SLOTS = 16_384;

interface NodeProcess extends ClusterNodeHandle {
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<void>;
  alive(): boolean;
  stderr(): string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One command on a fresh connection to a node, closed before returning. */
async function nodeCommand(port: number, command: string, ...args: string[]): Promise<unknown> {
  const connection = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  connection.on('error', () => {
    // Reported through the rejected command; nodes are killed on purpose.
  });
  try {
    await connection.connect();
    return await connection.call(command, ...args);
  } finally {
    connection.disconnect();
  }
}

async function nodeText(port: number, command: string, ...args: string[]): Promise<string> {
  const reply = await nodeCommand(port, command, ...args);
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
}

/** `field:value` lines of INFO / CLUSTER INFO. */
function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

interface ClusterNodesLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
}

/** Parses CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <master> ...`. */
function parseClusterNodes(text: string): ClusterNodesLine[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [id = '', address = '', flags = '', masterId = '-'] = line.split(' ');
      const port = Number(/:(\d+)@/.exec(address)?.[1] ?? NaN);
      return { id, port, flags: flags.split(','), masterId };
    });
}

function logTail(node: NodeProcess, lines = 15): string {
  let log = '';
  try {
    log = readFileSync(node.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    // No log yet.
  }
  const stderr = node.stderr().trim();
  return [log && `log:\n${log}`, stderr && `stderr:\n${stderr}`].filter(Boolean).join('\n');
}

/** A port not already handed out by this module in this process. */
const handedOut = new Set<number>();
async function freshPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await findFreePort();
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free port not already used by this cluster');
}

function spawnNode(args: {
  port: number;
  busPort: number;
  dir: string;
  nodeTimeoutMs: number;
  appendonly: boolean;
  appendfsync: 'always' | 'everysec' | 'no';
}): NodeProcess {
  const { port, busPort, dir } = args;
  const logFile = join(dir, `redis-${port}.log`);
  const argv = [
    '--port',
    String(port),
    '--cluster-port',
    String(busPort),
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    `nodes-${port}.conf`,
    '--cluster-node-timeout',
    String(args.nodeTimeoutMs),
    // A replica always stands for election, however long it was cut off from
    // its master, so a killed master is replaced within a few node timeouts.
    '--cluster-replica-validity-factor',
    '0',
    '--cluster-allow-reads-when-down',
    'no',
    '--bind',
    HOST,
    '--save',
    '',
    '--dbfilename',
    `dump-${port}.rdb`,
    '--appendfilename',
    `appendonly-${port}.aof`,
    '--appenddirname',
    `appendonly-${port}`,
    ...(args.appendonly
      ? ['--appendonly', 'yes', '--appendfsync', args.appendfsync]
      : ['--appendonly', 'no']),
    // Replicas sync as soon as they attach (the default waits 5 s for more replicas).
    '--repl-diskless-sync-delay',
    '0',
    '--maxmemory-policy',
    'noeviction',
    '--dir',
    dir,
    '--logfile',
    logFile,
  ];
  const child = spawn('redis-server', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
    child.once('exit', () => resolve());
  });
  const alive = () => !spawnError && child.exitCode === null && child.signalCode === null;
  const node: NodeProcess = {
    host: HOST,
    port,
    busPort,
    pid: child.pid ?? -1,
    child,
    logFile,
    exited,
    alive,
    stderr: () => (spawnError ? `${spawnError.message}\n${stderr}` : stderr),
    async role() {
      const role = infoFields(await nodeText(port, 'INFO', 'replication')).get('role');
      if (role === 'master') return 'master';
      if (role === 'slave') return 'replica';
      throw new Error(`node ${HOST}:${port} reports an unknown role ${String(role)}`);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (alive()) child.kill(signal);
      await exited;
    },
  };
  return node;
}

async function waitUntilAnswering(node: NodeProcess): Promise<boolean> {
  const deadline = Date.now() + NODE_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!node.alive()) return false;
    try {
      if ((await nodeText(node.port, 'PING')) === 'PONG') return true;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  return false;
}

/** Starts one node, on new ports if the first ones were taken in between. */
async function startNode(
  settings: Omit<Parameters<typeof spawnNode>[0], 'port' | 'busPort'>,
  started: NodeProcess[],
): Promise<NodeProcess> {
  const failures: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freshPort();
    const busPort = await freshPort();
    const node = spawnNode({ ...settings, port, busPort });
    started.push(node);
    if (await waitUntilAnswering(node)) return node;
    await node.kill('SIGKILL');
    failures.push(`port ${port} / bus ${busPort}:\n${logTail(node)}`);
  }
  throw new Error(`redis-server (cluster node) did not start:\n${failures.join('\n---\n')}`);
}

function runRedisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`, {
            cause: error,
          }),
        );
      } else {
        resolve(stdout);
      }
    });
  });
}

interface NodeView {
  node: NodeProcess;
  info?: Map<string, string>;
  replication?: Map<string, string>;
  nodes?: ClusterNodesLine[];
  raw?: string;
  error?: string;
}

async function viewOf(node: NodeProcess): Promise<NodeView> {
  try {
    const [info, replication, nodes] = await Promise.all([
      nodeText(node.port, 'CLUSTER', 'INFO'),
      nodeText(node.port, 'INFO', 'replication'),
      nodeText(node.port, 'CLUSTER', 'NODES'),
    ]);
    return {
      node,
      info: infoFields(info),
      replication: infoFields(replication),
      nodes: parseClusterNodes(nodes),
      // CLUSTER INFO without its message counters, for error messages.
      raw: info
        .split(/\r?\n/)
        .filter((line) => line.startsWith('cluster_') && !line.startsWith('cluster_stats_'))
        .join('\n'),
    };
  } catch (error) {
    return { node, error: (error as Error).message };
  }
}

function describeViews(views: NodeView[]): string {
  return views
    .map((view) => {
      const head = `node ${HOST}:${view.node.port} (bus ${view.node.busPort})`;
      if (view.error) return `${head}: ${view.error}`;
      const role = view.replication?.get('role');
      const link = view.replication?.get('master_link_status');
      return `${head} role=${String(role)}${link ? ` master_link_status=${link}` : ''}\n${view.raw}`;
    })
    .join('\n\n');
}

/** Polls every live node until `ready` holds for all of them, or fails with the last views seen. */
async function waitForViews(
  nodes: NodeProcess[],
  ready: (view: NodeView) => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    const views = await Promise.all(nodes.filter((node) => node.alive()).map(viewOf));
    if (views.every(ready)) return;
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `Redis Cluster: ${what} did not happen within ${timeoutMs} ms; last CLUSTER INFO seen:\n\n` +
          describeViews(views),
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_000;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`a Redis Cluster needs at least 3 masters (asked for ${masters})`);
  }
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new Error(`replicasPerMaster must be a whole number >= 0 (got ${replicasPerMaster})`);
  }
  const total = masters * (1 + replicasPerMaster);
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const processes: NodeProcess[] = [];

  // A test process that ends without stop() (a crash, process.exit) still
  // takes its nodes along; only a SIGKILL of the test process itself escapes this.
  const onExit = () => {
    for (const node of processes) {
      if (node.alive() && node.pid > 0) {
        try {
          process.kill(node.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(processes.map((node) => node.kill('SIGKILL')));
      for (const node of processes) {
        handedOut.delete(node.port);
        handedOut.delete(node.busPort);
      }
      rmSync(dir, { recursive: true, force: true });
      process.off('exit', onExit);
    })();
    return stopping;
  };

  const settings = {
    dir,
    nodeTimeoutMs,
    appendonly: options.appendonly ?? false,
    appendfsync: options.appendfsync ?? 'everysec',
  } as const;

  let nodes: NodeProcess[];
  try {
    // Every process spawned, including failed attempts, lands in `processes`
    // (the kill list) as soon as it exists.
    const starts = await Promise.allSettled(
      Array.from({ length: total }, () => startNode(settings, processes)),
    );
    const failed = starts.find((start) => start.status === 'rejected');
    if (failed) throw failed.reason;
    nodes = starts.map((start) => (start as PromiseFulfilledResult<NodeProcess>).value);

    await runRedisCli(
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `${HOST}:${node.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      READY_TIMEOUT_MS,
    );

    await waitForViews(
      nodes,
      (view) =>
        view.info?.get('cluster_state') === 'ok' &&
        view.info.get('cluster_slots_assigned') === String(SLOTS) &&
        view.info.get('cluster_known_nodes') === String(total) &&
        // Every node must already see the replicas as replicas: a master votes
        // for a replica's promotion only if it knows which master it replaces.
        view.nodes?.filter((line) => line.flags.includes('slave')).length ===
          masters * replicasPerMaster &&
        (view.replication?.get('role') === 'master' ||
          view.replication?.get('master_link_status') === 'up'),
      READY_TIMEOUT_MS,
      `cluster_state:ok with ${SLOTS} slots, ${total} known nodes and ${masters * replicasPerMaster} replicas on every node, and every replica's master_link_status:up`,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const live = (): NodeProcess => {
    const node = nodes.find((candidate) => candidate.alive());
    if (!node) throw new Error('Redis Cluster: no node is running');
    return node;
  };

  const byPort = (port: number): NodeProcess | undefined =>
    nodes.find((node) => node.port === port);

  const own = (handle: ClusterNodeHandle): NodeProcess => {
    const node = nodes.find((candidate) => candidate === handle || candidate.port === handle.port);
    if (!node) throw new Error(`node ${handle.host}:${handle.port} is not part of this cluster`);
    return node;
  };

  return {
    nodes,
    startupNodes: nodes.map((node) => `${HOST}:${node.port}`).join(','),

    async masterFor(key) {
      const admin = live();
      const slot = Number(await nodeCommand(admin.port, 'CLUSTER', 'KEYSLOT', key));
      const ranges = (await nodeCommand(admin.port, 'CLUSTER', 'SLOTS')) as [
        number,
        number,
        [string, number, ...unknown[]],
        ...unknown[],
      ][];
      const range = ranges.find(([start, end]) => slot >= start && slot <= end);
      if (!range) throw new Error(`no master serves slot ${slot} (key ${key})`);
      const port = Number(range[2][1]);
      const master = byPort(port);
      if (!master) throw new Error(`slot ${slot} is served by ${port}, not a node of this cluster`);
      return master;
    },

    async failover(handle) {
      const master = own(handle);
      if (!master.alive()) throw new Error(`node ${HOST}:${master.port} is not running`);
      if ((await master.role()) !== 'master') {
        throw new Error(`node ${HOST}:${master.port} is not a master`);
      }
      const masterId = await nodeText(master.port, 'CLUSTER', 'MYID');
      const replicas = parseClusterNodes(await nodeText(master.port, 'CLUSTER', 'NODES'))
        .filter((line) => line.masterId === masterId)
        .map((line) => byPort(line.port))
        .filter((node): node is NodeProcess => node !== undefined && node.alive());
      if (replicas.length === 0) {
        throw new Error(`master ${HOST}:${master.port} has no live replica to fail over to`);
      }

      await master.kill('SIGKILL');

      const timeoutMs = Math.max(READY_TIMEOUT_MS, nodeTimeoutMs * 20);
      const deadline = Date.now() + timeoutMs;
      let promoted: NodeProcess | undefined;
      let promotedId = '';
      while (!promoted) {
        for (const replica of replicas) {
          try {
            if (replica.alive() && (await replica.role()) === 'master') {
              promoted = replica;
              promotedId = await nodeText(replica.port, 'CLUSTER', 'MYID');
              break;
            }
          } catch {
            // Asked again on the next round.
          }
        }
        if (promoted) break;
        if (Date.now() > deadline) {
          const views = await Promise.all(nodes.filter((node) => node.alive()).map(viewOf));
          throw new Error(
            `Redis Cluster: no replica of ${HOST}:${master.port} (${replicas
              .map((node) => node.port)
              .join(', ')}) was promoted within ${timeoutMs} ms; last CLUSTER INFO seen:\n\n` +
              describeViews(views),
          );
        }
        await sleep(POLL_INTERVAL_MS);
      }

      await waitForViews(
        nodes,
        (view) => {
          if (view.info?.get('cluster_state') !== 'ok' || !view.nodes) return false;
          const seenNew = view.nodes.find((line) => line.id === promotedId);
          const seenOld = view.nodes.find((line) => line.id === masterId);
          return (
            seenNew !== undefined &&
            seenNew.flags.includes('master') &&
            (seenOld === undefined || seenOld.flags.includes('fail'))
          );
        },
        Math.max(1_000, deadline - Date.now()),
        `cluster_state:ok on every live node, with ${HOST}:${promoted.port} seen as master in place of ${HOST}:${master.port}`,
      );
      return promoted;
    },

    async rejoin(handle) {
      const old = own(handle);
      if (old.alive()) throw new Error(`node ${HOST}:${old.port} is still running`);
      const node = spawnNode({ ...settings, port: old.port, busPort: old.busPort });
      processes.push(node);
      nodes[nodes.indexOf(old)] = node;
      if (!(await waitUntilAnswering(node))) {
        throw new Error(`node ${HOST}:${node.port} did not start again:\n${logTail(node)}`);
      }
      await waitForViews(
        [node],
        (view) =>
          view.info?.get('cluster_state') === 'ok' &&
          view.replication?.get('role') === 'slave' &&
          view.replication.get('master_link_status') === 'up',
        READY_TIMEOUT_MS,
        `${HOST}:${node.port} back as a replica in sync`,
      );
      return node;
    },

    stop,
  };
}
