/**
 * The `webhooks` section: what delivering every event to 2 endpoints of the
 * merchant costs the payment pipeline, and how fast deliveries go, on the
 * authorise-then-capture workload (workload.ts) against the benchmark's
 * Redis. Four modes:
 *
 * - `off`: no endpoint (the worker process still runs the `webhooks`
 *   consumer group, which finds no endpoint for any event);
 * - `atOnce`: 2 endpoints (every event type) on a receiver answering 204 at once;
 * - `delayed`: the same receiver answering after RECEIVER_DELAY_MS;
 * - `separate`: as `atOnce`, with delivery in a process of its own
 *   (WORKER_ROLES=webhooks, nice 10) beside the payment worker process
 *   (WORKER_ROLES=steps): the deployment that keeps a burst of payments from
 *   waiting on webhooks, deliveries catching up on the CPU left over.
 *
 * The receiver is a child process of its own (webhook-receiver-child.ts),
 * one port per endpoint, started afresh for every run (idle in `off` runs).
 * The runs go off, atOnce, separate, delayed, separate, atOnce, off
 * (symmetric: a drift over the section weighs on every mode alike; `delayed`,
 * whose drain is bounded by the delivery concurrency, not by CPU, runs once),
 * each run with fresh worker, simulator and receiver processes and a key
 * prefix of its own; a mode's figures are the mean of its runs.
 *
 * Within a run: the endpoints are created before the unmeasured warm-up (so
 * the delivery code is warm too), the warm-up's deliveries are awaited and
 * the receiver's counts reset before the measured round; after it, the
 * section waits until every event of the round is fanned out and every
 * message delivered (the backlog empty).
 */
import { jsonLine, startTsChild, type BenchChild } from './children.ts';
import { percentile, probeWorker } from './pipeline.ts';
import {
  runWorkload,
  sampleServer,
  singleServer,
  type MeasuredServer,
  type WorkloadBenchOptions,
  type WorkloadResult,
  type WorkloadRun,
} from './workload.ts';

export interface WebhooksBenchOptions extends WorkloadBenchOptions {
  /** The benchmark's Redis. */
  redisUrl: string;
}

type Mode = 'off' | 'atOnce' | 'delayed' | 'separate';

const MODES: readonly Mode[] = ['off', 'atOnce', 'delayed', 'separate'];
/** Symmetric, so that a drift weighs on every mode alike. */
const ORDER: readonly Mode[] = [
  'off',
  'atOnce',
  'separate',
  'delayed',
  'separate',
  'atOnce',
  'off',
];
/** The delivery process's nice value in `separate` runs. */
const DELIVERY_NICENESS = 10;
const FIRST_RUN_WARMUP_FACTOR = 3;
const ENDPOINTS_PER_MERCHANT = 2;
const RECEIVER_DELAY_MS = 200;
/** WEBHOOK_CONCURRENCY of the worker process: deliveries in flight per shard (the default). */
const DELIVERY_CONCURRENCY = 50;
const MAX_SLOWDOWN = 0.2;
const POLL_MS = 25;
/** Waiting for deliveries fails when nothing moved for this long. */
const DRAIN_STALL_MS = 30_000;
const GROUP = 'webhooks';

const delayOf = (mode: Mode): number => (mode === 'delayed' ? RECEIVER_DELAY_MS : 0);

const round = (value: number, digits = 3): number =>
  Number.isFinite(value) ? Number(value.toFixed(digits)) : Number.NaN;

interface ReceiverStats {
  requests: number;
  duplicates: number;
  deliveries: number;
  byEndpoint: number[];
  firstArrivalAt: number | null;
  lastArrivalAt: number | null;
  lastAnsweredAt: number | null;
  latenciesMs: (number | null)[];
}

interface Receiver {
  child: BenchChild;
  urls: string[];
  stats(): Promise<ReceiverStats>;
  reset(): Promise<void>;
}

async function startReceiver(delayMs: number): Promise<Receiver> {
  const child = startTsChild('receiver', 'bench/webhook-receiver-child.ts', {
    BENCH_RECEIVER_DELAY_MS: String(delayMs),
    BENCH_RECEIVER_PORTS: String(ENDPOINTS_PER_MERCHANT),
  });
  const urls = await child.waitForLine((line) => {
    const parsed = jsonLine(line);
    return parsed?.ready === true ? (parsed.urls as string[]) : undefined;
  });
  const ask = <T>(command: string, field: string): Promise<T> => {
    const answer = child.waitForLine((line) => jsonLine(line)?.[field] as T | undefined, 10_000);
    child.process.stdin?.write(`${command}\n`);
    return answer;
  };
  return {
    child,
    urls,
    stats: () => ask<ReceiverStats>('stats', 'stats'),
    reset: async () => {
      await ask<boolean>('reset', 'reset');
    },
  };
}

