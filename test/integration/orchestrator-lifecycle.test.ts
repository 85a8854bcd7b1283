/**
 * Every payment path through the whole engine: the orchestrator, real BullMQ
 * workers on the test Redis, and the simulator over HTTP.
 */
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandError } from '../../src/engine/errors.ts';
import { parseHtmlForm } from '../support/simulator-harness.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  NOT_ENROLLED_CARD,
  REFUSED_CARD,
  THREE_DS_FAILURE_CARD,
  THREE_DS_SUCCESS_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

let h: OrchestratorHarness;

afterEach(async () => {
  await h?.close();
});

function cardPayment(number: string, extra: Record<string, unknown> = {}) {
  return { amount: 2500, currency: '978', card: { number, expiry: EXPIRY, csc: '123' }, ...extra };
}

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
  redirection: { url?: string; paReq?: string; redirectionData?: string; messageVersion?: string },
  outcome: string,
): Promise<Record<string, string>> {
  const page = parseHtmlForm(
    await postForm(redirection.url as string, {
      PaReq: redirection.paReq as string,
      TermUrl: 'http://merchant.invalid/term',
      MD: 'session-1',
    }),
  );
  expect(page.outcomes).toContain(outcome);
  const back = parseHtmlForm(
    await postForm(new URL(page.action, h.sim.url).toString(), { ...page.fields, outcome }),
  );
  expect(back.action).toBe('http://merchant.invalid/term');
  return back.fields;
}

