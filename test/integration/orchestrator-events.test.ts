/**
 * Domain events through `orchestrator.events.subscribe`: every event of a
 * payment reaches the handler in order of `sequence`, at least once; a handler
 * that fails gets the event again (taken over with XAUTOCLAIM) before the
 * payment's later events; close() lets the handler in progress finish and
 * acknowledge, and a later subscriber of the group resumes where it stopped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PaymentCloudEvent } from '../../src/payments/events.ts';
import type { Delivery } from '../../src/payments/event-consumer.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  REFUSED_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

let h: OrchestratorHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Seen {
  id: string;
  subject: string;
  sequence: number;
  type: string;
  deliveries: number;
  streamId: string;
  ok: boolean;
}

function cardPayment(number: string, extra: Record<string, unknown> = {}) {
  return { amount: 4_000, currency: '978', card: { number, expiry: EXPIRY, csc: '123' }, ...extra };
}

/** The events the stream holds for `paymentId`, in stream order. */
async function streamEvents(harness: OrchestratorHarness, paymentId: string) {
  const { redis, keyspace } = testPortsOf(harness.orchestrator);
  const entries = (await redis.xrange(
    keyspace.eventsStream(keyspace.shardOf(paymentId)),
    '-',
    '+',
  )) as [string, string[]][];
  return entries
    .map(([streamId, fields]) => {
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? '', fields[i + 1] ?? '');
      return { streamId, event: JSON.parse(map.get('event') ?? '{}') as PaymentCloudEvent };
    })
    .filter((entry) => entry.event.subject === paymentId);
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('events.subscribe', () => {
  it('delivers every event of each payment in sequence order, again after a handler failure', async () => {
    const harness = await startOrchestratorHarness();
    h = harness;
    const seen: Seen[] = [];
    let failedOnce: Seen | undefined;
    /** The payment whose authorisation event the handler fails on, once. */
    const failOn = { id: '' };
    await harness.orchestrator.events.subscribe(
      'ledger-sync',
      async (event: PaymentCloudEvent, delivery: Delivery) => {
        const entry: Seen = {
          id: event.id,
          subject: event.subject,
          sequence: event.sequence,
          type: event.type,
          deliveries: delivery.deliveries,
          streamId: delivery.streamId,
          ok: true,
        };
        // Hold the handler a little so later events of the payment are already
        // waiting in the stream when the failure happens.
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (
          failedOnce === undefined &&
          event.subject === failOn.id &&
          event.type === 'payment.authorized'
        ) {
          entry.ok = false;
          failedOnce = entry;
          seen.push(entry);
          throw new Error('downstream ledger unavailable');
        }
        seen.push(entry);
      },
      { consumer: 'sync-1', claimIdleMs: 200, blockMs: 100 },
    );

    // A payment that is authorised, captured in part, then cancelled for the rest:
    // several steps, each with its events.
    const { payment: main } = await harness.orchestrator.payments.create(
      cardPayment(ACCEPTED_CARD, { captureMode: 'validation' }),
    );
    failOn.id = main.id;
    const { payment: refused } = await harness.orchestrator.payments.create(
      cardPayment(REFUSED_CARD),
    );
    const { payment: other } = await harness.orchestrator.payments.create(
      cardPayment(ACCEPTED_CARD, { amount: 1_500 }),
    );
    await harness.waitFor(main.id);
    await harness.orchestrator.payments.capture(main.id, { amount: 2_500 });
    const captured = await harness.waitFor(main.id);
    expect(captured.status).toBe('captured');
    await harness.waitFor(refused.id);
    await harness.waitFor(other.id);

    const ids = [main.id, refused.id, other.id];
    const expected = new Map<string, Awaited<ReturnType<typeof streamEvents>>>();
    for (const id of ids) expected.set(id, await streamEvents(harness, id));
    // Every stream entry of every payment was handled successfully at least once.
    await until(() =>
      ids.every((id) =>
        (expected.get(id) ?? []).every((entry) =>
          seen.some((s) => s.ok && s.id === entry.event.id && s.streamId === entry.streamId),
        ),
      ),
    );

    expect((expected.get(main.id) ?? []).map((entry) => entry.event.type)).toEqual(
      expect.arrayContaining(['payment.received', 'payment.authorized', 'payment.captured']),
    );
    for (const id of ids) {
      const stream = expected.get(id) ?? [];
      expect(stream.length).toBeGreaterThanOrEqual(2);
      // The stream itself is in sequence order, and so is what the handler saw,
      // failed attempt and redelivery included.
      const streamSequences = stream.map((entry) => entry.event.sequence);
      expect(streamSequences).toEqual([...streamSequences].sort((a, b) => a - b));
      const handled = seen.filter((s) => s.subject === id);
      const sequences = handled.map((s) => s.sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      // Successful handlings, in order, are exactly the stream's entries.
      expect(handled.filter((s) => s.ok).map((s) => s.streamId)).toEqual(
        stream.map((entry) => entry.streamId),
      );
    }

    // The failed event came back (claimed after claimIdleMs) as a second delivery,
    // before anything later of its payment.
    expect(failedOnce).toBeDefined();
    const failed = failedOnce as Seen;
    expect(failed.deliveries).toBe(1);
    const again = seen.filter((s) => s.id === failed.id);
    expect(again.map((s) => [s.ok, s.deliveries])).toEqual([
      [false, 1],
      [true, 2],
    ]);
    const mainHandled = seen.filter((s) => s.subject === main.id);
    const retriedAt = mainHandled.findIndex((s) => s.id === failed.id && s.ok);
    expect(mainHandled.slice(0, retriedAt).every((s) => s.sequence <= failed.sequence)).toBe(true);
    expect(mainHandled.slice(retriedAt + 1).every((s) => s.sequence > failed.sequence)).toBe(true);

    // Nothing is left pending for the group.
    const { redis, keyspace } = testPortsOf(harness.orchestrator);
    await until(async () => {
      const summary = (await redis.xpending(keyspace.eventsStream(0), 'ledger-sync')) as [
        number,
        ...unknown[],
      ];
      return summary[0] === 0;
    });
  });

  it('closes gracefully: the handler in progress finishes and is acknowledged', async () => {
    const harness = await startOrchestratorHarness();
    h = harness;
    const { redis, keyspace } = testPortsOf(harness.orchestrator);
    const stream = keyspace.eventsStream(0);
    const handled: string[] = [];
    let entered: (() => void) | undefined;
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let slowFinishedAt = 0;
    const consumer = await harness.orchestrator.events.subscribe(
      'billing',
      async (event) => {
        if (event.type === 'payment.received' && slowFinishedAt === 0) {
          entered?.();
          await new Promise((resolve) => setTimeout(resolve, 300));
          slowFinishedAt = Date.now();
        }
        handled.push(event.id);
      },
      { consumer: 'billing-1', claimIdleMs: 60_000, blockMs: 100 },
    );

    const { payment } = await harness.orchestrator.payments.create(cardPayment(ACCEPTED_CARD));
    await inHandler;
    await consumer.close();
    const closedAt = Date.now();
    const handledAtClose = handled.length;
    expect(slowFinishedAt).toBeGreaterThan(0);
    expect(slowFinishedAt).toBeLessThanOrEqual(closedAt);
    const first = (await streamEvents(harness, payment.id))[0];
    expect(first?.event.type).toBe('payment.received');
    expect(handled[0]).toBe(first?.event.id);
    // The event handled during close() was acknowledged, not left pending.
    const pendingIds = (
      (await redis.xpending(stream, 'billing', '-', '+', 100)) as [string, ...unknown[]][]
    ).map((row) => row[0]);
    expect(pendingIds).not.toContain(first?.streamId);

    const done = await harness.waitFor(payment.id);
    expect(done.status).toBe('authorized');

    // A new subscriber of the group resumes: what was acknowledged is not
    // delivered again, everything else of the payment is, in order.
    const resumed: PaymentCloudEvent[] = [];
    await harness.orchestrator.events.subscribe(
      'billing',
      async (event) => {
        resumed.push(event);
      },
      { consumer: 'billing-2', claimIdleMs: 200, blockMs: 100 },
    );
    const all = await streamEvents(harness, payment.id);
    const rest = all.filter((entry) => !handled.includes(entry.event.id));
    expect(rest.length).toBeGreaterThan(0);
    await until(() => rest.every((entry) => resumed.some((e) => e.id === entry.event.id)));
    expect(resumed.map((e) => e.id)).toEqual(rest.map((entry) => entry.event.id));
    expect(resumed.some((e) => handled.includes(e.id))).toBe(false);
    // After close() the first handler was not called any more, though the
    // events it would have read were all there to be read.
    expect(handled).toHaveLength(handledAtClose);
  });
});