/** Fields of a flat Redis reply (`[name, value, name, value…]`). */
function fieldsOf(reply: unknown): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (!Array.isArray(reply)) return fields;
  for (let k = 0; k + 1 < reply.length; k += 2) fields.set(String(reply[k]), reply[k + 1]);
  return fields;
}

interface Undelivered {
  /** Stream entries the `webhooks` group has not read yet (0 when it has no group). */
  unread: number;
  /** Entries read but not acknowledged (fan-out in progress or failed). */
  unacknowledged: number;
  /** Messages neither delivered nor failed, all endpoints. */
  backlog: number;
  /** Entries in the shard's event stream. */
  streamLength: number;
}

/** Where fan-out and delivery stand (shard 0: the runs have one shard). */
async function undelivered(run: WorkloadRun): Promise<Undelivered> {
  const stream = run.keyspace.eventsStream(0);
  const [groups, last, length] = await Promise.all([
    run.redis.call('XINFO', 'GROUPS', stream).catch(() => []),
    run.redis.xrevrange(stream, '+', '-', 'COUNT', 1),
    run.redis.xlen(stream),
  ]);
  const group = (groups as unknown[]).map(fieldsOf).find((fields) => fields.get('name') === GROUP);
  const lastId = last[0]?.[0];
  const lag = group?.get('lag');
  const unread = !group
    ? 0
    : typeof lag === 'number'
      ? lag
      : lastId !== undefined && group.get('last-delivered-id') !== lastId
        ? 1
        : 0;
  const backlog = (await run.producer.webhooks.backlog()).reduce((a, row) => a + row.count, 0);
  return {
    unread,
    unacknowledged: Number(group?.get('pending') ?? 0),
    backlog,
    streamLength: length,
  };
}

