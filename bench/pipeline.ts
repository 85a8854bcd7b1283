/**
 * One run of the whole payment pipeline, in three processes beside Redis:
 *
 * - the simulator, in a child process of its own (a remote gateway has its
 *   own CPU; sharing the worker's event loop would charge its HTTP parsing
 *   and sealing to the worker);
 * - the step workers, in ONE child process (`workers/main.ts`, configured
 *   from the environment like a deployment);
 * - the producer, in the benchmark process: an orchestrator with
 *   `workers: false` calling `payments.create` (command parsing, card vault,
 *   the create script, the first step job).
 *
 * Completion is counted on the status indexes (ZCARD of each final or
 * parking status), never by reading payments one by one. Latencies come from
 * each record's `createdAt` (create script) and `updatedAt` (the commit that
 * stored the authorisation), read once the run is over.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import type { PaymentStatus } from '../machines/contract.ts';
import {
  createOrchestrator,
  type Orchestrator,
  type OrchestratorOptions,
} from '../src/orchestrator.ts';
import { createKeyspace } from '../src/payments/keys.ts';
import {
  SEED_TEST_KEY_VERSION,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
} from '../src/sips/environments.ts';
import { SecretKey } from '../src/sips/secret-key.ts';
import { jsonLine, machineBusySeconds, startTsChild, type BenchChild } from './children.ts';

export const ACCEPTED_CARD = '4000000000000002';

/** Statuses a card payment can stop in without help; the run waits for their sum. */
const SETTLED: readonly PaymentStatus[] = [
  'authorized',
  'refused',
  'failed',
  'outcome_unknown',
  'in_review',
];

export interface PipelineOptions {
  redisUrl: string;
  /** Key prefix of this run (lowercase, digits, dashes); its keys are deleted afterwards. */
  prefix: string;
  payments: number;
  /** Added by the simulator to every answer. */
  latencyMs: number;
  /** WORKER_CONCURRENCY of the worker process. */
  workerConcurrency: number;
  /** `payments.create` calls in flight in the producer. */
  producerConcurrency: number;
  /** Paced arrivals (payments per second); 0: as fast as the producer goes. */
  ratePerSecond?: number;
  /**
   * Warm-up: the first this many created are left out of `latencyMs` (fresh
   * process, cold code, sockets being opened), and with `memoryAfterWarmup`
   * the worker's memory baseline is taken once this many settled. @defaultValue 0
   */
  warmupPayments?: number;
  /** Take the worker's memory (after a full GC, a short pause) once the warm-up settled. */
  memoryAfterWarmup?: boolean;
  /** With `memoryAfterWarmup`: take it again every this many payments settled after that. */
  memorySampleEvery?: number;
  /**
   * Unmeasured warm-up: this many payments are created (same producer, same
   * concurrency, unpaced) and settled before the clock and the CPU counters
   * start; they count in no result (rate, latency, CPU). @defaultValue 0
   */
  unmeasuredWarmup?: number;
  /** Extra Node flags for the worker process (e.g. `--cpu-prof`). */
  workerNodeArgs?: readonly string[];
  /** Simulator memory caps. */
  simulator?: { maxTransactions?: number; ledgerRequests?: number; ledgerMovements?: number };
}

