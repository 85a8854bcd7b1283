/**
 * The event catalogue against what is really published: payments, a
 * subscription and instalment plans are driven through their lifecycles
 * against the simulator, and every event found on the namespace's event
 * streams must be a catalogued type whose whole CloudEvent fits
 * `cloudEventSchema(type)` (the schema the OpenAPI `webhooks` section shows).
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { engineDataOf } from '../../src/engine/engine.ts';
import { testPortsOf, type PaymentView } from '../../src/orchestrator.ts';
import { cloudEventSchema, isEventType } from '../../src/payments/event-catalogue.ts';
import {
  ACCEPTED_CARD,
  CHALLENGE_CARD,
  EXPIRY,
  NOT_ENROLLED_CARD,
  REFUSED_CARD,
  THREE_DS_FAILURE_CARD,
  THREE_DS_SUCCESS_CARD,
  clockFrom,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';
import { streamedEvents } from '../support/stream-events.ts';
import { parseHtmlForm } from '../support/simulator-harness.ts';

let harness: OrchestratorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

interface Published {
  streamId: string;
  event: { type?: unknown; [field: string]: unknown };
}

/** Every event on the event streams of every shard of the harness's namespace. */
const publishedEvents = (h: OrchestratorHarness): Promise<Published[]> =>
  streamedEvents<Published['event']>(h.orchestrator);

/** Why a published event does not fit the catalogue, or null when it does. */
function misfit({ streamId, event }: Published): string | null {
  const type = String(event.type);
  if (!isEventType(type)) return `${streamId} ${type}: not a catalogued type`;
  const parsed = cloudEventSchema(type).safeParse(event);
  if (parsed.success) return null;
  return `${streamId} ${type}: ${z.prettifyError(parsed.error)}\n  ${JSON.stringify(event)}`;
}

/**
 * Validates every published event against its schema (failing with the
 * offending events), and returns the types seen.
 */
async function expectAllCatalogued(h: OrchestratorHarness): Promise<Set<string>> {
  const published = await publishedEvents(h);
  expect(published.length).toBeGreaterThan(0);
  const problems = published.map(misfit).filter((problem) => problem !== null);
  expect(problems, problems.join('\n')).toEqual([]);
  return new Set(published.map((entry) => String(entry.event.type)));
}

function cardPayment(number: string, extra: Record<string, unknown> = {}) {
  return { amount: 4_000, currency: '978', card: { number, expiry: EXPIRY, csc: '123' }, ...extra };
}

const isStatus = (status: string) => (payment: PaymentView) => payment.status === status;

