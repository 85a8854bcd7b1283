/**
 * Card data never sits in Redis in clear (architecture §9): after a mix of
 * every kind of payment path through the orchestrator and the simulator,
 * every key of the namespace is read, whatever its type, and no test PAN and
 * no CSC appears anywhere. Canaries of each type are planted first, so the
 * same scan shows it would find card data where it is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PaymentCloudEvent } from '../../src/payments/events.ts';
import type { ReviewEvidence } from '../../src/payments/review.ts';
import { authenticateAtAcs } from '../support/acs.ts';
import { scanForCardData } from '../support/card-data-scan.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  NOT_ENROLLED_CARD,
  REFUSED_CARD,
  THREE_DS_SUCCESS_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

/** Four digits each, so that a search for them means something. */
const CSC_A = '7391';
const CSC_B = '4826';
/** Cards that only this test uses, for the faults aimed at one payment each. */
const FAULT_CARD = '4000000000000010';
const HANG_CARD = '4000000000000028';
const SEAL_CARD = '4000000000000036';
const DROP_CARD = '4000000000000044';
const UNAVAILABLE_CARD = '4000000000000051';
const PANS = [
  ACCEPTED_CARD,
  REFUSED_CARD,
  THREE_DS_SUCCESS_CARD,
  NOT_ENROLLED_CARD,
  FAULT_CARD,
  HANG_CARD,
  SEAL_CARD,
  DROP_CARD,
  UNAVAILABLE_CARD,
];

let h: OrchestratorHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

function payment(number: string, csc: string, amount: number, extra: Record<string, unknown> = {}) {
  return { amount, currency: '978', card: { number, expiry: EXPIRY, csc }, ...extra };
}

