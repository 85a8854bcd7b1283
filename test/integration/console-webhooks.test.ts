/**
 * The ops console's webhook pages over HTTP, against an orchestrator that
 * delivers to a receiver on port 0: the list of endpoints with their
 * backlog, an endpoint's deliveries, "Send again" (the same `webhook-id`
 * arrives again), enable / disable, and escaped merchant-supplied text.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import type { DeliveryView, WebhookEndpointView } from '../../src/service/webhook-endpoints.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { consoleSession } from '../support/console-login.ts';
import { pollUntil } from '../support/poll.ts';
import {
  localWebhooks,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';

const DESCRIPTION = '<script>alert("hook")</script> & co';

describe('ops console: webhook endpoints', () => {
  let h: OrchestratorHarness;
  let app: FastifyInstance;
  let receiver: WebhookReceiver;
  let endpoint: WebhookEndpointView;
  let delivered: DeliveryView;
  let session: { cookie: string };

  async function send(options: InjectOptions) {
    const response = await app.inject(options);
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  const get = (url: string) => send({ method: 'GET', url, headers: session });

  /** A console action as the console's own forms post it. */
  const post = (url: string, formToken: string) =>
    send({
      method: 'POST',
      url,
      headers: { ...session, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `formToken=${formToken}`,
    });

  const formTokenOf = (body: string): string => {
    const token = /name="formToken" value="([^"]+)"/.exec(body)?.[1];
    if (!token) throw new Error('no form token on the page');
    return token;
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    h = await startOrchestratorHarness({
      orchestrator: {
        webhooks: localWebhooks({ retryScheduleMs: [0, 100, 200] }),
      },
    });
    app = buildApi({
      orchestrator: h.orchestrator,
      apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
      settleTimeoutMs: 5_000,
    });
    await app.ready();
    session = await consoleSession(app);

    const created = await h.orchestrator.webhooks.endpoints.create(
      { url: receiver.url, description: DESCRIPTION },
      'all',
    );
    endpoint = created.endpoint;
    receiver.secrets.push(created.secret);
    const { payment } = await h.orchestrator.payments.create({
      amount: 2500,
      currency: '978',
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    });
    await h.waitFor(payment.id);
    const deliveries = await pollUntil(
      () => h.orchestrator.webhooks.endpoints.deliveries(endpoint.id, 'all'),
      (log) => log.length >= 2 && log.every((message) => message.status === 'delivered'),
      { timeoutMs: 20_000, describe: (log) => `deliveries: ${JSON.stringify(log)}` },
    );
    const first = deliveries.find((message) => message.subject === payment.id);
    if (!first) throw new Error('no delivery of the payment');
    delivered = first;
  });

  afterAll(async () => {
    await app?.close();
    await h?.close();
    await receiver?.close();
  });

  it('lists every endpoint with its state and backlog, merchant text escaped', async () => {
    const list = await get('/ops/webhooks');
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toContain('text/html');
    expect(list.body).toContain(`href="/ops/webhooks/${endpoint.id}"`);
    expect(list.body).toContain(receiver.url);
    expect(list.body).toContain('<td>all</td>');
    expect(list.body).toContain('<td>enabled</td>');
    expect(list.body).toContain('<a href="/ops/webhooks">Webhooks</a>');

    const one = await get(`/ops/webhooks/${endpoint.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toContain('&lt;script&gt;alert(&quot;hook&quot;)&lt;/script&gt; &amp; co');
    expect(one.body).not.toContain('<script>');
    expect(one.body).not.toContain('whsec_');
  });

  it('lists the deliveries and sends one again with the same webhook-id', async () => {
    const one = await get(`/ops/webhooks/${endpoint.id}`);
    expect(one.body).toContain(delivered.messageId);
    expect(one.body).toContain(delivered.eventType);
    expect(one.body).toContain(`href="/ops/payments/${delivered.subject}"`);
    expect(one.body).toContain('HTTP 204');
    const sendAgain = `/ops/webhooks/${endpoint.id}/deliveries/${delivered.messageId}/send-again`;
    expect(one.body).toContain(`action="${sendAgain}"`);

    // Without the form token the action is refused.
    expect((await post(sendAgain, 'nope')).status).toBe(403);

    const before = receiver.received.filter((r) => r.id === delivered.messageId).length;
    const again = await post(sendAgain, formTokenOf(one.body));
    expect(again.status, again.body).toBe(303);
    expect(again.headers.location).toBe(`/ops/webhooks/${endpoint.id}`);
    await pollUntil(
      async () => receiver.received.filter((r) => r.id === delivered.messageId).length,
      (count) => count > before,
      { timeoutMs: 10_000, describe: (count) => `${count} request(s) for the message` },
    );
    const last = receiver.received.filter((r) => r.id === delivered.messageId).at(-1);
    expect(last?.verifiedWith).toEqual([0]);
  });

  it('disables and enables the endpoint; a disabled one sends nothing again', async () => {
    const one = await get(`/ops/webhooks/${endpoint.id}`);
    const token = formTokenOf(one.body);
    const base = `/ops/webhooks/${endpoint.id}`;
    expect(one.body).toContain(`action="${base}/disable"`);

    expect((await post(`${base}/disable`, token)).status).toBe(303);
    expect((await h.orchestrator.webhooks.endpoints.get(endpoint.id, 'all')).enabled).toBe(false);
    const disabled = await get(base);
    expect(disabled.body).toContain(`action="${base}/enable"`);
    expect(disabled.body).toContain('<td>disabled</td>');

    const refused = await post(`${base}/deliveries/${delivered.messageId}/send-again`, token);
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toContain('text/html');
    expect(refused.body).toContain('disabled');
    expect(refused.body).toContain(`href="${base}"`);

    expect((await post(`${base}/enable`, token)).status).toBe(303);
    expect((await h.orchestrator.webhooks.endpoints.get(endpoint.id, 'all')).enabled).toBe(true);
  });

  it('answers 404 for an unknown or malformed endpoint id or message id', async () => {
    for (const id of ['we_Unknown123', 'not-an-id', 'we_<b>']) {
      const missing = await get(`/ops/webhooks/${encodeURIComponent(id)}`);
      expect(missing.status, id).toBe(404);
      expect(missing.body).not.toContain('<b>');
    }
    const token = formTokenOf((await get(`/ops/webhooks/${endpoint.id}`)).body);
    const unknownMessage = await post(
      `/ops/webhooks/${endpoint.id}/deliveries/00000000-0000-0000-0000-000000000000/send-again`,
      token,
    );
    expect(unknownMessage.status).toBe(404);
    const unknownEndpoint = await post(
      `/ops/webhooks/we_Unknown123/deliveries/${delivered.messageId}/send-again`,
      token,
    );
    expect(unknownEndpoint.status).toBe(404);
  });
});
