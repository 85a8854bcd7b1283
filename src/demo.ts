/**
 * `npm run demo`: sends a realistic mix of payments to a running service
 * (`npm start`) so the console, the metrics and the review queue fill up:
 * accepted, refused, 3-D Secure through the simulator's ACS, a 90 answered
 * then accepted, a seal mismatch sent to review, a capture and partial refunds,
 * a deferred capture, a subscription and an instalment plan. The
 * subscription and the instalment plan are cancelled when the demo ends,
 * failed or interrupted (Ctrl-C) included, so nothing charges afterwards.
 * DEMO_API_URL (http://127.0.0.1:3000), DEMO_API_KEY (dev-key) and
 * DEMO_SIMULATOR_URL (http://127.0.0.1:7070, control endpoints on).
 * The API is called through the typed client (clients/typescript); the
 * browser's pages and the simulator's control endpoints over plain HTTP.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import {
  createClient,
  type CreatePayment,
  type Payment,
  type PaymentStatus,
} from '../clients/typescript/src/index.ts';
import { IN_FLIGHT_STATUSES } from '../machines/model.ts';
import { DEV_API_KEY } from './cli/ops.ts';

const api = process.env.DEMO_API_URL ?? 'http://127.0.0.1:3000';
const key = process.env.DEMO_API_KEY ?? DEV_API_KEY;
const simulator = process.env.DEMO_SIMULATOR_URL ?? 'http://127.0.0.1:7070';

const client = createClient({ baseUrl: api, apiKey: key });

/** The answer's body, or an error naming the call and its problem. */
function ok<T>(label: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    throw new Error(`${label}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

/** A simulator control endpoint. */
async function control(path: string, body: unknown): Promise<void> {
  const response = await request(`${simulator}/_control/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 400) {
    throw new Error(`POST /_control/${path}: ${response.statusCode} ${text}`);
  }
}

async function form(
  url: string,
  fields: Record<string, string>,
): Promise<{ status: number; text: string; location?: string }> {
  const response = await request(url, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const location = response.headers.location;
  return {
    status: response.statusCode,
    text: await response.body.text(),
    ...(typeof location === 'string' ? { location } : {}),
  };
}

function firstForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]*)"/i.exec(html)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields[match[1] as string] = (match[2] as string)
      .replaceAll('&amp;', '&')
      .replaceAll('&quot;', '"');
  }
  return { action: action.replaceAll('&amp;', '&'), fields };
}

const card = (number: string) => ({ number, expiry: '203012', csc: '123' });

const newKey = () => ({ header: { 'Idempotency-Key': randomUUID() } });

async function create(body: CreatePayment): Promise<Payment> {
  return ok('create', await client.POST('/v1/payments', { params: newKey(), body }));
}

async function settle(
  id: string,
  until: (status: PaymentStatus) => boolean = (s) =>
    !IN_FLIGHT_STATUSES.has(s) && s !== 'outcome_unknown',
): Promise<Payment> {
  for (let i = 0; i < 200; i++) {
    const payment = ok(
      `GET ${id}`,
      await client.GET('/v1/payments/{id}', { params: { path: { id } } }),
    );
    if (until(payment.status)) return payment;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`payment ${id} did not settle`);
}

/** The recurring schedules the demo created: cancelled at its end. */
const schedules: { kind: 'subscription' | 'instalment plan'; id: string }[] = [];
/** Creations sent and not yet answered: their schedule is known once they are. */
const creating = new Set<Promise<unknown>>();
/** Set once cleanup starts: no schedule is created after it. */
let stopping = false;

/** Sends a creation call, noting the schedule it made as soon as it answers. */
async function tracked<T>(call: () => Promise<T>, note: (answer: T) => void): Promise<T> {
  if (stopping) throw new Error('interrupted');
  const noted = call().then((answer) => {
    note(answer);
    return answer;
  });
  creating.add(noted);
  try {
    return await noted;
  } finally {
    creating.delete(noted);
  }
}

/** One cleanup, whether the end or Ctrl-C (or both) asks for it. */
let cleanup: Promise<void> | undefined;

/** Cancels every schedule the demo created; tells how to cancel one by hand if that fails. */
function cancelSchedules(): Promise<void> {
  cleanup ??= cancelAll();
  return cleanup;
}

async function cancelAll(): Promise<void> {
  stopping = true;
  await Promise.allSettled([...creating]);
  for (const { kind, id } of schedules.splice(0)) {
    const path = kind === 'subscription' ? 'subscriptions' : 'instalment-plans';
    try {
      const params = { params: { path: { id } } };
      const answer =
        kind === 'subscription'
          ? await client.POST('/v1/subscriptions/{id}/cancel', params)
          : await client.POST('/v1/instalment-plans/{id}/cancel', params);
      if (answer.data === undefined) {
        throw new Error(`${answer.response.status} ${JSON.stringify(answer.error)}`);
      }
      console.log(`${`cancelled ${kind}`.padEnd(48)} ${id}  ${answer.data.status}`);
    } catch (error) {
      console.error(
        `could not cancel ${kind} ${id} (${error instanceof Error ? error.message : String(error)}): POST ${api}/v1/${path}/${id}/cancel`,
      );
      process.exitCode = 1;
    }
  }
}