describe('card data in Redis', () => {
  it('is never stored in clear, whatever the payment went through', async () => {
    const harness = await startOrchestratorHarness();
    h = harness;
    const { orchestrator, sim, ns } = harness;
    const events: PaymentCloudEvent[] = [];
    await orchestrator.events.subscribe(
      'card-scan',
      async (event) => {
        events.push(event);
      },
      { consumer: 'card-scan-1', claimIdleMs: 200, blockMs: 100 },
    );

    sim.faults.add([
      {
        match: { pan: FAULT_CARD, service: 'cardOrder' },
        times: 1,
        type: 'responseCode',
        responseCode: '90',
      },
      {
        match: { pan: HANG_CARD, service: 'cardOrder' },
        times: 1,
        type: 'hang',
        afterProcessing: true,
      },
      { match: { pan: SEAL_CARD, service: 'cardOrder' }, times: 1, type: 'corruptSeal' },
      { match: { pan: DROP_CARD, service: 'cardOrder' }, times: 1, type: 'dropAfterProcessing' },
      { match: { pan: UNAVAILABLE_CARD }, type: 'responseCode', responseCode: '99' },
    ]);

    const create = async (body: Record<string, unknown>, idempotencyKey?: string) =>
      (
        await orchestrator.payments.create(
          body,
          idempotencyKey === undefined ? {} : { idempotencyKey },
        )
      ).payment.id;
    const threeDs = { method: 'card_3ds', returnUrl: 'https://shop.example/return' };
    const ids = {
      accepted: await create(payment(ACCEPTED_CARD, CSC_A, 2_100), 'scan-accepted'),
      refused: await create(payment(REFUSED_CARD, CSC_B, 2_200)),
      threeDs: await create(payment(THREE_DS_SUCCESS_CARD, CSC_A, 2_300, threeDs)),
      waiting: await create(payment(THREE_DS_SUCCESS_CARD, CSC_B, 2_350, threeDs)),
      notEnrolled: await create(payment(NOT_ENROLLED_CARD, CSC_A, 2_380, threeDs)),
      retried: await create(payment(FAULT_CARD, CSC_B, 2_400)),
      timedOut: await create(payment(HANG_CARD, CSC_A, 2_500)),
      untrusted: await create(payment(SEAL_CARD, CSC_B, 2_600)),
      dropped: await create(payment(DROP_CARD, CSC_A, 2_700)),
      unavailable: await create(payment(UNAVAILABLE_CARD, CSC_B, 2_800)),
      validation: await create(
        payment(ACCEPTED_CARD, CSC_B, 10_000, { captureMode: 'validation' }),
      ),
      cancelled: await create(payment(ACCEPTED_CARD, CSC_A, 3_000)),
    };

    // 3-D Secure: the customer authenticates at the ACS and comes back.
    const waiting = await harness.waitFor(
      ids.threeDs,
      (p) => p.status === 'awaiting_authentication',
    );
    const back = await authenticateAtAcs(sim.url, waiting.redirection ?? {}, 'SUCCESS');
    await orchestrator.payments.completeAuthentication(ids.threeDs, { paRes: back.PaRes });

    const expected: Record<keyof typeof ids, string> = {
      accepted: 'authorized',
      refused: 'refused',
      threeDs: 'authorized',
      waiting: 'awaiting_authentication',
      notEnrolled: 'authorized',
      retried: 'authorized',
      timedOut: 'authorized',
      untrusted: 'in_review',
      dropped: 'authorized',
      unavailable: 'failed',
      validation: 'authorized',
      cancelled: 'authorized',
    };
    for (const [name, id] of Object.entries(ids)) {
      const done = await harness.waitFor(
        id,
        (p) => p.status === expected[name as keyof typeof ids],
      );
      expect(done.status).toBe(expected[name as keyof typeof ids]);
    }

    // Captures, cancellations, refunds (one sent twice with its key), a duplicate.
    await orchestrator.payments.cancel(ids.cancelled, { amount: 1_000 });
    await orchestrator.payments.capture(
      ids.validation,
      { amount: 8_000 },
      { idempotencyKey: 'cap-1' },
    );
    expect((await harness.waitFor(ids.validation)).status).toBe('captured');
    sim.clock.advanceDays(1);
    await sim.control.runRemittance();
    await orchestrator.payments.refund(
      ids.validation,
      { amount: 3_000 },
      { idempotencyKey: 'ref-1' },
    );
    await harness.waitFor(ids.validation);
    await orchestrator.payments.refund(
      ids.validation,
      { amount: 3_000 },
      { idempotencyKey: 'ref-1' },
    );
    await orchestrator.payments.refund(
      ids.validation,
      { amount: 2_000 },
      { idempotencyKey: 'ref-2' },
    );
    const refunded = await harness.waitFor(ids.validation);
    expect(refunded.status).toBe('partially_refunded');
    expect(refunded.amounts.refunded).toBe(5_000);
    const copy = await orchestrator.payments.duplicate(ids.accepted, { amount: 1_200 });
    expect((await harness.waitFor(copy.payment.id)).status).toBe('authorized');
    expect((await harness.waitFor(ids.cancelled)).amounts.cancelled).toBe(1_000);
    // Schedules: a subscription and an instalment plan with their first payments.
    const subscription = await orchestrator.subscriptions.create({
      amount: 990,
      interval: '30s',
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: CSC_A },
    });
    const plan = await orchestrator.instalmentPlans.create({
      amount: 3_000,
      count: 3,
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: CSC_B },
    });
    for (const first of [subscription.firstPayment, plan.firstPayment]) {
      expect((await harness.waitFor(first.id)).status).toBe('authorized');
    }
    const allIds = [
      ...Object.values(ids),
      copy.payment.id,
      subscription.firstPayment.id,
      plan.firstPayment.id,
    ];

    // The consumer group read every event of every payment.
    const { redis, keyspace } = testPortsOf(orchestrator);
    const streamLength = await redis.xlen(keyspace.eventsStream(0));
    await until(() => events.length >= streamLength);
    for (const id of allIds) expect(events.some((event) => event.subject === id)).toBe(true);
    for (const event of events) {
      const text = JSON.stringify(event);
      for (const pan of PANS) expect(text).not.toContain(pan);
    }

    // The payment still waiting for its customer keeps its card, CSC included,
    // sealed by the vault: the data is in Redis, only never in clear.
    const waitingRecord = await testPortsOf(orchestrator).store.get(ids.waiting);
    expect(waitingRecord?.card).toMatch(/^v1:k1:/);
    const opened = testPortsOf(orchestrator).vault.open(ids.waiting, waitingRecord?.card ?? '');
    expect(opened).toMatchObject({ pan: THREE_DS_SUCCESS_CARD, csc: CSC_B });
    // Payments that are done with their card no longer hold it.
    expect((await testPortsOf(orchestrator).store.get(ids.refused))?.card).toBeUndefined();

    // Canaries of each type, to show the scan finds card data in clear where it is.
    const scanner = ns.redis();
    const canary = `${keyspace.hashTag(0)}:canary`;
    await scanner
      .multi()
      .set(`${canary}:string`, `{"number":"${ACCEPTED_CARD}"}`)
      .hset(`${canary}:hash`, 'card', `{"csc":"${CSC_A}"}`)
      .rpush(`${canary}:list`, 'x', `csc=${CSC_B};`)
      .sadd(`${canary}:set`, `pan:${REFUSED_CARD}`)
      .zadd(`${canary}:zset`, 1, `cvv ${CSC_B}`)
      .xadd(`${canary}:stream`, '*', 'type', 'x', 'payload', `{"cardCSCValue":${CSC_A}}`)
      .exec();

    const scan = await scanForCardData(scanner, {
      match: `*${ns.ns}*`,
      pans: PANS,
      cscs: [CSC_A, CSC_B],
      literals: [ns.ns],
    });

    const canaryFindings = scan.findings.filter((finding) => finding.key.startsWith(canary));
    expect(new Set(canaryFindings.map((finding) => finding.key.slice(canary.length)))).toEqual(
      new Set([':string', ':hash', ':list', ':set', ':zset', ':stream']),
    );
    const leaks = scan.findings.filter((finding) => !finding.key.startsWith(canary));
    expect(leaks).toEqual([]);

    // The scan read every kind of key the orchestrator writes.
    expect(scan.byType.hash ?? 0).toBeGreaterThanOrEqual(allIds.length);
    expect(scan.byType.stream ?? 0).toBeGreaterThanOrEqual(2);
    expect(scan.byType.list ?? 0).toBeGreaterThanOrEqual(allIds.length);
    expect(scan.byType.zset ?? 0).toBeGreaterThanOrEqual(2);
    expect(scan.byType.string ?? 0).toBeGreaterThanOrEqual(1);
    expect(scan.keys).toContain(keyspace.eventsStream(0));
    for (const id of allIds) {
      expect(scan.keys).toContain(keyspace.paymentKey(id));
      expect(scan.keys).toContain(keyspace.timelineKey(id));
    }
    expect(scan.streamEntries).toBeGreaterThanOrEqual(streamLength);
    expect(scan.jobHashes).toBeGreaterThanOrEqual(allIds.length);
    expect(scan.jobFields.data).toBe(scan.jobHashes);
    // Jobs that failed an attempt (90, 99) keep their error and stack trace.
    expect(scan.jobFields.failedReason).toBeGreaterThanOrEqual(2);
    expect(scan.jobFields.stacktrace).toBeGreaterThanOrEqual(2);
    // The review item of the untrusted answer, with its evidence, was read too.
    const reviewJobs = scan.keys.filter((key) => key.includes(':manual-review:'));
    expect(reviewJobs.length).toBeGreaterThan(0);
  });
});

