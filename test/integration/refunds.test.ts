/**
 * Refunds that always land, and commands as resources: a refund of a
 * captured payment works whatever Sips' remittance state (a cancel of that
 * amount before remittance, a refund after, or held until remittance), and
 * every capture, cancel and refund can be read back with its outcome,
 * failures included (API, timeline, events, alerts). Real workers, the
 * simulator over HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { consoleSession } from '../support/console-login.ts';
import { streamedEvents } from '../support/stream-events.ts';
import { cloudEventSchema, isEventType } from '../../src/payments/event-catalogue.ts';
import type { PaymentView } from '../../src/service/views.ts';
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

async function start(policy: 'cancel' | 'hold' = 'cancel'): Promise<OrchestratorHarness> {
  h = await startOrchestratorHarness({
    orchestrator: {
      refundBeforeRemittance: policy,
      janitor: { intervalMs: 0, heldRefundCheckAfterMs: 0 },
    },
  });
  return h;
}

function cardPayment(amount: number, captureMode: 'validation' | 'author_capture') {
  return {
    amount,
    currency: '978',
    captureMode,
    card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
  };
}

type Event = { type: string; data: Record<string, unknown>; subject?: string };

/** The payment's events on the streams, each checked against the catalogue. */
async function eventsOf(harness: OrchestratorHarness, paymentId: string): Promise<Event[]> {
  const events: Event[] = [];
  for (const { event } of await streamedEvents<Event>(harness.orchestrator)) {
    if (event.subject !== paymentId) continue;
    expect(isEventType(event.type), event.type).toBe(true);
    const parsed = cloudEventSchema(event.type as never).safeParse(event);
    expect(parsed.success, parsed.success ? '' : z.prettifyError(parsed.error)).toBe(true);
    events.push(event);
  }
  return events;
}

/** A command, and the id of the resource it made. */
async function refund(
  harness: OrchestratorHarness,
  id: string,
  amount: number,
  key?: string,
): Promise<string> {
  let operationId = '';
  await harness.orchestrator.payments.refund(
    id,
    { amount },
    {
      ...(key ? { idempotencyKey: key } : {}),
      onOperation: (made) => {
        operationId = made;
      },
    },
  );
  return operationId;
}

const settledOperations = (payment: PaymentView) =>
  payment.operations.every((operation) => operation.status !== 'pending');

async function capturedValidation(harness: OrchestratorHarness): Promise<PaymentView> {
  const { payment } = await harness.orchestrator.payments.create(cardPayment(10_000, 'validation'));
  await harness.waitFor(payment.id);
  await harness.orchestrator.payments.capture(payment.id, { amount: 8_000 });
  const captured = await harness.waitFor(payment.id);
  expect(captured.status).toBe('captured');
  return captured;
}

