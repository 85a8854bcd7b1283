/**
 * The `cluster` section: the authorise-then-capture workload (workload.ts) on
 * a local Redis Cluster of 3 masters and 3 replicas (test/support/redis-cluster.ts),
 * with SHARDS 1 (every key in one slot: one master works) and SHARDS 3 (a
 * prefix is picked whose three shard slots sit on three different masters),
 * with 1 and 2 worker processes; and, in the same run, the same workload on
 * the benchmark's single Redis for the ratios.
 *
 * CPU is read per process: /proc utime+stime of the node processes
 * (producer, workers, simulator) and INFO cpu of every redis-server, so the
 * note can say which of them the machine's cores went to.
 */
import { cpus } from 'node:os';
import { createKeyspace } from '../src/payments/keys.ts';
import { startRedisCluster, type RedisClusterHandle } from '../test/support/redis-cluster.ts';
import {
  runWorkload,
  singleServer,
  type MeasuredServer,
  type WorkloadBenchOptions,
  type WorkloadResult,
} from './workload.ts';

export interface ClusterBenchOptions extends WorkloadBenchOptions {
  /** The single Redis of the comparison (the benchmark's own). */
  singleRedisUrl: string;
}

const WORKER_PROCESSES = [1, 2] as const;
const CLUSTER_SHARDS = [1, 3] as const;
/** Longer than the tests' 1 s: a node starved of CPU by the run must not be failed over. */
const NODE_TIMEOUT_MS = 5_000;
const FIRST_RUN_WARMUP_FACTOR = 3;

interface RunSpec {
  redis: 'single' | 'cluster';
  shards: number;
  workerProcesses: number;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/**
 * A prefix (the base, then `-1`, `-2`...) whose shards hash to as many
 * different masters as there are shards (or masters); the index in `servers`
 * of each shard's master.
 */
async function placeShards(
  cluster: RedisClusterHandle,
  servers: readonly MeasuredServer[],
  base: string,
  shards: number,
): Promise<{ prefix: string; shardServers: number[] }> {
  const masters = servers.filter((server) => server.role === 'master').length;
  const wanted = Math.min(shards, masters);
  let best: { prefix: string; shardServers: number[]; distinct: number } | undefined;
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const prefix = attempt === 0 ? base : `${base}-${attempt}`;
    const keyspace = createKeyspace({ prefix, shards });
    const shardServers: number[] = [];
    for (const shard of keyspace.allShards) {
      const master = await cluster.masterFor(keyspace.statusIndexKey(shard, 'authorized'));
      shardServers.push(servers.findIndex((server) => server.port === master.port));
    }
    const distinct = new Set(shardServers).size;
    if (!best || distinct > best.distinct) best = { prefix, shardServers, distinct };
    if (distinct >= wanted) break;
  }
  if (!best) throw new Error('no prefix tried');
  return { prefix: best.prefix, shardServers: best.shardServers };
}

function view(spec: RunSpec, result: WorkloadResult, single: WorkloadResult | undefined) {
  return {
    redis: spec.redis,
    shards: spec.shards,
    workerProcesses: spec.workerProcesses,
    paymentsPerSecond: result.paymentsPerSecond,
    ratioToSingleRedis: single
      ? round(result.paymentsPerSecond / single.paymentsPerSecond, 3)
      : undefined,
    cpuMsPerPayment: result.cpuMsPerPayment,
    redisCommandsPerPayment: result.redisCommandsPerPayment,
    redisCommandsPerPaymentByServer: result.redisCommandsPerPaymentByServer,
    cpuShare: result.cpuShare,
    redisCpuShareByServer: Object.fromEntries(
      result.servers.map((server) => [
        `${server.role} ${server.name}`,
        round(server.cpuSeconds / result.seconds),
      ]),
    ),
    workerEventLoopUtilisation: result.workers.eventLoopUtilisation,
    latencyMs: {
      authorise: { p50: result.latencyMs.authorise.p50, p99: result.latencyMs.authorise.p99 },
      capture: { p50: result.latencyMs.capture.p50, p99: result.latencyMs.capture.p99 },
    },
    notSettledAsExpected: result.notSettledAsExpected,
  };
}

type RunView = ReturnType<typeof view>;

