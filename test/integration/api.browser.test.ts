/**
 * A person in headless Chromium: a customer paying with 3-D Secure through our
 * authentication page and the simulator's ACS, and an ops person logging into
 * the console and resolving a seal-mismatch review item there.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { openBrowser, type TestBrowser } from '../support/browser.ts';
import { startMerchantSite, type MerchantSite } from '../support/simulator-harness.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

let h: OrchestratorHarness;
let app: FastifyInstance;
let api: string;
let site: MerchantSite;
let opened: TestBrowser | undefined;

beforeEach(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
    settleTimeoutMs: 5_000,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  site = await startMerchantSite();
  site.page('/done', '<html><body><h1 id="done">Back at the shop</h1></body></html>');
});

afterEach(async () => {
  await opened?.close();
  opened = undefined;
  await site?.close();
  await app?.close();
  await h?.close();
});

async function browser() {
  opened = await openBrowser();
  return opened.page;
}

async function createPayment(body: Record<string, unknown>, key: string): Promise<{ id: string }> {
  const response = await fetch(`${api}/v1/payments`, {
    method: 'POST',
    headers: {
      authorization: 'Bearer pay-secret',
      'idempotency-key': key,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string };
}

describe('in a browser', () => {
  it('pays with 3-D Secure: authentication page, ACS, TermUrl, back at the shop', async () => {
    const payment = await createPayment(
      {
        method: 'card_3ds',
        amount: 4_990,
        card: { number: THREE_DS_SUCCESS_CARD, expiry: EXPIRY, csc: '123' },
        returnUrl: `${site.url}/done`,
      },
      'browser-3ds',
    );
    await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    const page = await browser();
    await page.goto(`${api}/v1/payments/${payment.id}/authentication`);
    // The form submitted itself: we are at the simulator's ACS.
    await page.waitForURL(`${h.sim.url}/acs`);
    await page.locator('button[value="SUCCESS"]').click();
    await page.waitForURL(/\/done\?/);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('paymentId')).toBe(payment.id);
    expect(landed.searchParams.get('status')).toBe('authorized');
    expect(await page.locator('#done').textContent()).toBe('Back at the shop');
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('authorized');
  });

  it('lets an ops person resolve a seal-mismatch item in the console', async () => {
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
    const payment = await createPayment(
      { amount: 2_500, card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' } },
      'browser-review',
    );
    await h.waitFor(payment.id, (p) => p.status === 'in_review');
    const page = await browser();
    // The console sends a browser without a session to its login form, then back.
    await page.goto(`${api}/ops`);
    await page.waitForURL(`${api}/ops/login?next=%2Fops`);
    await page.locator('input[name="key"]').fill('ops-secret');
    await page.locator('button').click();
    await page.waitForURL(`${api}/ops`);
    const link = page.locator(`a[href^="/ops/reviews/"]`, { hasText: payment.id });
    for (let tries = 0; tries < 200 && (await link.count()) === 0; tries++) {
      await page.waitForTimeout(50);
      await page.reload();
    }
    await link.first().click();
    await expect(page.locator('h2', { hasText: 'Evidence' }).count()).resolves.toBe(1);
    const evidence = (await page.locator('pre').textContent()) ?? '';
    // What ops need (the seal rule tried, that it failed), never a computed seal.
    expect(evidence).toContain('"verified": false');
    expect(evidence).toContain('"algorithm"');
    expect(evidence).not.toContain('"expected"');
    expect(evidence).not.toContain(ACCEPTED_CARD);
    const adopt = page.locator('form', { has: page.locator('input[value="adopt"]') });
    await adopt.locator('input[name="note"]').fill('checked with Sips support');
    await adopt.locator('button').click();
    await page.waitForURL(`${api}/ops/payments/${payment.id}`);
    expect(await page.locator('td').first().textContent()).toBe('authorized');
    // The decision is on the payment's timeline.
    expect(await page.content()).toContain('review.adopt');
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('authorized');
  });
});
