/**
 * The janitor and the inquiry before commands: a payment whose outcome was
 * lost is reconciled from Sips' view, one Sips cannot clarify goes to manual
 * review, a call whose job vanished before it was sent is sent, an
 * AUTHOR_CAPTURE authorisation past its remittance date becomes captured,
 * and a command on an unknown outcome asks Sips first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OrchestratorHarness } from '../support/orchestrator-harness.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

let harness: OrchestratorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const card = { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' };

/** Inquiries after an unknown outcome wait a minute, so the janitor is what acts. */
async function start(janitor: Record<string, unknown> = {}): Promise<OrchestratorHarness> {
  harness = await startOrchestratorHarness({
    orchestrator: {
      inquiryScheduleMs: [60_000],
      janitor: {
        intervalMs: 0,
        thresholdsMs: { outcome_unknown: 0, received: 0, authorizing: 0, capturing: 0 },
        escalateAfterMs: 3_600_000,
        ...janitor,
      },
    },
  });
  return harness;
}

/** Removes the payment's waiting and delayed step jobs: they are lost. */
async function loseJobs(h: OrchestratorHarness, paymentId: string): Promise<number> {
  const queue = testPortsOf(h.orchestrator).queues.queue(0);
  let removed = 0;
  for (const job of await queue.getJobs(['delayed', 'waiting'])) {
    if (job?.data.paymentId === paymentId && job.data.task !== 'timer') {
      await job.remove();
      removed++;
    }
  }
  return removed;
}

function verdictOf(report: { payments: { id: string; verdict: string }[] }, id: string) {
  return report.payments.find((entry) => entry.id === id)?.verdict;
}