/** What the measurements say about where the cores went. */
function noteOf(runs: readonly RunView[]): string {
  const cores = cpus().length;
  const clusterRuns = runs.filter((run) => run.redis === 'cluster');
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const machine = round(mean(clusterRuns.map((run) => run.cpuShare.machine)));
  const node = round(mean(clusterRuns.map((run) => run.cpuShare.node)));
  const redis = round(mean(clusterRuns.map((run) => run.cpuShare.redis)));
  const busiestMaster = Math.max(
    ...clusterRuns.flatMap((run) =>
      Object.entries(run.redisCpuShareByServer)
        .filter(([name]) => name.startsWith('master'))
        .map(([, share]) => share),
    ),
  );
  const busiestWorkerLoop = Math.max(
    ...clusterRuns.flatMap((run) => run.workerEventLoopUtilisation),
  );
  const saturated = machine >= cores * 0.85;
  // Per payment, CPU does not depend on what else ran on the machine (much).
  const nodeMs = round(
    mean(
      clusterRuns.map(
        (run) =>
          run.cpuMsPerPayment.producer +
          run.cpuMsPerPayment.workers +
          run.cpuMsPerPayment.simulator,
      ),
    ),
  );
  const redisMs = round(
    mean(
      clusterRuns.map(
        (run) => run.cpuMsPerPayment.redisMasters + run.cpuMsPerPayment.redisReplicas,
      ),
    ),
  );
  const find = (redisKind: RunView['redis'], shards: number, workers: number) =>
    runs.find(
      (run) => run.redis === redisKind && run.shards === shards && run.workerProcesses === workers,
    );
  const parts = [
    `On ${cores} cores every process of a run (the producer, the worker process(es), the simulator, and the 3 masters + 3 replicas) shares the same CPUs, so the cluster cannot scale linearly: more shards or worker processes move work between processes, they add no cores.`,
    saturated
      ? `The saturated resource is the machine's CPU: over the cluster runs it was busy ${machine} of ${cores} cores on average, ${node} of them in the Node processes (producer, workers, simulator) and ${redis} in all six redis-servers together.`
      : `The machine was busy ${machine} of ${cores} cores on average over the cluster runs (${node} in the Node processes, ${redis} in the six redis-servers): not fully saturated, so part of the limit is latency (round trips, polling) rather than CPU.`,
    `Per payment (mean of the cluster runs) the Node processes spent ${nodeMs} ms of CPU and the six redis-servers ${redisMs} ms.`,
    busiestMaster < 0.8
      ? `No single Redis thread is the bottleneck: the busiest master used ${busiestMaster} of a core, and the busiest worker event loop was ${busiestWorkerLoop} busy; ${nodeMs > redisMs ? 'the cores go to the Node side, so a second worker process or more masters only split the same two cores' : 'Redis takes most of the CPU, the Node side less'}.`
      : `A Redis thread is near its limit: the busiest master used ${busiestMaster} of a core.`,
  ];
  const s1 = find('cluster', 1, 1);
  const s3 = find('cluster', 3, 1);
  if (s1 && s3) {
    const change = s3.cpuMsPerPayment.total / s1.cpuMsPerPayment.total - 1;
    const figures = `${s3.cpuMsPerPayment.total} vs ${s1.cpuMsPerPayment.total} ms with one worker process`;
    parts.push(
      change >= 0.05
        ? `SHARDS=3 spreads the commands over the three masters but costs ${Math.round(change * 100)}% more CPU per payment than SHARDS=1 (${figures}): each worker process then runs three queues with their own connections and 3 x WORKER_CONCURRENCY jobs in flight, and a machine without spare cores pays that in throughput.`
        : `SHARDS=3 spreads the commands over the three masters at ${change <= -0.05 ? `${Math.round(-change * 100)}% less` : 'about the same'} CPU per payment as SHARDS=1 (${figures}), but no master was near a core to begin with, so spreading them relieves nothing here${nodeMs > redisMs ? ': the Node processes set the pace' : ''}.`,
    );
  }
  const scaling = (['single', 'cluster'] as const).flatMap((redisKind) =>
    (redisKind === 'single' ? [1] : [...CLUSTER_SHARDS]).flatMap((shards) => {
      const one = find(redisKind, shards, 1);
      const two = find(redisKind, shards, 2);
      if (!one || !two) return [];
      const name = redisKind === 'single' ? 'single Redis' : `cluster SHARDS=${shards}`;
      return [`${name} x${round(two.paymentsPerSecond / one.paymentsPerSecond)}`];
    }),
  );
  if (scaling.length > 0) {
    parts.push(
      `A second worker process changed payments/s by: ${scaling.join(', ')} (linear would be x2).`,
    );
  }
  const disturbed = runs.filter((run) => run.cpuShare.othersOnMachine >= 0.2);
  if (disturbed.length > 0) {
    parts.push(
      `Other processes on the machine took CPU during ${disturbed
        .map(
          (run) =>
            `${run.redis === 'cluster' ? `cluster SHARDS=${run.shards}` : 'single Redis'} with ${run.workerProcesses} worker process(es) (${run.cpuShare.othersOnMachine} of a core)`,
        )
        .join(', ')}: those runs are slower for that reason too.`,
    );
  }
  const describe = (run: RunView) =>
    `${run.redis === 'cluster' ? `cluster SHARDS=${run.shards}` : 'single Redis'}, ${run.workerProcesses} worker process(es): ${run.paymentsPerSecond} payments/s (machine ${run.cpuShare.machine}, node ${run.cpuShare.node}, redis ${run.cpuShare.redis} cores)`;
  parts.push(`Per run: ${runs.map(describe).join('; ')}.`);
  return parts.join(' ');
}

