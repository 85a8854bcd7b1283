/**
 * Several shops in one deployment (MERCHANTS_FILE): each payment goes to
 * Sips under its own merchantId and key, and a key is rotated while
 * payments are in flight without anything going to review.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseMerchants } from '../../src/config/merchants.ts';
import { CommandError } from '../../src/engine/errors.ts';
import {
  SEED_EXAMPLE_MERCHANT_ID,
  SEED_EXAMPLE_SECRET_KEY,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
} from '../../src/sips/environments.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

let h: OrchestratorHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ROTATING_SHOP = '123456789012345';
const KEY_1 = 'rotating-shop-key-version-1-abcdefghijkl';
const KEY_2 = 'rotating-shop-key-version-2-mnopqrstuvwx';

function merchantsFile(simulatorUrl: string, rotating: 'before' | 'during') {
  const rotatingKeys =
    rotating === 'before'
      ? [{ version: 1, secret: KEY_1 }]
      : [
          { version: 1, secret: KEY_1 },
          { version: 2, secret: KEY_2, active: true },
        ];
  return parseMerchants(
    JSON.stringify({
      merchants: [
        {
          id: 'brand-fr',
          environment: 'simulator',
          merchantId: SEED_TEST_MERCHANT_ID,
          keys: [{ version: 1, secret: SEED_TEST_SECRET_KEY }],
        },
        {
          id: 'brand-be',
          environment: 'simulator',
          merchantId: SEED_EXAMPLE_MERCHANT_ID,
          keys: [{ version: 1, secret: SEED_EXAMPLE_SECRET_KEY }],
          defaults: { captureMode: 'validation' },
        },
        {
          id: 'rotating',
          environment: 'simulator',
          merchantId: ROTATING_SHOP,
          keys: rotatingKeys,
        },
        {
          id: 'brand-3ds',
          environment: 'simulator',
          merchantId: SEED_TEST_MERCHANT_ID,
          keys: [{ version: 1, secret: SEED_TEST_SECRET_KEY }],
          defaults: { threeDSecure: true, captureDay: 3 },
        },
      ],
    }),
    { simulatorUrl },
  );
}

const card = { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' };

async function startWithShops(): Promise<OrchestratorHarness> {
  // The simulator knows the rotating shop under both key versions.
  const harness = await startOrchestratorHarness({
    simulator: { merchants: [{ merchantId: ROTATING_SHOP, keys: { '1': KEY_1, '2': KEY_2 } }] },
  });
  await harness.restart(0, { merchants: merchantsFile(harness.sim.url, 'before') });
  return harness;
}

describe('merchants', () => {
  it('sends each payment under its own merchantId and key', async () => {
    h = await startWithShops();
    const harness = h;
    const fr = await harness.orchestrator.payments.create({
      merchant: 'brand-fr',
      amount: 1_000,
      card,
    });
    const be = await harness.orchestrator.payments.create({
      merchant: 'brand-be',
      amount: 2_000,
      card,
    });
    const [frDone, beDone] = await Promise.all([
      harness.waitFor(fr.payment.id),
      harness.waitFor(be.payment.id),
    ]);
    expect(frDone.status).toBe('authorized');
    expect(beDone.status).toBe('authorized');
    // brand-be's default capture mode applies to a command that names none.
    expect([frDone.captureMode, beDone.captureMode]).toEqual(['author_capture', 'validation']);
    const ledger = harness.sim.ledger;
    expect(
      ledger
        .requests({ transactionReference: frDone.transactionReference })
        .map((r) => r.merchantId),
    ).toEqual([SEED_TEST_MERCHANT_ID]);
    expect(
      ledger
        .requests({ transactionReference: beDone.transactionReference })
        .map((r) => r.merchantId),
    ).toEqual([SEED_EXAMPLE_MERCHANT_ID]);
    expect(ledger.countAuthorizations(beDone.transactionReference, SEED_EXAMPLE_MERCHANT_ID)).toBe(
      1,
    );
    expect(harness.orchestrator.merchants.list().map((merchant) => merchant.id)).toEqual([
      'brand-fr',
      'brand-be',
      'rotating',
      'brand-3ds',
    ]);
    // brand-3ds authenticates every card: a command naming no method is card_3ds.
    const secure = await harness.orchestrator.payments.create({
      merchant: 'brand-3ds',
      amount: 1_000,
      card: { ...card, number: '4000000000003001' },
    });
    expect(secure.payment.kind).toBe('card_3ds');
  });

  it('refuses an unknown merchant, and a payment without one when several are served', async () => {
    h = await startWithShops();
    const harness = h;
    await expect(
      harness.orchestrator.payments.create({ merchant: 'brand-xx', amount: 1_000, card }),
    ).rejects.toMatchObject({ code: 'invalid_command', field: 'merchant' });
    const missing = await harness.orchestrator.payments
      .create({ amount: 1_000, card })
      .catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(CommandError);
    expect(missing).toMatchObject({
      field: 'merchant',
      message: expect.stringMatching(/required/),
    });
  });

  it('rotates a key while payments are in flight: nothing fails, new calls use the new version', async () => {
    h = await startWithShops();
    const harness = h;
    // Calls of the rotating shop take a while: some are at Sips during the switch.
    harness.sim.faults.add({
      type: 'latency',
      ms: 300,
      match: { merchantId: ROTATING_SHOP },
    });
    const before = await Promise.all(
      Array.from({ length: 5 }, () =>
        harness.orchestrator.payments.create({
          merchant: 'rotating',
          amount: 1_500,
          captureMode: 'validation',
          card,
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    harness.orchestrator.merchants.replace(merchantsFile(harness.sim.url, 'during'));
    expect(
      harness.orchestrator.merchants.list().find((merchant) => merchant.id === 'rotating'),
    ).toMatchObject({ keyVersion: '2', acceptedKeyVersions: ['1'] });
    const ids = before.map((created) => created.payment.id);
    const authorised = await Promise.all(ids.map((id) => harness.waitFor(id)));
    expect(authorised.map((payment) => payment.status)).toEqual(Array(5).fill('authorized'));
    for (const id of ids) await harness.orchestrator.payments.capture(id, { amount: 1_500 });
    const captured = await Promise.all(ids.map((id) => harness.waitFor(id)));
    expect(captured.map((payment) => payment.status)).toEqual(Array(5).fill('captured'));
    for (const payment of captured) {
      const requests = harness.sim.ledger.requests({
        transactionReference: payment.transactionReference,
      });
      // The authorisation went out with version 1 (before the switch), the capture with version 2.
      expect(requests.find((request) => request.service === 'cardOrder')?.keyVersion).toBe('1');
      expect(requests.find((request) => request.service === 'validate')?.keyVersion).toBe('2');
    }
    expect(await harness.orchestrator.operations.openReviewCount()).toBe(0);
  });
});

function oneShop(
  simulatorUrl: string,
  shop: { merchantId: string; version: number; secret: string },
) {
  return parseMerchants(
    JSON.stringify({
      merchants: [
        {
          id: 'shop',
          environment: 'simulator',
          merchantId: shop.merchantId,
          keys: [{ version: shop.version, secret: shop.secret }],
        },
      ],
    }),
    { simulatorUrl },
  );
}

describe('credentials Sips refuses', () => {
  for (const [what, shop, code, cause] of [
    [
      'a wrong secret key',
      {
        merchantId: SEED_TEST_MERCHANT_ID,
        version: 1,
        secret: 'not-the-key-of-this-shop-0123456789',
      },
      '34',
      /wrong secret key or key version/,
    ],
    [
      'a wrong key version',
      { merchantId: SEED_TEST_MERCHANT_ID, version: 7, secret: SEED_TEST_SECRET_KEY },
      '34',
      /wrong secret key or key version/,
    ],
    [
      'an unknown merchantId',
      { merchantId: '999999999999999', version: 1, secret: SEED_TEST_SECRET_KEY },
      '03',
      /unknown merchantId/,
    ],
  ] as const) {
    it(`fails the payment after one inquiry, with an alert naming the merchant: ${what}`, async () => {
      h = await startOrchestratorHarness();
      const harness = h;
      await harness.restart(0, { merchants: oneShop(harness.sim.url, shop) });
      const { payment } = await harness.orchestrator.payments.create({ amount: 1_000, card });
      const failed = await harness.waitFor(payment.id);
      expect(failed.status).toBe('failed');
      expect(failed.merchant).toBe('shop');
      // The authorisation and one inquiry, both refused; nothing authorised.
      const services = harness.sim.ledger
        .requests({ transactionReference: failed.transactionReference })
        .map((request) => `${request.service}:${request.responseCode}`);
      expect(services).toEqual([`cardOrder:${code}`, `getTransactionData:${code}`]);
      expect(harness.sim.ledger.countAuthorizations(failed.transactionReference)).toBe(0);
      const alerts = await harness.orchestrator.ops.alerts();
      expect(alerts).toContainEqual(
        expect.objectContaining({
          kind: 'merchant_credentials_invalid',
          paymentId: payment.id,
          message: expect.stringMatching(new RegExp(`merchant shop \\(${code}: `)),
        }),
      );
      expect(alerts.find((alert) => alert.paymentId === payment.id)?.message).toMatch(cause);
      expect(await harness.orchestrator.operations.openReviewCount()).toBe(0);
    });
  }

  it('adopts what Sips did when a forged 34 answers a payment Sips authorised', async () => {
    h = await startOrchestratorHarness();
    const harness = h;
    harness.sim.faults.add({
      type: 'forgedAnswer',
      responseCode: '34',
      match: { service: 'cardOrder' },
      times: 1,
    });
    const { payment } = await harness.orchestrator.payments.create({ amount: 1_000, card });
    const done = await harness.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(harness.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);
    expect(
      (await harness.orchestrator.ops.alerts()).filter(
        (alert) => alert.kind === 'merchant_credentials_invalid',
      ),
    ).toEqual([]);
  });
});

describe('schedules of a merchant', () => {
  it('makes every payment of a subscription under its merchant', async () => {
    h = await startWithShops();
    const harness = h;
    const created = await harness.orchestrator.subscriptions.create({
      merchant: 'brand-be',
      amount: 1_990,
      currency: 'EUR',
      interval: '2s',
      card,
    });
    expect(created.subscription.merchant.id).toBe('brand-be');
    expect(created.firstPayment.merchant).toBe('brand-be');
    const first = await harness.waitFor(created.firstPayment.id);
    expect(
      harness.sim.ledger
        .requests({ transactionReference: first.transactionReference })
        .map((request) => request.merchantId),
    ).toEqual([SEED_EXAMPLE_MERCHANT_ID]);
    await harness.orchestrator.subscriptions.cancel(created.subscription.id);
    await expect(
      harness.orchestrator.subscriptions.create({ amount: 1_990, interval: '2s', card }),
    ).rejects.toMatchObject({ code: 'invalid_command', field: 'merchant' });
  });
});