async function postForm(url: string, fields: Record<string, string>): Promise<string> {
  const response = await request(url, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return response.body.text();
}

/** The customer at the simulator's ACS choosing `outcome`; returns what the browser posts back. */
async function authenticate(
  h: OrchestratorHarness,
  redirection: PaymentView['redirection'],
  outcome: string,
): Promise<Record<string, string>> {
  const { url, paReq } = (redirection ?? {}) as { url?: string; paReq?: string };
  const page = parseHtmlForm(
    await postForm(url as string, {
      PaReq: paReq as string,
      TermUrl: 'http://merchant.invalid/term',
      MD: 'session-1',
    }),
  );
  const back = parseHtmlForm(
    await postForm(new URL(page.action, h.sim.url).toString(), { ...page.fields, outcome }),
  );
  return back.fields;
}

/**
 * Runs the payment's timers now, one at a time in the order they were due
 * (the warning before the limit: run together, the limit could come first
 * and make the warning moot).
 */
async function runTimers(h: OrchestratorHarness, paymentId: string): Promise<void> {
  const record = await testPortsOf(h.orchestrator).store.get(paymentId, { timeline: false });
  const planned = Object.entries(engineDataOf(record!).timers ?? {}).sort(
    ([, a], [, b]) => (a?.at ?? 0) - (b?.at ?? 0),
  );
  for (const [name, timer] of planned) {
    const isThisTimer = (data: Record<string, unknown>) =>
      data.task === 'timer' && data.paymentId === paymentId && data.timer === name;
    await expect
      .poll(async () => {
        await h.promoteDelayed(isThisTimer);
        return (await h.pendingJobs(isThisTimer)).includes(timer?.jobId ?? '');
      })
      .toBe(false);
  }
}

describe('published events fit the catalogue', () => {
  it('through card payments: authorised, refused, challenged, captured, cancelled, refunded, failed, reviewed', async () => {
    harness = await startOrchestratorHarness();
    const h = harness;
    const payments = h.orchestrator.payments;
    const create = async (body: Record<string, unknown>) => (await payments.create(body)).payment;

    const accepted = await create(cardPayment(ACCEPTED_CARD));
    const refused = await create(cardPayment(REFUSED_CARD));
    const partly = await create(cardPayment(ACCEPTED_CARD, { captureMode: 'validation' }));
    const fully = await create(cardPayment(ACCEPTED_CARD, { captureMode: 'validation' }));
    const cancelled = await create(cardPayment(ACCEPTED_CARD));
    const challenged = await create(cardPayment(CHALLENGE_CARD));
    const challengeRefused = await create(cardPayment(CHALLENGE_CARD));
    for (const payment of [accepted, refused, partly, fully, cancelled]) {
      await h.waitFor(payment.id);
    }
    await h.waitFor(challenged.id, (p) => p.challenged === true);
    await h.waitFor(challengeRefused.id, (p) => p.challenged === true);

    await payments.capture(partly.id, { amount: 2_500 });
    await h.waitFor(partly.id, isStatus('captured'));
    await payments.capture(fully.id, { amount: 4_000 });
    await h.waitFor(fully.id, isStatus('captured'));
    await payments.cancel(cancelled.id, { amount: 1_000 });
    await h.waitFor(cancelled.id, (p) => p.amounts.cancelled === 1_000);
    await payments.cancel(cancelled.id, { amount: 3_000 });
    await h.waitFor(cancelled.id, isStatus('cancelled'));
    await payments.acceptChallenge(challenged.id);
    await h.waitFor(challenged.id, (p) => p.status === 'authorized' && p.challenged !== true);
    await payments.refuseChallenge(challengeRefused.id);
    await h.waitFor(challengeRefused.id, isStatus('refused'));
    await payments.duplicate(accepted.id, { amount: 1_200 });

    // Refunds need remitted money: let the simulator's remittance run.
    h.sim.clock.advanceDays(1);
    await h.sim.control.runRemittance();
    await payments.refund(partly.id, { amount: 1_000 });
    await h.waitFor(partly.id, isStatus('partially_refunded'));
    await payments.refund(partly.id, { amount: 1_500 });
    await h.waitFor(partly.id, isStatus('refunded'));

    // A capture Sips cannot process (99 until the attempts run out) leaves it authorised.
    const notCaptured = await create(cardPayment(ACCEPTED_CARD, { captureMode: 'validation' }));
    await h.waitFor(notCaptured.id);
    h.sim.faults.add({ match: { service: 'validate' }, type: 'responseCode', responseCode: '99' });
    await payments.capture(notCaptured.id, { amount: 1_000 });
    await pollUntil(
      async () => (await publishedEvents(h)).some((e) => e.event.type === 'payment.capture_failed'),
      (found) => found,
      { timeoutMs: 10_000, describe: () => 'no payment.capture_failed' },
    );
    h.sim.faults.clear();

    // Sips unavailable, an unknown outcome, a call that never arrived, a seal that fails.
    h.sim.faults.add({ match: { service: 'cardOrder' }, type: 'responseCode', responseCode: '99' });
    const unavailable = await create(cardPayment(ACCEPTED_CARD));
    expect((await h.waitFor(unavailable.id)).status).toBe('failed');
    h.sim.faults.clear();
    h.sim.faults.add({
      match: { service: 'cardOrder' },
      times: 1,
      type: 'hang',
      afterProcessing: true,
    });
    const unknown = await create(cardPayment(ACCEPTED_CARD));
    expect((await h.waitFor(unknown.id)).status).toBe('authorized');
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'reset' });
    const resent = await create(cardPayment(ACCEPTED_CARD));
    expect((await h.waitFor(resent.id)).status).toBe('authorized');
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
    const untrusted = await create(cardPayment(ACCEPTED_CARD));
    await h.waitFor(untrusted.id, isStatus('in_review'));
    const item = await pollUntil(
      async () =>
        (await h.orchestrator.reviews.list()).find((entry) => entry.paymentId === untrusted.id),
      (found) => found !== undefined,
      { timeoutMs: 10_000, describe: () => `no review item for ${untrusted.id}` },
    );
    await h.orchestrator.reviews.resolve(item!.jobId, {
      action: 'adopt',
      note: 'checked with Sips',
      by: 'ops-1',
    });

    const seen = await expectAllCatalogued(h);
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'payment.received',
        'payment.authorized',
        'payment.refused',
        'payment.challenged',
        'payment.challenge_acceptance_requested',
        'payment.challenge_refusal_requested',
        'payment.capture_requested',
        'payment.captured',
        'payment.capture_failed',
        'payment.cancel_requested',
        'payment.partially_cancelled',
        'payment.cancelled',
        'payment.refund_requested',
        'payment.partially_refunded',
        'payment.refunded',
        'payment.failed',
        'payment.outcome_unknown',
        'payment.operation_resent',
        'payment.in_review',
        'payment.review_resolved',
      ]),
    );
  });

  it('through 3-D Secure: authenticated, failed, not enrolled, abandoned', async () => {
    harness = await startOrchestratorHarness({ orchestrator: { authenticationTimeoutMs: 3_000 } });
    const h = harness;
    const threeDS = (number: string) =>
      cardPayment(number, { method: 'card_3ds', returnUrl: 'https://shop.example/return' });
    const awaiting = isStatus('awaiting_authentication');

    const { payment: success } = await h.orchestrator.payments.create(
      threeDS(THREE_DS_SUCCESS_CARD),
    );
    const { payment: failure } = await h.orchestrator.payments.create(
      threeDS(THREE_DS_FAILURE_CARD),
    );
    const { payment: notEnrolled } = await h.orchestrator.payments.create(
      threeDS(NOT_ENROLLED_CARD),
    );
    const { payment: abandoned } = await h.orchestrator.payments.create(
      threeDS(THREE_DS_SUCCESS_CARD),
    );
    for (const [payment, outcome] of [
      [success, 'SUCCESS'],
      [failure, 'FAILURE'],
    ] as const) {
      const waiting = await h.waitFor(payment.id, awaiting);
      const back = await authenticate(h, waiting.redirection, outcome);
      await h.orchestrator.payments.completeAuthentication(payment.id, { paRes: back.PaRes });
    }
    expect((await h.waitFor(success.id)).status).toBe('authorized');
    expect((await h.waitFor(failure.id)).status).toBe('refused');
    expect((await h.waitFor(notEnrolled.id)).status).toBe('authorized');
    await h.waitFor(abandoned.id, isStatus('expired'));

    const seen = await expectAllCatalogued(h);
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'payment.authentication_required',
        'payment.customer_returned',
        'payment.authentication_skipped',
        'payment.expired',
      ]),
    );
  });

  it('through the capture limit: warning, no policy, and a refused reauthorisation', async () => {
    const clock = clockFrom(9);
    harness = await startOrchestratorHarness({ clock });
    const h = harness;
    const validation = (extra: Record<string, unknown>) =>
      cardPayment(ACCEPTED_CARD, { currency: 'EUR', captureMode: 'validation', ...extra });

    // No policy: warned, then told the limit is reached.
    const { payment: left } = await h.orchestrator.payments.create(
      validation({ amount: 2_500, captureDay: 0, capture: { atLimit: 'none' } }),
    );
    await h.waitFor(left.id, isStatus('authorized'));
    await runTimers(h, left.id);

    // Reauthorise: 199 010 is accepted; once 100 005 is cancelled, the
    // 99 005 left is refused (05) by the simulator's amount rule when
    // authorised again.
    const { payment } = await h.orchestrator.payments.create(
      validation({ amount: 199_010, captureDay: 1, capture: { atLimit: 'reauthorize' } }),
    );
    await h.waitFor(payment.id, isStatus('authorized'));
    await h.orchestrator.payments.cancel(payment.id, { amount: 100_005 });
    await h.waitFor(payment.id, (p) => p.status === 'authorized' && p.amounts.cancelled > 0);
    const record = await testPortsOf(h.orchestrator).store.get(payment.id, { timeline: false });
    const timers = engineDataOf(record!).timers ?? {};
    const jobIds = Object.values(timers).map((timer) => timer.jobId);
    await expect
      .poll(() => h.pendingJobs((data) => data.paymentId === payment.id && data.task === 'timer'))
      .toEqual(expect.arrayContaining(jobIds));
    clock.advance((timers.limit_policy?.at as number) - clock.now() + 60_000);
    await runTimers(h, payment.id);
    await h.waitFor(payment.id, (p) => p.facts.reauthorizationOutcome === 'failed');

    const seen = await expectAllCatalogued(h);
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'payment.authorisation_expiring',
        'payment.authorisation_limit_reached',
        'payment.reauthorized',
        'payment.reauthorization_settled',
      ]),
    );
  });

  it('through a subscription and instalment plans', async () => {
    harness = await startOrchestratorHarness({ orchestrator: { scheduleDayMs: 300 } });
    const h = harness;
    const card = (number: string) => ({ number, expiry: EXPIRY, csc: '123' });

    // A subscription: activated, a period declined then retried, paused,
    // changed, resumed, cancelled.
    const { subscription } = await h.orchestrator.subscriptions.create({
      amount: 1_990,
      currency: 'EUR',
      interval: '30s',
      retryOnDeclineDays: [1],
      card: card(ACCEPTED_CARD),
    });
    const id = subscription.id;
    const subscriptionIs = (done: (s: typeof subscription) => boolean) =>
      pollUntil(() => h.orchestrator.subscriptions.get(id), done, {
        timeoutMs: 15_000,
        describe: (s) => `subscription ${id}: ${JSON.stringify(s)}`,
      });
    await subscriptionIs((s) => s.status === 'active');
    // Period 1 now, at an amount the issuer refuses (51): declined, retried, failed.
    await h.orchestrator.subscriptions.changeAmount(id, { amount: 99_051 });
    await testPortsOf(h.orchestrator).schedules.queues.add(
      Number(id.split('_')[1]),
      { task: 'occurrence', subscriptionId: id, period: 1 },
      { jobId: 'period-1' },
    );
    await subscriptionIs((s) =>
      s.occurrences.some((entry) => entry.period === 1 && entry.status === 'failed'),
    );
    await h.orchestrator.subscriptions.pause(id);
    await h.orchestrator.subscriptions.changeAmount(id, { amount: 2_490 });
    await h.orchestrator.subscriptions.resume(id);
    await h.orchestrator.subscriptions.cancel(id);
    const { subscription: refusedFirst } = await h.orchestrator.subscriptions.create({
      amount: 1_990,
      currency: 'EUR',
      interval: '30s',
      card: card(REFUSED_CARD),
    });
    await pollUntil(
      () => h.orchestrator.subscriptions.get(refusedFirst.id),
      (s) => s.status === 'failed',
      { timeoutMs: 15_000, describe: (s) => JSON.stringify(s) },
    );

    // Instalment plans: completed, failed at the first, cancelled.
    const plans = h.orchestrator.instalmentPlans;
    const planIs = (planId: string, status: string) =>
      pollUntil(
        () => plans.get(planId),
        (plan) => plan.status === status,
        {
          timeoutMs: 15_000,
          describe: (plan) => `plan ${planId}: ${JSON.stringify(plan)}`,
        },
      );
    const completed = await plans.create({
      amount: 9_000,
      currency: 'EUR',
      count: 3,
      intervalDays: 1,
      card: card(ACCEPTED_CARD),
    });
    const failed = await plans.create({ amount: 9_000, count: 3, card: card(REFUSED_CARD) });
    const cancelled = await plans.create({ amount: 9_000, count: 3, card: card(ACCEPTED_CARD) });
    await pollUntil(
      () => plans.get(cancelled.plan.id),
      (plan) => plan.instalments[0]?.status === 'paid',
      { timeoutMs: 15_000, describe: (plan) => JSON.stringify(plan) },
    );
    await plans.cancel(cancelled.plan.id);
    await planIs(completed.plan.id, 'completed');
    await planIs(failed.plan.id, 'failed');

    const seen = await expectAllCatalogued(h);
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'subscription.created',
        'subscription.activated',
        'subscription.amount_changed',
        'subscription.occurrence_started',
        'subscription.occurrence_paid',
        'subscription.occurrence_declined',
        'subscription.occurrence_retried',
        'subscription.occurrence_failed',
        'subscription.paused',
        'subscription.resumed',
        'subscription.cancelled',
        'subscription.failed',
        'instalment_plan.created',
        'instalment_plan.instalment_due',
        'instalment_plan.instalment_paid',
        'instalment_plan.instalment_declined',
        'instalment_plan.completed',
        'instalment_plan.failed',
        'instalment_plan.cancelled',
      ]),
    );
  });
});