async function fault(spec: Record<string, unknown>): Promise<void> {
  await control('faults', spec);
}

async function main(): Promise<void> {
  const report = (label: string, payment: Payment) =>
    console.log(`${label.padEnd(48)} ${payment.id}  ${payment.status}`);

  for (let i = 0; i < 5; i++) {
    report(
      'accepted card',
      await settle((await create({ amount: 1000 + i * 250, card: card('4000000000000002') })).id),
    );
  }
  for (let i = 0; i < 2; i++) {
    report(
      'refused card (05)',
      await settle((await create({ amount: 4200, card: card('4000000000000119') })).id),
    );
  }

  const threeDs = await create({
    method: 'card_3ds',
    amount: 8900,
    card: card('4000000000003001'),
    returnUrl: 'https://shop.example/done',
  });
  const waiting = await settle(threeDs.id, (s) => s === 'awaiting_authentication');
  const page = await request(`${api}/v1/payments/${waiting.id}/authentication`);
  const toAcs = firstForm(await page.body.text());
  const acs = firstForm((await form(toAcs.action, toAcs.fields)).text);
  const back = firstForm(
    (await form(new URL(acs.action, simulator).toString(), { ...acs.fields, outcome: 'SUCCESS' }))
      .text,
  );
  await form(back.action, back.fields);
  report('3-D Secure, authenticated', await settle(threeDs.id));

  await fault({
    match: { service: 'cardOrder' },
    times: 1,
    type: 'responseCode',
    responseCode: '90',
  });
  report(
    '90, then accepted',
    await settle((await create({ amount: 3100, card: card('4000000000000002') })).id),
  );

  await fault({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
  report(
    'seal mismatch (manual review)',
    await settle((await create({ amount: 5600, card: card('4000000000000002') })).id),
  );

  const captured = await create({
    amount: 12000,
    captureMode: 'validation',
    card: card('4000000000000002'),
  });
  await settle(captured.id);
  const path = { id: captured.id };
  ok(
    'capture',
    await client.POST('/v1/payments/{id}/captures', { params: { path }, body: { amount: 10000 } }),
  );
  await settle(captured.id);
  await control('clock/advance', { days: 1 });
  await control('remittance', {});
  ok(
    'refund',
    await client.POST('/v1/payments/{id}/refunds', {
      params: { path, ...newKey() },
      body: { amount: 2500 },
    }),
  );
  report('captured 100.00, refunded 25.00', await settle(captured.id));

  const deferred = await create({
    amount: 4500,
    captureMode: 'validation',
    captureDay: 3,
    capture: { afterMs: 60_000, atLimit: 'cancel' },
    card: card('4000000000000002'),
  });
  report('deferred capture (in 1 min)', await settle(deferred.id));

  const { subscription, firstPayment } = ok(
    'subscription',
    await tracked(
      () =>
        client.POST('/v1/subscriptions', {
          params: newKey(),
          body: { amount: 990, interval: '1m', card: card('4000000000000002') },
        }),
      (answer) => {
        if (answer.data) schedules.push({ kind: 'subscription', id: answer.data.subscription.id });
      },
    ),
  );
  report(`subscription ${subscription.id}`, await settle(firstPayment.id));

  const { plan, firstPayment: firstInstalment } = ok(
    'instalment plan',
    await tracked(
      () =>
        client.POST('/v1/instalment-plans', {
          params: newKey(),
          body: { amount: 30000, count: 3, card: card('4000000000000002') },
        }),
      (answer) => {
        if (answer.data) schedules.push({ kind: 'instalment plan', id: answer.data.plan.id });
      },
    ),
  );
  report(`instalments ${plan.id} (1 of 3)`, await settle(firstInstalment.id));

  console.log(
    `\nOpen reviews: GET ${api}/v1/reviews; schedules: GET ${api}/v1/schedules; metrics: GET ${api}/metrics (key ${key === DEV_API_KEY ? DEV_API_KEY : '…'}); console: ${api}/ops (log in with an ops key)`,
  );
}

// Ctrl-C: cancel what was created, then stop (a second Ctrl-C stops at once).
process.once('SIGINT', () => {
  console.error('\ninterrupted: cancelling the demo subscription and instalment plan');
  void cancelSchedules().finally(() => process.exit(130));
});

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await cancelSchedules();
}