export interface PipelineResult {
  payments: number;
  authorized: number;
  notAuthorized: Record<string, number>;
  seconds: number;
  paymentsPerSecond: number;
  /** Time the producer took to create every payment (creates/s alongside). */
  producer: {
    seconds: number;
    createsPerSecond: number;
    concurrency: number;
    ratePerSecond?: number;
  };
  /** create → authorized, from the records, of the payments created after the warm-up ones. */
  latencyMs: Distribution;
  /** The same over every payment, when some were warm-up. */
  latencyMsIncludingWarmup?: Distribution;
  worker: {
    concurrency: number;
    pid: number;
    /** Event loop utilisation over the run (1: the loop never waited). */
    eventLoopUtilisation: number;
    /** Jobs the worker held (BullMQ active list), sampled every 25 ms until the last settled. */
    activeJobs: { mean: number; max: number };
    /**
     * VmRSS from /proc at each point (after a full GC in the worker, except
     * the peaks, the largest values sampled every 25 ms), and the V8 heap in
     * use after that GC. `afterWarmup` is taken once `warmupPayments` settled.
     */
    memory: {
      warmupPayments: number;
      rssMb: {
        idle: number;
        afterWarmup: number;
        end: number;
        peak: number;
        /** The largest sampled from the end of the warm-up to half the run. */
        peakFirstHalf: number;
        /** The largest sampled from half the run to its end. */
        peakSecondHalf: number;
      };
      heapUsedMb: { idle: number; afterWarmup: number; end: number };
      /** Every sample after a full GC, from the warm-up one to the end one. */
      samples: MemorySample[];
    };
  };
  simulator: { latencyMs: number; rssMbEnd: number };
  redis: RedisUse;
  /** CPU each part used during the run: seconds, share of the run's wall time, ms per payment. */
  cpu: Record<
    'producer' | 'worker' | 'simulator' | 'redis',
    { seconds: number; share: number; msPerPayment: number }
  >;
  /**
   * The whole machine over the run (/proc/stat): CPU seconds busy, and what
   * processes other than these four used (other work on a shared machine).
   */
  machineCpu: { cores: number; busySeconds: number; othersSeconds: number; othersShare: number };
}

export interface Distribution {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  samples: number;
}

export interface RedisUse {
  usedMemoryMbBefore: number;
  usedMemoryMbAfter: number;
  bytesPerPayment: number;
  eventsStreamLength: number;
  completedJobsKept: number;
  keysOfRun: number;
  /** MEMORY USAGE of the stream and of one payment's keys and one completed job. */
  bytes: { eventsStream: number; paymentHash: number; timeline: number; completedJob: number };
  /**
   * INFO commandstats over the measured run, per payment: calls and the
   * microseconds Redis spent in each command (EVALSHA: every Lua script,
   * BullMQ's and ours), the costliest first. Includes the benchmark's own polling.
   */
  commandsPerPayment: Record<string, { calls: number; usec: number }>;
}

/** Bytes as MiB, one decimal. */
export const mb = (bytes: number): number => Number((bytes / 2 ** 20).toFixed(1));
const round1 = (value: number): number => Number(value.toFixed(1));

