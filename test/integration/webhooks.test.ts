/**
 * Webhooks end to end: payments through their lifecycle, an orchestrator
 * that delivers (consumer group + workers), and a merchant receiver on port
 * 0 that verifies every request with the `standardwebhooks` library.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentCloudEvent } from '../../src/payments/events.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  REFUSED_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';
import { streamedEvents } from '../support/stream-events.ts';
import {
  localWebhooks,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';

function card(number: string, extra: Record<string, unknown> = {}) {
  return { amount: 2500, currency: '978', card: { number, expiry: EXPIRY, csc: '123' }, ...extra };
}

describe('webhook delivery', () => {
  let h: OrchestratorHarness;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    h = await startOrchestratorHarness({
      orchestrator: {
        webhooks: localWebhooks(),
      },
    });
  });

  afterAll(async () => {
    await h?.close();
    await receiver?.close();
  });

  it('delivers every event of payments through their lifecycle, signed, none lost while the receiver refuses for a while', async () => {
    const { endpoint, secret } = await h.orchestrator.webhooks.endpoints.create(
      { url: receiver.url },
      'all',
    );
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    receiver.secrets.push(secret);
    // Refuses everything for the first second and a half.
    const recoverAt = Date.now() + 1_500;
    receiver.answer(() => (Date.now() < recoverAt ? 500 : 204));

    const payments = h.orchestrator.payments;
    const accepted = (await payments.create(card(ACCEPTED_CARD))).payment;
    const refused = (await payments.create(card(REFUSED_CARD))).payment;
    const validation = (await payments.create(card(ACCEPTED_CARD, { captureMode: 'validation' })))
      .payment;
    await h.waitFor(validation.id);
    await payments.capture(validation.id, { amount: 1000 });
    await h.waitFor(validation.id, (p) => p.status === 'captured');
    const toCancel = (await payments.create(card(ACCEPTED_CARD, { captureMode: 'validation' })))
      .payment;
    await h.waitFor(toCancel.id);
    await payments.cancel(toCancel.id, { amount: 2500 });
    await h.waitFor(toCancel.id, (p) => p.status === 'cancelled');
    await h.waitFor(accepted.id);
    await h.waitFor(refused.id);

    // Every event of these payments, as the streams hold them.
    const events = await streamEvents(h);
    const ours = events.filter((event) =>
      [accepted.id, refused.id, validation.id, toCancel.id].includes(event.subject),
    );
    expect(ours.length).toBeGreaterThanOrEqual(8);
    await poll(() => ours.every((event) => receiver.delivered().has(event.id)), {
      timeoutMs: 20_000,
      what: 'every event delivered',
    });

    const typesOf = (id: string) =>
      ours.filter((event) => event.subject === id).map((event) => event.type);
    expect(typesOf(accepted.id)).toEqual(['payment.received', 'payment.authorized']);
    expect(typesOf(refused.id)).toEqual(['payment.received', 'payment.refused']);
    expect(typesOf(validation.id)).toContain('payment.captured');
    expect(typesOf(toCancel.id)).toContain('payment.cancelled');

    // The receiver refused at first: some messages took several attempts.
    const refusedAttempts = receiver.received.filter((r) => r.answered === 500);
    expect(refusedAttempts.length).toBeGreaterThan(0);
    for (const request of receiver.received) {
      // One valid signature per attempt, with the one secret in force.
      expect(request.signature.split(' ')).toHaveLength(1);
      expect(request.verifiedWith).toEqual([0]);
      const body = JSON.parse(request.body) as PaymentCloudEvent;
      // The body is the event itself: its id is the webhook-id, its sequence orders it.
      expect(body.id).toBe(request.id);
      expect(body).toEqual(events.find((event) => event.id === request.id));
      expect(request.headers['content-type']).toBe('application/json');
    }
    // Retries of one message keep its webhook-id; none is delivered for an unknown event.
    for (const id of receiver.delivered()) expect(events.some((e) => e.id === id)).toBe(true);

    const log = await h.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all', {
      limit: 500,
    });
    const retried = log.find((message) => message.attemptCount > 1);
    expect(retried).toBeDefined();
    expect(retried?.attempts[0]?.statusCode).toBe(500);
    expect(retried?.status).toBe('delivered');
    const backlog = await h.orchestrator.webhooks.backlog();
    expect(backlog.find((entry) => entry.endpointId === endpoint.id)?.count).toBe(0);
  });

  it('replays one message and everything since a time, with the same webhook-id', async () => {
    const [endpoint] = await h.orchestrator.webhooks.endpoints.list('all');
    if (!endpoint) throw new Error('no endpoint');
    const log = await h.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all');
    const first = log.at(-1);
    if (!first) throw new Error('no message');
    const before = receiver.received.filter((r) => r.id === first.messageId).length;
    await h.orchestrator.webhooks.endpoints.replay(endpoint.id, first.messageId, 'all');
    await poll(() => receiver.received.filter((r) => r.id === first.messageId).length > before, {
      timeoutMs: 10_000,
      what: 'the replayed message',
    });
    const since = new Date(Date.now() - 60_000).toISOString();
    const countBefore = receiver.received.length;
    const { replayed } = await h.orchestrator.webhooks.endpoints.replaySince(
      endpoint.id,
      { since },
      'all',
    );
    expect(replayed).toBe(log.length);
    await poll(() => receiver.received.length >= countBefore + replayed, {
      timeoutMs: 20_000,
      what: 'every replayed message',
    });
    await expect(
      h.orchestrator.webhooks.endpoints.replay(endpoint.id, 'no-such-message', 'all'),
    ).rejects.toMatchObject({ code: 'webhook_message_not_found' });
  });

  it('replays a message while its first series is still retrying: the older series stops, nothing is overwritten', async () => {
    const flaky = await startWebhookReceiver();
    try {
      flaky.answer(500);
      const { endpoint, secret } = await h.orchestrator.webhooks.endpoints.create(
        { url: flaky.url, eventTypes: ['payment.authorized'] },
        'all',
      );
      flaky.secrets.push(secret);
      const payment = (await h.orchestrator.payments.create(card(ACCEPTED_CARD))).payment;
      await poll(() => flaky.received.length >= 2, {
        timeoutMs: 10_000,
        what: 'two refused attempts',
      });
      const [pending] = await h.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all');
      expect(pending).toMatchObject({ status: 'pending', subject: payment.id });
      if (!pending) throw new Error('no message');
      const replayed = await h.orchestrator.webhooks.endpoints.replay(
        endpoint.id,
        pending.messageId,
        'all',
      );
      expect(replayed.status).toBe('pending');
      flaky.answer(204);
      await poll(() => flaky.delivered().has(pending.messageId), {
        timeoutMs: 10_000,
        what: 'the replayed message delivered',
      });
      // Longer than the first series' next delays: its writes are refused as stale.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const [after] = await h.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all');
      expect(after?.status).toBe('delivered');
      expect(after?.failedReason).toBeUndefined();
      await h.orchestrator.webhooks.endpoints.remove(endpoint.id, 'all');
    } finally {
      await flaky.close();
    }
  });

  it('signs with both secrets during a rotation overlap, then with the new one only', async () => {
    const rotating = await startWebhookReceiver();
    try {
      const created = await h.orchestrator.webhooks.endpoints.create(
        { url: rotating.url, eventTypes: ['payment.authorized'] },
        'all',
      );
      const rotated = await h.orchestrator.webhooks.endpoints.rotateSecret(
        created.endpoint.id,
        { overlapSeconds: 2 },
        'all',
      );
      expect(rotated.secret).not.toBe(created.secret);
      expect(rotated.endpoint.previousSecretExpiresAt).toBeDefined();
      rotating.secrets.push(created.secret, rotated.secret);

      const during = (await h.orchestrator.payments.create(card(ACCEPTED_CARD))).payment;
      await poll(() => rotating.received.some((r) => JSON.parse(r.body).subject === during.id), {
        timeoutMs: 10_000,
        what: 'the event sent during the overlap',
      });
      const overlapping = rotating.received.find((r) => JSON.parse(r.body).subject === during.id);
      // Either secret verifies: a receiver that has not switched yet keeps working.
      expect(overlapping?.verifiedWith).toEqual([0, 1]);
      expect(overlapping?.signature.split(' ')).toHaveLength(2);

      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const after = (await h.orchestrator.payments.create(card(ACCEPTED_CARD))).payment;
      await poll(() => rotating.received.some((r) => JSON.parse(r.body).subject === after.id), {
        timeoutMs: 10_000,
        what: 'the event sent after the overlap',
      });
      const late = rotating.received.find((r) => JSON.parse(r.body).subject === after.id);
      expect(late?.verifiedWith).toEqual([1]);
      expect(late?.signature.split(' ')).toHaveLength(1);
      // Only the type it asked for.
      for (const request of rotating.received) {
        expect(JSON.parse(request.body).type).toBe('payment.authorized');
      }
    } finally {
      await rotating.close();
    }
  });

  it('disables an endpoint that answers 410 Gone, with an ops alert, and sends it nothing more', async () => {
    const gone = await startWebhookReceiver();
    try {
      gone.answer(410);
      const { endpoint } = await h.orchestrator.webhooks.endpoints.create({ url: gone.url }, 'all');
      const payment = (await h.orchestrator.payments.create(card(ACCEPTED_CARD))).payment;
      await poll(
        async () => !(await h.orchestrator.webhooks.endpoints.get(endpoint.id, 'all')).enabled,
        { timeoutMs: 10_000, what: 'the endpoint disabled' },
      );
      const shown = await h.orchestrator.webhooks.endpoints.get(endpoint.id, 'all');
      expect(shown.disabledReason).toBe('gone');
      const alerts = await h.orchestrator.ops.alerts();
      expect(
        alerts.some((a) => a.kind === 'webhook_endpoint_disabled' && a.subject === endpoint.id),
      ).toBe(true);
      await h.waitFor(payment.id);
      const sent = gone.received.length;
      await h.orchestrator.payments.create(card(ACCEPTED_CARD));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(gone.received.length).toBe(sent);
      await expect(
        h.orchestrator.webhooks.endpoints.replaySince(
          endpoint.id,
          { since: new Date(0).toISOString() },
          'all',
        ),
      ).rejects.toMatchObject({ code: 'command_not_allowed' });
      await h.orchestrator.webhooks.endpoints.remove(endpoint.id, 'all');
    } finally {
      await gone.close();
    }
  });
});

describe('an endpoint failing for too long', () => {
  it('is disabled with an ops alert, its messages failed, and starts over once enabled again', async () => {
    const failing = await startWebhookReceiver();
    failing.answer(503);
    const h = await startOrchestratorHarness({
      orchestrator: {
        webhooks: localWebhooks({
          retryScheduleMs: [0, 200, 200, 200, 200, 200, 200, 200, 200, 200],
          // "Days" in production; a second here.
          disableAfterMs: 1_000,
        }),
      },
    });
    try {
      const { endpoint, secret } = await h.orchestrator.webhooks.endpoints.create(
        { url: failing.url },
        'all',
      );
      failing.secrets.push(secret);
      const payment = (await h.orchestrator.payments.create(card(ACCEPTED_CARD))).payment;
      await poll(
        async () => !(await h.orchestrator.webhooks.endpoints.get(endpoint.id, 'all')).enabled,
        { timeoutMs: 10_000, what: 'the failing endpoint disabled' },
      );
      const shown = await h.orchestrator.webhooks.endpoints.get(endpoint.id, 'all');
      expect(shown).toMatchObject({ enabled: false, disabledReason: 'failing' });
      expect(shown.failingSince).toBeDefined();
      const alerts = await h.orchestrator.ops.alerts();
      expect(
        alerts.filter((a) => a.kind === 'webhook_endpoint_disabled' && a.subject === endpoint.id),
      ).toHaveLength(1);
      await poll(
        async () =>
          (await h.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all')).every(
            (message) => message.status === 'failed',
          ),
        { timeoutMs: 10_000, what: 'every message failed' },
      );
      // Enabled again and answering: the failed messages are sent on request.
      failing.answer(204);
      const enabled = await h.orchestrator.webhooks.endpoints.update(
        endpoint.id,
        { enabled: true },
        'all',
      );
      expect(enabled.disabledReason).toBeUndefined();
      expect(enabled.failingSince).toBeUndefined();
      const { replayed } = await h.orchestrator.webhooks.endpoints.replaySince(
        endpoint.id,
        { since: new Date(0).toISOString(), failedOnly: true },
        'all',
      );
      expect(replayed).toBeGreaterThanOrEqual(2);
      await h.waitFor(payment.id);
      await poll(
        async () =>
          (await h.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all')).every(
            (message) => message.status === 'delivered',
          ),
        { timeoutMs: 10_000, what: 'every message delivered after the replay' },
      );
    } finally {
      await h.close();
      await failing.close();
    }
  });
});

/** Waits until `done` holds; fails naming `what`. */
async function poll(
  done: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; what: string },
): Promise<void> {
  await pollUntil(async () => done(), Boolean, {
    timeoutMs: options.timeoutMs,
    describe: () => `timed out waiting for ${options.what}`,
  });
}

async function streamEvents(h: OrchestratorHarness): Promise<PaymentCloudEvent[]> {
  return (await streamedEvents<PaymentCloudEvent>(h.orchestrator)).map(({ event }) => event);
}
