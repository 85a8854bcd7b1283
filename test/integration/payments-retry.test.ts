/**
 * The step worker's retry policy inside BullMQ: the real queues and workers,
 * an engine stand-in that throws what the test chooses. What the real engine
 * throws, end to end, is in orchestrator-retry.test.ts.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StepRetryError, type PaymentEngine } from '../../src/engine/engine.ts';
import type { CallJob, StepJob } from '../../src/engine/jobs.ts';
import { createKeyspace } from '../../src/payments/keys.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import {
  createStepQueues,
  startStepWorkers,
  type StepQueues,
  type StepWorkers,
} from '../../src/queues/steps.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

const ATTEMPTS = 4;

let t: TestNamespace;
let queues: StepQueues;
let workers: StepWorkers | undefined;
/** What each run of a call job saw: attempts left, and when it ran. */
let runs: Array<{ attemptsLeft: boolean; at: number }>;

beforeEach(() => {
  t = openTestNamespace('retry');
  runs = [];
  queues = createStepQueues({
    connection: t.redis(),
    keyspace: createKeyspace({ prefix: t.ns }),
    attempts: ATTEMPTS,
  });
});

afterEach(async () => {
  await workers?.close();
  workers = undefined;
  await queues.close();
  await t.close();
});

/** Step workers whose engine runs `call` for every call job. */
function start(call: (run: number) => Promise<void>): void {
  const engine = {
    async runCall(_job: CallJob, context: { jobId: string; attemptsLeft: boolean }) {
      runs.push({ attemptsLeft: context.attemptsLeft, at: Date.now() });
      await call(runs.length);
    },
    runInquiry: () => Promise.reject(new Error('no inquiry in this test')),
    runAbandon: () => Promise.reject(new Error('no abandon in this test')),
  } satisfies Pick<PaymentEngine, 'runCall' | 'runInquiry' | 'runAbandon'>;
  workers = startStepWorkers({
    connection: t.redis({ forBullmq: true }),
    keyspace: createKeyspace({ prefix: t.ns }),
    // The worker uses these three methods of the engine only.
    engine: engine as unknown as PaymentEngine,
    queues,
    clock: systemClock,
    logger: silentLogger(),
    backoff: { baseMs: 20, capMs: 100, random: () => 0 },
  });
}

async function enqueueCall(paymentId: string): Promise<string> {
  const jobId = `call-${paymentId}-1`;
  await queues.enqueueCall({ task: 'call', paymentId, version: 1, operation: 'authorize' }, jobId);
  return jobId;
}

/** The job once it has finished (completed or failed for good). */
async function finished(jobId: string): Promise<Job<StepJob>> {
  const queue = queues.queue(0);
  await expect
    .poll(async () => {
      const state = await queue.getJobState(jobId);
      return state === 'completed' || state === 'failed';
    })
    .toBe(true);
  return (await queue.getJob(jobId)) as Job<StepJob>;
}

/** A Redis server that accepts connections and drops them at once. */
async function droppingServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the step worker inside BullMQ', () => {
  it('retries a retry verdict with growing delays and tells the engine of its last attempt', async () => {
    start(async (run) => {
      if (run < ATTEMPTS) throw new StepRetryError('Sips answered 99', '99');
    });
    const job = await finished(await enqueueCall('pay_0_A'));
    expect(await job.getState()).toBe('completed');
    expect(runs.map((r) => r.attemptsLeft)).toEqual([true, true, true, false]);
    // Half jitter with random 0: at least 10, 20 and 40 ms between tries.
    const gaps = runs.slice(1).map((r, i) => r.at - runs[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(10);
    expect(gaps[1]).toBeGreaterThanOrEqual(20);
    expect(gaps[2]).toBeGreaterThanOrEqual(40);
  });

  it('fails at once on an error without a retry verdict, attempts notwithstanding', async () => {
    start(async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'amount')");
    });
    const job = await finished(await enqueueCall('pay_0_B'));
    expect(await job.getState()).toBe('failed');
    expect(job.failedReason).toContain("reading 'amount'");
    expect(job.attemptsMade).toBe(1);
    expect(runs).toHaveLength(1);
  });

  it('fails at once when Redis answers that the data is wrong', async () => {
    const redis = t.redis();
    await redis.set(`${t.ns}:not-a-hash`, 'x');
    start(async () => {
      await redis.hget(`${t.ns}:not-a-hash`, 'field');
    });
    const job = await finished(await enqueueCall('pay_0_C'));
    expect(await job.getState()).toBe('failed');
    expect(job.failedReason).toMatch(/^WRONGTYPE/);
    expect(job.attemptsMade).toBe(1);
  });

  it('retries when the connection to Redis is lost under the step', async () => {
    const lost = await droppingServer();
    const redis = new Redis(lost.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    redis.on('error', () => {});
    try {
      let lostError: unknown;
      start(async (run) => {
        // The first try meets a Redis that drops the connection.
        if (run > 1) return;
        await redis.get('anything').catch((error: unknown) => {
          lostError = error;
          throw error;
        });
      });
      const job = await finished(await enqueueCall('pay_0_D'));
      expect(await job.getState()).toBe('completed');
      expect(runs).toHaveLength(2);
      expect(lostError).toMatchObject({ name: 'MaxRetriesPerRequestError' });
    } finally {
      redis.disconnect();
      await lost.close();
    }
  });
});
