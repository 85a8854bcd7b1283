/**
 * Delayed jobs end with the payment state that needed them: the abandon job
 * of a 3-D Secure payment whose customer came back, and the capture-limit
 * timers of a VALIDATION payment once captured, leave the queue and the
 * scheduled items (ops.schedules, the console's schedules page).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authenticateAtAcs } from '../support/acs.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { pollUntil } from '../support/poll.ts';

let h: OrchestratorHarness;

beforeEach(async () => {
  h = await startOrchestratorHarness();
});

afterEach(async () => {
  await h?.close();
});

/** The scheduled items of one payment, as kind/detail. */
async function scheduledFor(paymentId: string): Promise<string[]> {
  const items = await h.orchestrator.ops.schedules({ limit: 500 });
  return items
    .filter((item) => item.subject === paymentId)
    .map((item) => `${item.kind}${item.detail ? `:${item.detail}` : ''}`)
    .sort();
}

const ofPayment = (paymentId: string, task: string) => (data: Record<string, unknown>) =>
  data.paymentId === paymentId && data.task === task;

describe('delayed jobs that end with their payment state', () => {
  it('removes the abandon job once the 3-D Secure customer came back', async () => {
    const { payment } = await h.orchestrator.payments.create({
      method: 'card_3ds',
      returnUrl: 'https://shop.example/return',
      amount: 1_990,
      card: { number: THREE_DS_SUCCESS_CARD, expiry: EXPIRY, csc: '123' },
    });
    const waiting = await h.waitFor(payment.id, (p) => p.status === 'awaiting_authentication');
    expect(await scheduledFor(payment.id)).toEqual(['abandon']);

    const back = await authenticateAtAcs(h.sim.url, waiting.redirection ?? {}, 'SUCCESS');
    await h.orchestrator.payments.completeAuthentication(payment.id, { paRes: back.PaRes });
    expect((await h.waitFor(payment.id, (p) => p.status === 'authorized')).status).toBe(
      'authorized',
    );
    await pollUntil(
      () => h.pendingJobs(ofPayment(payment.id, 'abandon')),
      (ids) => ids.length === 0,
      { timeoutMs: 5_000, describe: (ids) => `abandon jobs left: ${ids.join(', ')}` },
    );
    expect(await scheduledFor(payment.id)).toEqual([]);
  });

  it('removes the capture-limit timers once a VALIDATION payment is captured', async () => {
    const { payment } = await h.orchestrator.payments.create({
      amount: 10_000,
      captureMode: 'validation',
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    });
    await h.waitFor(payment.id, (p) => p.status === 'authorized');
    const timers = await scheduledFor(payment.id);
    expect(timers.length).toBeGreaterThan(0);
    expect(timers.every((item) => item.startsWith('timer:'))).toBe(true);

    await h.orchestrator.payments.capture(payment.id, { amount: 10_000 });
    expect((await h.waitFor(payment.id, (p) => p.status === 'captured')).status).toBe('captured');
    await pollUntil(
      () => h.pendingJobs(ofPayment(payment.id, 'timer')),
      (ids) => ids.length === 0,
      { timeoutMs: 5_000, describe: (ids) => `timers left: ${ids.join(', ')}` },
    );
    expect(await scheduledFor(payment.id)).toEqual([]);
  });
});
