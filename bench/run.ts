/**
 * `npm run bench`: measures the pipeline and prints one JSON document on
 * stdout (everything else goes to stderr). Starts a private redis-server (no
 * persistence) unless REDIS_URL is set.
 *
 *   BENCH_SCALE=0.1        multiplies every count (default 1)
 *   BENCH_ONLY=a,b         sections to run: seal, ceiling, pipeline, latency, memory,
 *                          durability, cluster, webhooks, export
 *   BENCH_LATENCY_RATES    offered payments/s of the paced latency runs (default 500,1000)
 *   BENCH_CPU_PROF=dir     writes CPU profiles of each worker process into dir/<section>,
 *                          and of each simulator process into dir/simulator
 *   BENCH_WORKER_NODE_ARGS extra Node flags for the worker process (e.g. GC settings)
 *   BENCH_KEEP_KEYS=1      leaves each section's keys in Redis (with REDIS_URL, to look at them)
 *
 * Sections:
 * - ceiling: a bare BullMQ worker whose processor does nothing, fed (jobs
 *   added one at a time while a worker process runs them, timed from the
 *   first add) and preloaded (jobs added beforehand, only the running timed);
 *   both measured right before and right after the pipeline section, which
 *   uses the means (see bullmq-ceiling.ts);
 * - pipeline: payments through the whole pipeline against a simulator
 *   answering at once, as a share of the fed ceiling (the goal) and of the
 *   preloaded one;
 *   both run the same unmeasured warm-up first (UNMEASURED_WARMUP jobs or
 *   payments through the very processes that are then measured), so that
 *   neither is timed with cold code;
 * - latency: the same with 250 ms added by the simulator to every call, once
 *   as fast as the producer goes (throughput), then paced at half the goal
 *   rate and at the goal rate (latency of a worker that keeps up, not time
 *   spent queued);
 * - memory: 100 000 payments through one worker process: its RSS and heap
 *   after a full GC once warmed up, every 10 000 payments and at the end, the
 *   largest RSS of each half of the run, and what Redis kept;
 * - durability: each REDIS_DURABILITY mode on the authorise-then-capture
 *   workload (see durability.ts);
 * - cluster: the same workload on a local Redis Cluster (see cluster.ts);
 * - webhooks: the same workload without webhook endpoints and with 2 per
 *   merchant on a receiver child process answering at once or after 200 ms:
 *   payments/s of each, their ratio (the goal), deliveries/s, delivery lag
 *   and latency (see webhooks.ts);
 * - export: 100 000 payments written straight into the store on 4 shards,
 *   then exported as CSV through the HTTP route of an API child process:
 *   rows/s, and that process's RSS before and at its peak (see export.ts).
 */
import { loadavg } from 'node:os';
import { startRedisServer, type RedisServerHandle } from '../src/platform/redis-server.ts';
import {
  measureFedCeiling,
  measurePreloadedCeiling,
  type CeilingResult,
} from './bullmq-ceiling.ts';
import { measureCluster } from './cluster.ts';
import { measureDurability } from './durability.ts';
import { measureExport } from './export.ts';
import { measureSeal } from './seal.ts';
import { measureWebhooks } from './webhooks.ts';
import { onAbnormalExit } from './children.ts';
import { runPipeline, type PipelineOptions, type PipelineResult } from './pipeline.ts';

const scale = Number(process.env.BENCH_SCALE ?? '1');
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const wanted = (name: string): boolean => only.size === 0 || only.has(name);
const scaled = (count: number, minimum = 100): number =>
  Math.max(minimum, Math.round(count * scale));

const GOALS = {
  /** Pipeline payments/s over bare BullMQ no-op jobs/s, same run, same Redis. */
  ratioToCeiling: 0.15,
  /** Payments/s from one worker process with 250 ms gateway latency. */
  paymentsPerSecondAt250ms: 1_000,
  /**
   * Growth of the worker's RSS from the first half of the memory run (after
   * its warm-up) to the second: the largest RSS sampled every 25 ms in each.
   * A leak raises the second; the allocator and V8 giving pages back or not
   * move a single sample by tens of MB either way, the largest of hundreds
   * much less. The RSS after a full GC every 10 000 payments is reported too.
   */
  rssPeakGrowthMb: 16,
  /** Growth of the worker's V8 heap in use (after a full GC) from warm-up to the end. */
  heapGrowthMb: 8,
} as const;

