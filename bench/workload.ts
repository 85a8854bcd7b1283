/**
 * Authorise then capture: the workload of the `durability` and `cluster`
 * sections, against one Redis (a URL) or a Redis Cluster, with any number of
 * worker processes and shards.
 *
 * Processes, as in pipeline.ts: the simulator in a child of its own
 * (sips-ledger-child.ts, which also counts the Sips calls it received), the
 * step workers in `workerProcesses` children (`workers/main.ts` configured
 * from the environment, worker-probe.ts preloaded), and the producer, an
 * orchestrator with `workers: false`, in the benchmark process.
 *
 * Each payment is a card payment in VALIDATION mode (captureDay 7) that the
 * producer captures in full once authorised, in two measured phases:
 *
 * 1. authorise: `payments.create` for every payment (`producerConcurrency`
 *    in flight), until every one is settled (status indexes, ZCARD every 25 ms);
 * 2. capture: `payments.capture` of every authorised one, until every capture
 *    is settled.
 *
 * The clock, the CPU counters, the Redis counters and the Sips ledger run
 * during both phases only: the records read between them (latencies of the
 * authorisations, which payments to capture) are not counted. The same
 * workload runs unmeasured first (`unmeasuredWarmup` payments) through the
 * very processes then measured. The capture is a call that `verify` reads
 * at Sips before sending (getTransactionData) and that `replica` WAITs for.
 */
import { randomBytes } from 'node:crypto';
import { cpus, setPriority } from 'node:os';
import { Redis } from 'ioredis';
import type { PaymentStatus } from '../machines/contract.ts';
import type { Orchestrator, OrchestratorOptions } from '../src/orchestrator.ts';
import type { DurabilitySettings } from '../src/payments/durability.ts';
import { createKeyspace, type Keyspace } from '../src/payments/keys.ts';
import { connectRedis, type RedisClient, type RedisTarget } from '../src/platform/redis.ts';
import { jsonLine, machineBusySeconds, startTsChild, type BenchChild } from './children.ts';
import {
  ACCEPTED_CARD,
  distribution,
  type Distribution,
  probeWorker,
  producerCpuSeconds,
  producerOrchestrator,
  workerEnv as sharedWorkerEnv,
} from './pipeline.ts';

/** Where an authorisation stops without help. */
const AUTHORISE_SETTLED: readonly PaymentStatus[] = [
  'authorized',
  'refused',
  'failed',
  'outcome_unknown',
  'in_review',
];
/** Where a capture of an authorised payment stops without help. */
const CAPTURE_SETTLED: readonly PaymentStatus[] = [
  'captured',
  'failed',
  'outcome_unknown',
  'in_review',
];
const POLL_MS = 25;
/** A phase with no payment settling for this long has failed. */
const STALL_MS = 30_000;

/** A Redis server whose commands and CPU are counted. */
export interface MeasuredServer {
  /** `host:port`, and what it is in the layout. */
  name: string;
  host: string;
  port: number;
  role: 'master' | 'replica';
}

/** The one server of a `redis://host:port` URL, measured as a master. */
export function singleServer(redisUrl: string): MeasuredServer {
  const url = new URL(redisUrl);
  return {
    name: url.host,
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 6379),
    role: 'master',
  };
}

export interface WorkloadOptions {
  target: RedisTarget;
  /** The servers to count: masters (commands per payment) and replicas (CPU). */
  servers: readonly MeasuredServer[];
  /** Key prefix of this run; its keys are deleted afterwards. */
  prefix: string;
  shards: number;
  durability: DurabilitySettings;
  /** Worker child processes, each running the step workers of every shard. */
  workerProcesses: number;
  /** WORKER_CONCURRENCY: step jobs in flight per shard in each worker process. */
  workerConcurrency: number;
  /** `payments.create` / `payments.capture` calls in flight in the producer. */
  producerConcurrency: number;
  payments: number;
  unmeasuredWarmup: number;
  /**
   * For each shard, the index in `servers` of the master holding its slot
   * (where the benchmark's polling goes). @defaultValue the first master
   */
  shardServers?: readonly number[];
  workerNodeArgs?: readonly string[];
  /** Added to the worker processes' environment. */
  workerEnv?: Readonly<Record<string, string>>;
  /**
   * More worker processes, after the `workerProcesses`, with more variables
   * (e.g. WORKER_ROLES) and a scheduling priority (nice, 0 to 19).
   */
  extraWorkers?: ReadonlyArray<{ env: Readonly<Record<string, string>>; niceness?: number }>;
  /** Added to the producer's orchestrator options (e.g. `webhooks`). */
  producerOptions?: Partial<OrchestratorOptions>;
  hooks?: WorkloadHooks;
}

