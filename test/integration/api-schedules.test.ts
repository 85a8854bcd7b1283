/**
 * Subscriptions, instalment plans and the ops routes of scheduled money over
 * HTTP, against a real orchestrator, simulator and Redis: the lifecycle of a
 * subscription, idempotent creates, problem answers for unknown and malformed
 * ids and bad bodies, scopes, the janitor on demand, and the ops console pages
 * with their no-JavaScript forms.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import type {
  PublicInstalmentPlan as InstalmentPlan,
  PublicSubscription as SubscriptionView,
} from '../../src/service/schedule-views.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { consoleSession } from '../support/console-login.ts';
import { pollUntil } from '../support/poll.ts';

const PAY = { authorization: 'Bearer pay-secret' };
const OPS = { authorization: 'Bearer ops-secret' };

let h: OrchestratorHarness;
let app: FastifyInstance;

beforeAll(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
    settleTimeoutMs: 5_000,
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

/** 30 s between occurrences: only the first payment is made while a test runs. */
function subscriptionBody(extra: Record<string, unknown> = {}) {
  return {
    amount: 1_990,
    currency: '978',
    interval: '30s',
    card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    ...extra,
  };
}

function planBody(extra: Record<string, unknown> = {}) {
  return {
    amount: 9_001,
    currency: '978',
    count: 3,
    card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    ...extra,
  };
}

async function send(options: InjectOptions) {
  const response = await app.inject(options);
  return { status: response.statusCode, headers: response.headers, body: response.body, response };
}

async function createSubscription(key: string, extra: Record<string, unknown> = {}) {
  const created = await app.inject({
    method: 'POST',
    url: '/v1/subscriptions',
    headers: { ...PAY, 'idempotency-key': key },
    payload: subscriptionBody(extra),
  });
  expect(created.statusCode, created.body).toBe(201);
  return created.json() as { subscription: SubscriptionView; firstPayment: { id: string } };
}

/** Polls GET /v1/subscriptions/:id until `done` holds. */
async function waitForSubscription(
  id: string,
  done: (subscription: SubscriptionView) => boolean,
  timeoutMs = 10_000,
): Promise<SubscriptionView> {
  return pollUntil(() => readOver<SubscriptionView>(`/v1/subscriptions/${id}`), done, {
    timeoutMs,
    describe: (subscription) => `subscription ${id}: ${JSON.stringify(subscription)}`,
  });
}

async function readOver<T>(url: string): Promise<T> {
  const read = await app.inject({ method: 'GET', url, headers: PAY });
  expect(read.statusCode, read.body).toBe(200);
  return read.json() as T;
}

async function waitForPlan(
  id: string,
  done: (plan: InstalmentPlan) => boolean,
  timeoutMs = 10_000,
): Promise<InstalmentPlan> {
  return pollUntil(() => readOver<InstalmentPlan>(`/v1/instalment-plans/${id}`), done, {
    timeoutMs,
    describe: (plan) => `plan ${id}: ${JSON.stringify(plan)}`,
  });
}

function expectProblem(
  answer: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
  field?: string,
): void {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.headers['content-type']).toContain('application/problem+json');
  const problem = JSON.parse(answer.body) as Record<string, unknown>;
  expect(problem).toMatchObject({ status, code });
  if (field !== undefined) expect(problem.field).toBe(field);
}

