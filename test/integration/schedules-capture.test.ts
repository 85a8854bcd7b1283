/**
 * Scheduled money on one payment: a deferred capture runs once, at its time,
 * across a restart; an authorisation near its capture limit raises the
 * warning (event and ops alert) and then applies its policy. The capture-limit
 * tests run at 09:00 UTC whatever the hour: a captureDay-0 authorisation
 * lapses at 20:00 UTC the same day, its policy hours away.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineData } from '../../src/engine/engine-data.ts';
import { engineDataOf } from '../../src/engine/engine.ts';
import type { PaymentView } from '../../src/orchestrator.ts';
import {
  ACCEPTED_CARD,
  clockFrom,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

let harness: OrchestratorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function validationPayment(extra: Record<string, unknown> = {}) {
  return {
    amount: 2_500,
    currency: 'EUR',
    captureMode: 'validation',
    card: { number: ACCEPTED_CARD, expiry: EXPIRY },
    ...extra,
  };
}

const authorized = (payment: PaymentView) => payment.status === 'authorized';

/**
 * Runs now the timers the authorising step of a payment planned (all, or
 * those named). Their delayed jobs are added right after that step's write,
 * so they are waited for.
 */
async function runTimers(
  h: OrchestratorHarness,
  paymentId: string,
  names?: readonly string[],
): Promise<void> {
  const wanted = (name: string) => names === undefined || names.includes(name);
  const record = await testPortsOf(h.orchestrator).store.get(paymentId, { timeline: false });
  const planned = Object.keys(engineDataOf(record!).timers ?? {}).filter(wanted);
  let promoted = 0;
  await expect
    .poll(async () => {
      promoted += await h.promoteDelayed(
        (data) =>
          data.task === 'timer' && data.paymentId === paymentId && wanted(data.timer as string),
      );
      return promoted;
    })
    .toBe(planned.length);
}

/**
 * Writes a payment's engine data the way the engine's own annotations do (a
 * compare-and-set, with a timeline entry), to set up a state mid-way.
 */
async function noteData(
  h: OrchestratorHarness,
  paymentId: string,
  update: (data: EngineData) => void,
): Promise<void> {
  const { engine, store } = testPortsOf(h.orchestrator);
  const noted = await engine.annotate((await store.get(paymentId))!, {
    timeline: [{ at: Date.now(), kind: 'test.data' }],
    update,
  });
  expect(noted.ok).toBe(true);
}

const noteFacts = (
  h: OrchestratorHarness,
  paymentId: string,
  update: (facts: Record<string, string>) => void,
): Promise<void> => noteData(h, paymentId, (data) => update(data.facts));

/** A harness and a VALIDATION payment, authorised, whose deferred capture is a minute away. */
async function authorizedWithCaptureTimer(): Promise<{
  h: OrchestratorHarness;
  payment: PaymentView;
}> {
  const h = await startOrchestratorHarness();
  harness = h;
  const { payment } = await h.orchestrator.payments.create(
    validationPayment({ captureDay: 5, capture: { afterMs: 60_000 } }),
  );
  return { h, payment: await h.waitFor(payment.id, authorized) };
}

/**
 * A harness at 09:00 UTC and a VALIDATION payment with the policy
 * `reauthorize` (captureDay 1), authorised, with the clock moved just past its
 * policy time, as when its timer fires: a new authorisation made then lapses
 * a day later.
 */
async function reauthorizingAtPolicyTime(
  extra: Record<string, unknown> = {},
): Promise<{ h: OrchestratorHarness; id: string }> {
  const clock = clockFrom(9);
  const h = await startOrchestratorHarness({ clock });
  harness = h;
  const { payment } = await h.orchestrator.payments.create(
    validationPayment({ captureDay: 1, capture: { atLimit: 'reauthorize' }, ...extra }),
  );
  await h.waitFor(payment.id, authorized);
  const record = await testPortsOf(h.orchestrator).store.get(payment.id, { timeline: false });
  const timers = engineDataOf(record!).timers ?? {};
  const policyAt = timers.limit_policy?.at;
  expect(policyAt).toBeGreaterThan(clock.now());
  // The timers' jobs are added right after the authorising write, with a delay
  // taken from the clock then: moved only once they are in, they stay delayed.
  const jobIds = Object.values(timers).map((timer) => timer.jobId);
  await expect
    .poll(() => h.pendingJobs((data) => data.paymentId === payment.id && data.task === 'timer'))
    .toEqual(expect.arrayContaining(jobIds));
  clock.advance((policyAt as number) - clock.now() + 60_000);
  return { h, id: payment.id };
}