/** Resolves once every event is fanned out and every message delivered: Date.now() then. */
async function untilDelivered(run: WorkloadRun, what: string): Promise<number> {
  let last = '';
  let lastProgress = performance.now();
  for (;;) {
    const state = await undelivered(run);
    if (state.unread === 0 && state.unacknowledged === 0 && state.backlog === 0) return Date.now();
    const seen = JSON.stringify(state);
    const now = performance.now();
    if (seen !== last) {
      last = seen;
      lastProgress = now;
    } else if (now - lastProgress > DRAIN_STALL_MS) {
      throw new Error(`${what}: webhook delivery stalled for ${DRAIN_STALL_MS / 1000} s: ${seen}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

interface Sample {
  workersCpu: number;
  receiverCpu: number;
  redisCommands: number;
  redisCpu: number;
  /** INFO commandstats: calls per command. */
  commandStats: Map<string, number>;
  streamLength: number;
}

const workersCpu = (run: WorkloadRun): number =>
  run.workers.reduce((a, worker) => a + worker.cpuSeconds(), 0);

async function sample(run: WorkloadRun, receiver: Receiver): Promise<Sample> {
  const server = await sampleServer(run.redis);
  return {
    commandStats: server.commandStats,
    workersCpu: workersCpu(run),
    receiverCpu: receiver.child.cpuSeconds(),
    redisCommands: server.commands,
    redisCpu: server.cpuSeconds,
    streamLength: await run.redis.xlen(run.keyspace.eventsStream(0)),
  };
}

/** From the first create of the measured round to the backlog empty. */
interface Delivery {
  /** Events the round wrote (stream length growth) times the endpoints. */
  expected: number;
  /** Distinct webhook-id per endpoint answered 2xx by the receiver. */
  deliveries: number;
  requests: number;
  duplicates: number;
  byEndpoint: number[];
  seconds: number;
  deliveriesPerSecond: number;
  /** Payments of the round over `seconds`: payments whose events are all delivered, per second. */
  paymentsPerSecondUntilDelivered: number;
  /** Last payment settled (latest capture updatedAt) → the receiver's last 2xx answer. */
  lagMs: number;
  /** Last payment settled → the backlog seen empty (polled every 25 ms). */
  backlogEmptyAfterLastSettledMs: number;
  /** Arrival at the receiver − the event's `time`. */
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  /** From the last capture settled (the counters read) to the backlog empty: deliveries alone. */
  draining: {
    seconds: number;
    /** The worker's event loop utilisation over it (1: never waiting). */
    workerEventLoopUtilisation: number;
    /** Worker CPU seconds over its wall seconds (1: one core). */
    workerCpuShare: number;
  };
  /** Over the whole window (first create → backlog empty), per payment. */
  untilDelivered: {
    workerCpuMsPerPayment: number;
    receiverCpuMsPerPayment: number;
    redisCpuMsPerPayment: number;
    redisCommandsPerPayment: number;
    /** INFO commandstats calls per payment, the most called first. */
    redisCommandStatsPerPayment: Record<string, number>;
    eventsPerPayment: number;
  };
}

interface RunResult {
  mode: Mode;
  workload: WorkloadResult;
  delivery: Delivery;
}

async function runOne(
  options: WebhooksBenchOptions,
  mode: Mode,
  k: number,
  servers: readonly MeasuredServer[],
): Promise<RunResult> {
  const receiver = await startReceiver(delayOf(mode));
  let before: Sample | undefined;
  let delivery: Delivery | undefined;
  try {
    const workload = await runWorkload({
      target: { url: options.redisUrl },
      servers,
      prefix: `${options.prefix}-${mode.toLowerCase()}-${k}`,
      shards: 1,
      durability: { mode: 'none' },
      workerProcesses: 1,
      workerConcurrency: options.workerConcurrency,
      producerConcurrency: options.producerConcurrency,
      payments: options.payments,
      unmeasuredWarmup: options.unmeasuredWarmup * (k === 0 ? FIRST_RUN_WARMUP_FACTOR : 1),
      ...(options.workerNodeArgs ? { workerNodeArgs: options.workerNodeArgs } : {}),
      // The same in every mode but `separate`: only the endpoints differ.
      workerEnv: {
        WEBHOOK_ALLOW_PRIVATE_ADDRESSES: '1',
        WEBHOOK_ALLOW_HTTP: '1',
        WEBHOOK_CONCURRENCY: String(DELIVERY_CONCURRENCY),
        ...(mode === 'separate' ? { WORKER_ROLES: 'steps' } : {}),
      },
      ...(mode === 'separate'
        ? {
            extraWorkers: [{ env: { WORKER_ROLES: 'webhooks' }, niceness: DELIVERY_NICENESS }],
          }
        : {}),
      producerOptions: { webhooks: { policy: { allowPrivateAddresses: true, allowHttp: true } } },
      hooks: {
        async beforeWarmup(run) {
          if (mode === 'off') return;
          for (const url of receiver.urls) {
            await run.producer.webhooks.endpoints.create({ url, eventTypes: ['*'] }, 'all');
          }
        },
        async beforeMeasured(run) {
          await untilDelivered(run, `webhooks ${mode}: warm-up`);
          await receiver.reset();
          before = await sample(run, receiver);
        },
        async afterMeasured(run, measured) {
          const drainStart = { at: Date.now(), workersCpu: workersCpu(run) };
          const drainedAt = await untilDelivered(run, `webhooks ${mode}: measured round`);
          const drainCpu = workersCpu(run) - drainStart.workersCpu;
          // The meter probed the worker as the phases ended: this is the drain's.
          const [probe] = await Promise.all(run.workers.map((w) => probeWorker(w, 'probe')));
          const after = await sample(run, receiver);
          const stats = await receiver.stats();
          const start = before as Sample;
          const payments = options.payments;
          const perPayment = (value: number, digits = 3) => round(value / payments, digits);
          const events = after.streamLength - start.streamLength;
          const seconds = (drainedAt - measured.startedAt) / 1000;
          const latencies = stats.latenciesMs
            .filter((value): value is number => typeof value === 'number')
            .sort((a, b) => a - b);
          delivery = {
            expected: mode === 'off' ? 0 : events * receiver.urls.length,
            deliveries: stats.deliveries,
            requests: stats.requests,
            duplicates: stats.duplicates,
            byEndpoint: stats.byEndpoint,
            seconds: round(seconds),
            deliveriesPerSecond: Math.round(stats.deliveries / seconds),
            paymentsPerSecondUntilDelivered: Math.round(payments / seconds),
            lagMs:
              stats.lastAnsweredAt === null
                ? Number.NaN
                : stats.lastAnsweredAt - measured.lastSettledAt,
            backlogEmptyAfterLastSettledMs: drainedAt - measured.lastSettledAt,
            latencyMs: {
              p50: percentile(latencies, 50),
              p95: percentile(latencies, 95),
              p99: percentile(latencies, 99),
              max: latencies.at(-1) ?? Number.NaN,
            },
            draining: {
              seconds: round((drainedAt - drainStart.at) / 1000),
              workerEventLoopUtilisation: probe?.elu ?? Number.NaN,
              workerCpuShare: round(drainCpu / ((drainedAt - drainStart.at) / 1000), 2),
            },
            untilDelivered: {
              workerCpuMsPerPayment: perPayment((after.workersCpu - start.workersCpu) * 1000),
              receiverCpuMsPerPayment: perPayment((after.receiverCpu - start.receiverCpu) * 1000),
              redisCpuMsPerPayment: perPayment((after.redisCpu - start.redisCpu) * 1000),
              redisCommandsPerPayment: perPayment(after.redisCommands - start.redisCommands, 1),
              redisCommandStatsPerPayment: Object.fromEntries(
                [...after.commandStats]
                  .map(([name, calls]) => {
                    const delta = calls - (start.commandStats.get(name) ?? 0);
                    return [name, perPayment(delta, 2)] as const;
                  })
                  .filter(([, calls]) => calls >= 0.01)
                  .sort((a, b) => b[1] - a[1]),
              ),
              eventsPerPayment: perPayment(events, 2),
            },
          };
        },
      },
    });
    if (!delivery) throw new Error(`webhooks ${mode}: the measured round was not followed`);
    return { mode, workload, delivery };
  } finally {
    await receiver.child.stop();
  }
}

/** A mode's figures: the mean of its runs. */
function figures(runs: readonly RunResult[]) {
  const mean = (pick: (run: RunResult) => number, digits = 3): number =>
    round(runs.reduce((a, run) => a + pick(run), 0) / runs.length, digits);
  const cpuParts = Object.keys(
    runs[0]?.workload.cpuMsPerPayment ?? {},
  ) as (keyof WorkloadResult['cpuMsPerPayment'])[];
  return {
    paymentsPerSecond: mean((run) => run.workload.paymentsPerSecond, 0),
    paymentsPerSecondOfEachRun: runs.map((run) => run.workload.paymentsPerSecond),
    latencyMs: {
      authorise: {
        p50: mean((run) => run.workload.latencyMs.authorise.p50, 0),
        p99: mean((run) => run.workload.latencyMs.authorise.p99, 0),
      },
      capture: {
        p50: mean((run) => run.workload.latencyMs.capture.p50, 0),
        p99: mean((run) => run.workload.latencyMs.capture.p99, 0),
      },
    },
    cpuMsPerPayment: Object.fromEntries(
      cpuParts.map((part) => [part, mean((run) => run.workload.cpuMsPerPayment[part])]),
    ),
    workerEventLoopUtilisation: mean((run) => run.workload.workers.eventLoopUtilisation[0] ?? 0),
    redisCommandsPerPayment: mean((run) => run.workload.redisCommandsPerPayment, 1),
    otherLoadOnMachineOfEachRun: runs.map((run) => run.workload.cpuShare.othersOnMachine),
    delivery: {
      deliveriesPerSecond: mean((run) => run.delivery.deliveriesPerSecond, 0),
      deliveriesPerSecondOfEachRun: runs.map((run) => run.delivery.deliveriesPerSecond),
      paymentsPerSecondUntilDelivered: mean(
        (run) => run.delivery.paymentsPerSecondUntilDelivered,
        0,
      ),
      deliveries: mean((run) => run.delivery.deliveries, 0),
      expected: mean((run) => run.delivery.expected, 0),
      duplicates: mean((run) => run.delivery.duplicates, 1),
      seconds: mean((run) => run.delivery.seconds),
      lagMs: mean((run) => run.delivery.lagMs, 0),
      backlogEmptyAfterLastSettledMs: mean((run) => run.delivery.backlogEmptyAfterLastSettledMs, 0),
      draining: {
        seconds: mean((run) => run.delivery.draining.seconds),
        workerEventLoopUtilisation: mean((run) => run.delivery.draining.workerEventLoopUtilisation),
        workerCpuShare: mean((run) => run.delivery.draining.workerCpuShare, 2),
      },
      latencyMs: {
        p50: mean((run) => run.delivery.latencyMs.p50, 0),
        p95: mean((run) => run.delivery.latencyMs.p95, 0),
        p99: mean((run) => run.delivery.latencyMs.p99, 0),
        max: mean((run) => run.delivery.latencyMs.max, 0),
      },
      untilDelivered: {
        workerCpuMsPerPayment: mean((run) => run.delivery.untilDelivered.workerCpuMsPerPayment),
        receiverCpuMsPerPayment: mean((run) => run.delivery.untilDelivered.receiverCpuMsPerPayment),
        redisCpuMsPerPayment: mean((run) => run.delivery.untilDelivered.redisCpuMsPerPayment),
        redisCommandsPerPayment: mean(
          (run) => run.delivery.untilDelivered.redisCommandsPerPayment,
          1,
        ),
        eventsPerPayment: mean((run) => run.delivery.untilDelivered.eventsPerPayment, 2),
      },
    },
  };
}

type Figures = ReturnType<typeof figures>;

/** INFO commandstats calls per payment, the mean of a mode's runs. */
function commandStats(
  runs: readonly RunResult[],
  pick: (run: RunResult) => Record<string, number>,
): Record<string, number> {
  const names = new Set(runs.flatMap((run) => Object.keys(pick(run))));
  return Object.fromEntries(
    [...names]
      .map((name) => {
        const total = runs.reduce((a, run) => a + (pick(run)[name] ?? 0), 0);
        return [name, round(total / runs.length, 2)] as const;
      })
      .sort((a, b) => b[1] - a[1]),
  );
}

export async function measureWebhooks(options: WebhooksBenchOptions) {
  const servers: MeasuredServer[] = [singleServer(options.redisUrl)];
  const order = [...ORDER];
  const runs = new Map<Mode, RunResult[]>(MODES.map((mode) => [mode, []]));
  for (const [k, mode] of order.entries()) {
    const started = performance.now();
    const result = await runOne(options, mode, k, servers);
    runs.get(mode)?.push(result);
    options.log(
      `webhooks: ${mode} done in ${((performance.now() - started) / 1000).toFixed(1)} s, ${result.workload.paymentsPerSecond} payments/s, ${result.delivery.deliveries} deliveries at ${result.delivery.deliveriesPerSecond}/s`,
    );
  }
  const byMode = new Map(MODES.map((mode) => [mode, figures(runs.get(mode) ?? [])]));
  const off = byMode.get('off') as Figures;
  const atOnce = byMode.get('atOnce') as Figures;
  const delayed = byMode.get('delayed') as Figures;
  const ratio = round(atOnce.paymentsPerSecond / off.paymentsPerSecond);
  const ratioDelayed = round(delayed.paymentsPerSecond / off.paymentsPerSecond);
  const untilDelivered = (mode: Figures) => mode.delivery.paymentsPerSecondUntilDelivered;
  const ratioUntilDelivered = round(untilDelivered(atOnce) / untilDelivered(off));
  const ratioUntilDeliveredDelayed = round(untilDelivered(delayed) / untilDelivered(off));
  const separate = byMode.get('separate') as Figures;
  const ratioSeparate = round(separate.paymentsPerSecond / off.paymentsPerSecond);
  const ratioUntilDeliveredSeparate = round(untilDelivered(separate) / untilDelivered(off));
  const deliveryView = (mode: Figures, delayMs: number) => ({
    receiverDelayMs: delayMs,
    deliveriesPerSecond: mode.delivery.deliveriesPerSecond,
    paymentsPerSecondSameRuns: mode.paymentsPerSecond,
    deliveries: mode.delivery.deliveries,
    expectedDeliveries: mode.delivery.expected,
    duplicates: mode.delivery.duplicates,
    seconds: mode.delivery.seconds,
    lagMs: mode.delivery.lagMs,
    backlogEmptyAfterLastSettledMs: mode.delivery.backlogEmptyAfterLastSettledMs,
    latencyMs: mode.delivery.latencyMs,
    afterLastPaymentSettled: mode.delivery.draining,
    deliveriesPerSecondOfEachRun: mode.delivery.deliveriesPerSecondOfEachRun,
    ...(delayMs > 0
      ? { concurrencyBound: Math.round((DELIVERY_CONCURRENCY * 1000) / delayMs) }
      : {}),
  });
  return {
    endpointsPerMerchant: ENDPOINTS_PER_MERCHANT,
    payments: options.payments,
    unmeasuredWarmupPayments: options.unmeasuredWarmup,
    unmeasuredWarmupPaymentsOfFirstRun: options.unmeasuredWarmup * FIRST_RUN_WARMUP_FACTOR,
    paymentsPerSecond: {
      withoutWebhooks: off.paymentsPerSecond,
      withWebhooksReceiverAtOnce: atOnce.paymentsPerSecond,
      [`withWebhooksReceiver${RECEIVER_DELAY_MS}ms`]: delayed.paymentsPerSecond,
    },
    ratio,
    [`ratioReceiver${RECEIVER_DELAY_MS}ms`]: ratioDelayed,
    goal: {
      maxSlowdown: MAX_SLOWDOWN,
      met: ratio >= 1 - MAX_SLOWDOWN && ratioDelayed >= 1 - MAX_SLOWDOWN,
      slowdown: round(1 - ratio),
      [`slowdownReceiver${RECEIVER_DELAY_MS}ms`]: round(1 - ratioDelayed),
      judgedOn:
        'ratio = payments/s with 2 endpoints on the receiver answering at once over payments/s without endpoints (means of their two runs), payments timed from the first create to the last capture settled; met only if the run with the 200 ms receiver stays within the slowdown too. Deliveries still pending when the last capture settles do not count against it: see untilDelivered',
      untilDelivered: {
        ratio: ratioUntilDelivered,
        [`ratioReceiver${RECEIVER_DELAY_MS}ms`]: ratioUntilDeliveredDelayed,
        met:
          ratioUntilDelivered >= 1 - MAX_SLOWDOWN && ratioUntilDeliveredDelayed >= 1 - MAX_SLOWDOWN,
        judgedOn:
          'the same with payments timed from the first create until every event of the round is delivered to both endpoints (the backlog empty): the rate the pipeline sustains when delivery has to keep up',
      },
    },
    deliveryInItsOwnProcess: {
      paymentsPerSecond: separate.paymentsPerSecond,
      ratio: ratioSeparate,
      met: ratioSeparate >= 1 - MAX_SLOWDOWN,
      paymentsPerSecondUntilDelivered: untilDelivered(separate),
      ratioUntilDelivered: ratioUntilDeliveredSeparate,
      delivery: deliveryView(separate, 0),
      judgedOn: `as ratio, with the payment worker process running WORKER_ROLES=steps and a second worker process WORKER_ROLES=webhooks at nice ${DELIVERY_NICENESS} (both on the same two cores; the worker CPU figures add both processes)`,
    },
    paymentsPerSecondUntilDelivered: {
      withoutWebhooks: untilDelivered(off),
      withWebhooksReceiverAtOnce: untilDelivered(atOnce),
      [`withWebhooksReceiver${RECEIVER_DELAY_MS}ms`]: untilDelivered(delayed),
    },
    deliveries: {
      receiverAtOnce: deliveryView(atOnce, 0),
      [`receiver${RECEIVER_DELAY_MS}ms`]: deliveryView(delayed, RECEIVER_DELAY_MS),
    },
    cost: {
      workerCpuMsPerPayment: {
        duringPayments: {
          off: off.cpuMsPerPayment.workers,
          atOnce: atOnce.cpuMsPerPayment.workers,
          delayed: delayed.cpuMsPerPayment.workers,
        },
        untilDelivered: {
          off: off.delivery.untilDelivered.workerCpuMsPerPayment,
          atOnce: atOnce.delivery.untilDelivered.workerCpuMsPerPayment,
          delayed: delayed.delivery.untilDelivered.workerCpuMsPerPayment,
        },
      },
      redisCommandsPerPayment: {
        duringPayments: {
          off: off.redisCommandsPerPayment,
          atOnce: atOnce.redisCommandsPerPayment,
          delayed: delayed.redisCommandsPerPayment,
        },
        untilDelivered: {
          off: off.delivery.untilDelivered.redisCommandsPerPayment,
          atOnce: atOnce.delivery.untilDelivered.redisCommandsPerPayment,
          delayed: delayed.delivery.untilDelivered.redisCommandsPerPayment,
        },
      },
      redisCpuMsPerPaymentUntilDelivered: {
        off: off.delivery.untilDelivered.redisCpuMsPerPayment,
        atOnce: atOnce.delivery.untilDelivered.redisCpuMsPerPayment,
        delayed: delayed.delivery.untilDelivered.redisCpuMsPerPayment,
      },
      receiverCpuMsPerPaymentUntilDelivered: {
        atOnce: atOnce.delivery.untilDelivered.receiverCpuMsPerPayment,
        delayed: delayed.delivery.untilDelivered.receiverCpuMsPerPayment,
      },
      eventsPerPayment: off.delivery.untilDelivered.eventsPerPayment,
      redisCommandStatsPerPayment: {
        duringPayments: {
          off: commandStats(
            runs.get('off') ?? [],
            (run) => run.workload.redisCommandStatsPerPayment,
          ),
          atOnce: commandStats(
            runs.get('atOnce') ?? [],
            (run) => run.workload.redisCommandStatsPerPayment,
          ),
        },
        untilDelivered: {
          off: commandStats(
            runs.get('off') ?? [],
            (run) => run.delivery.untilDelivered.redisCommandStatsPerPayment,
          ),
          atOnce: commandStats(
            runs.get('atOnce') ?? [],
            (run) => run.delivery.untilDelivered.redisCommandStatsPerPayment,
          ),
        },
      },
    },
    order,
    workload:
      'as the durability section (REDIS_DURABILITY=none): card payments in VALIDATION mode (captureDay 7), created, then each captured in full once all are authorised; producer = an orchestrator (workers: false, 100 commands in flight) in the benchmark process; ONE worker process (workers/main.ts, WORKER_CONCURRENCY 200, WEBHOOK_CONCURRENCY 50, WEBHOOK_ALLOW_PRIVATE_ADDRESSES=1, WEBHOOK_ALLOW_HTTP=1 in every mode) running the step workers, the webhooks consumer group and the delivery workers; simulator in a child process answering at once',
    layout:
      "the benchmark's Redis, a key prefix per run; per run fresh worker, simulator and receiver processes; receiver = bench/webhook-receiver-child.ts, a node:http server in a child process of its own, one 127.0.0.1 port per endpoint (so each endpoint is its own origin), answering 204 at once or after 200 ms; in off runs it runs idle",
    method:
      'modes off (no endpoint), atOnce (2 endpoints of the merchant, every event type, receiver answering at once), delayed (the same, receiver answering after 200 ms) and separate (as atOnce, delivery in a second worker process at nice 10, the first one running the steps only) run in the order off, atOnce, separate, delayed, separate, atOnce, off; a mode figures are the mean of its runs. Endpoints are created before the unmeasured warm-up; its deliveries are awaited and the receiver counts reset before the measured round. paymentsPerSecond: payments over the seconds of the two measured phases (authorise all, then capture all), deliveries still running after them do not slow it. deliveries: distinct webhook-id per endpoint the receiver answered 2xx; deliveriesPerSecond: deliveries over the time from the first create of the measured round to the backlog seen empty (the webhooks consumer group has read and acknowledged every event of the stream and no message is pending, polled every 25 ms); expectedDeliveries: events the round wrote (stream growth) times 2. paymentsPerSecondUntilDelivered: payments over that same time (first create to backlog empty), in off runs the fan-out of the last events only. lagMs: the last payment settled (latest capture updatedAt) to the receiver last 2xx answer. latencyMs: arrival at the receiver minus the event time (its commit in the worker). afterLastPaymentSettled: from the end of the measured phases to the backlog empty, the worker event loop utilisation and its CPU seconds per second (near 1: delivery is bound by the worker CPU; low: by waiting, the receiver delay and the delivery concurrency). cost.*.duringPayments: /proc CPU of the worker process and Redis total_commands_processed over the two measured phases (the benchmark polling left out); cost.*.untilDelivered: the same from the measured round start to the backlog empty (includes the benchmark backlog polling, a few commands per 25 ms). concurrencyBound: WEBHOOK_CONCURRENCY / receiver delay, the most deliveries/s one worker process can make to a receiver that slow',
    modes: Object.fromEntries(
      MODES.map((mode) => [
        mode,
        {
          ...(byMode.get(mode) as Figures),
          runs: (runs.get(mode) ?? []).map((run) => ({ ...run.workload, delivery: run.delivery })),
        },
      ]),
    ),
  };
}
