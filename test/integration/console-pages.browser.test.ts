/**
 * Every ops console page in headless Chromium at 1280x800, logged in, over
 * a real orchestrator, simulator and Redis: each shows its key content,
 * nothing is wider than the window, and nothing is fetched from another
 * site (the queue board included). With UPDATE_SCREENSHOTS=1 each page's
 * viewport is saved to docs/screenshots/<page>.png.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { openBrowser, type TestBrowser } from '../support/browser.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  REFUSED_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';
import {
  localWebhooks,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';

const SCREENSHOTS = resolve(import.meta.dirname, '../../docs/screenshots');
const WRITE = process.env.UPDATE_SCREENSHOTS === '1';

let h: OrchestratorHarness;
let app: FastifyInstance;
let api: string;
let receiver: WebhookReceiver;
let opened: TestBrowser;
let page: Page;
/** Requests the browser made to any other origin. */
const elsewhere: string[] = [];
const ids = { captured: '', review: '', subscription: '', plan: '', endpoint: '' };

const card = (number: string) => ({ number, expiry: EXPIRY, csc: '123' });

async function seed(): Promise<void> {
  const { orchestrator } = h;
  const validation = await orchestrator.payments.create({
    amount: 1_000,
    captureMode: 'validation',
    card: card(ACCEPTED_CARD),
  });
  ids.captured = validation.payment.id;
  await h.waitFor(ids.captured, (p) => p.status === 'authorized');
  await orchestrator.payments.capture(ids.captured, { amount: 500 });
  await h.waitFor(ids.captured, (p) => p.status === 'captured');
  for (const amount of [2_000, 3_000]) {
    const { payment } = await orchestrator.payments.create({ amount, card: card(ACCEPTED_CARD) });
    await h.waitFor(payment.id);
  }
  const refused = await orchestrator.payments.create({ amount: 1_500, card: card(REFUSED_CARD) });
  await h.waitFor(refused.payment.id);

  // A seal-mismatch review item: its evidence has sent and received fields.
  h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
  const untrusted = await orchestrator.payments.create({
    amount: 2_500,
    card: card(ACCEPTED_CARD),
  });
  await h.waitFor(untrusted.payment.id, (p) => p.status === 'in_review');
  const item = await pollUntil(
    async () =>
      (await orchestrator.reviews.list()).find((i) => i.paymentId === untrusted.payment.id),
    (found) => found !== undefined,
    { timeoutMs: 10_000, describe: () => 'no review item' },
  );
  ids.review = item!.jobId;

  const subscription = await orchestrator.subscriptions.create({
    amount: 990,
    interval: '30d',
    card: card(ACCEPTED_CARD),
  });
  ids.subscription = subscription.subscription.id;
  const plan = await orchestrator.instalmentPlans.create({
    amount: 3_000,
    count: 3,
    card: card(ACCEPTED_CARD),
  });
  ids.plan = plan.plan.id;
  for (const first of [subscription.firstPayment, plan.firstPayment]) await h.waitFor(first.id);

  const created = await orchestrator.webhooks.endpoints.create(
    { url: receiver.url, description: 'Shop order updates' },
    'all',
  );
  ids.endpoint = created.endpoint.id;
  receiver.secrets.push(created.secret);
}

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  h = await startOrchestratorHarness({ orchestrator: { webhooks: localWebhooks() } });
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
    settleTimeoutMs: 5_000,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await seed();
  opened = await openBrowser();
  page = opened.page;
  await page.setViewportSize({ width: 1280, height: 800 });
  page.on('request', (request) => {
    if (!request.url().startsWith(api)) elsewhere.push(request.url());
  });
  await page.goto(`${api}/ops/login`);
  await page.locator('input[name="key"]').fill('ops-secret');
  await page.locator('button').click();
  await page.waitForURL(`${api}/ops`);
  if (WRITE) mkdirSync(SCREENSHOTS, { recursive: true });
}, 90_000);

afterAll(async () => {
  await opened?.close();
  await app?.close();
  await h?.close();
  await receiver?.close();
});

/** Opens a console page, checks it fits the window, saves its screenshot when asked. */
async function visit(name: string, path: string): Promise<string> {
  const response = await page.goto(`${api}${path}`);
  expect(response?.status(), path).toBe(200);
  await page.waitForLoadState('networkidle');
  // Evaluated in the page (a string: this project's types have no DOM).
  const width = await page.evaluate<{ scroll: number; client: number }>(
    '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })',
  );
  expect(width.scroll, `${path} is wider than the window`).toBeLessThanOrEqual(width.client);
  if (WRITE) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  return (await page.locator('body').innerText()).replaceAll(/\s+/g, ' ');
}