describe('review evidence', () => {
  it('takes evidence whose seals hold digits passing the Luhn check, keeps no seal, and refuses a PAN', async () => {
    const harness = await startOrchestratorHarness();
    h = harness;
    const { reviews } = testPortsOf(harness.orchestrator);
    // A SHA-256 hex digest with a 16-digit run that passes Luhn, as about one
    // seal in 230 has: it is not card data.
    const seal = `ab${ACCEPTED_CARD}${'c'.repeat(46)}`;
    expect(seal).toMatch(/^[0-9a-f]{64}$/);
    const paymentId = `pay_0_${'A'.repeat(20)}`;
    const queued = await reviews.enqueueReview({
      paymentId,
      version: 2,
      reason: 'seal_mismatch',
      evidence: {
        response: { responseCode: '00', seal },
        // As an earlier version wrote it.
        seal: {
          data: 'masked',
          expected: seal.replace('ab', 'cd'),
          received: seal,
          reason: 'mismatch',
        },
      } as unknown as ReviewEvidence,
    });
    expect(queued.created).toBe(true);
    const shown = await harness.orchestrator.reviews.get(queued.jobId);
    expect(shown?.evidence).toEqual({
      response: { responseCode: '00' },
      seal: { verified: false, reason: 'mismatch' },
    });
    // The same digits anywhere else are still refused.
    await expect(
      reviews.enqueueReview({
        paymentId,
        version: 3,
        reason: 'seal_mismatch',
        evidence: { response: { responseCode: '00', note: `card ${ACCEPTED_CARD}` } },
      }),
    ).rejects.toMatchObject({ code: 'card_data_leak' });
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