/** CPU seconds Redis used so far (INFO cpu: main thread and children, user + system). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

type CommandStats = Map<string, { calls: number; usec: number }>;

/** INFO commandstats: calls and microseconds per command (EVALSHA holds every Lua script). */
async function redisCommandStats(redis: Redis): Promise<CommandStats> {
  const stats: CommandStats = new Map();
  const info = await redis.info('commandstats');
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** Commands Redis ran per payment between two samples, the costliest first. */
function commandsPerPayment(
  before: CommandStats,
  after: CommandStats,
  payments: number,
): Record<string, { calls: number; usec: number }> {
  const rows = [...after].map(([name, { calls, usec }]) => {
    const base = before.get(name) ?? { calls: 0, usec: 0 };
    const perPayment = {
      calls: Number(((calls - base.calls) / payments).toFixed(2)),
      usec: Number(((usec - base.usec) / payments).toFixed(1)),
    };
    return [name, perPayment] as const;
  });
  return Object.fromEntries(
    rows.filter(([, row]) => row.calls > 0).sort((a, b) => b[1].usec - a[1].usec),
  );
}

export const producerCpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

/** The `p`th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** p50, p90, p99 and the largest of `values` (sorted in place). */
export function distribution(values: number[]) {
  values.sort((a, b) => a - b);
  return {
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.at(-1) ?? Number.NaN,
    samples: values.length,
  };
}

/** Deletes every key of a run's prefix (the hash tags start with `{<prefix>:`). */
export async function deleteRunKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

async function countRunKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

export interface Probe {
  elu: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

/** The worker's memory after a full GC once `settled` payments of the run had settled. */
export interface MemorySample {
  settled: number;
  rssMb: number;
  heapUsedMb: number;
  /** V8 heap committed (used or not). */
  heapTotalMb: number;
  /** Memory of C++ objects bound to JavaScript ones (buffers, crypto contexts...). */
  externalMb: number;
}

const sampleOf = (settled: number, probe: Probe): MemorySample => ({
  settled,
  rssMb: probe.rssMb,
  heapUsedMb: probe.heapUsedMb,
  heapTotalMb: probe.heapTotalMb,
  externalMb: probe.externalMb,
});

/** Asks the worker's probe (worker-probe.ts) for its numbers; `gc` collects first. */
export async function probeWorker(worker: BenchChild, command: 'probe' | 'gc'): Promise<Probe> {
  const answer = worker.waitForLine((line) => {
    const parsed = jsonLine(line);
    return parsed?.probe as Probe | undefined;
  }, 10_000);
  worker.process.stdin?.write(`${command}\n`);
  return answer;
}

async function startSimulatorChild(
  latencyMs: number,
  caps: PipelineOptions['simulator'] = {},
): Promise<{ child: BenchChild; url: string }> {
  const child = startTsChild(
    'simulator',
    'bench/simulator-child.ts',
    {
      BENCH_SIM_LATENCY_MS: String(latencyMs),
      ...(caps.maxTransactions ? { BENCH_SIM_MAX_TRANSACTIONS: String(caps.maxTransactions) } : {}),
      ...(caps.ledgerRequests ? { BENCH_SIM_LEDGER_REQUESTS: String(caps.ledgerRequests) } : {}),
      ...(caps.ledgerMovements ? { BENCH_SIM_LEDGER_MOVEMENTS: String(caps.ledgerMovements) } : {}),
    },
    process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/simulator`]
      : [],
  );
  const url = await child.waitForLine((line) => {
    const parsed = jsonLine(line);
    return parsed?.ready === true ? String(parsed.url) : undefined;
  });
  return { child, url };
}

async function startWorkerChild(
  options: PipelineOptions,
  sipsBaseUrl: string,
  vaultKey: Buffer,
): Promise<BenchChild> {
  const child = startTsChild(
    'worker',
    'workers/main.ts',
    {
      REDIS_URL: options.redisUrl,
      KEY_PREFIX: options.prefix,
      ...workerEnv(sipsBaseUrl, vaultKey, options.workerConcurrency),
    },
    ['--expose-gc', ...(options.workerNodeArgs ?? [])],
    ['bench/worker-probe.ts'],
  );
  await child.waitForLine(
    (line) => (line.includes('step workers running') ? true : undefined),
    60_000,
  );
  return child;
}

export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const keyspace = createKeyspace({ prefix: options.prefix, shards: 1 });
  const vaultKey = randomBytes(32);
  let simulator: BenchChild | undefined;
  let worker: BenchChild | undefined;
  let orchestrator: Orchestrator | undefined;
  try {
    await deleteRunKeys(redis, options.prefix);
    let memoryBefore = await usedMemory(redis);
    const sim = await startSimulatorChild(options.latencyMs, options.simulator);
    simulator = sim.child;
    worker = await startWorkerChild(options, sim.url, vaultKey);
    const workerChild = worker;
    orchestrator = await producerOrchestrator(sim.url, vaultKey, {
      redis: options.redisUrl,
      keyPrefix: options.prefix,
    });
    const producer = orchestrator;

    // Let the worker settle (start-up code done) before the idle sample.
    await new Promise((r) => setTimeout(r, 500));
    const warmupPayments = options.warmupPayments ?? 0;
    const idle = await probeWorker(workerChild, 'gc');
    let afterWarmup: Probe | undefined;
    let memoryProbe: Promise<Probe> | undefined;
    const memorySamples: MemorySample[] = [];
    let nextMemorySample = warmupPayments;
    let peakRss = workerChild.rssMb();
    /** Largest VmRSS sampled from the warm-up to half the run, and from there to the end. */
    const peakRssByHalf: [number, number] = [0, 0];

    const statusKeys = SETTLED.map((status) => keyspace.statusIndexKey(0, status));
    // BullMQ's list of the jobs the worker holds: each is a Sips call in flight or about to be.
    const activeKey = `${keyspace.bullmqPrefix(0)}:${keyspace.paymentsQueueName(0)}:active`;
    const counts = async (): Promise<{ settled: number[]; active: number }> => {
      const pipeline = redis.pipeline();
      for (const key of statusKeys) pipeline.zcard(key);
      pipeline.llen(activeKey);
      const results = ((await pipeline.exec()) ?? []).map(([error, value]) => {
        if (error) throw error;
        return Number(value);
      });
      return { settled: results.slice(0, statusKeys.length), active: results.at(-1) ?? 0 };
    };
    const active = { samples: 0, sum: 0, max: 0 };

    // Unmeasured warm-up (JIT, sockets, pools): settled before anything is measured.
    const unmeasured = options.unmeasuredWarmup ?? 0;
    if (unmeasured > 0) {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(options.producerConcurrency, unmeasured) }, async () => {
          while (next < unmeasured) {
            const n = next++;
            await producer.payments.create({
              amount: 1000 + (n % 9000),
              currency: '978',
              orderId: `bench-warmup-${n}`,
              card: { number: ACCEPTED_CARD, expiry: '203012', csc: '123' },
            });
          }
        }),
      );
      const waitUntil = performance.now() + 60_000;
      for (;;) {
        const { settled } = await counts();
        if (settled.reduce((a, b) => a + b, 0) >= unmeasured) break;
        if (performance.now() > waitUntil) throw new Error('unmeasured warm-up did not settle');
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    // What the warm-up left in the status indexes, taken off every count below.
    const baseline = unmeasured > 0 ? (await counts()).settled : statusKeys.map(() => 0);
    if (unmeasured > 0) memoryBefore = await usedMemory(redis);

    const total = options.payments;
    const ids: string[] = new Array<string>(total);
    await probeWorker(workerChild, 'probe');
    const machineAtStart = machineBusySeconds();
    const commandsAtStart = await redisCommandStats(redis);
    const cpuAtStart = {
      producer: producerCpuSeconds(),
      worker: workerChild.cpuSeconds(),
      simulator: simulator.cpuSeconds(),
      redis: await redisCpuSeconds(redis),
    };
    const started = performance.now();
    let created = 0;
    let producerError: unknown;
    const producerDone = (async () => {
      const rate = options.ratePerSecond ?? 0;
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < total && producerError === undefined) {
          const n = next++;
          if (rate > 0) {
            const due = started + (n * 1000) / rate;
            const wait = due - performance.now();
            if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          }
          const result = await producer.payments.create({
            amount: 1000 + (n % 9000),
            currency: '978',
            orderId: `bench-${n}`,
            card: { number: ACCEPTED_CARD, expiry: '203012', csc: '123' },
          });
          ids[n] = result.payment.id;
          created += 1;
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(options.producerConcurrency, total) }, () =>
          lane().catch((error: unknown) => {
            producerError ??= error;
          }),
        ),
      );
      return (performance.now() - started) / 1000;
    })();

    let settledCounts: number[] = [];
    let lastProgress = performance.now();
    let lastSettled = -1;
    for (;;) {
      await new Promise((r) => setTimeout(r, 25));
      if (producerError !== undefined) throw producerError;
      const sample = await counts();
      settledCounts = sample.settled.map((count, k) => count - (baseline[k] ?? 0));
      const settled = settledCounts.reduce((a, b) => a + b, 0);
      if (settled < total) {
        active.samples += 1;
        active.sum += sample.active;
        active.max = Math.max(active.max, sample.active);
      }
      const now = performance.now();
      const rss = workerChild.rssMb();
      peakRss = Math.max(peakRss, rss);
      if (settled >= warmupPayments && settled < total) {
        const half = settled < total / 2 ? 0 : 1;
        peakRssByHalf[half] = Math.max(peakRssByHalf[half] ?? 0, rss);
      }
      if (
        options.memoryAfterWarmup === true &&
        memoryProbe === undefined &&
        warmupPayments > 0 &&
        settled >= nextMemorySample &&
        settled < total
      ) {
        const at = settled;
        memoryProbe = probeWorker(workerChild, 'gc').then((probe) => {
          afterWarmup ??= probe;
          memorySamples.push(sampleOf(at, probe));
          memoryProbe = undefined;
          return probe;
        });
        nextMemorySample = options.memorySampleEvery
          ? at + options.memorySampleEvery
          : Number.POSITIVE_INFINITY;
      }
      if (settled >= total) break;
      if (settled !== lastSettled) {
        lastSettled = settled;
        lastProgress = now;
      } else if (now - lastProgress > 60_000) {
        throw new Error(
          `no payment settled for 60 s (${settled}/${total} settled, ${created} created)`,
        );
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const machineBusy = machineBusySeconds() - machineAtStart;
    const cpuAtEnd = {
      producer: producerCpuSeconds(),
      worker: workerChild.cpuSeconds(),
      simulator: simulator.cpuSeconds(),
      redis: await redisCpuSeconds(redis),
    };
    const commandsAtEnd = await redisCommandStats(redis);
    const producerSeconds = await producerDone;
    await memoryProbe;
    const runProbe = await probeWorker(workerChild, 'probe');
    const end = await probeWorker(workerChild, 'gc');
    if (options.memoryAfterWarmup === true) memorySamples.push(sampleOf(total, end));

    // Latencies, read after the clock stopped; ids are in creation order.
    const latencies: number[] = [];
    const warmLatencies: number[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const pipeline = redis.pipeline();
      for (const id of ids.slice(i, i + 1000)) {
        pipeline.hmget(keyspace.paymentKey(id), 'createdAt', 'updatedAt', 'status');
      }
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([error, value], k) => {
        if (error) throw error;
        const [createdAt, updatedAt, status] = value as [string, string, string];
        if (status !== 'authorized') return;
        const latency = Number(updatedAt) - Number(createdAt);
        latencies.push(latency);
        if (i + k >= warmupPayments) warmLatencies.push(latency);
      });
    }

    simulator.process.stdin?.write('rss\n');
    const simulatorRss = await simulator
      .waitForLine((line) => {
        const parsed = jsonLine(line);
        return typeof parsed?.rssMb === 'number' ? parsed.rssMb : undefined;
      }, 5_000)
      .catch(() => Number.NaN);

    const memoryAfter = await usedMemory(redis);
    const queuePrefix = keyspace.bullmqPrefix(0);
    const queueName = keyspace.paymentsQueueName(0);
    const completedKey = `${queuePrefix}:${queueName}:completed`;
    const [streamLength, completedKept, keysOfRun, [someJob]] = await Promise.all([
      redis.xlen(keyspace.eventsStream(0)),
      redis.zcard(completedKey),
      countRunKeys(redis, options.prefix),
      redis.zrange(completedKey, 0, 0),
    ]);
    const memoryUsage = async (key: string | undefined): Promise<number> =>
      key === undefined ? Number.NaN : Number(await redis.memory('USAGE', key));
    const somePayment = ids[0] as string;
    const bytes = {
      eventsStream: await memoryUsage(keyspace.eventsStream(0)),
      paymentHash: await memoryUsage(keyspace.paymentKey(somePayment)),
      timeline: await memoryUsage(keyspace.timelineKey(somePayment)),
      completedJob: await memoryUsage(
        someJob === undefined ? undefined : `${queuePrefix}:${queueName}:${someJob}`,
      ),
    };

    const [authorized = 0, ...others] = settledCounts;
    const notAuthorized: Record<string, number> = {};
    others.forEach((count, k) => {
      if (count > 0) notAuthorized[SETTLED[k + 1] as string] = count;
    });
    const cpu = Object.fromEntries(
      (['producer', 'worker', 'simulator', 'redis'] as const).map((part) => {
        const used = cpuAtEnd[part] - cpuAtStart[part];
        return [
          part,
          {
            seconds: round1(used),
            share: Number((used / seconds).toFixed(2)),
            msPerPayment: Number(((used * 1000) / total).toFixed(3)),
          },
        ];
      }),
    ) as PipelineResult['cpu'];
    const ours = Object.values(cpu).reduce((sum, use) => sum + use.seconds, 0);
    // Clock-tick granularity can make the difference slightly negative: that is zero.
    const othersBusy = Math.max(0, machineBusy - ours);
    const machineCpu = {
      cores: cpus().length,
      busySeconds: round1(machineBusy),
      othersSeconds: round1(othersBusy),
      othersShare: Number((othersBusy / seconds).toFixed(2)),
    };
    return {
      payments: total,
      authorized,
      notAuthorized,
      seconds: Number(seconds.toFixed(3)),
      paymentsPerSecond: Math.round(total / seconds),
      producer: {
        seconds: Number(producerSeconds.toFixed(3)),
        createsPerSecond: Math.round(total / producerSeconds),
        concurrency: options.producerConcurrency,
        ...(options.ratePerSecond ? { ratePerSecond: options.ratePerSecond } : {}),
      },
      latencyMs: distribution(warmupPayments > 0 ? warmLatencies : latencies),
      ...(warmupPayments > 0 ? { latencyMsIncludingWarmup: distribution(latencies) } : {}),
      worker: {
        concurrency: options.workerConcurrency,
        pid: workerChild.pid,
        eventLoopUtilisation: runProbe.elu,
        activeJobs: {
          mean: Math.round(active.sum / Math.max(1, active.samples)),
          max: active.max,
        },
        memory: {
          warmupPayments,
          rssMb: {
            idle: idle.rssMb,
            afterWarmup: afterWarmup?.rssMb ?? Number.NaN,
            end: end.rssMb,
            peak: round1(peakRss),
            peakFirstHalf: round1(peakRssByHalf[0]),
            peakSecondHalf: round1(peakRssByHalf[1]),
          },
          heapUsedMb: {
            idle: idle.heapUsedMb,
            afterWarmup: afterWarmup?.heapUsedMb ?? Number.NaN,
            end: end.heapUsedMb,
          },
          samples: memorySamples,
        },
      },
      simulator: { latencyMs: options.latencyMs, rssMbEnd: round1(simulatorRss) },
      redis: {
        usedMemoryMbBefore: mb(memoryBefore),
        usedMemoryMbAfter: mb(memoryAfter),
        bytesPerPayment: Math.round((memoryAfter - memoryBefore) / total),
        eventsStreamLength: streamLength,
        completedJobsKept: completedKept,
        keysOfRun,
        bytes,
        commandsPerPayment: commandsPerPayment(commandsAtStart, commandsAtEnd, total),
      },
      cpu,
      machineCpu,
    };
  } finally {
    await worker?.stop();
    await orchestrator?.close();
    await simulator?.stop();
    if (!process.env.BENCH_KEEP_KEYS) await deleteRunKeys(redis, options.prefix).catch(() => 0);
    redis.disconnect();
  }
}

/** The simulator's seed test shop at `baseUrl`: the producer's Sips settings. */
export function seedShopAt(baseUrl: string) {
  return {
    baseUrl,
    merchantId: SEED_TEST_MERCHANT_ID,
    secretKey: new SecretKey(SEED_TEST_SECRET_KEY),
    keyVersion: SEED_TEST_KEY_VERSION,
  };
}

/** The environment of a benchmark worker process against the simulator at `sipsBaseUrl`. */
export function workerEnv(
  sipsBaseUrl: string,
  vaultKey: Buffer,
  concurrency: number,
): Record<string, string> {
  return {
    SIPS_ENV: 'simulator',
    SIPS_BASE_URL: sipsBaseUrl,
    CARD_VAULT_KEYS: `k1:${vaultKey.toString('hex')}`,
    WORKER_CONCURRENCY: String(concurrency),
    SIPS_TIMEOUT_MS: '30000',
    // info, to see "step workers running"; nothing is logged per job at info.
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
  };
}

/** The benchmark's producer: commands only, its workers run in child processes. */
export function producerOrchestrator(
  sipsBaseUrl: string,
  vaultKey: Buffer,
  options: Pick<OrchestratorOptions, 'redis' | 'keyPrefix'> & Partial<OrchestratorOptions>,
): Promise<Orchestrator> {
  return createOrchestrator({
    workers: false,
    sips: seedShopAt(sipsBaseUrl),
    vault: { keys: { k1: vaultKey }, activeKeyId: 'k1' },
    ...options,
  });
}
