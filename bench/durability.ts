/**
 * The `durability` section: what each REDIS_DURABILITY mode costs, on the same
 * authorise-then-capture workload (workload.ts), against a private primary
 * and one replica started here (no persistence on either):
 *
 * - `none`: nothing between the intent and the call;
 * - `verify`: a getTransactionData at Sips before every capture;
 * - `replica` (waitReplicas 1): the write barrier's INCR + WAIT on a
 *   connection of its own before every call, rounds shared by the calls
 *   waiting together.
 *
 * The modes run in two rounds (none, verify, replica, then the reverse) on
 * the same servers, each run with fresh worker and simulator processes and a
 * key prefix of its own; each mode's figures are the mean of its two runs.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { DurabilityMode, DurabilitySettings } from '../src/payments/durability.ts';
import { findFreePort, startRedisServer } from '../src/platform/redis-server.ts';
import { onAbnormalExit } from './children.ts';
import {
  runWorkload,
  type MeasuredServer,
  type WorkloadBenchOptions,
  type WorkloadResult,
} from './workload.ts';

/** The runs' key prefix gets the mode appended. */
export type DurabilityBenchOptions = WorkloadBenchOptions;

const MODES: readonly DurabilityMode[] = ['none', 'verify', 'replica'];
/** Each mode runs once per round; odd rounds run the modes in reverse. */
const ROUNDS = 2;
const FIRST_RUN_WARMUP_FACTOR = 3;
const REPLICA_READY_TIMEOUT_MS = 20_000;

interface Replica {
  port: number;
  stop(): Promise<void>;
}

/** A redis-server replicating `primaryPort`, no persistence; resolves once it answers. */
async function startReplica(primaryPort: number): Promise<Replica> {
  const port = await findFreePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--replicaof',
      '127.0.0.1',
      String(primaryPort),
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => resolveExit());
    child.once('error', () => resolveExit());
  });
  const forget = onAbnormalExit(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    forget();
  };
  return { port, stop };
}