/** What a hook of the run is given: the processes and connections of the run. */
export interface WorkloadRun {
  producer: Orchestrator;
  workers: readonly BenchChild[];
  /** The run's Redis client (the target). */
  redis: RedisClient;
  keyspace: Keyspace;
}

/** Points of a run where a section adds work of its own; none of them is timed. */
export interface WorkloadHooks {
  /** The processes run; before the unmeasured warm-up. */
  beforeWarmup?(run: WorkloadRun): Promise<void>;
  /** The warm-up settled; right before the measured round (and its counters). */
  beforeMeasured?(run: WorkloadRun): Promise<void>;
  /**
   * The measured round settled and its counters were read; the processes
   * still run. `startedAt`: Date.now() as the first create was issued;
   * `lastSettledAt`: the latest updatedAt of the captures.
   */
  afterMeasured?(
    run: WorkloadRun,
    measured: { startedAt: number; lastSettledAt: number },
  ): Promise<void>;
}

export interface ServerUse {
  name: string;
  role: 'master' | 'replica';
  /** total_commands_processed over the measured phases (masters: less the benchmark's polling). */
  commands: number;
  cpuSeconds: number;
}

export interface WorkloadResult {
  payments: number;
  authorized: number;
  captured: number;
  notSettledAsExpected: Record<string, number>;
  /** Both measured phases. */
  seconds: number;
  /** Payments authorised and captured per second of the two phases. */
  paymentsPerSecond: number;
  phases: {
    authorise: { seconds: number; perSecond: number };
    capture: { seconds: number; perSecond: number };
  };
  /**
   * authorise: create → authorised (the record's createdAt → updatedAt);
   * capture: the producer's capture command → captured (its clock → updatedAt).
   */
  latencyMs: { authorise: Distribution; capture: Distribution };
  cpu: {
    producer: number;
    workers: number;
    simulator: number;
    redisMasters: number;
    redisReplicas: number;
  };
  cpuMsPerPayment: {
    producer: number;
    workers: number;
    simulator: number;
    redisMasters: number;
    redisReplicas: number;
    total: number;
  };
  /** CPU seconds over wall seconds (1 = one core busy the whole run). */
  cpuShare: {
    node: number;
    redis: number;
    machine: number;
    othersOnMachine: number;
    cores: number;
  };
  sipsCallsPerPayment: { total: number; byService: Record<string, number> };
  /** Commands processed by the masters per payment (the benchmark's own polling left out). */
  redisCommandsPerPayment: number;
  /** Per master, per payment, and INFO commandstats of all masters summed (calls per payment). */
  redisCommandsPerPaymentByServer: Record<string, number>;
  redisCommandStatsPerPayment: Record<string, number>;
  benchPollingCommandsLeftOut: number;
  servers: ServerUse[];
  workers: { processes: number; concurrencyPerShard: number; eventLoopUtilisation: number[] };
}

const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

interface ServerSample {
  commands: number;
  cpuSeconds: number;
  commandStats: Map<string, number>;
}

/** One INFO of a server: commands processed, CPU (main thread and threads, user + sys), commandstats. */
export async function sampleServer(connection: Pick<Redis, 'call'>): Promise<ServerSample> {
  const info = String(await connection.call('INFO', 'stats', 'cpu', 'commandstats'));
  const field = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  const commandStats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    commandStats.set(match[1] as string, Number(match[2]));
  }
  return {
    commands: field('total_commands_processed'),
    cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'),
    commandStats,
  };
}

export interface SipsLedger {
  total: number;
  byService: Record<string, number>;
}

export async function startSipsChild(): Promise<{ child: BenchChild; url: string }> {
  const child = startTsChild('simulator', 'bench/sips-ledger-child.ts', {});
  const url = await child.waitForLine((line) => {
    const parsed = jsonLine(line);
    return parsed?.ready === true ? String(parsed.url) : undefined;
  });
  return { child, url };
}

