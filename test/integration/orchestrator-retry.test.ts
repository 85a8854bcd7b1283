/**
 * The real retry path of a Sips call (architecture §6): the orchestrator's
 * step worker and engine, the test Redis, and the simulator over HTTP with
 * its fault injection. 90/99 are retried while attempts remain, and so is a
 * Redis failure under the step; any other error fails the job at once.
 */
import { randomBytes } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { StepJob } from '../../src/engine/jobs.ts';
import type { OrchestratorOptions } from '../../src/orchestrator.ts';
import { createKeyspace } from '../../src/payments/keys.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

/** Tries per call job in these tests, the first included. */
const ATTEMPTS = 4;

let h: OrchestratorHarness | undefined;
let queue: Queue<StepJob> | undefined;
const connections: Redis[] = [];

afterEach(async () => {
  await queue?.close();
  queue = undefined;
  await h?.close();
  h = undefined;
  for (const connection of connections.splice(0)) connection.disconnect();
});

async function start(
  orchestrator: Partial<OrchestratorOptions> = {},
): Promise<OrchestratorHarness> {
  h = await startOrchestratorHarness({
    orchestrator: { retry: { attempts: ATTEMPTS, baseMs: 20, capMs: 100 }, ...orchestrator },
  });
  const keyspace = createKeyspace({ prefix: h.ns.ns });
  queue = new Queue<StepJob>(keyspace.paymentsQueueName(0), {
    connection: h.ns.redis(),
    prefix: keyspace.bullmqPrefix(0),
  });
  return h;
}

async function createPayment(harness: OrchestratorHarness, amount: number) {
  const { payment } = await harness.orchestrator.payments.create({
    amount,
    currency: '978',
    card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
  });
  return payment;
}

/** The job that authorises `paymentId`, read straight from its BullMQ queue. */
async function authorizationJob(paymentId: string): Promise<Job<StepJob> | undefined> {
  const jobs = await queue!.getJobs(['completed', 'failed', 'delayed', 'waiting', 'active']);
  return jobs.find(
    (job) =>
      job?.data.task === 'call' &&
      job.data.operation === 'authorize' &&
      job.data.paymentId === paymentId,
  );
}

/** Waits until the authorisation job of `paymentId` is completed or failed for good. */
async function finishedAuthorizationJob(paymentId: string): Promise<Job<StepJob>> {
  await expect
    .poll(async () => {
      const job = await authorizationJob(paymentId);
      return job ? await job.getState() : 'not enqueued';
    })
    .toMatch(/^(completed|failed)$/);
  return (await authorizationJob(paymentId))!;
}

function cardOrderCodes(harness: OrchestratorHarness, transactionReference: string): string[] {
  return harness.sim.ledger
    .requests({ service: 'cardOrder', transactionReference })
    .map((request) => request.responseCode ?? 'no answer');
}

describe('the retry path of a Sips call', () => {
  it('retries a call answered 90 twice, then authorises it once', async () => {
    const harness = await start();
    harness.sim.faults.add({
      match: { service: 'cardOrder', amount: 1_001 },
      times: 2,
      type: 'responseCode',
      responseCode: '90',
    });
    const created = await createPayment(harness, 1_001);

    const payment = await harness.waitFor(created.id);
    expect(payment.status).toBe('authorized');
    expect(cardOrderCodes(harness, payment.transactionReference)).toEqual(['90', '90', '00']);
    expect(harness.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
    const job = await finishedAuthorizationJob(created.id);
    expect(await job.getState()).toBe('completed');
    // BullMQ counts every finished try, the successful one included.
    expect(job.attemptsMade).toBe(3);
  });

  it('fails the payment when Sips answers 99 until the attempts are spent', async () => {
    const harness = await start();
    harness.sim.faults.add({
      match: { service: 'cardOrder', amount: 1_002 },
      type: 'responseCode',
      responseCode: '99',
    });
    const created = await createPayment(harness, 1_002);

    const payment = await harness.waitFor(created.id);
    // Sips said it did not process the call: nothing was authorised.
    expect(payment.status).toBe('failed');
    expect(cardOrderCodes(harness, payment.transactionReference)).toEqual(
      Array.from({ length: ATTEMPTS }, () => '99'),
    );
    expect(harness.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(0);
    // The last 99 is the step's outcome, stored: the job completes.
    const job = await finishedAuthorizationJob(created.id);
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(ATTEMPTS);
  });

  it('does not retry an error without a retry verdict thrown inside a step', async () => {
    // Created while no worker runs; the workers then start with a card vault
    // that lacks the key the card was sealed with.
    const harness = await start({ workers: false });
    const created = await createPayment(harness, 1_003);
    await harness.restart(0, {
      workers: true,
      vault: { keys: { k2: randomBytes(32) }, activeKeyId: 'k2' },
    });

    const job = await finishedAuthorizationJob(created.id);
    expect(await job.getState()).toBe('failed');
    expect(job.failedReason).toContain('no card vault key k1');
    expect(job.attemptsMade).toBe(1);
    expect(cardOrderCodes(harness, created.transactionReference)).toEqual([]);
  });

  it('retries a step that lost its Redis connection, without sending the call twice', async () => {
    // A connection that fails its pending commands when cut, instead of
    // holding them until it reconnects.
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 0 });
    connections.push(redis);
    let cut = false;
    const harness = await start({ workers: false });
    const created = await createPayment(harness, 1_004);
    await harness.restart(0, {
      workers: true,
      redis,
      onCall() {
        // Sips has authorised; the connection drops before the outcome is stored.
        if (cut) return;
        cut = true;
        redis.disconnect(true);
      },
    });

    const job = await finishedAuthorizationJob(created.id);
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(2);
    const payment = await harness.waitFor(created.id);
    expect(payment.status).toBe('authorized');
    // The retry found the call's intent and asked Sips instead of calling again.
    expect(cardOrderCodes(harness, payment.transactionReference)).toEqual(['00']);
    expect(harness.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
    expect(payment.timeline.map((entry) => entry.kind)).toContain('sips.interrupted');
  });
});