describe('the console pages', () => {
  it('are styled by the served stylesheet', async () => {
    await visit('overview', '/ops');
    const font = await page.evaluate<string>('getComputedStyle(document.body).fontFamily');
    expect(font).toContain('system-ui');
    const css = await page.request.get(`${api}/ops/assets/console.css`);
    expect(css.status()).toBe(200);
    expect(css.headers()['content-type']).toContain('text/css');
  });

  it('overview: last hour charts, reviews, stuck payments', async () => {
    const body = await visit('overview', '/ops');
    expect(body).toContain('Acceptance, last hour');
    expect(body).toContain('Response codes, last hour');
    expect(body).toContain('Manual review');
    expect(await page.locator('svg.chart').count()).toBe(2);
    expect(await page.locator('svg.chart circle.dot').count()).toBeGreaterThan(0);
    expect(await page.locator('svg.chart rect.bar').count()).toBeGreaterThanOrEqual(2);
    expect(body).toContain(ids.review);
  });

  it('payments list: newest first, with its filters', async () => {
    const body = await visit('payments', '/ops/payments');
    expect(body).toContain(ids.captured);
    expect(await page.locator('form[action="/ops/payments"] input[name="orderId"]').count()).toBe(
      1,
    );
    const refused = await visit('payments-filtered', '/ops/payments?status=refused');
    expect(refused).not.toContain(ids.captured);
  });

  it('reconciliation: a day of ours against Sips', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const body = await visit('reconciliation', `/ops/reconciliation?date=${today}`);
    expect(body).toContain('Totals');
    expect(body).toContain('compared with Sips');
  });

  it('payment: the timeline as sentences', async () => {
    const body = await visit('payment', `/ops/payments/${ids.captured}`);
    expect(body).toContain('Authorised 10.00 EUR (response code 00, accepted)');
    expect(body).toContain('Capture of 5.00 EUR requested');
    expect(body).toContain('Captured 5.00 EUR');
    // The capture is a resource of its own, listed with its outcome.
    expect(body).toContain('Captures, cancellations and refunds');
    expect(body).toMatch(/cap_[0-9A-Z]{20}/);
    expect(body).not.toContain('{"');
  });

  it('review: evidence side by side, differences marked', async () => {
    const body = await visit('review', `/ops/reviews/${ids.review}`);
    expect(body).toContain('seal verified no');
    expect(await page.locator('table.evidence thead th').allInnerTexts()).toEqual(
      expect.arrayContaining(['FIELD', 'SENT', 'RECEIVED']),
    );
    expect(await page.locator('table.evidence tbody tr').count()).toBeGreaterThan(3);
    const differing = page.locator('table.evidence tr.differs');
    const marked = page.locator('table.evidence .marker', { hasText: 'differs' });
    expect(await differing.count()).toBe(await marked.count());
  });

  it('operations pages: schedules, alerts, janitor', async () => {
    const schedules = await visit('schedules', '/ops/schedules');
    expect(schedules).toContain('Scheduled items');
    expect(schedules).toContain(ids.subscription);
    const filtered = await visit('schedules-filtered', `/ops/schedules?status=occurrence`);
    expect(filtered).toContain(ids.subscription);
    expect(filtered).not.toContain(ids.plan);
  });

  it('subscriptions and instalment plans, with their filters', async () => {
    expect(await visit('subscriptions', '/ops/subscriptions')).toContain(ids.subscription);
    expect(await visit('subscription', `/ops/subscriptions/${ids.subscription}`)).toContain(
      '9.90 EUR',
    );
    expect(await visit('instalment-plans', '/ops/instalment-plans')).toContain(ids.plan);
    const none = await visit('instalment-plans-filtered', '/ops/instalment-plans?q=nothing-like');
    expect(none).toContain('No instalment plan matches the filter.');
  });

  it('webhooks', async () => {
    const body = await visit('webhooks', '/ops/webhooks');
    expect(body).toContain(ids.endpoint);
    expect(body).toContain(receiver.url);
    expect(await visit('webhook', `/ops/webhooks/${ids.endpoint}`)).toContain('Shop order updates');
  });

  it('queue board, offline', async () => {
    await page.goto(`${api}/ops/queues`);
    await page.getByText('payments-s0').first().waitFor({ timeout: 15_000 });
    await visit('queues', '/ops/queues');
    await page.getByText('payments-s0').first().waitFor({ timeout: 15_000 });
    if (WRITE) await page.screenshot({ path: join(SCREENSHOTS, 'queues.png') });
    expect(elsewhere).toEqual([]);
  });
});
