/**
 * An orchestrator wired to a real simulator (HTTP on port 0) and the test
 * Redis, inside a namespace of its own, with short retry and inquiry delays.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode } from 'bullmq';
import { IN_FLIGHT_STATUSES } from '../../machines/model.ts';
import {
  createOrchestrator,
  type Orchestrator,
  type OrchestratorOptions,
  type PaymentView,
} from '../../src/orchestrator.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { SEED_TEST_MERCHANT_ID, SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import {
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/simulator/index.ts';
import { openTestNamespace, type TestNamespace } from './namespace.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

export const ACCEPTED_CARD = '4000000000000002';
export const REFUSED_CARD = '4000000000000119';
export const CHALLENGE_CARD = '4000000000000143';
export const THREE_DS_SUCCESS_CARD = '4000000000003001';
export const THREE_DS_FAILURE_CARD = '4000000000003019';
export const NOT_ENROLLED_CARD = '4000000000003035';
export const EXPIRY = '203012';

export interface OrchestratorHarness {
  ns: TestNamespace;
  sim: RunningSimulator;
  /** The running orchestrator (a new one after `restart`). */
  readonly orchestrator: Orchestrator;
  /** Closes the orchestrator (workers finish what they hold), waits `downMs`, starts a new one on the same Redis keys. */
  restart(downMs?: number, changes?: Partial<OrchestratorOptions>): Promise<Orchestrator>;
  /**
   * Runs now the delayed jobs of the step and schedule queues (timers,
   * inquiries, retries) that `filter` picks, or all; says how many it moved.
   * A job that leaves the delayed state on its own meanwhile is not counted.
   */
  promoteDelayed(filter?: (data: Record<string, unknown>) => boolean): Promise<number>;
  /**
   * Ids of the jobs of the step and schedule queues that `filter` picks (or
   * all) and that are still to run: waiting, active or delayed. None left
   * means what they were going to do is done, follow-ups they enqueued
   * included (a job enqueues them before it completes).
   */
  pendingJobs(filter?: (data: Record<string, unknown>) => boolean): Promise<string[]>;
  /** Polls the payment until `done` holds (default: not in flight any more). */
  waitFor(
    id: string,
    done?: (payment: PaymentView) => boolean,
    timeoutMs?: number,
  ): Promise<PaymentView>;
  close(): Promise<void>;
}

/**
 * A clock that runs at the real pace from `hourUtc` o'clock (UTC) today, for
 * tests whose outcome depends on the time of day (capture limits lapse at
 * 20:00 UTC): give it to both the simulator and the orchestrator. `advance`
 * jumps it forward (delayed jobs then still need promoting).
 */
export function clockFrom(hourUtc: number): Clock & { advance(ms: number): void } {
  const start = new Date();
  start.setUTCHours(hourUtc, 0, 0, 0);
  let offset = start.getTime() - Date.now();
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** BullMQ's answer to a promotion of a job no longer delayed, or gone. */
function leftDelayedState(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === ErrorCode.JobNotInState || code === ErrorCode.JobNotExist;
}

export function settled(payment: PaymentView): boolean {
  return !IN_FLIGHT_STATUSES.has(payment.status) && payment.status !== 'outcome_unknown';
}

export async function startOrchestratorHarness(
  options: {
    simulator?: SimulatorOptions;
    orchestrator?: Partial<OrchestratorOptions>;
    /** One clock for the simulator and the orchestrator. */
    clock?: Clock;
  } = {},
): Promise<OrchestratorHarness> {
  const ns = openTestNamespace('orc');
  const clock = options.clock ? { clock: options.clock } : {};
  const sim = await startSimulator({ control: true, ...clock, ...options.simulator });
  const redis = ns.redis({ forBullmq: true });
  let orchestratorOptions: OrchestratorOptions = {
    redis,
    keyPrefix: ns.ns,
    sips: {
      baseUrl: sim.url,
      merchantId: SEED_TEST_MERCHANT_ID,
      secretKey: new SecretKey(SEED_TEST_SECRET_KEY),
      keyVersion: '1',
      timeoutMs: 1_000,
    },
    vault: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1' },
    retry: { attempts: 4, baseMs: 20, capMs: 100 },
    inquiryScheduleMs: [50, 100, 200],
    stalledIntervalMs: 1_000,
    lockDurationMs: 2_000,
    concurrency: 20,
    // Tests run the janitor when they mean to (ops.runJanitor).
    janitor: { intervalMs: 0 },
    ...clock,
    ...options.orchestrator,
  };
  let orchestrator = await createOrchestrator(orchestratorOptions);
  return {
    ns,
    sim,
    get orchestrator() {
      return orchestrator;
    },
    async restart(downMs = 0, changes = {}) {
      await orchestrator.close();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      orchestratorOptions = { ...orchestratorOptions, ...changes };
      orchestrator = await createOrchestrator(orchestratorOptions);
      return orchestrator;
    },
    async promoteDelayed(filter = () => true) {
      let promoted = 0;
      const { keyspace, queues, schedules } = testPortsOf(orchestrator);
      for (const shard of keyspace.allShards) {
        for (const queue of [queues.queue(shard), schedules.queues.queue(shard)]) {
          for (const job of await queue.getDelayed()) {
            if (!job || !filter(job.data as Record<string, unknown>)) continue;
            try {
              await job.promote();
              promoted++;
            } catch (error) {
              // Listed as delayed, the job may have left that state since (its
              // delay ran out, or it ran and was removed): BullMQ refuses the
              // promotion, and there is nothing left to promote.
              if (!leftDelayedState(error)) throw error;
            }
          }
        }
      }
      return promoted;
    },
    async pendingJobs(filter = () => true) {
      const pending: string[] = [];
      const { keyspace, queues, schedules } = testPortsOf(orchestrator);
      for (const shard of keyspace.allShards) {
        // Step queue first: a step job completes after enqueueing its
        // schedule follow-ups, so they are there when the second queue is read.
        for (const queue of [queues.queue(shard), schedules.queues.queue(shard)]) {
          // One script reads all the states: a job moving between two is not missed.
          const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
          for (const job of jobs) {
            if (job && filter(job.data as Record<string, unknown>)) pending.push(job.id ?? '');
          }
        }
      }
      return pending;
    },
    async waitFor(id, done = settled, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const payment = await orchestrator.payments.get(id);
        if (done(payment)) return payment;
        if (Date.now() > deadline) {
          throw new Error(`payment ${id} still ${payment.status} after ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await orchestrator.close();
      await sim.close();
      await ns.close();
    },
  };
}