/** The simulator's request count, and per Sips function those after request number `since`. */
export async function readLedger(child: BenchChild, since: number): Promise<SipsLedger> {
  const answer = child.waitForLine((line) => {
    const parsed = jsonLine(line);
    return parsed?.ledger as SipsLedger | undefined;
  }, 10_000);
  child.process.stdin?.write(`ledger ${since}\n`);
  return answer;
}

function workloadWorkerEnv(
  options: WorkloadOptions,
  sipsBaseUrl: string,
  vaultKey: Buffer,
): Record<string, string> {
  const target = options.target;
  const settings = options.durability;
  return {
    // Empty counts as unset: the other one may be set in the benchmark's environment.
    REDIS_URL: 'url' in target ? target.url : '',
    REDIS_CLUSTER_NODES:
      'clusterNodes' in target
        ? target.clusterNodes.map((node) => `${node.host}:${node.port}`).join(',')
        : '',
    KEY_PREFIX: options.prefix,
    SHARDS: String(options.shards),
    REDIS_DURABILITY: settings.mode,
    REDIS_WAIT_REPLICAS: String(settings.waitReplicas ?? 1),
    REDIS_WAIT_TIMEOUT: `${settings.waitTimeoutMs ?? 1_000}ms`,
    ...sharedWorkerEnv(sipsBaseUrl, vaultKey, options.workerConcurrency),
  };
}

async function startWorkerChild(
  name: string,
  env: Record<string, string>,
  nodeArgs: readonly string[],
): Promise<BenchChild> {
  const child = startTsChild(name, 'workers/main.ts', env, nodeArgs, ['bench/worker-probe.ts']);
  await child.waitForLine(
    // 'step workers running', or 'webhook workers running' (WORKER_ROLES=webhooks).
    (line) => (line.includes('workers running') ? true : undefined),
    60_000,
  );
  return child;
}

/** Every key of the run's prefix, on every master (one UNLINK per key: keys of several slots). */
export async function deleteKeysOf(servers: readonly Redis[], prefix: string): Promise<number> {
  let deleted = 0;
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        const pipeline = server.pipeline();
        for (const key of keys) pipeline.unlink(key);
        await pipeline.exec();
        deleted += keys.length;
      }
    } while (cursor !== '0');
  }
  return deleted;
}

/**
 * ZCARD of some status indexes of every shard: one pipeline per shard (one
 * slot each). Counts the commands sent, per server (`serverOf(shard)`).
 */
function statusCounter(
  redis: RedisClient,
  keyspace: Keyspace,
  servers: number,
  serverOf: (shard: number) => number,
) {
  const commandsSent = Array.from({ length: servers }, () => 0);
  return {
    commandsSent: (): number[] => [...commandsSent],
    async count(statuses: readonly PaymentStatus[]): Promise<Map<PaymentStatus, number>> {
      const totals = new Map<PaymentStatus, number>(statuses.map((status) => [status, 0]));
      await Promise.all(
        keyspace.allShards.map(async (shard) => {
          const pipeline = redis.pipeline();
          for (const status of statuses) pipeline.zcard(keyspace.statusIndexKey(shard, status));
          const server = serverOf(shard);
          commandsSent[server] = (commandsSent[server] ?? 0) + statuses.length;
          const replies = (await pipeline.exec()) ?? [];
          replies.forEach(([error, value], k) => {
            if (error) throw error;
            const status = statuses[k] as PaymentStatus;
            totals.set(status, (totals.get(status) ?? 0) + Number(value));
          });
        }),
      );
      return totals;
    },
  };
}