const lapsesNoLater = (paymentId: string) => async () =>
  (await harness!.orchestrator.ops.alerts()).some(
    (alert) =>
      alert.paymentId === paymentId &&
      alert.kind === 'capture_limit_reached' &&
      alert.message.includes('would lapse no later'),
  );

async function eventTypes(h: OrchestratorHarness, paymentId: string): Promise<string[]> {
  const { keyspace, redis } = testPortsOf(h.orchestrator);
  const entries = await redis.xrange(keyspace.eventsStream(keyspace.shardOf(paymentId)), '-', '+');
  return entries
    .map(([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1] as string))
    .filter((event) => event.subject === paymentId)
    .map((event) => event.type as string);
}

describe('deferred capture', () => {
  it('validates once at its time, even though the workers were down when it fell due', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const createdAt = Date.now();
    const { payment } = await h.orchestrator.payments.create(
      validationPayment({ captureDay: 5, capture: { afterMs: 1_500 } }),
    );
    await h.waitFor(payment.id, authorized);
    expect(h.sim.ledger.countMovements('validation', payment.transactionReference)).toBe(0);

    // Down across the due time: the delayed job waits in Redis.
    await h.restart(2_000);
    const captured = await h.waitFor(payment.id, (p) => p.status === 'captured', 10_000);

    expect(captured.amounts.captured).toBe(2_500);
    const validations = h.sim.ledger
      .movements(payment.transactionReference)
      .filter((movement) => movement.kind === 'validation');
    expect(validations).toHaveLength(1);
    expect(validations[0]?.at).toBeGreaterThanOrEqual(createdAt + 1_500);
    expect(captured.timeline.some((entry) => entry.kind === 'schedule.capture')).toBe(true);

    // Fired again (a re-enqueue after the job was removed): it acts no more.
    await testPortsOf(h.orchestrator).engine.dispatch(
      (await testPortsOf(h.orchestrator).store.get(payment.id))!,
    );
    await h.promoteDelayed();
    await expect.poll(() => h.pendingJobs((data) => data.paymentId === payment.id)).toEqual([]);
    expect(h.sim.ledger.countMovements('validation', payment.transactionReference)).toBe(1);
  });

  it('waits while the authorisation is being replaced at its limit, then captures if the replacement failed', async () => {
    const { h, payment } = await authorizedWithCaptureTimer();
    // A capture timer held up past the policy time meets a claimed reauthorisation.
    await noteFacts(h, payment.id, (facts) => {
      facts.reauthorizing = 'true';
    });
    const capture = (data: Record<string, unknown>) =>
      data.task === 'timer' && data.timer === 'capture' && data.paymentId === payment.id;
    const { queues, store } = testPortsOf(h.orchestrator);
    const record = await store.get(payment.id, { timeline: false });
    const captureJobId = engineDataOf(record!).timers?.capture?.jobId as string;
    await runTimers(h, payment.id, ['capture']);
    // Tried, and to be tried again (it goes back and forth between delayed and
    // active meanwhile, so its attempts are what is watched).
    await expect
      .poll(async () => {
        const job = await queues.queue(0).getJob(captureJobId);
        return job === undefined ? undefined : [job.attemptsMade > 0, job.failedReason];
      })
      .toEqual([true, expect.stringContaining('the authorisation is being replaced')]);
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('authorized');
    expect(h.sim.ledger.countMovements('validation', payment.transactionReference)).toBe(0);

    await noteFacts(h, payment.id, (facts) => {
      delete facts.reauthorizing;
      facts.reauthorizationOutcome = 'failed';
    });
    await h.promoteDelayed(capture);
    const captured = await h.waitFor(payment.id, (p) => p.status === 'captured');
    expect(captured.amounts.captured).toBe(2_500);
    expect(h.sim.ledger.countMovements('validation', payment.transactionReference)).toBe(1);
  });

  it('leaves an authorisation alone once it was replaced, even if its release was declined', async () => {
    const { h, payment } = await authorizedWithCaptureTimer();
    // Replaced, and still authorised: Sips declined the cancel of its remainder.
    await noteFacts(h, payment.id, (facts) => {
      facts.reauthorizedAs = 'pay_0_NEWONE';
      facts.reauthorizationOutcome = 'replaced';
    });
    await runTimers(h, payment.id, ['capture']);
    const { queues } = testPortsOf(h.orchestrator);
    await expect
      .poll(async () =>
        (await queues.queue(0).getCompleted()).some(
          (job) => job.data.paymentId === payment.id && job.data.task === 'timer',
        ),
      )
      .toBe(true);
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('authorized');
    expect(h.sim.ledger.countMovements('validation', payment.transactionReference)).toBe(0);
    await expect(h.orchestrator.payments.capture(payment.id, { amount: 2_500 })).rejects.toThrow(
      /replaced at its capture limit by pay_0_NEWONE/,
    );
  });

  it('rejects a capture date after the capture limit and a schedule on AUTHOR_CAPTURE, naming the field', async () => {
    harness = await startOrchestratorHarness();
    await expect(
      harness.orchestrator.payments.create(
        validationPayment({ captureDay: 2, capture: { afterDays: 3 } }),
      ),
    ).rejects.toMatchObject({ code: 'invalid_command', field: 'capture.afterDays' });
    await expect(
      harness.orchestrator.payments.create(
        validationPayment({ captureMode: 'author_capture', capture: { afterMs: 10 } }),
      ),
    ).rejects.toMatchObject({ code: 'invalid_command', field: 'capture' });
  });
});

