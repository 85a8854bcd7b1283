/**
 * A burst of responseCode 90 (Sips unavailable) pauses the step queue instead
 * of spending the jobs' attempts: with 3 attempts per job, 12 answers 90 spread
 * over 4 payments would fail every one of them if each 90 cost an attempt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ACCEPTED_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

const PAYMENTS = 4;
const ATTEMPTS = 3;
/** Enough 90s that spending one attempt on each would exhaust every payment's attempts. */
const UNAVAILABLE_ANSWERS = PAYMENTS * ATTEMPTS;

let h: OrchestratorHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('a burst of responseCode 90', () => {
  it('pauses the queue and authorises every payment once, without burning attempts', async () => {
    const harness = await startOrchestratorHarness({
      orchestrator: {
        retry: { attempts: ATTEMPTS, baseMs: 20, capMs: 100 },
        burst: { threshold: 2, windowMs: 60_000, pauseMs: 250 },
      },
    });
    h = harness;
    harness.sim.faults.add({
      match: { service: 'cardOrder' },
      times: UNAVAILABLE_ANSWERS,
      type: 'responseCode',
      responseCode: '90',
    });

    const created = await Promise.all(
      Array.from({ length: PAYMENTS }, (_, i) =>
        harness.orchestrator.payments.create({
          amount: 1_000 + i,
          currency: '978',
          card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
        }),
      ),
    );
    const done = await Promise.all(
      created.map(({ payment }) => harness.waitFor(payment.id, undefined, 20_000)),
    );

    const unavailable = harness.sim.ledger.requests({ service: 'cardOrder', responseCode: '90' });
    // Every 90 was answered (none left in the fault), so the payments met the whole burst.
    expect(unavailable).toHaveLength(UNAVAILABLE_ANSWERS);
    expect(harness.sim.faults.list()).toHaveLength(0);

    const ninetiesPerPayment = done.map(
      (payment) =>
        unavailable.filter((entry) => entry.transactionReference === payment.transactionReference)
          .length,
    );
    for (const payment of done) {
      expect(payment.status).toBe('authorized');
      expect(harness.sim.ledger.countAuthorizations(payment.transactionReference)).toBe(1);
      expect(
        harness.sim.ledger.countRequests({
          service: 'cardOrder',
          transactionReference: payment.transactionReference,
          responseCode: '00',
        }),
      ).toBe(1);
    }
    // At least one payment met as many 90s as it had attempts and was still
    // authorised: those answers paused the queue instead of using its attempts.
    expect(Math.max(...ninetiesPerPayment)).toBeGreaterThanOrEqual(ATTEMPTS);
    expect(ninetiesPerPayment.reduce((sum, n) => sum + n, 0)).toBe(UNAVAILABLE_ANSWERS);
  });
});
