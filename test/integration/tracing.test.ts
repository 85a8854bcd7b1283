/**
 * With tracing on, one payment makes one trace: the API request's span, the
 * BullMQ job's span under it (the context travels with the job), the Sips
 * call's span under the job's, and the outgoing HTTP call under that.
 * Spans go to an in-memory exporter through the tracing module.
 */
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKeys } from '../../src/api/app.ts';
import { startTracing, tracingActive, type Tracing } from '../../src/platform/tracing.ts';
import { startApiOnPort } from '../support/api-on-port.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';

const exporter = new InMemorySpanExporter();
let tracing: Tracing | undefined;
let h: OrchestratorHarness | undefined;
let app: FastifyInstance | undefined;
let base = '';

beforeAll(async () => {
  // Before the orchestrator: its queues and workers take BullMQ's telemetry when built.
  tracing = startTracing({ exporter, serviceName: 'tracing-test' });
  ({ h, app, base } = await startApiOnPort(() => ({
    apiKeys: parseApiKeys('shop:pay-secret:payments'),
  })));
});

afterAll(async () => {
  await app?.close();
  await h?.close();
  await tracing?.shutdown();
});

/** The ids of `span`'s ancestors, nearest first, among `spans`. */
function ancestorsOf(span: ReadableSpan, spans: readonly ReadableSpan[]): string[] {
  const byId = new Map(spans.map((each) => [each.spanContext().spanId, each]));
  const ids: string[] = [];
  let parent = span.parentSpanContext?.spanId;
  while (parent !== undefined) {
    ids.push(parent);
    parent = byId.get(parent)?.parentSpanContext?.spanId;
  }
  return ids;
}

describe('tracing', () => {
  it('makes one trace of the API request, the step job and the Sips call', async () => {
    expect(tracingActive()).toBe(true);
    const response = await fetch(`${base}/v1/payments`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer pay-secret',
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({
        amount: 1_500,
        currency: '978',
        card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
      }),
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    await h?.waitFor(id);

    const find = (spans: readonly ReadableSpan[]) => {
      const request = spans.find(
        (span) =>
          span.kind === SpanKind.SERVER &&
          span.attributes['http.route'] === '/v1/payments' &&
          span.name.startsWith('POST'),
      );
      const sips = spans.find(
        (span) => span.name === 'sips cardOrder' && span.attributes['payment.id'] === id,
      );
      const job = spans.find(
        (span) =>
          span.kind === SpanKind.CONSUMER &&
          span.name.startsWith('process') &&
          String(span.attributes['bullmq.job.id'] ?? '').startsWith(id),
      );
      return { request, sips, job };
    };
    // The job's span ends once the job completes, after the payment is settled.
    const spans = await pollUntil(
      async () => exporter.getFinishedSpans(),
      (finished) => Object.values(find(finished)).every((span) => span !== undefined),
      {
        timeoutMs: 10_000,
        describe: (finished) =>
          `spans missing, finished: ${finished.map((span) => span.name).join(', ')}`,
      },
    );
    const { request, sips, job } = find(spans);
    if (!request || !sips || !job) throw new Error('unreachable');

    const traceId = request.spanContext().traceId;
    expect(job.spanContext().traceId).toBe(traceId);
    expect(sips.spanContext().traceId).toBe(traceId);
    expect(ancestorsOf(job, spans)).toContain(request.spanContext().spanId);
    expect(ancestorsOf(sips, spans)).toContain(job.spanContext().spanId);

    expect(sips.kind).toBe(SpanKind.CLIENT);
    expect(sips.attributes).toMatchObject({
      'sips.service': 'cardOrder',
      'sips.response_code': '00',
      'payment.id': id,
    });
    // The outgoing HTTP call to Sips (undici instrumentation) is a child of the Sips span.
    const http = spans.find(
      (span) =>
        span.kind === SpanKind.CLIENT &&
        span.parentSpanContext?.spanId === sips.spanContext().spanId,
    );
    expect(http?.spanContext().traceId).toBe(traceId);
    // No card data in any span.
    const text = JSON.stringify(spans.map((span) => [span.name, span.attributes]));
    expect(text).not.toContain(ACCEPTED_CARD);
  });
});