/** Waits until the primary sees one replica online (connected_slaves:1, slave0 state=online). */
async function untilReplicaOnline(primary: Redis): Promise<string> {
  const deadline = Date.now() + REPLICA_READY_TIMEOUT_MS;
  for (;;) {
    const info = await primary.info('replication');
    const online = /^connected_slaves:1\r?$/m.test(info) && /^slave0:.*state=online/m.test(info);
    if (online) return /^slave0:(.*?)\r?$/m.exec(info)?.[1] ?? '';
    if (Date.now() > deadline) {
      throw new Error(
        `the replica did not come online within ${REPLICA_READY_TIMEOUT_MS} ms:\n${info}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ratio = (value: number, base: number): number =>
  Number.isFinite(value) && Number.isFinite(base) && base !== 0
    ? Number((value / base).toFixed(3))
    : Number.NaN;

/** A mode's figures: the mean of its runs (latency percentiles: the mean of each run's). */
interface Figures {
  paymentsPerSecond: number;
  latencyMs: { authorise: { p50: number; p99: number }; capture: { p50: number; p99: number } };
  cpuMsPerPayment: WorkloadResult['cpuMsPerPayment'];
  sipsCallsPerPayment: number;
  sipsCallsByServicePerPayment: Record<string, number>;
  redisCommandsPerPayment: number;
  /** Of the primary's commands per payment, those the modes differ by. */
  redisCommandStatsPerPayment: { wait: number; incr: number; evalsha: number };
}

function figures(results: readonly WorkloadResult[]): Figures {
  const mean = (pick: (result: WorkloadResult) => number, digits = 3): number =>
    Number((results.reduce((a, result) => a + pick(result), 0) / results.length).toFixed(digits));
  const services = new Set(
    results.flatMap((result) => Object.keys(result.sipsCallsPerPayment.byService)),
  );
  const cpuParts = Object.keys(
    results[0]?.cpuMsPerPayment ?? {},
  ) as (keyof WorkloadResult['cpuMsPerPayment'])[];
  return {
    paymentsPerSecond: mean((result) => result.paymentsPerSecond, 0),
    latencyMs: {
      authorise: {
        p50: mean((result) => result.latencyMs.authorise.p50, 0),
        p99: mean((result) => result.latencyMs.authorise.p99, 0),
      },
      capture: {
        p50: mean((result) => result.latencyMs.capture.p50, 0),
        p99: mean((result) => result.latencyMs.capture.p99, 0),
      },
    },
    cpuMsPerPayment: Object.fromEntries(
      cpuParts.map((part) => [part, mean((result) => result.cpuMsPerPayment[part])]),
    ) as WorkloadResult['cpuMsPerPayment'],
    sipsCallsPerPayment: mean((result) => result.sipsCallsPerPayment.total, 2),
    sipsCallsByServicePerPayment: Object.fromEntries(
      [...services].map((service) => [
        service,
        mean((result) => result.sipsCallsPerPayment.byService[service] ?? 0, 2),
      ]),
    ),
    redisCommandsPerPayment: mean((result) => result.redisCommandsPerPayment, 1),
    redisCommandStatsPerPayment: {
      wait: mean((result) => result.redisCommandStatsPerPayment.wait ?? 0, 3),
      incr: mean((result) => result.redisCommandStatsPerPayment.incr ?? 0, 2),
      evalsha: mean((result) => result.redisCommandStatsPerPayment.evalsha ?? 0, 2),
    },
  };
}

function ratios(mode: Figures, none: Figures) {
  return {
    paymentsPerSecond: ratio(mode.paymentsPerSecond, none.paymentsPerSecond),
    latencyAuthoriseP50: ratio(mode.latencyMs.authorise.p50, none.latencyMs.authorise.p50),
    latencyAuthoriseP99: ratio(mode.latencyMs.authorise.p99, none.latencyMs.authorise.p99),
    latencyCaptureP50: ratio(mode.latencyMs.capture.p50, none.latencyMs.capture.p50),
    latencyCaptureP99: ratio(mode.latencyMs.capture.p99, none.latencyMs.capture.p99),
    cpuMsPerPayment: ratio(mode.cpuMsPerPayment.total, none.cpuMsPerPayment.total),
    cpuMsPerPaymentWorkers: ratio(mode.cpuMsPerPayment.workers, none.cpuMsPerPayment.workers),
    cpuMsPerPaymentSimulator: ratio(mode.cpuMsPerPayment.simulator, none.cpuMsPerPayment.simulator),
    sipsCallsPerPayment: ratio(mode.sipsCallsPerPayment, none.sipsCallsPerPayment),
    redisCommandsPerPayment: ratio(mode.redisCommandsPerPayment, none.redisCommandsPerPayment),
  };
}

export async function measureDurability(options: DurabilityBenchOptions) {
  const primary = await startRedisServer({ persistence: 'none' });
  const forgetPrimary = onAbnormalExit(() => void primary.stop());
  const admin = new Redis(primary.url, { maxRetriesPerRequest: null });
  let replica: Replica | undefined;
  try {
    // The replica's first sync would otherwise wait 5 s for more replicas.
    await admin.config('SET', 'repl-diskless-sync-delay', '0');
    replica = await startReplica(primary.port);
    const replicaLink = await untilReplicaOnline(admin);
    options.log(`durability: replica 127.0.0.1:${replica.port} online (${replicaLink})`);
    const servers: MeasuredServer[] = [
      { name: `127.0.0.1:${primary.port}`, host: '127.0.0.1', port: primary.port, role: 'master' },
      { name: `127.0.0.1:${replica.port}`, host: '127.0.0.1', port: replica.port, role: 'replica' },
    ];
    // A B C, then C B A: a drift over the section (the benchmark process
    // warming up, other load on the machine) weighs on every mode alike.
    const order = Array.from({ length: ROUNDS }, (_, round) =>
      round % 2 === 0 ? [...MODES] : [...MODES].reverse(),
    ).flat();
    const runs = new Map<DurabilityMode, WorkloadResult[]>(MODES.map((mode) => [mode, []]));
    for (const [k, mode] of order.entries()) {
      const durability: DurabilitySettings =
        mode === 'replica' ? { mode, waitReplicas: 1, waitTimeoutMs: 1_000 } : { mode };
      const started = performance.now();
      const result = await runWorkload({
        target: { url: primary.url },
        servers,
        prefix: `${options.prefix}-${mode}-${k}`,
        shards: 1,
        durability,
        workerProcesses: 1,
        workerConcurrency: options.workerConcurrency,
        producerConcurrency: options.producerConcurrency,
        payments: options.payments,
        // The first run also warms the benchmark process (the producer), which
        // every later run reuses: it gets a longer warm-up.
        unmeasuredWarmup: options.unmeasuredWarmup * (k === 0 ? FIRST_RUN_WARMUP_FACTOR : 1),
        ...(options.workerNodeArgs ? { workerNodeArgs: options.workerNodeArgs } : {}),
      });
      runs.get(mode)?.push(result);
      options.log(
        `durability: ${mode} done in ${((performance.now() - started) / 1000).toFixed(1)} s, ${result.paymentsPerSecond} payments/s`,
      );
    }
    const byMode = new Map(MODES.map((mode) => [mode, figures(runs.get(mode) ?? [])]));
    const none = byMode.get('none') as Figures;
    return {
      payments: options.payments,
      unmeasuredWarmupPayments: options.unmeasuredWarmup,
      unmeasuredWarmupPaymentsOfFirstRun: options.unmeasuredWarmup * FIRST_RUN_WARMUP_FACTOR,
      rounds: ROUNDS,
      order,
      workload:
        'card payments in VALIDATION mode (captureDay 7): create, then once every one is authorised a full capture of each; producer = an orchestrator (workers: false) in the benchmark process, 100 commands in flight; ONE worker process (workers/main.ts, REDIS_DURABILITY=<mode>, REDIS_WAIT_REPLICAS=1 for replica), concurrency 200; simulator in a child process answering at once (so a Sips call costs CPU, not waiting)',
      layout:
        'private primary (startRedisServer, no persistence) + one replica (redis-server --replicaof, no persistence) started by this section, replica online before the first run; the same two servers for every run, each run with its own key prefix and fresh worker and simulator processes',
      measured:
        'each mode runs once per round, the modes in order then in reverse; figures are the mean of its runs (latency: mean of each run p50/p99). payments/s: payments over the seconds of both phases (authorise, then capture). latencyMs.authorise: record createdAt -> updatedAt of the authorisation (creates arrive as fast as the producer goes, so this includes time queued); latencyMs.capture: the producer issuing the capture -> updatedAt of the capture. cpuMsPerPayment: /proc utime+stime of the producer (benchmark process), worker and simulator processes, INFO cpu of the primary (redisMasters) and of the replica (redisReplicas). sipsCallsPerPayment: requests the simulator ledger recorded. redisCommandsPerPayment: total_commands_processed delta on the primary (commands run inside Lua scripts included, the benchmark ZCARD polling left out); redisCommandStatsPerPayment: the INFO commandstats calls that tell the modes apart (wait, incr: the write barrier)',
      modes: Object.fromEntries(
        MODES.map((mode) => {
          const modeFigures = byMode.get(mode) as Figures;
          const modeRuns = runs.get(mode) ?? [];
          return [
            mode,
            {
              ...modeFigures,
              ratioToNone: ratios(modeFigures, none),
              paymentsPerSecondOfEachRun: modeRuns.map((result) => result.paymentsPerSecond),
              otherLoadOnMachineOfEachRun: modeRuns.map(
                (result) => result.cpuShare.othersOnMachine,
              ),
              runs: modeRuns,
            },
          ];
        }),
      ),
    };
  } finally {
    admin.disconnect();
    await replica?.stop();
    await primary.stop();
    forgetPrimary();
  }
}