describe('janitor', () => {
  it('reconciles a payment whose outcome was lost from what Sips holds', async () => {
    const h = await start();
    h.sim.faults.add({ type: 'dropAfterProcessing', match: { service: 'cardOrder' }, times: 1 });
    const { payment } = await h.orchestrator.payments.create({ amount: 1_200, card });
    await h.waitFor(payment.id, (p) => p.status === 'outcome_unknown');

    // Its inquiry is still scheduled: nothing to do yet.
    expect(verdictOf(await h.orchestrator.ops.runJanitor(), payment.id)).toBe('waiting');

    expect(await loseJobs(h, payment.id)).toBe(1);
    const report = await h.orchestrator.ops.runJanitor();
    expect(verdictOf(report, payment.id)).toBe('reconciled');
    const reconciled = await h.orchestrator.payments.get(payment.id);
    expect(reconciled.status).toBe('authorized');
    expect(reconciled.amounts.authorized).toBe(1_200);
    expect(h.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
    expect(reconciled.timeline.some((entry) => entry.kind === 'inquiry')).toBe(true);
  });

  it('leaves an unclear payment for later, then sends it to manual review with an alert', async () => {
    const h = await start();
    h.sim.faults.add({ type: 'dropAfterProcessing', match: { service: 'cardOrder' }, times: 1 });
    h.sim.faults.add({ type: 'httpStatus', status: 503, match: { service: 'getTransactionData' } });
    const { payment } = await h.orchestrator.payments.create({ amount: 1_300, card });
    await h.waitFor(payment.id, (p) => p.status === 'outcome_unknown');
    await loseJobs(h, payment.id);

    expect(verdictOf(await h.orchestrator.ops.runJanitor(), payment.id)).toBe('unclear');
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('outcome_unknown');

    const impatient = await h.restart(0, {
      janitor: { intervalMs: 0, thresholdsMs: { outcome_unknown: 0 }, escalateAfterMs: 0 },
    });
    expect(verdictOf(await impatient.ops.runJanitor(), payment.id)).toBe('escalated');
    expect((await impatient.payments.get(payment.id)).status).toBe('in_review');
    const reviews = await impatient.reviews.list();
    expect(reviews.some((item) => item.paymentId === payment.id)).toBe(true);
    const alerts = await impatient.ops.alerts();
    expect(
      alerts.some((alert) => alert.paymentId === payment.id && alert.kind === 'janitor_escalated'),
    ).toBe(true);
    // Nothing was sent twice while it was unclear.
    expect(h.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
  });

  it('sends a call whose job vanished before it was sent', async () => {
    const h = await start();
    const queue = testPortsOf(h.orchestrator).queues.queue(0);
    await queue.pause();
    const { payment } = await h.orchestrator.payments.create({ amount: 1_400, card });
    expect(await loseJobs(h, payment.id)).toBe(1);
    await queue.resume();
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('received');

    expect(verdictOf(await h.orchestrator.ops.runJanitor(), payment.id)).toBe('redispatched');
    const authorized = await h.waitFor(payment.id, (p) => p.status === 'authorized');
    expect(h.sim.ledger.countAuthorizations(authorized.transactionReference)).toBe(1);
  });

  it('captures AUTHOR_CAPTURE payments once Sips has remitted them, a batch per run', async () => {
    let offsetMs = 0;
    const clock = { now: () => Date.now() + offsetMs };
    harness = await startOrchestratorHarness({
      simulator: { clock },
      orchestrator: { clock, janitor: { intervalMs: 0, batch: 1 } },
    });
    const h = harness;
    // The oldest authorisation is not due for days: it must not hide the others.
    const { payment: notDue } = await h.orchestrator.payments.create({
      amount: 1_400,
      captureMode: 'validation',
      captureDay: 9,
      card,
    });
    await h.waitFor(notDue.id, (p) => p.status === 'authorized');
    const ids: string[] = [];
    for (const amount of [1_500, 1_600]) {
      const { payment } = await h.orchestrator.payments.create({ amount, card });
      await h.waitFor(payment.id, (p) => p.status === 'authorized');
      ids.push(payment.id);
    }
    // Not yet past their remittance date: not looked at.
    const early = await h.orchestrator.ops.runJanitor();
    expect(ids.map((id) => verdictOf(early, id))).toEqual([undefined, undefined]);

    offsetMs = 2 * 86_400_000;
    const runs: Awaited<ReturnType<typeof h.orchestrator.ops.runJanitor>>[] = [];
    for (let run = 0; run < 3; run++) runs.push(await h.orchestrator.ops.runJanitor());
    expect(
      ids.map((id) => runs.map((report) => verdictOf(report, id)).find((v) => v !== undefined)),
    ).toEqual(['reconciled', 'reconciled']);
    expect((await h.orchestrator.payments.get(notDue.id)).status).toBe('authorized');
    for (const id of ids) {
      const captured = await h.orchestrator.payments.get(id);
      expect(captured.status).toBe('captured');
      expect(captured.amounts.captured).toBe(captured.amount);
    }
  });
});

describe('lost settled notices', () => {
  it('are handled by the janitor, so a subscription whose notice vanished still activates', async () => {
    const h = await start();
    const notices = testPortsOf(h.orchestrator).schedules.queues.queue(0);
    await notices.pause();
    const { subscription, firstPayment } = await h.orchestrator.subscriptions.create({
      amount: 990,
      interval: '30s',
      card,
    });
    await h.waitFor(firstPayment.id, (p) => p.status === 'authorized');
    // The notice of the first payment is lost (a crash before it ran).
    await expect.poll(async () => (await notices.getJobs(['waiting'])).length).toBe(1);
    for (const job of await notices.getJobs(['waiting'])) await job?.remove();
    await notices.resume();
    expect((await h.orchestrator.subscriptions.get(subscription.id)).status).toBe('pending');
    // The janitor reads only the records waiting on a payment, however many others there are.
    const { keyspace, redis } = testPortsOf(h.orchestrator);
    const shard = Number(subscription.id.split('_')[1]);
    const waitingKey = `${keyspace.hashTag(shard)}:subscriptions:waiting`;
    expect(await redis.zscore(waitingKey, subscription.id)).not.toBeNull();

    const report = await h.orchestrator.ops.runJanitor();
    expect(report.noticesHandled).toBe(1);
    const active = await h.orchestrator.subscriptions.get(subscription.id);
    expect(active.status).toBe('active');
    expect(active.nextRunAt).toBeDefined();
    expect(await redis.zscore(waitingKey, subscription.id)).toBeNull();
    expect((await h.orchestrator.ops.runJanitor()).noticesHandled).toBeUndefined();
  });
});

describe('lost settled notices behind records that wait for long', () => {
  it('are reached: each janitor run goes on where the last one stopped', async () => {
    harness = await startOrchestratorHarness({
      orchestrator: { inquiryScheduleMs: [60_000], janitor: { intervalMs: 0, batch: 1 } },
    });
    const h = harness;
    // X waits for long: its first payment's outcome is unknown for a minute.
    h.sim.faults.add({ type: 'dropAfterProcessing', match: { amount: 991 }, times: 1 });
    const x = await h.orchestrator.subscriptions.create({ amount: 991, interval: '30s', card });
    await h.waitFor(x.firstPayment.id, (p) => p.status === 'outcome_unknown');
    // Y's first payment is authorised, and its notice is lost.
    const notices = testPortsOf(h.orchestrator).schedules.queues.queue(0);
    await notices.pause();
    const y = await h.orchestrator.subscriptions.create({ amount: 992, interval: '30s', card });
    await h.waitFor(y.firstPayment.id, (p) => p.status === 'authorized');
    await expect.poll(async () => (await notices.getJobs(['waiting'])).length).toBe(1);
    for (const job of await notices.getJobs(['waiting'])) await job?.remove();
    await notices.resume();

    // One record a run: the first run reads X (still waiting), the next one Y.
    expect((await h.orchestrator.ops.runJanitor()).noticesHandled).toBeUndefined();
    expect((await h.orchestrator.subscriptions.get(y.subscription.id)).status).toBe('pending');
    expect((await h.orchestrator.ops.runJanitor()).noticesHandled).toBe(1);
    expect((await h.orchestrator.subscriptions.get(y.subscription.id)).status).toBe('active');
    expect((await h.orchestrator.subscriptions.get(x.subscription.id)).status).toBe('pending');
  });
});

describe('a command on an unknown outcome', () => {
  it('asks Sips first: a capture whose answer was lost is not sent again', async () => {
    const h = await start();
    const { payment } = await h.orchestrator.payments.create({
      amount: 1_600,
      captureMode: 'validation',
      captureDay: 5,
      card,
    });
    await h.waitFor(payment.id, (p) => p.status === 'authorized');
    h.sim.faults.add({ type: 'dropAfterProcessing', match: { service: 'validate' }, times: 1 });
    h.sim.faults.add({
      type: 'httpStatus',
      status: 503,
      match: { service: 'getTransactionData' },
      times: 1,
    });
    await h.orchestrator.payments.capture(payment.id, { amount: 1_600 });
    await h.waitFor(payment.id, (p) => p.status === 'outcome_unknown');

    // Sips cannot say yet: the command waits (409, retryable), nothing is sent.
    await expect(
      h.orchestrator.payments.capture(payment.id, { amount: 1_600 }),
    ).rejects.toMatchObject({
      code: 'outcome_unknown',
      retryable: true,
    });
    // Now Sips answers: the capture happened, so a second one is refused.
    await expect(
      h.orchestrator.payments.capture(payment.id, { amount: 1_600 }),
    ).rejects.toMatchObject({
      code: 'command_not_allowed',
    });
    const captured = await h.orchestrator.payments.get(payment.id);
    expect(captured.status).toBe('captured');
    expect(h.sim.ledger.countMovements('validation', captured.transactionReference)).toBe(1);
  });
});