describe('subscriptions over HTTP', () => {
  it('creates, lists, reads, pauses, resumes, changes the amount and cancels', async () => {
    const created = await createSubscription('sub-life-1');
    const { subscription, firstPayment } = created;
    expect(subscription.id).toMatch(/^sub_\d+_[A-Za-z0-9]+$/);
    expect(subscription.firstPaymentId).toBe(firstPayment.id);
    expect(JSON.stringify(created)).not.toContain(ACCEPTED_CARD);
    const id = subscription.id;

    const active = await waitForSubscription(id, (s) => s.status === 'active');
    expect(active.occurrences[0]).toMatchObject({ period: 0, status: 'paid' });
    expect(active.schedule.intervalMs).toBe(30_000);
    expect(active.nextRunAt).toBeDefined();
    const payment = await send({
      method: 'GET',
      url: `/v1/payments/${firstPayment.id}`,
      headers: PAY,
    });
    expect(JSON.parse(payment.body).status).toBe('authorized');

    const list = await send({ method: 'GET', url: '/v1/subscriptions?limit=50', headers: PAY });
    expect(list.status).toBe(200);
    expect(list.headers['cache-control']).toBe('no-store');
    const ids = (JSON.parse(list.body).items as SubscriptionView[]).map((entry) => entry.id);
    expect(ids).toContain(id);
    expect(
      (await send({ method: 'GET', url: '/v1/subscriptions?limit=', headers: PAY })).status,
    ).toBe(200);
    expectProblem(
      await send({ method: 'GET', url: '/v1/subscriptions?limit=0', headers: PAY }),
      400,
      'invalid_command',
      'limit',
    );

    const pause = await send({
      method: 'POST',
      url: `/v1/subscriptions/${id}/pause`,
      headers: PAY,
    });
    expect(pause.status, pause.body).toBe(200);
    expect(JSON.parse(pause.body)).toMatchObject({ id, status: 'paused' });
    expect(JSON.parse(pause.body).nextRunAt).toBeUndefined();
    // Pausing again answers the subscription as it is.
    const again = await send({
      method: 'POST',
      url: `/v1/subscriptions/${id}/pause`,
      headers: PAY,
    });
    expect(JSON.parse(again.body).status).toBe('paused');

    const resume = await send({
      method: 'POST',
      url: `/v1/subscriptions/${id}/resume`,
      headers: PAY,
    });
    expect(resume.status, resume.body).toBe(200);
    expect(JSON.parse(resume.body)).toMatchObject({ status: 'active' });
    expect(JSON.parse(resume.body).nextRunAt).toBeDefined();

    const change = await send({
      method: 'PATCH',
      url: `/v1/subscriptions/${id}`,
      headers: PAY,
      payload: { amount: 2_490 },
    });
    expect(change.status, change.body).toBe(200);
    expect(JSON.parse(change.body)).toMatchObject({ amount: 2_490, status: 'active' });
    expectProblem(
      await send({
        method: 'PATCH',
        url: `/v1/subscriptions/${id}`,
        headers: PAY,
        payload: { amount: 10.5 },
      }),
      400,
      'invalid_command',
      'amount',
    );
    expectProblem(
      await send({
        method: 'PATCH',
        url: `/v1/subscriptions/${id}`,
        headers: { ...PAY, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'amount=100',
      }),
      415,
      'unsupported_media_type',
    );

    const cancel = await send({
      method: 'POST',
      url: `/v1/subscriptions/${id}/cancel`,
      headers: PAY,
    });
    expect(cancel.status, cancel.body).toBe(200);
    expect(JSON.parse(cancel.body)).toMatchObject({ status: 'cancelled', amount: 2_490 });
    expectProblem(
      await send({ method: 'POST', url: `/v1/subscriptions/${id}/resume`, headers: PAY }),
      409,
      'command_not_allowed',
    );
    expectProblem(
      await send({
        method: 'PATCH',
        url: `/v1/subscriptions/${id}`,
        headers: PAY,
        payload: { amount: 100 },
      }),
      409,
      'command_not_allowed',
    );
    // Only the first payment was made.
    const final = await waitForSubscription(id, () => true);
    expect(final.occurrences).toHaveLength(1);
  });

  it('replays a create by Idempotency-Key and refuses another body with it', async () => {
    const first = await createSubscription('sub-idem-1');
    const replay = await send({
      method: 'POST',
      url: '/v1/subscriptions',
      headers: { ...PAY, 'idempotency-key': 'sub-idem-1' },
      payload: subscriptionBody(),
    });
    expect(replay.status, replay.body).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(`/v1/subscriptions/${first.subscription.id}`);
    const replayed = JSON.parse(replay.body);
    expect(replayed.subscription.id).toBe(first.subscription.id);
    expect(replayed.firstPayment.id).toBe(first.firstPayment.id);

    expectProblem(
      await send({
        method: 'POST',
        url: '/v1/subscriptions',
        headers: { ...PAY, 'idempotency-key': 'sub-idem-1' },
        payload: subscriptionBody({ amount: 2_000 }),
      }),
      422,
      'idempotency_key_reused',
    );
    expectProblem(
      await send({
        method: 'POST',
        url: '/v1/subscriptions',
        headers: PAY,
        payload: subscriptionBody(),
      }),
      400,
      'missing_idempotency_key',
      'Idempotency-Key',
    );
    expectProblem(
      await send({
        method: 'POST',
        url: '/v1/subscriptions',
        headers: { ...PAY, 'idempotency-key': 'has space' },
        payload: subscriptionBody(),
      }),
      400,
      'invalid_idempotency_key',
      'Idempotency-Key',
    );

    // Two at once with one key: one subscription; a loser is told to retry shortly.
    const racing = await Promise.all(
      [0, 1].map(() =>
        send({
          method: 'POST',
          url: '/v1/subscriptions',
          headers: { ...PAY, 'idempotency-key': 'sub-idem-race' },
          payload: subscriptionBody(),
        }),
      ),
    );
    const ids = new Set<string>();
    for (const answer of racing) {
      if (answer.status === 409) {
        expectProblem(answer, 409, 'request_in_progress');
        expect(answer.headers['retry-after']).toBe('1');
      } else {
        expect([200, 201]).toContain(answer.status);
        ids.add(JSON.parse(answer.body).subscription.id);
      }
    }
    expect(ids.size).toBe(1);
  });

  it('answers 400 with the faulty field for bad bodies', async () => {
    const count = async (url: string) =>
      (JSON.parse((await send({ method: 'GET', url, headers: PAY })).body).items as unknown[])
        .length;
    const before = [await count('/v1/subscriptions'), await count('/v1/instalment-plans')];
    const cases: { body: unknown; field: string }[] = [
      { body: subscriptionBody({ amount: 10.5 }), field: 'amount' },
      { body: subscriptionBody({ interval: 'x' }), field: 'interval' },
      { body: subscriptionBody({ interval: undefined }), field: 'interval' },
      { body: subscriptionBody({ cron: '0 9 1 * *' }), field: 'interval' },
      { body: subscriptionBody({ card: undefined }), field: 'card' },
      { body: subscriptionBody({ surprise: 1 }), field: 'surprise' },
      { body: subscriptionBody({ retryOnDeclineDays: [3, 1] }), field: 'retryOnDeclineDays' },
      { body: subscriptionBody({ timezone: 'Europe/Paris' }), field: 'timezone' },
    ];
    for (const [k, { body, field }] of cases.entries()) {
      expectProblem(
        await send({
          method: 'POST',
          url: '/v1/subscriptions',
          headers: {
            ...PAY,
            'idempotency-key': `sub-bad-${k}`,
            'content-type': 'application/json',
          },
          payload: JSON.stringify(body),
        }),
        400,
        'invalid_command',
        field,
      );
    }
    const plans: { body: unknown; field: string }[] = [
      { body: planBody({ count: 1 }), field: 'count' },
      { body: planBody({ count: undefined, amounts: [1_000, 1_000] }), field: 'amounts' },
      { body: planBody({ amount: -5 }), field: 'amount' },
      { body: planBody({ intervalDays: 0 }), field: 'intervalDays' },
    ];
    for (const [k, { body, field }] of plans.entries()) {
      expectProblem(
        await send({
          method: 'POST',
          url: '/v1/instalment-plans',
          headers: {
            ...PAY,
            'idempotency-key': `plan-bad-${k}`,
            'content-type': 'application/json',
          },
          payload: JSON.stringify(body),
        }),
        400,
        'invalid_command',
        field,
      );
    }
    expectProblem(
      await send({
        method: 'POST',
        url: '/v1/subscriptions',
        headers: { ...PAY, 'idempotency-key': 'sub-bad-json', 'content-type': 'application/json' },
        payload: '{"amount":',
      }),
      400,
      'malformed_json',
    );
    // Nothing was created by any of them.
    expect([await count('/v1/subscriptions'), await count('/v1/instalment-plans')]).toEqual(before);
  });

  it('answers 404 with the not-found code for unknown and malformed ids', async () => {
    const subscriptionIds = [
      'sub_0_NOPE',
      'sub_9999_X',
      'x',
      'sub_x',
      'pay_0_X',
      '..%2F..%2Fetc',
      '%3Cscript%3E',
      'x'.repeat(100),
    ];
    for (const id of subscriptionIds) {
      for (const request of [
        { method: 'GET', url: `/v1/subscriptions/${id}` },
        { method: 'POST', url: `/v1/subscriptions/${id}/pause` },
        { method: 'POST', url: `/v1/subscriptions/${id}/resume` },
        { method: 'POST', url: `/v1/subscriptions/${id}/cancel` },
        { method: 'PATCH', url: `/v1/subscriptions/${id}`, payload: { amount: 100 } },
      ] as const) {
        expectProblem(await send({ ...request, headers: PAY }), 404, 'subscription_not_found');
      }
    }
    for (const id of ['plan_0_NOPE', 'plan_9999_X', 'x', 'sub_0_X', '%00']) {
      for (const request of [
        { method: 'GET', url: `/v1/instalment-plans/${id}` },
        { method: 'POST', url: `/v1/instalment-plans/${id}/cancel` },
      ] as const) {
        expectProblem(await send({ ...request, headers: PAY }), 404, 'plan_not_found');
      }
    }
    // Longer than any route parameter: no route at all, still a 404 problem.
    expectProblem(
      await send({ method: 'GET', url: `/v1/subscriptions/${'x'.repeat(2_000)}`, headers: PAY }),
      404,
      'not_found',
    );
  });

  it('keeps the ops routes to ops keys and the merchant routes to payments keys', async () => {
    for (const request of [
      { method: 'GET', url: '/v1/schedules' },
      { method: 'GET', url: '/v1/alerts' },
      { method: 'POST', url: '/v1/janitor/runs' },
    ] as const) {
      expectProblem(await send({ ...request, headers: PAY }), 403, 'forbidden');
      expectProblem(await send(request), 401, 'unauthorized');
    }
    for (const request of [
      { method: 'GET', url: '/v1/subscriptions' },
      { method: 'GET', url: '/v1/subscriptions/sub_0_X' },
      { method: 'POST', url: '/v1/subscriptions', payload: subscriptionBody() },
      { method: 'GET', url: '/v1/instalment-plans' },
      { method: 'POST', url: '/v1/instalment-plans/plan_0_X/cancel' },
    ] as const) {
      expectProblem(await send({ ...request, headers: OPS }), 403, 'forbidden');
    }
    const alerts = await send({ method: 'GET', url: '/v1/alerts?limit=10', headers: OPS });
    expect(alerts.status, alerts.body).toBe(200);
    expect(Array.isArray(JSON.parse(alerts.body).items)).toBe(true);
    const run = await send({ method: 'POST', url: '/v1/janitor/runs', headers: OPS });
    expect(run.status, run.body).toBe(200);
    expect(run.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(run.body)).toMatchObject({
      checked: expect.any(Number),
      verdicts: expect.any(Object),
      payments: expect.any(Array),
    });
  });
});

describe('instalment plans over HTTP', () => {
  it('creates, reads, schedules the later instalments and cancels them', async () => {
    const created = await send({
      method: 'POST',
      url: '/v1/instalment-plans',
      headers: { ...PAY, 'idempotency-key': 'plan-1' },
      payload: planBody(),
    });
    expect(created.status, created.body).toBe(201);
    const { plan, firstPayment } = JSON.parse(created.body) as {
      plan: InstalmentPlan;
      firstPayment: { id: string; amount: number };
    };
    expect(plan.id).toMatch(/^plan_\d+_[A-Za-z0-9]+$/);
    expect(plan.instalments.map((entry) => entry.amount)).toEqual([3_001, 3_000, 3_000]);
    expect(firstPayment).toMatchObject({ id: plan.instalments[0]?.paymentId, amount: 3_001 });
    expect(created.body).not.toContain(ACCEPTED_CARD);

    const replay = await send({
      method: 'POST',
      url: '/v1/instalment-plans',
      headers: { ...PAY, 'idempotency-key': 'plan-1' },
      payload: planBody(),
    });
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(JSON.parse(replay.body).plan.id).toBe(plan.id);
    expectProblem(
      await send({
        method: 'POST',
        url: '/v1/instalment-plans',
        headers: { ...PAY, 'idempotency-key': 'plan-1' },
        payload: planBody({ count: 4 }),
      }),
      422,
      'idempotency_key_reused',
    );

    const paid = await waitForPlan(plan.id, (p) => p.instalments[0]?.status === 'paid');
    expect(paid.status).toBe('active');
    const list = await send({ method: 'GET', url: '/v1/instalment-plans', headers: PAY });
    expect((JSON.parse(list.body).items as InstalmentPlan[]).map((p) => p.id)).toContain(plan.id);

    const schedules = await send({ method: 'GET', url: '/v1/schedules', headers: OPS });
    expect(schedules.status, schedules.body).toBe(200);
    const items = JSON.parse(schedules.body).items as {
      kind: string;
      subject?: string;
      runAt: string;
    }[];
    const later = items.filter((item) => item.kind === 'instalment' && item.subject === plan.id);
    expect(later).toHaveLength(2);
    // A delayed job runs at its add time + delay: within a few ms of the due time.
    const dueAts = paid.instalments.slice(1).map((entry) => Date.parse(entry.dueAt));
    for (const [index, item] of later.entries()) {
      expect(Math.abs(Date.parse(item.runAt) - (dueAts[index] as number))).toBeLessThan(50);
    }

    const cancel = await send({
      method: 'POST',
      url: `/v1/instalment-plans/${plan.id}/cancel`,
      headers: PAY,
    });
    expect(cancel.status, cancel.body).toBe(200);
    const cancelled = JSON.parse(cancel.body) as InstalmentPlan;
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.instalments.map((entry) => entry.status)).toEqual([
      'paid',
      'cancelled',
      'cancelled',
    ]);
    const after = JSON.parse(
      (await send({ method: 'GET', url: '/v1/schedules', headers: OPS })).body,
    ).items as { subject?: string }[];
    expect(after.filter((item) => item.subject === plan.id)).toHaveLength(0);
    // Cancelling again answers the plan as it is.
    const again = await send({
      method: 'POST',
      url: `/v1/instalment-plans/${plan.id}/cancel`,
      headers: PAY,
    });
    expect(again.status).toBe(200);
  });
});