describe('capture limit', () => {
  async function nearLimit(
    atLimit: string,
    captureDay = 0,
    timers: readonly string[] = ['limit_warning', 'limit_policy'],
  ): Promise<{ h: OrchestratorHarness; id: string }> {
    harness = await startOrchestratorHarness({ clock: clockFrom(9) });
    const h = harness;
    const { payment } = await h.orchestrator.payments.create(
      validationPayment({ captureDay, capture: { atLimit } }),
    );
    const authorizedPayment = await h.waitFor(payment.id, authorized);
    expect(authorizedPayment.facts.captureLimitAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    // The limit is hours away: run its timers now instead of waiting.
    await runTimers(h, payment.id, timers);
    return { h, id: payment.id };
  }

  it('warns with an event and an ops alert, then captures under the capture policy', async () => {
    // captureDay 1: the limit is more than the 24 h warning window away.
    const { h, id } = await nearLimit('capture', 1, ['limit_warning']);
    await expect.poll(() => eventTypes(h, id)).toContain('payment.authorisation_expiring');
    const alerts = await h.orchestrator.ops.alerts();
    expect(
      alerts.some((alert) => alert.paymentId === id && alert.kind === 'capture_limit_near'),
    ).toBe(true);
    expect((await h.orchestrator.payments.get(id)).status).toBe('authorized');
    await runTimers(h, id, ['limit_policy']);
    const captured = await h.waitFor(id, (p) => p.status === 'captured');
    expect(captured.amounts.captured).toBe(2_500);
    expect(h.sim.ledger.countMovements('validation', captured.transactionReference)).toBe(1);
  });

  it('cancels under the cancel policy', async () => {
    const { h, id } = await nearLimit('cancel');
    const cancelled = await h.waitFor(id, (p) => p.status === 'cancelled');
    expect(cancelled.amounts.cancelled).toBe(2_500);
    expect(h.sim.ledger.countMovements('validation', cancelled.transactionReference)).toBe(0);
  });

  it('authorises again with a duplicate under the reauthorize policy, then releases the old authorisation', async () => {
    const { h, id } = await reauthorizingAtPolicyTime();
    // The duplicate answers late (within the harness's 1 s call timeout): the
    // old authorisation is blocked meanwhile.
    h.sim.faults.add({ match: { service: 'duplicate' }, times: 1, type: 'latency', ms: 700 });
    const t0 = Date.now();
    await runTimers(h, id);

    const claimed = await h.waitFor(id, (p) => p.facts.reauthorizedAs !== undefined);
    const replacementId = claimed.facts.reauthorizedAs as string;
    await expect(h.orchestrator.payments.capture(id, { amount: 2_500 })).rejects.toMatchObject({
      code: 'reauthorization_in_progress',
      status: 409,
      retryable: true,
      retryAfterSeconds: 2,
    });

    const replacement = await h.waitFor(replacementId, authorized);
    expect(h.sim.faults.list()).toHaveLength(0); // the late answer was the duplicate's
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(replacement.timeline.some((entry) => entry.kind === 'inquiry')).toBe(false);
    expect(replacement.kind).toBe('duplicate');
    expect(replacement.amount).toBe(2_500);
    const replacementRecord = await testPortsOf(h.orchestrator).store.get(replacementId);
    expect(engineDataOf(replacementRecord!).request.link).toMatchObject({
      type: 'reauthorization',
      id,
      generation: 1,
    });
    expect(
      h.sim.ledger.countMovements('duplicateAuthorisation', replacement.transactionReference),
    ).toBe(1);
    // The old hold is released once the new one stands: one capturable authorisation.
    const released = await h.waitFor(id, (p) => p.status === 'cancelled');
    expect(released.amounts.cancelled).toBe(2_500);
    expect(released.facts.reauthorizationOutcome).toBe('replaced');
    expect(released.timeline.some((entry) => entry.kind === 'capture_limit.replaced')).toBe(true);
    expect(h.sim.ledger.countMovements('cancellation', released.transactionReference)).toBe(1);
    await expect.poll(() => eventTypes(h, id)).toContain('payment.reauthorized');
    await expect(h.orchestrator.payments.capture(id, { amount: 2_500 })).rejects.toMatchObject({
      code: 'command_not_allowed',
    });

    // A day gained: the new one lapses a day after the old.
    expect(Date.parse(replacement.facts.captureLimitAt as string)).toBe(
      Date.parse(released.facts.captureLimitAt as string) + 86_400_000,
    );
    const captured = await h.orchestrator.payments.capture(replacementId, { amount: 2_500 });
    expect(['capturing', 'captured']).toContain(captured.status);
  });

  it('leaves the old authorisation capturable, and tells ops, when the new one is refused', async () => {
    const { h, id } = await reauthorizingAtPolicyTime({ amount: 199_010 });
    // 199 010 is accepted; once 100 005 is cancelled, the 99 005 left is
    // refused (05) by the simulator's amount rule when authorised again.
    await h.orchestrator.payments.cancel(id, { amount: 100_005 });
    await h.waitFor(id, (p) => authorized(p) && p.amounts.cancelled === 100_005);
    await runTimers(h, id);

    const settled = await h.waitFor(id, (p) => p.facts.reauthorizationOutcome !== undefined);
    expect(settled.facts.reauthorizationOutcome).toBe('failed');
    expect(settled.status).toBe('authorized');
    const replacement = await h.orchestrator.payments.get(settled.facts.reauthorizedAs as string);
    expect(replacement.status).toBe('refused');
    const alerts = await h.orchestrator.ops.alerts();
    expect(
      alerts.some((alert) => alert.paymentId === id && alert.kind === 'reauthorization_failed'),
    ).toBe(true);
    await expect.poll(() => eventTypes(h, id)).toContain('payment.reauthorization_settled');

    await h.orchestrator.payments.capture(id, { amount: 99_005 });
    const captured = await h.waitFor(id, (p) => p.status === 'captured');
    expect(captured.amounts.captured).toBe(99_005);
  });

  it('makes the new authorisation once, even when a try resumes after its idempotency record lapsed', async () => {
    const { h, id } = await reauthorizingAtPolicyTime();
    const { keyspace, redis, schedules, store } = testPortsOf(h.orchestrator);
    // The new authorisation's answer fails its seal: it waits in review, and
    // the old one stays claimed meanwhile.
    h.sim.faults.add({ match: { service: 'duplicate' }, times: 1, type: 'corruptSeal' });
    const policyTimer = engineDataOf((await store.get(id))!).timers?.limit_policy;
    expect(policyTimer).toBeDefined();
    // The policy alone: a warning job retrying after a lost race would write
    // the payment while the test rewinds it below.
    await runTimers(h, id, ['limit_policy']);
    const noted = await h.waitFor(id, (p) => p.facts.reauthorizedAs !== undefined);
    const replacementId = noted.facts.reauthorizedAs as string;
    // The id was recorded with the claim, before the payment was made.
    const claim = noted.timeline.find((entry) => entry.kind === 'capture_limit.reauthorizing');
    expect(claim?.detail).toEqual({ newPaymentId: replacementId });
    await h.waitFor(replacementId, (p) => p.status === 'in_review');
    // Blocked until ops decide the new one: the client is told to come back much later.
    await expect(h.orchestrator.payments.capture(id, { amount: 2_500 })).rejects.toMatchObject({
      code: 'reauthorization_in_progress',
      message: expect.stringContaining(`${replacementId}, which is in review`),
      retryAfterSeconds: 300,
    });

    // What a crash between making the new payment and noting it leaves, found
    // again days later: the claim and the policy timer stand, and the
    // idempotency record of the new payment has expired.
    await noteData(h, id, (data) => {
      delete data.facts.reauthorizedAs;
      data.facts.reauthorizing = 'true';
      data.facts.reauthorizationId = replacementId;
      data.timers = { ...data.timers, limit_policy: policyTimer! };
    });
    expect(await redis.del(keyspace.idempotencyKey(`reauthorize:${id}`))).toBe(1);
    await schedules.runTimer(
      { task: 'timer', paymentId: id, timer: 'limit_policy' },
      { jobId: policyTimer!.jobId },
    );

    // The timer resumes the claim; its reauthorize job finds the payment
    // made under the recorded id and notes it.
    const resumed = await h.waitFor(id, (p) => p.facts.reauthorizedAs !== undefined);
    expect(resumed.facts.reauthorizedAs).toBe(replacementId);
    expect(resumed.facts.reauthorizing).toBeUndefined();
    expect(h.sim.ledger.countMovements('duplicateAuthorisation')).toBe(1);
    expect((await h.orchestrator.payments.get(replacementId)).status).toBe('in_review');
  });

  it('releases its claim when the new authorisation is refused for good before it is made', async () => {
    const { h, id } = await reauthorizingAtPolicyTime();
    // The reauthorisation's idempotency key already names another command:
    // the duplicate is refused (idempotency_key_reused), not worth a retry.
    await h.orchestrator.payments.create(validationPayment({ amount: 700 }), {
      idempotencyKey: `reauthorize:${id}`,
    });
    await runTimers(h, id);

    const released = await h.waitFor(id, (p) => p.facts.reauthorizationOutcome !== undefined);
    expect(released.facts.reauthorizationOutcome).toBe('failed');
    expect(released.facts.reauthorizing).toBeUndefined();
    expect(released.facts.reauthorizedAs).toBeUndefined();
    const alerts = await h.orchestrator.ops.alerts();
    expect(
      alerts.some((alert) => alert.paymentId === id && alert.kind === 'reauthorization_failed'),
    ).toBe(true);
    // Capturable again until it lapses.
    await h.orchestrator.payments.capture(id, { amount: 2_500 });
    expect((await h.waitFor(id, (p) => p.status === 'captured')).amounts.captured).toBe(2_500);
  });

  it('hands over when the new authorisation settled but its notice was lost: at the next command, or in the janitor sweep', async () => {
    harness = await startOrchestratorHarness({
      clock: clockFrom(9),
      orchestrator: { janitor: { intervalMs: 0, remittanceCheckAfterMs: 0 } },
    });
    const h = harness;
    const ids: string[] = [];
    for (let k = 0; k < 6; k++) {
      const { payment } = await h.orchestrator.payments.create(
        validationPayment({ captureDay: 3 }),
      );
      ids.push(payment.id);
    }
    for (const id of ids) await h.waitFor(id, authorized);
    const [a, b, c, d, e, f] = ids as [string, string, string, string, string, string];
    // What the policy notes once the new authorisation exists; the new ones
    // here carry no link, as if their settled notices had been lost.
    for (const [old, replacement] of [
      [a, b],
      [c, d],
    ] as const) {
      await noteFacts(h, old, (facts) => {
        facts.reauthorizedAs = replacement;
      });
    }
    // E's timer made F under the id recorded with the claim, then stopped
    // for good before noting it.
    await noteFacts(h, e, (facts) => {
      facts.reauthorizing = 'true';
      facts.reauthorizationId = f;
    });
    await noteData(h, f, (data) => {
      data.request.link = { type: 'reauthorization', id: e };
    });

    // Handled late, B has been cancelled by the merchant since: it still is
    // the authorisation that replaced A, which must not come back.
    await h.orchestrator.payments.cancel(b, { amount: 2_500 });
    await h.waitFor(b, (p) => p.status === 'cancelled');

    await expect(h.orchestrator.payments.capture(a, { amount: 2_500 })).rejects.toMatchObject({
      code: 'command_not_allowed',
    });
    const releasedA = await h.waitFor(a, (p) => p.status === 'cancelled');
    expect(releasedA.facts.reauthorizationOutcome).toBe('replaced');
    await expect(h.orchestrator.payments.capture(a, { amount: 2_500 })).rejects.toThrow(
      new RegExp(`replaced at its capture limit by ${b}`),
    );

    const report = await h.orchestrator.ops.runJanitor();
    expect(report.payments).toContainEqual(
      expect.objectContaining({ id: c, verdict: 'reconciled' }),
    );
    const releasedC = await h.waitFor(c, (p) => p.status === 'cancelled');
    expect(releasedC.facts.reauthorizationOutcome).toBe('replaced');
    expect(report.payments).toContainEqual(
      expect.objectContaining({ id: e, verdict: 'reconciled' }),
    );
    const releasedE = await h.waitFor(e, (p) => p.status === 'cancelled');
    expect(releasedE.facts).toMatchObject({
      reauthorizedAs: f,
      reauthorizationOutcome: 'replaced',
    });
    expect(releasedE.facts.reauthorizing).toBeUndefined();
    // The new authorisations are untouched.
    expect((await h.orchestrator.payments.get(b)).status).toBe('cancelled');
    expect((await h.orchestrator.payments.get(d)).status).toBe('authorized');
    expect((await h.orchestrator.payments.get(f)).status).toBe('authorized');
  });

  it('acts halfway to a limit nearer than its margin, and warns of none, for a payment authorised late in the day', async () => {
    const clock = clockFrom(19);
    harness = await startOrchestratorHarness({ clock });
    const h = harness;
    const { payment } = await h.orchestrator.payments.create(
      validationPayment({ captureDay: 0, capture: { atLimit: 'capture' } }),
    );
    const authorizedPayment = await h.waitFor(payment.id, authorized);
    const limitAt = Date.parse(authorizedPayment.facts.captureLimitAt as string);
    const start = new Date(clock.now());
    expect(limitAt).toBe(start.setUTCHours(20, 0, 0, 0));
    const record = await testPortsOf(h.orchestrator).store.get(payment.id);
    const timers = engineDataOf(record!).timers ?? {};
    expect(Object.keys(timers)).toEqual(['limit_policy']);
    // About 30 min after 19:00, not 14:00 (six hours before the limit, already past).
    const policyIn = (timers.limit_policy?.at ?? 0) - clock.now();
    expect(policyIn).toBeGreaterThan(25 * 60_000);
    expect(policyIn).toBeLessThanOrEqual(30 * 60_000);
    expect(h.sim.ledger.countMovements('validation', payment.transactionReference)).toBe(0);
  });

  it('does not reauthorise on the day of the limit when a new authorisation would lapse that same day', async () => {
    // captureDay 0 at 09:00: the limit is 20:00 today, and so would be a new one's.
    const { h, id } = await nearLimit('reauthorize', 0, ['limit_policy']);
    await expect.poll(lapsesNoLater(id)).toBe(true);
    const payment = await h.orchestrator.payments.get(id);
    expect(payment.status).toBe('authorized');
    expect(payment.facts.reauthorizing).toBeUndefined();
    expect(h.sim.ledger.countMovements('duplicateAuthorisation')).toBe(0);
  });

  it('does not reauthorise late in the evening of the limit day either', async () => {
    // 21:00 UTC: past the 20:00 lapse estimate, before the simulator's 22:00
    // run, which would still date a new authorisation today.
    harness = await startOrchestratorHarness({ clock: clockFrom(21) });
    const h = harness;
    const { payment } = await h.orchestrator.payments.create(
      validationPayment({ captureDay: 0, capture: { atLimit: 'reauthorize' } }),
    );
    // Its limit already passed by the estimate: the policy runs at once.
    await expect.poll(lapsesNoLater(payment.id)).toBe(true);
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('authorized');
    expect(h.sim.ledger.countMovements('duplicateAuthorisation')).toBe(0);
  });

  it('does not reauthorise a replacement that gained no time, so no chain forms', async () => {
    const { h, id } = await reauthorizingAtPolicyTime();
    // As if made by another payment's policy and dated the same day as it.
    await noteData(h, id, (data) => {
      data.request.link = {
        type: 'reauthorization',
        id: 'pay_0_REPLACEDONE',
        replacedLimitAt: data.facts.captureLimitAt as string,
      };
    });
    await runTimers(h, id, ['limit_policy']);
    await expect.poll(lapsesNoLater(id)).toBe(true);
    expect(h.sim.ledger.countMovements('duplicateAuthorisation')).toBe(0);
  });

  it('stops renewing after CAPTURE_LIMIT_MAX_REAUTHORIZATIONS reauthorisations, and tells ops', async () => {
    const { h, id } = await reauthorizingAtPolicyTime();
    // As if it were the sixth renewal of an order nobody captured (default 6).
    await noteData(h, id, (data) => {
      data.request.link = { type: 'reauthorization', id: 'pay_0_FIFTHONE', generation: 6 };
    });
    await runTimers(h, id, ['limit_policy']);
    await expect
      .poll(async () =>
        (await h.orchestrator.ops.alerts()).some(
          (alert) =>
            alert.paymentId === id &&
            alert.kind === 'capture_limit_reached' &&
            alert.message.includes('reauthorised 6 times already'),
        ),
      )
      .toBe(true);
    expect(h.sim.ledger.countMovements('duplicateAuthorisation')).toBe(0);
    expect((await h.orchestrator.payments.get(id)).status).toBe('authorized');
  });

  it('does not apply the policy again once its reauthorisation failed', async () => {
    const { h, id } = await reauthorizingAtPolicyTime();
    const { queues, store } = testPortsOf(h.orchestrator);
    const policyJobId = engineDataOf((await store.get(id))!).timers?.limit_policy?.jobId as string;
    // The hand-over wrote the outcome before the policy's job, resumed, got here.
    await noteFacts(h, id, (facts) => {
      facts.reauthorizationOutcome = 'failed';
    });
    await runTimers(h, id, ['limit_policy']);
    await expect
      .poll(async () => (await queues.queue(0).getJob(policyJobId))?.finishedOn !== undefined)
      .toBe(true);
    const payment = await h.orchestrator.payments.get(id);
    expect(payment.facts.reauthorizing).toBeUndefined();
    expect(payment.timeline.some((entry) => entry.kind === 'capture_limit.reauthorizing')).toBe(
      false,
    );
    expect(h.sim.ledger.countMovements('duplicateAuthorisation')).toBe(0);
  });

  it('acts at once when less than half an hour is left before the limit', async () => {
    const clock = clockFrom(19);
    clock.advance(40 * 60_000); // 19:40 UTC
    harness = await startOrchestratorHarness({ clock });
    const h = harness;
    const { payment } = await h.orchestrator.payments.create(
      validationPayment({ captureDay: 0, capture: { atLimit: 'capture' } }),
    );
    // No timer to promote: the capture policy runs on its own, now.
    const captured = await h.waitFor(payment.id, (p) => p.status === 'captured');
    expect(captured.amounts.captured).toBe(2_500);
  });

  it('only alerts when the payment chose no policy, and never moves money', async () => {
    const { h, id } = await nearLimit('none');
    await expect.poll(() => eventTypes(h, id)).toContain('payment.authorisation_limit_reached');
    const alerts = await h.orchestrator.ops.alerts();
    expect(
      alerts.some((alert) => alert.paymentId === id && alert.kind === 'capture_limit_reached'),
    ).toBe(true);
    const payment = await h.orchestrator.payments.get(id);
    expect(payment.status).toBe('authorized');
    expect(h.sim.ledger.countMovements('validation', payment.transactionReference)).toBe(0);
    // captureDay 0 lapses the same day, sooner than the 24 h warning window:
    // no warning as it is authorised, the policy time is the reminder.
    expect(await eventTypes(h, id)).not.toContain('payment.authorisation_expiring');
    expect(
      alerts.some((alert) => alert.paymentId === id && alert.kind === 'capture_limit_near'),
    ).toBe(false);
  });
});