const sum = (counts: Map<PaymentStatus, number>): number =>
  [...counts.values()].reduce((a, b) => a + b, 0);

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const keyspace = createKeyspace({ prefix: options.prefix, shards: options.shards });
  const admin = connectRedis(options.target, { connectionName: `${options.prefix}-bench` });
  const serverConnections = options.servers.map(
    (server) => new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: null }),
  );
  const masterConnections = serverConnections.filter(
    (_, k) => options.servers[k]?.role === 'master',
  );
  const vaultKey = randomBytes(32);
  let simulator: BenchChild | undefined;
  const workers: BenchChild[] = [];
  let orchestrator: Orchestrator | undefined;
  try {
    await deleteKeysOf(masterConnections, options.prefix);
    const sips = await startSipsChild();
    simulator = sips.child;
    const sim = simulator;
    const env = { ...workloadWorkerEnv(options, sips.url, vaultKey), ...options.workerEnv };
    // One at a time: a worker that fails to start says so before the next one starts.
    for (let k = 0; k < options.workerProcesses; k += 1) {
      workers.push(await startWorkerChild(`worker-${k + 1}`, env, options.workerNodeArgs ?? []));
    }
    for (const [k, extra] of (options.extraWorkers ?? []).entries()) {
      const child = await startWorkerChild(
        `extra-worker-${k + 1}`,
        { ...env, ...extra.env },
        options.workerNodeArgs ?? [],
      );
      if (extra.niceness) setPriority(child.pid, extra.niceness);
      workers.push(child);
    }
    orchestrator = await producerOrchestrator(sips.url, vaultKey, {
      redis: options.target,
      durability: options.durability,
      keyPrefix: options.prefix,
      shards: options.shards,
      ...options.producerOptions,
    });
    const producer = orchestrator;
    const run: WorkloadRun = { producer, workers, redis: admin, keyspace };
    const firstMaster = Math.max(
      0,
      options.servers.findIndex((server) => server.role === 'master'),
    );
    const counter = statusCounter(
      admin,
      keyspace,
      options.servers.length,
      (shard) => options.shardServers?.[shard] ?? firstMaster,
    );

    /** `work(n)` for n in 0..count-1, `producerConcurrency` in flight. */
    const inLanes = async (count: number, work: (n: number) => Promise<void>): Promise<void> => {
      let next = 0;
      let failure: unknown;
      await Promise.all(
        Array.from({ length: Math.min(options.producerConcurrency, count) }, async () => {
          while (next < count && failure === undefined) {
            const n = next++;
            await work(n).catch((error: unknown) => {
              failure ??= error;
            });
          }
        }),
      );
      if (failure !== undefined) throw failure;
    };

    /** Resolves once `statuses` hold `target` more payments than `baseline`; throws on a stall. */
    const untilSettled = async (
      statuses: readonly PaymentStatus[],
      baseline: number,
      target: number,
      what: string,
      work: Promise<void>,
    ): Promise<Map<PaymentStatus, number>> => {
      let failure: unknown;
      work.catch((error: unknown) => {
        failure ??= error;
      });
      let last = -1;
      let lastProgress = performance.now();
      for (;;) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        if (failure !== undefined) throw failure;
        const counts = await counter.count(statuses);
        const settled = sum(counts) - baseline;
        if (settled >= target) {
          await work;
          return counts;
        }
        const now = performance.now();
        if (settled !== last) {
          last = settled;
          lastProgress = now;
        } else if (now - lastProgress > STALL_MS) {
          const all = await counter.count(keyspaceStatuses);
          throw new Error(
            `${what}: nothing settled for ${STALL_MS / 1000} s (${settled}/${target}); payments of the run by status: ${JSON.stringify(Object.fromEntries([...all].filter(([, n]) => n > 0)))}`,
          );
        }
      }
    };

    const createAll = (count: number, label: string, ids: string[]): Promise<void> =>
      inLanes(count, async (n) => {
        const result = await producer.payments.create({
          amount: 1000 + (n % 9000),
          currency: '978',
          captureMode: 'validation',
          captureDay: 7,
          orderId: `${label}-${n}`,
          card: { number: ACCEPTED_CARD, expiry: '203012', csc: '123' },
        });
        ids[n] = result.payment.id;
      });

    const captureAll = (
      ids: readonly string[],
      amounts: ReadonlyMap<string, number>,
      issuedAt: Map<string, number>,
    ): Promise<void> =>
      inLanes(ids.length, async (n) => {
        const id = ids[n] as string;
        issuedAt.set(id, Date.now());
        await producer.payments.capture(id, { amount: amounts.get(id) as number });
      });

    /** status, amount, createdAt, updatedAt of each payment, in order. */
    const readRecords = async (ids: readonly string[]) => {
      const rows: {
        id: string;
        status: string;
        amount: number;
        created: number;
        updated: number;
      }[] = [];
      for (let i = 0; i < ids.length; i += 500) {
        const batch = ids.slice(i, i + 500);
        const replies = await Promise.all(
          batch.map((id) =>
            admin.hmget(keyspace.paymentKey(id), 'status', 'amount', 'createdAt', 'updatedAt'),
          ),
        );
        replies.forEach(([status, amount, created, updated], k) => {
          rows.push({
            id: batch[k] as string,
            status: String(status),
            amount: Number(amount),
            created: Number(created),
            updated: Number(updated),
          });
        });
      }
      return rows;
    };

    /** Authorise and capture `count` payments; returns what a measured run needs. */
    const oneRound = async (count: number, label: string, meter?: Meter) => {
      const ids: string[] = new Array<string>(count);
      const authBase = sum(await counter.count(AUTHORISE_SETTLED));
      const startedAt = Date.now();
      meter?.start();
      await untilSettled(
        AUTHORISE_SETTLED,
        authBase,
        count,
        `${label}: authorise`,
        createAll(count, label, ids),
      );
      const authoriseSeconds = (await meter?.stop()) ?? 0;
      const authorised = await readRecords(ids);
      const toCapture = authorised.filter((row) => row.status === 'authorized');
      const amounts = new Map(toCapture.map((row) => [row.id, row.amount]));
      const captureIds = toCapture.map((row) => row.id);
      const issuedAt = new Map<string, number>();
      const captureBase = sum(await counter.count(CAPTURE_SETTLED));
      await meter?.startAgain();
      await untilSettled(
        CAPTURE_SETTLED,
        captureBase,
        captureIds.length,
        `${label}: capture`,
        captureAll(captureIds, amounts, issuedAt),
      );
      const captureSeconds = (await meter?.stop()) ?? 0;
      const captured = await readRecords(captureIds);
      return { authorised, captured, issuedAt, authoriseSeconds, captureSeconds, startedAt };
    };

    await options.hooks?.beforeWarmup?.(run);
    await oneRound(options.unmeasuredWarmup, 'warmup');
    await options.hooks?.beforeMeasured?.(run);

    const meter = createMeter({
      servers: options.servers,
      connections: serverConnections,
      workers,
      simulator: sim,
      pollingCommands: () => counter.commandsSent(),
    });
    await meter.prepare();
    const measured = await oneRound(options.payments, 'bench', meter);
    const use = await meter.result();
    await options.hooks?.afterMeasured?.(run, {
      startedAt: measured.startedAt,
      lastSettledAt: measured.captured.reduce((a, row) => Math.max(a, row.updated), 0),
    });

    const total = options.payments;
    const notSettledAsExpected: Record<string, number> = {};
    for (const row of measured.authorised) {
      if (row.status !== 'authorized') {
        notSettledAsExpected[`authorise:${row.status}`] =
          (notSettledAsExpected[`authorise:${row.status}`] ?? 0) + 1;
      }
    }
    for (const row of measured.captured) {
      if (row.status !== 'captured') {
        notSettledAsExpected[`capture:${row.status}`] =
          (notSettledAsExpected[`capture:${row.status}`] ?? 0) + 1;
      }
    }
    const authoriseLatency = distribution(
      measured.authorised
        .filter((row) => row.status === 'authorized')
        .map((row) => row.updated - row.created),
    );
    const captureLatency = distribution(
      measured.captured
        .filter((row) => row.status === 'captured')
        .map((row) => row.updated - (measured.issuedAt.get(row.id) ?? Number.NaN)),
    );
    const seconds = measured.authoriseSeconds + measured.captureSeconds;
    const perPayment = (seconds: number) => round((seconds * 1000) / total);
    const masters = use.servers.filter((server) => server.role === 'master');
    const replicas = use.servers.filter((server) => server.role === 'replica');
    const cpuOf = (list: ServerUse[]) => list.reduce((a, server) => a + server.cpuSeconds, 0);
    const cpu = {
      producer: use.producer,
      workers: use.workers,
      simulator: use.simulator,
      redisMasters: cpuOf(masters),
      redisReplicas: cpuOf(replicas),
    };
    const nodeCpu = cpu.producer + cpu.workers + cpu.simulator;
    const redisCpu = cpu.redisMasters + cpu.redisReplicas;
    const masterCommands = masters.reduce((a, server) => a + server.commands, 0);
    return {
      payments: total,
      authorized: measured.authorised.filter((row) => row.status === 'authorized').length,
      captured: measured.captured.filter((row) => row.status === 'captured').length,
      notSettledAsExpected,
      seconds: round(seconds),
      paymentsPerSecond: Math.round(total / seconds),
      phases: {
        authorise: {
          seconds: round(measured.authoriseSeconds),
          perSecond: Math.round(total / measured.authoriseSeconds),
        },
        capture: {
          seconds: round(measured.captureSeconds),
          perSecond: Math.round(measured.captured.length / measured.captureSeconds),
        },
      },
      latencyMs: { authorise: authoriseLatency, capture: captureLatency },
      cpu: {
        producer: round(cpu.producer, 2),
        workers: round(cpu.workers, 2),
        simulator: round(cpu.simulator, 2),
        redisMasters: round(cpu.redisMasters, 2),
        redisReplicas: round(cpu.redisReplicas, 2),
      },
      cpuMsPerPayment: {
        producer: perPayment(cpu.producer),
        workers: perPayment(cpu.workers),
        simulator: perPayment(cpu.simulator),
        redisMasters: perPayment(cpu.redisMasters),
        redisReplicas: perPayment(cpu.redisReplicas),
        total: perPayment(nodeCpu + redisCpu),
      },
      cpuShare: {
        node: round(nodeCpu / seconds, 2),
        redis: round(redisCpu / seconds, 2),
        machine: round(use.machineBusy / seconds, 2),
        othersOnMachine: round(Math.max(0, use.machineBusy - nodeCpu - redisCpu) / seconds, 2),
        cores: cpus().length,
      },
      sipsCallsPerPayment: {
        total: round(use.sips.total / total, 2),
        byService: Object.fromEntries(
          Object.entries(use.sips.byService).map(([service, n]) => [service, round(n / total, 2)]),
        ),
      },
      redisCommandsPerPayment: round(masterCommands / total, 1),
      redisCommandsPerPaymentByServer: Object.fromEntries(
        use.servers.map((server) => [
          `${server.role} ${server.name}`,
          round(server.commands / total, 1),
        ]),
      ),
      redisCommandStatsPerPayment: Object.fromEntries(
        [...use.commandStats]
          .map(([name, calls]) => [name, round(calls / total, 2)] as const)
          .filter(([, calls]) => calls >= 0.01)
          .sort((a, b) => b[1] - a[1]),
      ),
      benchPollingCommandsLeftOut: use.pollingCommands,
      servers: use.servers.map((server) => ({
        ...server,
        cpuSeconds: round(server.cpuSeconds, 2),
      })),
      workers: {
        processes: options.workerProcesses,
        concurrencyPerShard: options.workerConcurrency,
        eventLoopUtilisation: use.workerElu,
      },
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await orchestrator?.close();
    await simulator?.stop();
    if (!process.env.BENCH_KEEP_KEYS) {
      await deleteKeysOf(masterConnections, options.prefix).catch(() => 0);
    }
    admin.disconnect();
    for (const connection of serverConnections) connection.disconnect();
  }
}

