/**
 * The manual-review queue against an outside probe's findings, replayed over
 * the API and the console with a real orchestrator, simulator and Redis:
 *
 * - the evidence of a seal-mismatch item holds no seal (computed or
 *   received) and no card expiry, also for items written by the previous
 *   version (test/fixtures/v1-inflight.json);
 * - who decided is the API key's name, never a `by` of the body;
 * - a mark is applied only when an inquiry at Sips confirms it, or forced
 *   with a reason and recorded as forced.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { runCli } from '../../src/cli/main.ts';
import { testPortsOf } from '../../src/orchestrator.ts';
import type { ReviewJobData } from '../../src/payments/review.ts';
import { readV1Fixture } from '../fixtures/v1-fixture.ts';
import { consoleSession } from '../support/console-login.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  REFUSED_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';

let h: OrchestratorHarness;
let app: FastifyInstance;

/** The ops key is named `ops-alice`: decisions are recorded under that name. */
const OPS = { authorization: 'Bearer ops-secret' };

beforeEach(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({
    orchestrator: h.orchestrator,
    apiKeys: parseApiKeys('shop:pay-secret:payments,ops-alice:ops-secret:ops'),
  });
  await app.ready();
});

afterEach(async () => {
  await app?.close();
  await h?.close();
});

/** A payment whose authorisation answer fails its seal, with its review item's id. */
async function untrusted(card = ACCEPTED_CARD): Promise<{ paymentId: string; jobId: string }> {
  h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
  const { payment } = await h.orchestrator.payments.create({
    amount: 2_500,
    currency: '978',
    card: { number: card, expiry: EXPIRY, csc: '123' },
  });
  await h.waitFor(payment.id, (p) => p.status === 'in_review');
  const item = await pollUntil(
    async () => (await h.orchestrator.reviews.list()).find((i) => i.paymentId === payment.id),
    (found) => found !== undefined,
    { timeoutMs: 10_000, describe: () => `no review item for ${payment.id}` },
  );
  return { paymentId: payment.id, jobId: item!.jobId };
}

const resolve = (jobId: string, payload: Record<string, unknown>) =>
  app.inject({
    method: 'POST',
    url: `/v1/reviews/${encodeURIComponent(jobId)}/resolve`,
    headers: OPS,
    payload,
  });

/** No seal, no card expiry: anywhere in the text of an answer. */
function expectNoSecrets(text: string): void {
  expect(text).not.toContain('expected');
  expect(text).not.toMatch(/[0-9a-f]{64}/i);
  expect(text).not.toContain('panExpiryDate');
  expect(text).not.toMatch(/expiry/i);
  expect(text).not.toContain(EXPIRY);
  expect(text).not.toContain(ACCEPTED_CARD);
}

