/**
 * What ops see of a payment made over the API: the request id echoed and
 * carried by every log line of the payment (the worker's included, through
 * the job), the levels (info per status change, warn for a seal mismatch and
 * a manual review), and the metrics (HTTP requests by route pattern, the
 * schedule queue depth, the Sips histogram and the event stream lag).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/api/app.ts';
import { createMetrics, type Metrics } from '../../src/api/metrics.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { startApiOnPort } from '../support/api-on-port.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';

type Line = Record<string, unknown> & { level: number; msg: string };

const lines: Line[] = [];
const raw: string[] = [];
const logger = createLogger(
  { level: 'info' },
  {
    write(text: string) {
      raw.push(text);
      lines.push(JSON.parse(text) as Line);
    },
  },
);
const PAY = { authorization: 'Bearer pay-secret', 'content-type': 'application/json' };
const OPS = { authorization: 'Bearer ops-secret' };
const CSC = '987';

let metrics: Metrics;
let h: OrchestratorHarness | undefined;
let app: FastifyInstance | undefined;
let base = '';

beforeAll(async () => {
  metrics = createMetrics();
  ({ h, app, base } = await startApiOnPort(
    () => ({
      apiKeys: parseApiKeys('shop:pay-secret:payments,ops:ops-secret:ops'),
      logger,
      metrics,
    }),
    { orchestrator: { logger, onCall: (result) => metrics.onCall(result) } },
  ));
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

async function pay(
  headers: Record<string, string> = {},
): Promise<{ id: string; response: Response }> {
  const response = await fetch(`${base}/v1/payments`, {
    method: 'POST',
    headers: { ...PAY, 'idempotency-key': randomUUID(), ...headers },
    body: JSON.stringify({
      amount: 1_200,
      currency: '978',
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: CSC },
    }),
  });
  expect(response.status).toBe(201);
  return { id: ((await response.json()) as { id: string }).id, response };
}

const WARN = 40;
const INFO = 30;

describe('request ids and log lines', () => {
  it('echoes a sane X-Request-Id and carries it to the worker lines of the payment', async () => {
    const { id, response } = await pay({ 'x-request-id': 'order-42.req_1' });
    expect(response.headers.get('x-request-id')).toBe('order-42.req_1');
    await h?.waitFor(id);
    const ofPayment = await pollUntil(
      async () => lines.filter((line) => line.paymentId === id),
      (found) => found.some((line) => line.msg === 'payment status changed' && line.jobId),
      { timeoutMs: 5_000, describe: (found) => JSON.stringify(found) },
    );
    const created = ofPayment.find((line) => line.msg === 'payment created');
    expect(created).toMatchObject({
      level: INFO,
      requestId: 'order-42.req_1',
      merchant: 'default',
    });
    // The worker's line: the job, the payment, its merchant and the request that started it.
    const changed = ofPayment.find((line) => line.msg === 'payment status changed' && line.jobId);
    expect(changed).toMatchObject({
      level: INFO,
      requestId: 'order-42.req_1',
      paymentId: id,
      merchant: 'default',
      jobId: expect.stringMatching(new RegExp(`^${id}-v\\d+-`)) as unknown,
    });
    expect(raw.join('')).not.toContain(ACCEPTED_CARD);
  });

  it('replaces an unusable X-Request-Id with a new one', async () => {
    const { response } = await pay({ 'x-request-id': 'not a token; {}' });
    const given = response.headers.get('x-request-id');
    expect(given).toMatch(/^[0-9a-f-]{36}$/);
    const plain = await fetch(`${base}/healthz`);
    expect(plain.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('warns of a seal mismatch and of the manual review it leads to, naming the payment', async () => {
    h?.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
    const { id } = await pay({ 'x-request-id': 'sealed-1' });
    await h?.waitFor(id, (payment) => payment.status === 'in_review');
    const warned = await pollUntil(
      async () => lines.filter((line) => line.level === WARN && line.paymentId === id),
      (found) => found.length >= 2,
      { timeoutMs: 5_000, describe: (found) => JSON.stringify(found) },
    );
    expect(warned.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['sips answer seal mismatch', 'payment sent to manual review']),
    );
    for (const line of warned) {
      expect(line).toMatchObject({ requestId: 'sealed-1', jobId: expect.any(String) as unknown });
    }
    expect(raw.join('')).not.toContain(CSC);
  });
});

describe('metrics', () => {
  it('counts HTTP requests by route pattern and shows queue depths and Sips latency', async () => {
    const { id } = await pay();
    await h?.waitFor(id);
    const view = await fetch(`${base}/v1/payments/${id}`, { headers: PAY });
    expect(view.status).toBe(200);
    expect((await fetch(`${base}/v1/nothing-here`, { headers: PAY })).status).toBe(404);

    const response = await fetch(`${base}/metrics`, { headers: OPS });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(
      /^http_requests_total\{method="POST",route="\/v1\/payments",status_code="201"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="\/v1\/payments\/:id",status_code="200"\} 1$/m,
    );
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1$/m,
    );
    // Never the raw URL: the payment id is no label.
    expect(text).not.toContain(id);
    expect(text).toMatch(
      /^http_request_duration_seconds_bucket\{le="0\.1",method="POST",route="\/v1\/payments",status_code="201"\} \d+$/m,
    );
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      expect(text).toMatch(
        new RegExp(`^schedule_queue_jobs\\{shard="0",state="${state}"\\} \\d+$`, 'm'),
      );
      expect(text).toMatch(
        new RegExp(`^step_queue_jobs\\{shard="0",state="${state}"\\} \\d+$`, 'm'),
      );
    }
    expect(text).toMatch(
      /^sips_call_duration_seconds_bucket\{le="[^"]+",service="cardOrder",response_code="00"\} \d+$/m,
    );
    expect(text).toContain('# TYPE event_stream_consumer_lag gauge');
  });
});