describe('ops console for scheduled money', () => {
  it('renders the pages, escapes every value, and pauses a subscription with a form', async () => {
    const { subscription, firstPayment } = await createSubscription('sub-console-1', {
      orderId: '<i>o&"x\'</i>',
    });
    const id = subscription.id;
    await waitForSubscription(id, (s) => s.status === 'active');
    const planned = await send({
      method: 'POST',
      url: '/v1/instalment-plans',
      headers: { ...PAY, 'idempotency-key': 'plan-console-1' },
      payload: planBody(),
    });
    const plan = JSON.parse(planned.body).plan as InstalmentPlan;
    await waitForPlan(plan.id, (p) => p.instalments[0]?.status === 'paid');

    const SESSION = await consoleSession(app);
    const get = (url: string, headers: Record<string, string> = SESSION) =>
      send({ method: 'GET', url, headers });

    // Without a session: pages go to the login form, actions are refused; an
    // API key in a header does not open the console.
    const anonymous = await get('/ops/subscriptions', {});
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toBe('/ops/login?next=%2Fops%2Fsubscriptions');
    expect(anonymous.headers['www-authenticate']).toBeUndefined();
    expect((await get('/ops/subscriptions', PAY)).status).toBe(303);
    expect((await get('/ops/alerts', OPS)).status).toBe(303);
    expect((await send({ method: 'POST', url: '/ops/janitor/runs', headers: OPS })).status).toBe(
      401,
    );

    const home = await get('/ops');
    expect(home.body).toContain('href="/ops/subscriptions"');
    expect(home.body).toContain('href="/ops/instalment-plans"');
    expect(home.body).toContain('href="/ops/janitor"');

    const list = await get('/ops/subscriptions');
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toContain('text/html');
    expect(list.headers['cache-control']).toBe('no-store');
    expect(list.body).toContain(`href="/ops/subscriptions/${id}"`);
    expect(list.body).toContain('every 30s');

    const one = await get(`/ops/subscriptions/${id}`);
    expect(one.status).toBe(200);
    expect(one.body).toContain(id);
    expect(one.body).toContain(`href="/ops/payments/${firstPayment.id}"`);
    expect(one.body).toContain(`action="/ops/subscriptions/${id}/pause"`);
    expect(one.body).toContain(`action="/ops/subscriptions/${id}/cancel"`);
    expect(one.body).not.toContain(`action="/ops/subscriptions/${id}/resume"`);
    expect(one.body).toContain('&lt;i&gt;o&amp;&quot;x&#39;&lt;/i&gt;');
    expect(one.body).not.toContain('<i>o');

    // A form posted from another site with the browser's credentials is refused.
    for (const crossSite of [
      { origin: 'https://evil.example' },
      { referer: 'https://evil.example/page' },
      { origin: 'null' },
    ]) {
      const refused = await send({
        method: 'POST',
        url: `/ops/subscriptions/${id}/pause`,
        headers: { ...SESSION, host: 'ops.shop.example', ...crossSite },
      });
      expect(refused.status).toBe(403);
    }
    expect((await h.orchestrator.subscriptions.get(id)).status).toBe('active');

    // A form must carry the token of the page it came from (the page is
    // readable only by the console itself, not by another site).
    const formToken = /name="formToken" value="([^"]+)"/.exec(one.body)?.[1];
    expect(formToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const postForm = (payload: string) =>
      send({
        method: 'POST',
        url: `/ops/subscriptions/${id}/pause`,
        headers: {
          ...SESSION,
          host: 'ops.shop.example',
          origin: 'https://ops.shop.example',
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload,
      });
    for (const payload of ['', 'formToken=', `formToken=${formToken}x`]) {
      const refused = await postForm(payload);
      expect(refused.status, payload).toBe(403);
      expect(refused.body).toContain('form token');
    }
    expect((await h.orchestrator.subscriptions.get(id)).status).toBe('active');
    const pause = await postForm(`formToken=${formToken}`);
    expect(pause.status, pause.body).toBe(303);
    expect(pause.headers.location).toBe(`/ops/subscriptions/${id}`);
    expect((await waitForSubscription(id, () => true)).status).toBe('paused');
    const paused = await get(`/ops/subscriptions/${id}`);
    expect(paused.body).toContain(`action="/ops/subscriptions/${id}/resume"`);
    expect(paused.body).not.toContain(`action="/ops/subscriptions/${id}/pause"`);
    // A body-less action (a script, or a no-CORS fetch from another site) needs the token too.
    const bodyless = await send({
      method: 'POST',
      url: `/ops/subscriptions/${id}/resume`,
      headers: SESSION,
    });
    expect(bodyless.status).toBe(403);
    expect((await h.orchestrator.subscriptions.get(id)).status).toBe('paused');
    /** A console action as the console's own forms post it. */
    const action = (url: string) =>
      send({
        method: 'POST',
        url,
        headers: { ...SESSION, 'content-type': 'application/x-www-form-urlencoded' },
        payload: `formToken=${formToken}`,
      });
    // Pausing again changes nothing; a refused action is a page saying why, not a 500.
    const pausedAgain = await action(`/ops/subscriptions/${id}/pause`);
    expect(pausedAgain.status).toBe(303);
    await action(`/ops/subscriptions/${id}/cancel`);
    const notAllowed = await action(`/ops/subscriptions/${id}/resume`);
    expect(notAllowed.status).toBe(409);
    expect(notAllowed.headers['content-type']).toContain('text/html');
    expect(notAllowed.body).toContain('cancelled');

    const plans = await get('/ops/instalment-plans');
    expect(plans.status).toBe(200);
    expect(plans.body).toContain(`href="/ops/instalment-plans/${plan.id}"`);
    const onePlan = await get(`/ops/instalment-plans/${plan.id}`);
    expect(onePlan.status).toBe(200);
    for (const instalment of plan.instalments) {
      expect(onePlan.body).toContain(`href="/ops/payments/${instalment.paymentId}"`);
    }
    expect(onePlan.body).toContain(`action="/ops/instalment-plans/${plan.id}/cancel"`);

    const scheduled = await get('/ops/schedules');
    expect(scheduled.status).toBe(200);
    expect(scheduled.body).toContain(`href="/ops/instalment-plans/${plan.id}"`);

    const cancelPlan = await action(`/ops/instalment-plans/${plan.id}/cancel`);
    expect(cancelPlan.status).toBe(303);
    expect((await waitForPlan(plan.id, () => true)).status).toBe('cancelled');

    expect((await get('/ops/alerts')).status).toBe(200);
    const janitor = await get('/ops/janitor');
    expect(janitor.body).toContain('action="/ops/janitor/runs"');
    const run = await action('/ops/janitor/runs');
    expect(run.status).toBe(200);
    expect(run.body).toContain('Checked');

    for (const url of [
      '/ops/subscriptions/sub_0_NOPE',
      '/ops/subscriptions/%3Cscript%3E',
      '/ops/instalment-plans/plan_0_NOPE',
      '/ops/instalment-plans/x',
    ]) {
      const missing = await get(url);
      expect(missing.status, url).toBe(404);
      expect(missing.body).not.toContain('<script>');
    }
    const missingPost = await action('/ops/subscriptions/sub_0_NOPE/pause');
    expect(missingPost.status).toBe(404);
  });

  it('documents the new routes in the OpenAPI document', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/v1/subscriptions',
        '/v1/subscriptions/{id}',
        '/v1/subscriptions/{id}/pause',
        '/v1/subscriptions/{id}/resume',
        '/v1/subscriptions/{id}/cancel',
        '/v1/instalment-plans',
        '/v1/instalment-plans/{id}',
        '/v1/instalment-plans/{id}/cancel',
        '/v1/schedules',
        '/v1/alerts',
        '/v1/janitor/runs',
      ]),
    );
    expect(document.paths['/v1/subscriptions/{id}'].patch).toBeDefined();
    const schemas = document.components.schemas;
    expect(schemas.CreateSubscription.properties.interval.type).toBe('string');
    expect(schemas.CreateInstalmentPlan.properties.count.type).toBe('integer');
    expect(schemas.ChangeSubscription.required).toEqual(['amount']);
    expect(schemas.Problem.properties.code.enum).toEqual(
      expect.arrayContaining(['subscription_not_found', 'plan_not_found', 'outcome_unknown']),
    );
  });
});