const keyspaceStatuses: readonly PaymentStatus[] = [
  'received',
  'authorizing',
  'authorized',
  'capturing',
  'captured',
  'refused',
  'failed',
  'outcome_unknown',
  'in_review',
];

interface MeterDeps {
  servers: readonly MeasuredServer[];
  connections: readonly Redis[];
  workers: readonly BenchChild[];
  simulator: BenchChild;
  /** Commands the benchmark sent to each server so far (its polling). */
  pollingCommands: () => number[];
}

interface Counters {
  producer: number;
  workers: number;
  simulator: number;
  machine: number;
  polling: number[];
  servers: ServerSample[];
  sipsTotal: number;
}

/**
 * Counters summed over one or more windows: `start()` (synchronous, so
 * the clock starts with the first create), `stop()` resolves with the
 * window's seconds, `startAgain()` opens another window.
 */
interface Meter {
  prepare(): Promise<void>;
  start(): void;
  startAgain(): Promise<void>;
  stop(): Promise<number>;
  result(): Promise<{
    producer: number;
    workers: number;
    simulator: number;
    machineBusy: number;
    servers: ServerUse[];
    commandStats: Map<string, number>;
    sips: SipsLedger;
    pollingCommands: number;
    workerElu: number[];
  }>;
}

function createMeter(deps: MeterDeps): Meter {
  const processCounters = () => ({
    producer: producerCpuSeconds(),
    workers: deps.workers.reduce((a, worker) => a + worker.cpuSeconds(), 0),
    simulator: deps.simulator.cpuSeconds(),
    machine: machineBusySeconds(),
    polling: deps.pollingCommands(),
  });
  const snapshot = async (): Promise<Counters> => {
    const servers = await Promise.all(deps.connections.map((c) => sampleServer(c)));
    const ledger = await readLedger(deps.simulator, Number.MAX_SAFE_INTEGER);
    return { ...processCounters(), servers, sipsTotal: ledger.total };
  };
  let prepared: Counters | undefined;
  let opened: { at: number; counters: Counters } | undefined;
  const totals = {
    producer: 0,
    workers: 0,
    simulator: 0,
    machine: 0,
    polling: deps.servers.map(() => 0),
    commands: deps.servers.map(() => 0),
    cpu: deps.servers.map(() => 0),
    commandStats: new Map<string, number>(),
    sips: { total: 0, byService: {} as Record<string, number> },
  };
  const ledgerMarks: number[] = [];

  const open = (counters: Counters) => {
    opened = { at: performance.now(), counters };
    ledgerMarks.push(counters.sipsTotal);
  };

  return {
    async prepare() {
      await Promise.all(deps.workers.map((worker) => probeWorker(worker, 'probe')));
      prepared = await snapshot();
    },
    start() {
      if (!prepared) throw new Error('meter not prepared');
      // CPU and time from now on; the Redis samples and the polling count
      // from prepare() (in between: a few ZCARDs of ours, left out).
      open({ ...prepared, ...processCounters(), polling: prepared.polling });
      prepared = undefined;
    },
    async startAgain() {
      open(await snapshot());
    },
    async stop() {
      if (!opened) throw new Error('meter not started');
      const seconds = (performance.now() - opened.at) / 1000;
      const before = opened.counters;
      opened = undefined;
      const after = await snapshot();
      totals.producer += after.producer - before.producer;
      totals.workers += after.workers - before.workers;
      totals.simulator += after.simulator - before.simulator;
      totals.machine += after.machine - before.machine;
      after.polling.forEach((sent, k) => {
        totals.polling[k] = (totals.polling[k] ?? 0) + sent - (before.polling[k] ?? 0);
      });
      after.servers.forEach((sample, k) => {
        const base = before.servers[k] as ServerSample;
        totals.commands[k] = (totals.commands[k] ?? 0) + sample.commands - base.commands;
        totals.cpu[k] = (totals.cpu[k] ?? 0) + sample.cpuSeconds - base.cpuSeconds;
        if (deps.servers[k]?.role !== 'master') return;
        for (const [name, calls] of sample.commandStats) {
          const delta = calls - (base.commandStats.get(name) ?? 0);
          totals.commandStats.set(name, (totals.commandStats.get(name) ?? 0) + delta);
        }
      });
      const since = ledgerMarks.at(-1) ?? 0;
      const ledger = await readLedger(deps.simulator, since);
      // Our own ledger reads are not Sips requests: they never reach the ledger.
      const calls = Object.values(ledger.byService).reduce((a, b) => a + b, 0);
      totals.sips.total += calls;
      for (const [service, n] of Object.entries(ledger.byService)) {
        // Requests after the window closed (none: every payment had settled) would count too.
        totals.sips.byService[service] = (totals.sips.byService[service] ?? 0) + n;
      }
      return seconds;
    },
    async result() {
      const probes = await Promise.all(deps.workers.map((worker) => probeWorker(worker, 'probe')));
      // The polling ZCARDs are left out of each server's commands and of the commandstats.
      const servers: ServerUse[] = deps.servers.map((server, k) => ({
        name: server.name,
        role: server.role,
        commands: (totals.commands[k] ?? 0) - (totals.polling[k] ?? 0),
        cpuSeconds: totals.cpu[k] ?? 0,
      }));
      const polling = totals.polling.reduce((a, b) => a + b, 0);
      const zcard = totals.commandStats.get('zcard');
      if (zcard !== undefined) totals.commandStats.set('zcard', Math.max(0, zcard - polling));
      return {
        producer: totals.producer,
        workers: totals.workers,
        simulator: totals.simulator,
        machineBusy: totals.machine,
        servers,
        commandStats: totals.commandStats,
        sips: totals.sips,
        pollingCommands: polling,
        workerElu: probes.map((probe) => probe.elu),
      };
    },
  };
}

/** What every section running this workload is given. */
export interface WorkloadBenchOptions {
  payments: number;
  unmeasuredWarmup: number;
  workerConcurrency: number;
  producerConcurrency: number;
  /** Key prefix of the runs. */
  prefix: string;
  workerNodeArgs?: readonly string[];
  log(message: string): void;
}
