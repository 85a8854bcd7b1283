/**
 * Customers in headless Chromium against an API whose public URL the engine
 * knows: a provider payment returning through /authentication/return, and a
 * 3-D Secure payment in a browser without JavaScript, clicking the
 * `<noscript>` Submit buttons of our page and the ACS's return page.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/api/app.ts';
import { openBrowser, type TestBrowser } from '../support/browser.ts';
import { startMerchantSite, type MerchantSite } from '../support/simulator-harness.ts';
import {
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { startApiOnPort } from '../support/api-on-port.ts';

let h: OrchestratorHarness;
let app: FastifyInstance;
let api: string;
let site: MerchantSite;
let opened: TestBrowser | undefined;

beforeEach(async () => {
  const started = await startApiOnPort((_h, base) => ({
    apiKeys: parseApiKeys('shop:pay-secret:payments'),
    settleTimeoutMs: 5_000,
    publicUrl: base,
  }));
  ({ h, app } = started);
  api = started.base;
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

async function browser(javaScriptEnabled: boolean) {
  opened = await openBrowser({ javaScriptEnabled });
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
  it('pays with a provider: our page, the provider page, /authentication/return, the shop', async () => {
    const payment = await createPayment(
      {
        method: 'provider',
        paymentMeanBrand: 'PAYPAL',
        amount: 3_100,
        returnUrl: `${site.url}/done`,
      },
      'browser-provider',
    );
    await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    const page = await browser(true);
    await page.goto(`${api}/v1/payments/${payment.id}/authentication`);
    await page.waitForURL(`${h.sim.url}/provider`);
    await page.locator('button[value="APPROVED"]').click();
    await page.waitForURL(/\/done\?/);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('paymentId')).toBe(payment.id);
    expect(landed.searchParams.get('status')).toBe('authorized');
    expect(await page.locator('#done').textContent()).toBe('Back at the shop');
  });

  it('pays with 3-D Secure without JavaScript, through the noscript Submit buttons', async () => {
    const payment = await createPayment(
      {
        method: 'card_3ds',
        amount: 1_990,
        card: { number: THREE_DS_SUCCESS_CARD, expiry: EXPIRY, csc: '123' },
        returnUrl: `${site.url}/done`,
      },
      'browser-noscript',
    );
    await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    const page = await browser(false);
    await page.goto(`${api}/v1/payments/${payment.id}/authentication`);
    // Without JavaScript the form waits for the customer.
    expect(page.url()).toBe(`${api}/v1/payments/${payment.id}/authentication`);
    await expect(page.locator('h1').textContent()).resolves.toBe(
      'Processing your 3-D Secure Transaction',
    );
    await page.locator('input[type="submit"]').click();
    await page.waitForURL(`${h.sim.url}/acs`);
    await page.locator('button[value="SUCCESS"]').click();
    // The ACS's return page waits for its own Submit button too.
    await page.locator('input[type="submit"]').click();
    await page.waitForURL(/\/done\?/);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('paymentId')).toBe(payment.id);
    expect(landed.searchParams.get('status')).toBe('authorized');
  });
});