const GATEWAY_LATENCY_MS = 250;
/** Jobs (ceiling) and payments (pipeline) run, unmeasured, before each of the two is timed. */
const UNMEASURED_WARMUP = scaled(2_000);
const PIPELINE_WORKER_CONCURRENCY = 200;
/** `payments.create` calls in flight in the pipeline's producer, and adds in flight in the fed ceiling's. */
const PIPELINE_PRODUCER_CONCURRENCY = 100;
const CEILING_WORKER_CONCURRENCY = 100;
const LATENCY_WORKER_CONCURRENCY = 1_000;
/** Payments authorised and captured per run of the durability section (six runs), and their warm-up. */
const DURABILITY_PAYMENTS = 600;
const DURABILITY_WARMUP = 250;
/** The same per run of the cluster section (six runs). */
const CLUSTER_PAYMENTS = 800;
const CLUSTER_WARMUP = 300;
/** The same per run of the webhooks section (seven runs). */
const WEBHOOKS_PAYMENTS = 1_000;
const WEBHOOKS_WARMUP = 250;

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Node flags of the worker process: BENCH_WORKER_NODE_ARGS, and the CPU profiler when asked. */
function workerNodeArgs(section: string): string[] {
  const extra = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const dir = process.env.BENCH_CPU_PROF;
  // One directory per section: the main thread and tsx's loader thread each write a profile.
  return [...extra, ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}/${section}`] : [])];
}

async function section<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  log(`${name}: running`);
  const result = await run();
  log(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function pipelineOptions(
  redisUrl: string,
  name: string,
  options: Omit<PipelineOptions, 'redisUrl' | 'prefix'>,
): PipelineOptions {
  return {
    redisUrl,
    prefix: `bench-${process.pid}-${name}`,
    ...options,
    workerNodeArgs: workerNodeArgs(name),
  };
}

/** The per-part numbers a reader needs first; the rest stays in `run`. */
function summary(result: PipelineResult) {
  return {
    payments: result.payments,
    authorized: result.authorized,
    seconds: result.seconds,
    paymentsPerSecond: result.paymentsPerSecond,
    latencyMs: result.latencyMs,
    cpuMsPerPayment: Object.fromEntries(
      Object.entries(result.cpu).map(([part, use]) => [part, use.msPerPayment]),
    ),
    otherLoadOnMachine: result.machineCpu,
  };
}

async function main(): Promise<void> {
  const begun = performance.now();
  let server: RedisServerHandle | undefined;
  const redisUrl =
    process.env.REDIS_URL ?? (server = await startRedisServer({ persistence: 'none' })).url;
  // stop() sends SIGTERM at once; the exit handler cannot wait for more.
  const forgetServer = server ? onAbnormalExit(() => void server?.stop()) : () => false;
  const report: Record<string, unknown> = {
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    loadAverageAtStart: loadavg().map((load) => Number(load.toFixed(2))),
    startedAt: new Date().toISOString(),
    scale,
    layout: {
      redis: server
        ? 'private redis-server child of the benchmark, no persistence'
        : 'REDIS_URL (not started by the benchmark)',
      simulator:
        'child process bench/simulator-child.ts (startSimulator, own event loop and CPU), reached over HTTP on 127.0.0.1',
      workers:
        'ONE child process: node --import tsx workers/main.ts configured from the environment (REDIS_URL, KEY_PREFIX, SIPS_ENV=simulator, SIPS_BASE_URL, CARD_VAULT_KEYS, WORKER_CONCURRENCY); bench/worker-probe.ts preloaded to report event loop use and heap on request',
      producer:
        'the benchmark process: createOrchestrator({ workers: false }) and payments.create (command parsing, card vault, create script, first step job), N creates in flight',
      completion:
        'ZCARD of the status indexes (authorized, refused, failed, outcome_unknown, in_review) polled every 25 ms; latency from each record createdAt (create) to updatedAt (the commit of the authorisation), read after the run',
      ceiling:
        'bench/bullmq-ceiling.ts, a bare BullMQ worker with a no-op processor on the same Redis, after the same unmeasured warm-up as the pipeline (as many jobs as it has payments), fed two ways: fed (the goal ratio) = the benchmark process adds one job at a time, 100 in flight through an auto-pipelined client, while the worker (concurrency 100) runs in its own process (bench/noop-worker-child.ts), timed from the first add to the last job done, as the pipeline is timed from the first create; preloaded = jobs added beforehand in batches of 1 000 outside the clock, then a worker (concurrency 100) in the benchmark process runs them; both run right before and right after the pipeline section, the ratios use the means',
      machine:
        'every part shares the same CPUs; cpu.*.share is each part CPU seconds over the run wall time',
    },
    goals: GOALS,
  };
  try {
    if (wanted('seal')) {
      report.seal = await section('seal', async () => measureSeal(scaled(50_000, 5_000)));
    }
    const ceilingOptions = (name: string) => ({
      jobs: scaled(20_000, 1_000),
      concurrency: CEILING_WORKER_CONCURRENCY,
      prefix: `bench-${process.pid}-${name}`,
      unmeasuredWarmup: UNMEASURED_WARMUP,
    });
    /** Both ceilings, the fed one first. */
    const measureCeilings = async (
      when: string,
    ): Promise<{ fed: CeilingResult; preloaded: CeilingResult }> => ({
      fed: await section(`ceiling-fed${when}`, () =>
        measureFedCeiling(redisUrl, {
          ...ceilingOptions(`ceiling-fed${when}`),
          // Fed as the pipeline's producer feeds. The worker keeps concurrency
          // 100: on this machine it runs no-op jobs at least as fast as with
          // the step workers' 200, so the ceiling stays the higher of the two.
          addsInFlight: PIPELINE_PRODUCER_CONCURRENCY,
        }),
      ),
      preloaded: await section(`ceiling-preloaded${when}`, () =>
        measurePreloadedCeiling(redisUrl, ceilingOptions(`ceiling-preloaded${when}`)),
      ),
    });
    if (wanted('ceiling') && !wanted('pipeline')) {
      report.bullmqNoopCeiling = await measureCeilings('');
    }

    if (wanted('pipeline')) {
      // The ceilings right before and right after the pipeline, so that both
      // see the same machine (other load on it moves both).
      const before = await measureCeilings('-before');
      const result = await section('pipeline', () =>
        runPipeline(
          pipelineOptions(redisUrl, 'pipeline', {
            payments: scaled(20_000),
            latencyMs: 0,
            workerConcurrency: PIPELINE_WORKER_CONCURRENCY,
            producerConcurrency: PIPELINE_PRODUCER_CONCURRENCY,
            unmeasuredWarmup: UNMEASURED_WARMUP,
          }),
        ),
      );
      const after = await measureCeilings('-after');
      const mean = (feed: 'fed' | 'preloaded') =>
        Math.round((before[feed].jobsPerSecond + after[feed].jobsPerSecond) / 2);
      const fedJobsPerSecond = mean('fed');
      const preloadedJobsPerSecond = mean('preloaded');
      report.bullmqNoopCeiling = {
        fed: { jobsPerSecond: fedJobsPerSecond, before: before.fed, after: after.fed },
        preloaded: {
          jobsPerSecond: preloadedJobsPerSecond,
          before: before.preloaded,
          after: after.preloaded,
        },
      };
      const ratio = result.paymentsPerSecond / fedJobsPerSecond;
      report.pipeline = {
        ...summary(result),
        ceilingJobsPerSecond: fedJobsPerSecond,
        ratioToCeiling: Number(ratio.toFixed(3)),
        goal: {
          ratioToCeiling: GOALS.ratioToCeiling,
          met: ratio >= GOALS.ratioToCeiling,
          judgedOn:
            'the fed ceiling: payments and no-op jobs both timed from the first create (add) to the last one done, fed the same way (100 in flight), each worker in a process of its own',
        },
        ratioToPreloadedCeiling: Number(
          (result.paymentsPerSecond / preloadedJobsPerSecond).toFixed(3),
        ),
        preloadedCeilingJobsPerSecond: preloadedJobsPerSecond,
        workerConcurrency: PIPELINE_WORKER_CONCURRENCY,
        activeJobs: result.worker.activeJobs,
        unmeasuredWarmupPayments: UNMEASURED_WARMUP,
        how: 'creates as fast as the producer goes (100 in flight), so latency includes time spent queued; the unmeasured warm-up payments (each ceiling runs as many no-op jobs first) are settled before the clock starts and count in nothing but the Redis totals (stream length, completed jobs, keys). ratioToPreloadedCeiling compares the same run with the preloaded ceiling, whose adds are outside its clock',
        run: result,
      };
    }

    if (wanted('latency')) {
      const goalRate = GOALS.paymentsPerSecondAt250ms;
      const rates = (process.env.BENCH_LATENCY_RATES ?? `${goalRate / 2},${goalRate}`)
        .split(',')
        .map(Number)
        .filter((rate) => rate > 0);
      const latencyRun = (
        name: string,
        payments: number,
        ratePerSecond: number,
        warmupPayments: number,
      ) =>
        section(name, () =>
          runPipeline(
            pipelineOptions(redisUrl, name, {
              payments,
              latencyMs: GATEWAY_LATENCY_MS,
              workerConcurrency: LATENCY_WORKER_CONCURRENCY,
              producerConcurrency: 200,
              ratePerSecond,
              warmupPayments,
            }),
          ),
        );
      const view = (result: PipelineResult) => ({
        ...summary(result),
        activeJobs: result.worker.activeJobs,
        workerEventLoopUtilisation: result.worker.eventLoopUtilisation,
      });
      const saturated = await latencyRun('latency-saturated', scaled(15_000), 0, 0);
      const paced: { rate: number; warmupPayments: number; result: PipelineResult }[] = [];
      for (const rate of rates) {
        // About 12 s of arrivals; the first 2 s are warm-up.
        const payments = scaled(rate * 12);
        const warmupPayments = Math.round(payments / 6);
        const result = await latencyRun(`latency-paced-${rate}`, payments, rate, warmupPayments);
        paced.push({ rate, warmupPayments, result });
      }
      const atGoal = paced.find((run) => run.rate === goalRate) ?? paced.at(-1);
      report.gatewayLatency = {
        gatewayLatencyMs: GATEWAY_LATENCY_MS,
        workerConcurrency: LATENCY_WORKER_CONCURRENCY,
        paymentsPerSecond: saturated.paymentsPerSecond,
        ...(atGoal
          ? {
              latencyMsAtRate: {
                offeredPerSecond: atGoal.rate,
                p50: atGoal.result.latencyMs.p50,
                p99: atGoal.result.latencyMs.p99,
              },
            }
          : {}),
        saturated: {
          ...view(saturated),
          how: 'creates as fast as the producer goes (200 in flight): the most the worker process does; latency includes time spent queued',
        },
        paced: paced.map(({ rate, warmupPayments, result }) => ({
          offeredPerSecond: rate,
          keptUp: result.paymentsPerSecond >= rate * 0.95,
          ...view(result),
          warmupPayments,
          latencyMsIncludingWarmup: result.latencyMsIncludingWarmup,
        })),
        pacedHow:
          'creates paced at the offered rate, one by one: when the worker keeps up, latency is the gateway plus our own steps, not time spent queued; latencyMs leaves out the first warmupPayments (fresh worker process, its sockets being opened), latencyMsIncludingWarmup does not',
        goal: {
          paymentsPerSecond: GOALS.paymentsPerSecondAt250ms,
          met: saturated.paymentsPerSecond >= GOALS.paymentsPerSecondAt250ms,
        },
        runs: { saturated, paced: paced.map((run) => run.result) },
      };
    }

    if (wanted('memory')) {
      const payments = scaled(100_000, 1_000);
      const warmupPayments = Math.round(payments / 10);
      const result = await section('memory', () =>
        runPipeline(
          pipelineOptions(redisUrl, 'memory', {
            payments,
            latencyMs: 0,
            workerConcurrency: PIPELINE_WORKER_CONCURRENCY,
            producerConcurrency: PIPELINE_PRODUCER_CONCURRENCY,
            warmupPayments,
            memoryAfterWarmup: true,
            memorySampleEvery: warmupPayments,
            simulator: { maxTransactions: 20_000, ledgerRequests: 1_000, ledgerMovements: 20_000 },
          }),
        ),
      );
      const { rssMb, heapUsedMb, samples } = result.worker.memory;
      const rssGrowth = rssMb.end - rssMb.afterWarmup;
      const heapGrowth = heapUsedMb.end - heapUsedMb.afterWarmup;
      const peakGrowth = rssMb.peakSecondHalf - rssMb.peakFirstHalf;
      report.workerMemory = {
        payments,
        warmupPayments,
        seconds: result.seconds,
        paymentsPerSecond: result.paymentsPerSecond,
        otherLoadOnMachine: result.machineCpu,
        rssMb: {
          before: rssMb.afterWarmup,
          after: rssMb.end,
          delta: Number(rssGrowth.toFixed(1)),
          idle: rssMb.idle,
          peak: rssMb.peak,
          peakFirstHalf: rssMb.peakFirstHalf,
          peakSecondHalf: rssMb.peakSecondHalf,
          peakGrowth: Number(peakGrowth.toFixed(1)),
        },
        heapUsedMb: {
          before: heapUsedMb.afterWarmup,
          after: heapUsedMb.end,
          delta: Number(heapGrowth.toFixed(1)),
          idle: heapUsedMb.idle,
        },
        samples,
        measured:
          'VmRSS of the worker process from /proc/<pid>/status and its V8 heap, each after a full GC (worker-probe.ts, --expose-gc), once warmupPayments settled ("before"), then every warmupPayments more (samples), and after the last payment ("after"); peak is the largest VmRSS sampled every 25 ms over the run, peakFirstHalf from the warm-up to half the run, peakSecondHalf from there to the end',
        redis: result.redis,
        redisCaps:
          'per payment: its hash and timeline (kept, like any payment record); 2 events in the shard stream, trimmed by XADD MAXLEN ~ (store default 1 000 000 entries, not reached here); 1 completed BullMQ job (removeOnComplete: 1 h, at most 100 000). The run keys are deleted after each section.',
        simulatorRssMbEnd: result.simulator.rssMbEnd,
        simulatorCaps: 'maxTransactions 20 000, ledger ring of 1 000 requests and 20 000 movements',
        goal: {
          rssPeakGrowthMb: GOALS.rssPeakGrowthMb,
          heapGrowthMb: GOALS.heapGrowthMb,
          met: peakGrowth <= GOALS.rssPeakGrowthMb && heapGrowth <= GOALS.heapGrowthMb,
        },
        run: result,
      };
    }

    if (wanted('durability')) {
      report.durability = await section('durability', () =>
        measureDurability({
          payments: scaled(DURABILITY_PAYMENTS),
          unmeasuredWarmup: scaled(DURABILITY_WARMUP, 50),
          workerConcurrency: PIPELINE_WORKER_CONCURRENCY,
          producerConcurrency: PIPELINE_PRODUCER_CONCURRENCY,
          prefix: `bench-${process.pid}-durability`,
          workerNodeArgs: workerNodeArgs('durability'),
          log,
        }),
      );
    }

    if (wanted('cluster')) {
      report.cluster = await section('cluster', () =>
        measureCluster({
          singleRedisUrl: redisUrl,
          payments: scaled(CLUSTER_PAYMENTS),
          unmeasuredWarmup: scaled(CLUSTER_WARMUP, 50),
          workerConcurrency: PIPELINE_WORKER_CONCURRENCY,
          producerConcurrency: PIPELINE_PRODUCER_CONCURRENCY,
          prefix: `bench-${process.pid}-cluster`,
          workerNodeArgs: workerNodeArgs('cluster'),
          log,
        }),
      );
    }

    if (wanted('webhooks')) {
      report.webhooks = await section('webhooks', () =>
        measureWebhooks({
          redisUrl,
          payments: scaled(WEBHOOKS_PAYMENTS),
          unmeasuredWarmup: scaled(WEBHOOKS_WARMUP, 50),
          workerConcurrency: PIPELINE_WORKER_CONCURRENCY,
          producerConcurrency: PIPELINE_PRODUCER_CONCURRENCY,
          prefix: `bench-${process.pid}-webhooks`,
          workerNodeArgs: workerNodeArgs('webhooks'),
          log,
        }),
      );
    }
    if (wanted('export')) {
      report.export = await section('export', () =>
        measureExport({
          redisUrl,
          payments: scaled(100_000),
          shards: 4,
          prefix: `bench-${process.pid}-export`,
          log,
        }),
      );
    }
  } finally {
    await server?.stop();
    forgetServer();
  }
  report.loadAverageAtEnd = loadavg().map((load) => Number(load.toFixed(2)));
  report.totalSeconds = Number(((performance.now() - begun) / 1000).toFixed(1));
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