describe('refunds before and after remittance (REFUND_BEFORE_REMITTANCE=cancel)', () => {
  it('a refund right after a capture becomes a cancel of that amount; after remittance, a refund', async () => {
    const harness = await start('cancel');
    const captured = await capturedValidation(harness);
    const reference = captured.transactionReference;
    // The validation released what it did not take: Sips counts that as a cancellation.
    const cancellationsBefore = harness.sim.ledger.countMovements('cancellation', reference);

    const firstId = await refund(harness, captured.id, 3_000, 'refund-early');
    expect(firstId).toMatch(/^ref_[0-9A-Z]{20}$/);
    const afterCancel = await harness.waitFor(captured.id, settledOperations);
    // Sips refused the refund (24: not remitted); the money never left the customer.
    expect(afterCancel.status).toBe('captured');
    expect(afterCancel.amounts).toEqual({
      authorized: 10_000,
      captured: 5_000,
      cancelled: 5_000,
      refunded: 0,
    });
    expect(afterCancel.operations.find((operation) => operation.id === firstId)).toMatchObject({
      type: 'refund',
      amount: 3_000,
      status: 'succeeded',
      performedAs: 'cancel',
      paymentId: captured.id,
    });
    expect(harness.sim.ledger.countMovements('refund', reference)).toBe(0);
    expect(harness.sim.ledger.countMovements('cancellation', reference)).toBe(
      cancellationsBefore + 1,
    );

    // The same request again (same key) names the same refund and moves nothing.
    expect(await refund(harness, captured.id, 3_000, 'refund-early')).toBe(firstId);
    expect(harness.sim.ledger.countMovements('cancellation', reference)).toBe(
      cancellationsBefore + 1,
    );

    // Remitted: the next refund is a Sips refund of what Sips remitted.
    harness.sim.clock.advanceDays(1);
    await harness.sim.control.runRemittance();
    const secondId = await refund(harness, captured.id, 2_000);
    const refunded = await harness.waitFor(captured.id, settledOperations);
    expect(refunded.status).toBe('partially_refunded');
    expect(refunded.amounts).toMatchObject({ captured: 5_000, refunded: 2_000 });
    expect(refunded.operations.find((operation) => operation.id === secondId)).toMatchObject({
      type: 'refund',
      status: 'succeeded',
      performedAs: 'refund',
    });
    expect(harness.sim.ledger.countMovements('refund', reference)).toBe(1);

    const outcomes = (await eventsOf(harness, captured.id)).filter((event) =>
      event.type.startsWith('refund.'),
    );
    expect(outcomes.map((event) => [event.type, event.data.performedAs])).toEqual([
      ['refund.succeeded', 'cancel'],
      ['refund.succeeded', 'refund'],
    ]);
    expect(outcomes.map((event) => event.data.operationId)).toEqual([firstId, secondId]);
  });

  it('a full refund before remittance cancels everything captured', async () => {
    const harness = await start('cancel');
    const captured = await capturedValidation(harness);
    const id = await refund(harness, captured.id, 8_000);
    const cancelled = await harness.waitFor(captured.id, settledOperations);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.amounts).toEqual({
      authorized: 10_000,
      captured: 0,
      cancelled: 10_000,
      refunded: 0,
    });
    expect(cancelled.operations).toEqual([
      expect.objectContaining({ type: 'capture', status: 'succeeded', performedAs: 'capture' }),
      expect.objectContaining({ id, type: 'refund', status: 'succeeded', performedAs: 'cancel' }),
    ]);
  });

  it('AUTHOR_CAPTURE: a refund before the remittance is a cancel; once remitted, a refund', async () => {
    const harness = await start('cancel');
    const { payment } = await harness.orchestrator.payments.create(
      cardPayment(4_000, 'author_capture'),
    );
    const authorized = await harness.waitFor(payment.id);
    expect(authorized.status).toBe('authorized');
    const reference = authorized.transactionReference;

    const early = await refund(harness, payment.id, 1_000);
    const afterCancel = await harness.waitFor(payment.id, settledOperations);
    expect(afterCancel.status).toBe('authorized');
    expect(afterCancel.amounts).toMatchObject({ authorized: 4_000, cancelled: 1_000 });
    expect(afterCancel.operations[0]).toMatchObject({
      id: early,
      status: 'succeeded',
      performedAs: 'cancel',
    });

    // Sips remits it; we have not seen that yet: the cancel meets 24, an
    // inquiry shows the payment captured, and the refund is sent instead.
    harness.sim.clock.advanceDays(1);
    await harness.sim.control.runRemittance();
    const late = await refund(harness, payment.id, 500);
    const refunded = await harness.waitFor(payment.id, settledOperations);
    expect(refunded.status).toBe('partially_refunded');
    expect(refunded.amounts).toMatchObject({ captured: 3_000, refunded: 500, cancelled: 1_000 });
    expect(refunded.operations[1]).toMatchObject({
      id: late,
      status: 'succeeded',
      performedAs: 'refund',
    });
    expect(harness.sim.ledger.countMovements('refund', reference)).toBe(1);
    expect(harness.sim.ledger.countMovements('cancellation', reference)).toBe(1);
  });
});

describe('REFUND_BEFORE_REMITTANCE=hold', () => {
  it('keeps the refund held until an inquiry shows the payment remitted, then refunds', async () => {
    const harness = await start('hold');
    const captured = await capturedValidation(harness);
    const reference = captured.transactionReference;
    const cancellationsBefore = harness.sim.ledger.countMovements('cancellation', reference);
    const id = await refund(harness, captured.id, 3_000);
    const held = await harness.waitFor(captured.id, settledOperations);
    expect(held.status).toBe('captured');
    expect(held.amounts).toMatchObject({ captured: 8_000, cancelled: 2_000, refunded: 0 });
    expect(held.operations[1]).toMatchObject({ id, status: 'held', performedAs: 'refund' });
    expect(harness.sim.ledger.countMovements('cancellation', reference)).toBe(cancellationsBefore);

    // Not remitted yet: the janitor's check leaves it held.
    await harness.orchestrator.ops.runJanitor();
    expect((await harness.orchestrator.payments.get(captured.id)).operations[1]?.status).toBe(
      'held',
    );

    harness.sim.clock.advanceDays(1);
    await harness.sim.control.runRemittance();
    await harness.orchestrator.ops.runJanitor();
    const refunded = await harness.waitFor(captured.id, settledOperations);
    expect(refunded.status).toBe('partially_refunded');
    expect(refunded.amounts).toMatchObject({ captured: 8_000, refunded: 3_000 });
    expect(refunded.operations[1]).toMatchObject({
      id,
      status: 'succeeded',
      performedAs: 'refund',
    });
    expect(harness.sim.ledger.countMovements('refund', refunded.transactionReference)).toBe(1);
    const types = (await eventsOf(harness, captured.id)).map((event) => event.type);
    expect(types.filter((type) => type.startsWith('refund.'))).toEqual([
      'refund.held',
      'refund.succeeded',
    ]);
  });
});