export async function measureCluster(options: ClusterBenchOptions) {
  const started = performance.now();
  const cluster = await startRedisCluster({
    masters: 3,
    replicasPerMaster: 1,
    nodeTimeoutMs: NODE_TIMEOUT_MS,
  });
  try {
    options.log(
      `cluster: 6 nodes up in ${((performance.now() - started) / 1000).toFixed(1)} s (${cluster.startupNodes})`,
    );
    const clusterServers: MeasuredServer[] = [];
    for (const node of cluster.nodes) {
      clusterServers.push({
        name: `${node.host}:${node.port}`,
        host: node.host,
        port: node.port,
        role: (await node.role()) === 'master' ? 'master' : 'replica',
      });
    }
    const singleServers: MeasuredServer[] = [singleServer(options.singleRedisUrl)];
    const clusterNodes = cluster.nodes.map((node) => ({ host: node.host, port: node.port }));

    const common = {
      workerConcurrency: options.workerConcurrency,
      producerConcurrency: options.producerConcurrency,
      payments: options.payments,
      unmeasuredWarmup: options.unmeasuredWarmup,
      durability: { mode: 'none' as const },
      ...(options.workerNodeArgs ? { workerNodeArgs: options.workerNodeArgs } : {}),
    };
    const runs: RunView[] = [];
    const results: Array<{ spec: RunSpec; prefix: string; result: WorkloadResult }> = [];
    for (const workerProcesses of WORKER_PROCESSES) {
      const singleSpec: RunSpec = { redis: 'single', shards: 1, workerProcesses };
      const singlePrefix = `${options.prefix}-single-w${workerProcesses}`;
      const singleResult = await runWorkload({
        ...common,
        // The first run also warms the benchmark process (the producer), which
        // every later run reuses: it gets a longer warm-up.
        ...(runs.length === 0
          ? { unmeasuredWarmup: options.unmeasuredWarmup * FIRST_RUN_WARMUP_FACTOR }
          : {}),
        target: { url: options.singleRedisUrl },
        servers: singleServers,
        prefix: singlePrefix,
        shards: 1,
        workerProcesses,
      });
      options.log(
        `cluster: single Redis, ${workerProcesses} worker(s): ${singleResult.paymentsPerSecond} payments/s`,
      );
      runs.push(view(singleSpec, singleResult, undefined));
      results.push({ spec: singleSpec, prefix: singlePrefix, result: singleResult });
      for (const shards of CLUSTER_SHARDS) {
        const spec: RunSpec = { redis: 'cluster', shards, workerProcesses };
        const placed = await placeShards(
          cluster,
          clusterServers,
          `${options.prefix}-s${shards}-w${workerProcesses}`,
          shards,
        );
        const result = await runWorkload({
          ...common,
          target: { clusterNodes },
          servers: clusterServers,
          prefix: placed.prefix,
          shards,
          shardServers: placed.shardServers,
          workerProcesses,
        });
        options.log(
          `cluster: SHARDS=${shards}, ${workerProcesses} worker(s): ${result.paymentsPerSecond} payments/s`,
        );
        runs.push(view(spec, result, singleResult));
        results.push({ spec, prefix: placed.prefix, result });
      }
    }
    return {
      payments: options.payments,
      unmeasuredWarmupPayments: options.unmeasuredWarmup,
      unmeasuredWarmupPaymentsOfFirstRun: options.unmeasuredWarmup * FIRST_RUN_WARMUP_FACTOR,
      layout: {
        cluster: `3 masters + 3 replicas (test/support/redis-cluster.ts: private redis-server children, no persistence, cluster-node-timeout ${NODE_TIMEOUT_MS} ms), REDIS_CLUSTER_NODES=${cluster.startupNodes}`,
        singleRedis: `${options.singleRedisUrl} (the benchmark's Redis)`,
        workload:
          'as the durability section: card payments in VALIDATION mode, created, then each captured in full once all are authorised; producer = an orchestrator (workers: false, 100 commands in flight) in the benchmark process; worker processes = workers/main.ts with WORKER_CONCURRENCY 200 per shard each, REDIS_DURABILITY=none; simulator in a child process',
        shards:
          'SHARDS=1: every key of the run in one slot, so one master does all the work; SHARDS=3: a key prefix chosen so that the three shard slots sit on the three masters',
      },
      measured:
        'payments/s over both phases (authorise, capture); cpuMsPerPayment from /proc (node processes) and INFO cpu (each redis-server); redisCommandsPerPayment = total_commands_processed deltas summed over the masters, the benchmark polling left out; cpuShare = CPU seconds over wall seconds (1 = one core); ratioToSingleRedis compares with the single-Redis run of the same worker count',
      runs,
      note: noteOf(runs),
      details: results.map(({ spec, prefix, result }) => ({ ...spec, prefix, run: result })),
    };
  } finally {
    await cluster.stop();
  }
}