describe('card payments', () => {
  beforeEach(async () => {
    h = await startOrchestratorHarness();
  });

  it('authorises an accepted card, forgets the CSC and publishes the events in order', async () => {
    const { created, payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD), {
      idempotencyKey: 'order-1',
    });
    expect(created).toBe(true);
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(done.amounts.authorized).toBe(2500);
    expect(done.maskedPan).toMatch(/^4000#+02$/);
    expect(done.authorisationId).toBeTruthy();
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);

    const record = await testPortsOf(h.orchestrator).store.get(payment.id);
    expect(record?.intent).toBeUndefined();
    // Once the authorisation was answered the CSC is gone (and the card too when no longer needed).
    if (record?.card !== undefined) {
      expect(testPortsOf(h.orchestrator).vault.open(payment.id, record.card).csc).toBeUndefined();
    }

    const replay = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD), {
      idempotencyKey: 'order-1',
    });
    expect(replay.created).toBe(false);
    expect(replay.payment.id).toBe(payment.id);
    await expect(
      h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD, { amount: 2600 }), {
        idempotencyKey: 'order-1',
      }),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);

    const types = await streamTypes(payment.id);
    expect(types[0]).toBe('payment.received');
    expect(types).toContain('payment.authorized');
  });

  it('answers concurrent creates with one key with one payment (the others wait or replay)', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD), { idempotencyKey: 'same-key' }),
      ),
    );
    const fulfilled = outcomes.flatMap((outcome) =>
      outcome.status === 'fulfilled' ? [outcome.value] : [],
    );
    const rejected = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [outcome.reason] : [],
    );
    expect(fulfilled.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(fulfilled.map((result) => result.payment.id)).size).toBe(1);
    for (const reason of rejected) expect(reason).toMatchObject({ code: 'request_in_progress' });
    const id = fulfilled[0]?.payment.id as string;
    const done = await h.waitFor(id);
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);
    const later = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD), {
      idempotencyKey: 'same-key',
    });
    expect(later).toMatchObject({ created: false, payment: { id } });
  });

  it('stores a refusal as final and never retries it', async () => {
    const { payment } = await h.orchestrator.payments.create(cardPayment(REFUSED_CARD));
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('refused');
    expect(done.final).toBe(true);
    expect(h.sim.ledger.countRequests({ transactionReference: done.transactionReference })).toBe(1);
  });

  it('retries 90 with backoff, then authorises once', async () => {
    h.sim.faults.add({
      match: { service: 'cardOrder' },
      times: 1,
      type: 'responseCode',
      responseCode: '90',
    });
    const { payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(
      h.sim.ledger.countRequests({
        transactionReference: done.transactionReference,
        service: 'cardOrder',
      }),
    ).toBe(2);
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);
  });

  it('gives up after the attempts when Sips keeps answering 99, without authorising', async () => {
    h.sim.faults.add({ match: { service: 'cardOrder' }, type: 'responseCode', responseCode: '99' });
    const { payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('failed');
    expect(
      h.sim.ledger.countRequests({
        transactionReference: done.transactionReference,
        service: 'cardOrder',
      }),
    ).toBe(4);
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(0);
  });

  it('inquires after a timeout and adopts the status Sips reports', async () => {
    h.sim.faults.add({
      match: { service: 'cardOrder' },
      times: 1,
      type: 'hang',
      afterProcessing: true,
    });
    const { payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    const unknown = await h.waitFor(
      payment.id,
      (p) => p.status === 'outcome_unknown' || p.status === 'authorized',
    );
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);
    expect(
      h.sim.ledger.countRequests({
        transactionReference: done.transactionReference,
        service: 'cardOrder',
      }),
    ).toBe(1);
    expect(
      h.sim.ledger.countRequests({
        transactionReference: done.transactionReference,
        service: 'getTransactionData',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(['outcome_unknown', 'authorized']).toContain(unknown.status);
  });

  it('finds a processed-then-dropped authorisation by inquiry and never sends it twice', async () => {
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'dropAfterProcessing' });
    const { payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);
    expect(
      h.sim.ledger.countRequests({
        transactionReference: done.transactionReference,
        service: 'cardOrder',
      }),
    ).toBe(1);
  });

  it('resends an authorisation that never arrived (inquiry answers 25)', async () => {
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'reset' });
    const { payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);
  });

  it('sends a response whose seal fails to manual review, with evidence, and never retries it', async () => {
    h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
    const { payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('in_review');
    // The review item is enqueued right after the status is stored: wait for it
    // (generously: a loaded machine may take seconds).
    let item: Awaited<ReturnType<typeof h.orchestrator.reviews.list>>[number] | undefined;
    await expect
      .poll(
        async () => {
          const items = await h.orchestrator.reviews.list();
          item = items.find((candidate) => candidate.paymentId === payment.id);
          return item !== undefined;
        },
        { timeout: 10_000, interval: 20 },
      )
      .toBe(true);
    expect(item?.reason).toBe('seal_mismatch');
    // What the check found, never a seal (computed or received).
    expect(item?.evidence.seal).toMatchObject({ verified: false, reason: 'mismatch' });
    expect(item?.evidence.response).toMatchObject({ responseCode: '00' });
    expect(JSON.stringify(item)).not.toMatch(/[0-9a-f]{64}/);
    expect(JSON.stringify(item)).not.toContain(ACCEPTED_CARD);
    // No call of the payment is left to run.
    await expect
      .poll(() => h.pendingJobs((data) => data.paymentId === payment.id && data.task === 'call'))
      .toEqual([]);
    expect(
      h.sim.ledger.countRequests({
        transactionReference: done.transactionReference,
        service: 'cardOrder',
      }),
    ).toBe(1);
    expect((await h.orchestrator.payments.get(payment.id)).status).toBe('in_review');

    // An operator adopts what Sips says.
    const resolved = await h.orchestrator.reviews.resolve(item?.jobId as string, {
      action: 'adopt',
      note: 'checked with Sips',
      by: 'ops-1',
    });
    expect(resolved.payment.status).toBe('authorized');
  });

  it('captures partially in VALIDATION mode, then refunds in several parts', async () => {
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(ACCEPTED_CARD, { amount: 10_000, captureMode: 'validation' }),
    );
    await h.waitFor(payment.id);
    await expect(
      h.orchestrator.payments.capture(payment.id, { amount: 10_001 }),
    ).rejects.toBeInstanceOf(CommandError);
    await h.orchestrator.payments.capture(payment.id, { amount: 8_000 });
    const captured = await h.waitFor(payment.id);
    expect(captured.status).toBe('captured');
    expect(captured.amounts.captured).toBe(8_000);
    // Refunds need remitted money: let the simulator's remittance run.
    h.sim.clock.advanceDays(1);
    await h.sim.control.runRemittance();
    await h.orchestrator.payments.refund(
      payment.id,
      { amount: 3_000 },
      { idempotencyKey: 'refund-1' },
    );
    const first = await h.waitFor(payment.id);
    expect(first.status).toBe('partially_refunded');
    // The same refund sent again with its key is recognised, not refunded twice.
    await h.orchestrator.payments.refund(
      payment.id,
      { amount: 3_000 },
      { idempotencyKey: 'refund-1' },
    );
    await h.orchestrator.payments.refund(
      payment.id,
      { amount: 5_000 },
      { idempotencyKey: 'refund-2' },
    );
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('refunded');
    expect(done.amounts.refunded).toBe(8_000);
    expect(h.sim.ledger.countMovements('refund', done.transactionReference)).toBe(2);
    await expect(h.orchestrator.payments.refund(payment.id, { amount: 1 })).rejects.toMatchObject({
      code: 'command_not_allowed',
    });
  });

  it('cancels part of an authorisation, then the rest', async () => {
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(ACCEPTED_CARD, { amount: 5_000 }),
    );
    await h.waitFor(payment.id);
    await h.orchestrator.payments.cancel(payment.id, { amount: 2_000 });
    const partly = await h.waitFor(payment.id);
    expect(partly.amounts.cancelled).toBe(2_000);
    await h.orchestrator.payments.cancel(payment.id, { amount: 3_000 });
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('cancelled');
    expect(h.sim.ledger.countMovements('cancellation', done.transactionReference)).toBe(2);
  });

  it('duplicates an authorised payment into a new one', async () => {
    const { payment } = await h.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    await h.waitFor(payment.id);
    const copy = await h.orchestrator.payments.duplicate(payment.id, { amount: 1_200 });
    const done = await h.waitFor(copy.payment.id);
    expect(done.kind).toBe('duplicate');
    expect(done.status).toBe('authorized');
    expect(done.transactionReference).not.toBe(payment.transactionReference);
    expect(h.sim.ledger.countMovements('duplicateAuthorisation', done.transactionReference)).toBe(
      1,
    );
  });

  it('never has two commands of one payment at Sips at the same time', async () => {
    h.sim.faults.add({ match: { service: ['validate', 'cancel'] }, type: 'latency', ms: 200 });
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(ACCEPTED_CARD, { amount: 9_000, captureMode: 'validation' }),
    );
    await h.waitFor(payment.id);
    const outcomes = await Promise.allSettled([
      h.orchestrator.payments.capture(payment.id, { amount: 4_000 }),
      h.orchestrator.payments.cancel(payment.id, { amount: 1_000 }),
    ]);
    const accepted = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(accepted).toHaveLength(1);
    const rejected = outcomes.find((outcome) => outcome.status === 'rejected');
    expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(CommandError);
    const done = await h.waitFor(payment.id);
    const calls = h.sim.ledger
      .requests({ transactionReference: done.transactionReference })
      .filter((entry) => entry.service === 'validate' || entry.service === 'cancel');
    expect(calls).toHaveLength(1);
  });
});