describe('a failed command is visible', () => {
  it('in the API, the timeline, the events, the alerts and the console', async () => {
    const harness = await start('cancel');
    const app = buildApi({
      orchestrator: harness.orchestrator,
      apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
      settleTimeoutMs: 5_000,
    });
    try {
      await app.ready();
      const captured = await capturedValidation(harness);
      harness.sim.clock.advanceDays(1);
      await harness.sim.control.runRemittance();
      harness.sim.faults.add({
        match: { service: 'refund' },
        type: 'responseCode',
        responseCode: '99',
      });
      const auth = { authorization: 'Bearer pay-secret' };
      const posted = await app.inject({
        method: 'POST',
        url: `/v1/payments/${captured.id}/refunds`,
        headers: { ...auth, 'content-type': 'application/json' },
        payload: { amount: 1_000 },
      });
      expect(posted.statusCode).toBe(202);
      const location = posted.headers.location as string;
      expect(location).toMatch(
        new RegExp(`^/v1/payments/${captured.id}/refunds/ref_[0-9A-Z]{20}$`),
      );
      const id = location.split('/').at(-1) as string;

      const after = await harness.waitFor(captured.id, settledOperations);
      expect(after.status).toBe('captured');
      expect(after.amounts.refunded).toBe(0);
      const read = await app.inject({ method: 'GET', url: location, headers: auth });
      expect(read.statusCode).toBe(200);
      expect(read.json()).toMatchObject({
        id,
        paymentId: captured.id,
        type: 'refund',
        amount: 1_000,
        status: 'failed',
        performedAs: 'refund',
        failure: { reason: 'sips_unavailable', responseCode: '99' },
      });
      const list = await app.inject({
        method: 'GET',
        url: `/v1/payments/${captured.id}/refunds`,
        headers: auth,
      });
      expect(list.json().data.map((operation: { id: string }) => operation.id)).toEqual([id]);
      const captures = await app.inject({
        method: 'GET',
        url: `/v1/payments/${captured.id}/captures`,
        headers: auth,
      });
      expect(captures.json().data).toEqual([
        expect.objectContaining({ type: 'capture', status: 'succeeded', amount: 8_000 }),
      ]);
      const missing = await app.inject({
        method: 'GET',
        url: `/v1/payments/${captured.id}/cancellations/${id}`,
        headers: auth,
      });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ code: 'operation_not_found' });

      expect(after.timeline).toContainEqual(
        expect.objectContaining({
          kind: 'operation.failed',
          detail: expect.objectContaining({ operationId: id, reason: 'sips_unavailable' }),
        }),
      );
      const failed = (await eventsOf(harness, captured.id)).find(
        (event) => event.type === 'refund.failed',
      );
      expect(failed?.data).toMatchObject({ operationId: id, reason: 'sips_unavailable' });

      const alerts = await harness.orchestrator.ops.alerts();
      const alert = alerts.find(
        (candidate) => candidate.kind === 'operation_failed' && candidate.paymentId === captured.id,
      );
      expect(alert?.message).toContain(id);

      const session = await consoleSession(app);
      const pageOf = await app.inject({
        method: 'GET',
        url: `/ops/payments/${captured.id}`,
        headers: session,
      });
      expect(pageOf.statusCode).toBe(200);
      expect(pageOf.body).toContain(id);
      expect(pageOf.body).toMatch(/failed/);
      expect(pageOf.body).toContain('sips_unavailable (99)');
      expect(pageOf.body).toContain(`The refund ${id} failed (sips_unavailable, response code 99)`);
    } finally {
      await app.close();
    }
  });
});
