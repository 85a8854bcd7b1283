import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyspace } from '../../src/payments/keys.ts';
import {
  createBackoffStrategy,
  rateLimitOn90,
  SIPS_BACKOFF_TYPE,
  SipsRetryableError,
} from '../../src/payments/retry-policy.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

let t: TestNamespace;
let queue: Queue;
let worker: Worker | undefined;
let events: QueueEvents;
const name = 'payments-s0';

beforeEach(async () => {
  t = openTestNamespace('retry');
  const prefix = createKeyspace({ prefix: t.ns }).bullmqPrefix(0);
  queue = new Queue(name, { connection: t.redis(), prefix });
  events = new QueueEvents(name, { connection: t.redis({ forBullmq: true }), prefix });
  await events.waitUntilReady();
});

afterEach(async () => {
  await worker?.close();
  await events.close();
  await queue.close();
  await t.close();
});

function start(processor: (job: Job) => Promise<unknown>): void {
  worker = new Worker(name, processor, {
    connection: t.redis({ forBullmq: true }),
    prefix: queue.opts.prefix as string,
    settings: {
      backoffStrategy: createBackoffStrategy({ baseMs: 20, capMs: 100, random: () => 0.5 }),
    },
  });
}

const options = { attempts: 5, backoff: { type: SIPS_BACKOFF_TYPE } };

describe('the backoff strategy inside BullMQ', () => {
  it('retries a 90/99 with growing delays until it succeeds', async () => {
    const runs: Array<[number, number]> = [];
    start(async (job) => {
      runs.push([job.attemptsMade, Date.now()]);
      if (job.attemptsMade < 2) throw new SipsRetryableError(job.attemptsMade === 0 ? '90' : '99');
      return 'captured';
    });
    const job = await queue.add(
      'capture',
      { paymentId: 'pay_0_A' },
      { ...options, jobId: 'capture-pay_0_A-3' },
    );
    expect(await job.waitUntilFinished(events, 5_000)).toBe('captured');
    expect(runs.map(([made]) => made)).toEqual([0, 1, 2]);
    // Half jitter at 0.5: 15 ms, then 30 ms.
    expect(runs[1]![1] - runs[0]![1]).toBeGreaterThanOrEqual(14);
    expect(runs[2]![1] - runs[1]![1]).toBeGreaterThanOrEqual(29);
  });

  it('fails at once on an error without a retryable verdict, attempts notwithstanding', async () => {
    let runs = 0;
    start(async () => {
      runs++;
      throw new Error('mapping bug');
    });
    const job = await queue.add('capture', {}, { ...options, jobId: 'capture-pay_0_B-1' });
    await expect(job.waitUntilFinished(events, 5_000)).rejects.toThrow('mapping bug');
    expect(runs).toBe(1);
    expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
  });

  it('pauses the queue on a burst of 90 without using an attempt', async () => {
    const runs: Array<[number, number]> = [];
    start(async (job) => {
      runs.push([job.attemptsMade, Date.now()]);
      if (runs.length === 1) throw await rateLimitOn90(queue, 200);
      return 'ok';
    });
    const job = await queue.add('capture', {}, { ...options, jobId: 'capture-pay_0_C-1' });
    expect(await job.waitUntilFinished(events, 5_000)).toBe('ok');
    expect(runs.map(([made]) => made)).toEqual([0, 0]);
    expect(runs[1]![1] - runs[0]![1]).toBeGreaterThanOrEqual(150);
  });
});