describe('3-D Secure', () => {
  beforeEach(async () => {
    h = await startOrchestratorHarness({ orchestrator: { authenticationTimeoutMs: 3_000 } });
  });

  it('expires a payment whose customer never comes back from the ACS', async () => {
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(THREE_DS_SUCCESS_CARD, {
        method: 'card_3ds',
        returnUrl: 'https://shop.example/return',
      }),
    );
    await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    const done = await h.waitFor(payment.id, (p) => p.status !== 'awaiting_authentication', 10_000);
    expect(done.status).toBe('expired');
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(0);
  });

  it('authorises after a successful authentication at the ACS', async () => {
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(THREE_DS_SUCCESS_CARD, {
        method: 'card_3ds',
        returnUrl: 'https://shop.example/return',
      }),
    );
    const waiting = await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    expect(waiting.redirection?.url).toBe(`${h.sim.url}/acs`);
    const back = await authenticate(waiting.redirection ?? {}, 'SUCCESS');
    expect(back.MD).toBe('session-1');
    await h.orchestrator.payments.completeAuthentication(payment.id, { paRes: back.PaRes });
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('authorized');
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(1);
  });

  it('refuses after a failed authentication', async () => {
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(THREE_DS_FAILURE_CARD, {
        method: 'card_3ds',
        returnUrl: 'https://shop.example/return',
      }),
    );
    const waiting = await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    const back = await authenticate(waiting.redirection ?? {}, 'FAILURE');
    await h.orchestrator.payments.completeAuthentication(payment.id, { paRes: back.PaRes });
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('refused');
    expect(h.sim.ledger.countAuthorizations(done.transactionReference)).toBe(0);
  });

  it('authorises a card that is not enrolled without sending the customer away', async () => {
    const { payment } = await h.orchestrator.payments.create(
      cardPayment(NOT_ENROLLED_CARD, {
        method: 'card_3ds',
        returnUrl: 'https://shop.example/return',
      }),
    );
    const done = await h.waitFor(payment.id);
    expect(done.status).toBe('authorized');
  });
});

async function streamTypes(paymentId: string): Promise<string[]> {
  const redis = testPortsOf(h.orchestrator).redis;
  const stream = testPortsOf(h.orchestrator).keyspace.eventsStream(
    testPortsOf(h.orchestrator).keyspace.shardOf(paymentId),
  );
  const entries = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
  return entries
    .map(([, fields]) => {
      const map: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) map[fields[i] as string] = fields[i + 1] as string;
      return map;
    })
    .filter((entry) => entry.subject === paymentId)
    .map((entry) => entry.type as string);
}