describe('review evidence', () => {
  it('shows received fields and the seal verdict, never a seal or the card expiry', async () => {
    const { paymentId, jobId } = await untrusted();
    const one = await app.inject({ method: 'GET', url: `/v1/reviews/${jobId}`, headers: OPS });
    expect(one.statusCode).toBe(200);
    expectNoSecrets(one.body);
    const item = one.json();
    expect(item.evidence.seal).toEqual({
      verified: false,
      reason: 'mismatch',
      algorithm: 'HMAC-SHA-256',
    });
    expect(item.evidence.response).toMatchObject({
      responseCode: '00',
      transactionReference: expect.any(String),
      maskedPan: expect.stringContaining('#'),
    });
    expect(item.evidence.request).toMatchObject({ amount: 2_500 });

    const list = await app.inject({ method: 'GET', url: '/v1/reviews', headers: OPS });
    expect(list.body).toContain(paymentId);
    expectNoSecrets(list.body);

    const page = await app.inject({
      method: 'GET',
      url: `/ops/reviews/${jobId}`,
      headers: await consoleSession(app),
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('mismatch');
    expectNoSecrets(page.body);
  });

  it('shows items written by the previous version without their seals or card expiry', async () => {
    const { keyspace, redis, reviews } = testPortsOf(h.orchestrator);
    const fixture = readV1Fixture();
    const stored = fixture.keys.find((entry) => entry.key.includes(':manual-review:review-'));
    if (stored?.type !== 'hash' || stored.value.data === undefined) {
      throw new Error('the fixture has no review item');
    }
    // The previous version's item, as it wrote it, moved to a payment of this namespace.
    const old = JSON.parse(stored.value.data) as ReviewJobData;
    expect(JSON.stringify(old)).toContain('"expected"');
    expect(JSON.stringify(old)).toContain('panExpiryDate');
    const open = { ...old, paymentId: `pay_0_${'OLDOPEN'.padEnd(20, 'A')}` };
    const openId = `review-${open.paymentId}-${old.version}`;
    await reviews.queue(0).add(old.reason, open, { jobId: openId });
    const closed = { ...old, paymentId: `pay_0_${'OLDDONE'.padEnd(20, 'A')}` };
    const closedId = `review-${closed.paymentId}-${old.version}`;
    await redis.set(
      keyspace.reviewDecisionKey(0, closedId),
      JSON.stringify({
        ...closed,
        jobId: closedId,
        shard: 0,
        state: 'resolved',
        resolution: { action: 'dismiss', note: 'old', by: 'ops-1', at: 1 },
      }),
    );

    const session = await consoleSession(app);
    for (const jobId of [openId, closedId]) {
      const answer = await app.inject({ method: 'GET', url: `/v1/reviews/${jobId}`, headers: OPS });
      expect(answer.statusCode).toBe(200);
      expectNoSecrets(answer.body);
      const item = answer.json();
      expect(item.evidence.seal).toEqual({ verified: false, reason: 'mismatch' });
      expect(item.evidence.response).toMatchObject({
        responseCode: '00',
        maskedPan: '4000##########02',
      });
      expect(item.evidence.note).toBe(old.evidence.note);
      const page = await app.inject({
        method: 'GET',
        url: `/ops/reviews/${jobId}`,
        headers: session,
      });
      expect(page.statusCode).toBe(200);
      expectNoSecrets(page.body);
    }
    const list = await app.inject({ method: 'GET', url: '/v1/reviews', headers: OPS });
    expect(list.body).toContain(openId);
    expectNoSecrets(list.body);
  });
});

describe('who decides', () => {
  it('refuses a `by` in the body and records the name of the API key', async () => {
    const { jobId } = await untrusted();
    const forged = await resolve(jobId, { action: 'dismiss', note: 'done', by: 'mallory' });
    expect(forged.statusCode).toBe(400);
    expect(forged.json()).toMatchObject({ code: 'invalid_command', field: 'by' });
    expect((await h.orchestrator.reviews.get(jobId))?.state).toBe('open');

    const decided = await resolve(jobId, { action: 'dismiss', note: 'done' });
    expect(decided.statusCode).toBe(200);
    expect(decided.json().item.resolution).toMatchObject({ action: 'dismiss', by: 'ops-alice' });
  });

  it('takes no actor from a console form', async () => {
    const { jobId } = await untrusted();
    const session = await consoleSession(app);
    const page = await app.inject({
      method: 'GET',
      url: `/ops/reviews/${jobId}`,
      headers: session,
    });
    const formToken = /name="formToken" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const posted = await app.inject({
      method: 'POST',
      url: `/ops/reviews/${jobId}/resolve`,
      headers: { ...session, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        formToken,
        action: 'dismiss',
        note: 'x',
        by: 'mallory',
      }).toString(),
    });
    expect(posted.statusCode).toBe(303);
    const by = (await h.orchestrator.reviews.get(jobId))?.resolution?.by;
    expect(by).not.toBe('mallory');
    expect(['ops-alice', 'console']).toContain(by);
  });
});

describe('marking a status', () => {
  it('refuses a mark Sips does not confirm, and applies one it confirms', async () => {
    const { paymentId, jobId } = await untrusted();
    // Sips authorised (TO_CAPTURE, to be remitted): `refused` is not what it holds.
    const refused = await resolve(jobId, { action: 'mark', status: 'refused', note: 'looks bad' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'review_mark_disagrees' });
    expect(refused.json().detail).toContain('Sips shows the payment authorized');
    expect((await h.orchestrator.payments.get(paymentId)).status).toBe('in_review');
    expect((await h.orchestrator.reviews.get(jobId))?.state).toBe('open');

    const marked = await resolve(jobId, { action: 'mark', status: 'authorized', note: 'ok' });
    expect(marked.statusCode).toBe(200);
    const { item, payment } = marked.json();
    expect(payment.status).toBe('authorized');
    expect(item.resolution).toMatchObject({
      action: 'mark',
      by: 'ops-alice',
      details: { status: 'authorized', confirmed: true, sips: { state: 'authorized' } },
    });
    const events = await publishedData(paymentId, 'payment.review_resolved');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ decision: 'mark', status: 'authorized' });
    expect(events[0]).not.toHaveProperty('forced');
  });

  it('confirms `refused` when Sips refused the payment', async () => {
    const { paymentId, jobId } = await untrusted(REFUSED_CARD);
    const marked = await resolve(jobId, { action: 'mark', status: 'refused', note: 'declined' });
    expect(marked.statusCode).toBe(200);
    expect(marked.json().payment.status).toBe('refused');
    expect((await h.orchestrator.payments.get(paymentId)).status).toBe('refused');
  });

  it('forces a mark only with a reason, and records it as forced', async () => {
    const { paymentId, jobId } = await untrusted();
    for (const payload of [
      { action: 'mark', status: 'refused', note: 'x', force: true },
      { action: 'mark', status: 'refused', note: 'x', force: true, reason: '   ' },
    ]) {
      const answer = await resolve(jobId, payload);
      expect(answer.statusCode).toBe(400);
      expect(answer.json()).toMatchObject({ code: 'invalid_command', field: 'reason' });
    }
    const reasonAlone = await resolve(jobId, {
      action: 'mark',
      status: 'refused',
      note: 'x',
      reason: 'no force',
    });
    expect(reasonAlone.json()).toMatchObject({ code: 'invalid_command', field: 'reason' });
    const forceOnAdopt = await resolve(jobId, { action: 'adopt', note: 'x', force: true });
    expect(forceOnAdopt.json()).toMatchObject({ code: 'invalid_command', field: 'force' });

    const forced = await resolve(jobId, {
      action: 'mark',
      status: 'refused',
      note: 'customer disputes',
      force: true,
      reason: 'the acquirer confirmed by phone it will not remit',
    });
    expect(forced.statusCode).toBe(200);
    const { item, payment } = forced.json();
    expect(payment.status).toBe('refused');
    const reason = 'the acquirer confirmed by phone it will not remit';
    expect(item.resolution).toMatchObject({
      by: 'ops-alice',
      details: { status: 'refused', forced: true, reason },
    });
    const command = (payment.timeline as { kind: string; detail?: Record<string, unknown> }[]).find(
      (entry) => entry.kind === 'command' && entry.detail?.type === 'review.mark',
    );
    expect(command?.detail).toMatchObject({ status: 'refused', forced: true, reason });
    const events = await publishedData(paymentId, 'payment.review_resolved');
    expect(events).toEqual([
      expect.objectContaining({ decision: 'mark', status: 'refused', forced: true, reason }),
    ]);
  });

  it('forces a mark from the CLI under the name of its API key', async () => {
    const { jobId } = await untrusted();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli([...args, '--api', api], {
        readStdin: async () => '',
        stdout: (text) => out.push(text),
        stderr: (text) => err.push(text),
        env: { SOGENACTIF_API_KEY: 'ops-secret', USER: 'mallory' },
      });
      return { code, out: out.join(''), err: err.join('') };
    };
    const mark = ['review', 'resolve', jobId, '--action', 'mark', '--status', 'refused'];
    const refused = await run(...mark, '--note', 'bad');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('review_mark_disagrees');
    const forced = await run(...mark, '--note', 'bad', '--force', '--reason', 'bank said so');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.out).item.resolution).toMatchObject({
      by: 'ops-alice',
      details: { status: 'refused', forced: true, reason: 'bank said so' },
    });
  });

  it('refuses as retryable when Sips cannot be asked, and changes nothing', async () => {
    const { paymentId, jobId } = await untrusted();
    const [fault] = h.sim.faults.add({ match: { service: 'getTransactionData' }, type: 'reset' });
    const answer = await resolve(jobId, { action: 'mark', status: 'authorized', note: 'ok' });
    h.sim.faults.remove(fault as string);
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toMatchObject({ code: 'review_confirmation_unavailable' });
    expect(answer.headers['retry-after']).toBeDefined();
    expect((await h.orchestrator.payments.get(paymentId)).status).toBe('in_review');
    expect((await h.orchestrator.reviews.get(jobId))?.state).toBe('open');
    const again = await resolve(jobId, { action: 'mark', status: 'authorized', note: 'ok' });
    expect(again.statusCode).toBe(200);
  });
});

/** The `data` of the events of `type` published for a payment. */
async function publishedData(paymentId: string, type: string): Promise<Record<string, unknown>[]> {
  const { keyspace, redis } = testPortsOf(h.orchestrator);
  const stream = keyspace.eventsStream(keyspace.shardOf(paymentId));
  return pollUntil(
    async () => {
      const entries = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
      return entries
        .map(([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1] ?? 'null'))
        .filter((event) => event?.type === type && event.subject === paymentId)
        .map((event) => event.data as Record<string, unknown>);
    },
    (found) => found.length > 0,
    { timeoutMs: 5_000, describe: () => `no ${type} event for ${paymentId}` },
  );
}
