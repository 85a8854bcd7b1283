/**
 * An inquiry's view is adopted without a person only when our own commands
 * explain its amounts: a refund Sips made twice (its intent lost, the call
 * sent again), a capture or a cancel nobody here asked for, go to review with
 * an ops alert; a person may still adopt the view.
 */
import { describe, expect, it } from 'vitest';
import type { GatewayView, StepResult } from '../../machines/contract.ts';
import { startPayment, stepPayment } from '../../machines/index.ts';
import { AMOUNT, accepted, inputFor, drive } from './machines.support.ts';

/** A VALIDATION card payment captured in full, then a refund of 40 whose outcome is unknown. */
function refundOutcomeUnknown(): StepResult {
  return drive(
    startPayment(inputFor('card')),
    accepted('authorize'),
    { type: 'capture', amount: AMOUNT },
    accepted('capture'),
    { type: 'refund', amount: 40 },
    { type: 'sips.unknown', operation: 'refund', reason: 'timeout' },
  );
}

const remitted = (refunded: number): GatewayView => ({
  state: refunded === AMOUNT ? 'refunded' : 'captured',
  originalAmount: AMOUNT,
  remainingAmount: AMOUNT - refunded,
  refundedAmount: refunded,
});

describe('adopting what Sips shows after an unknown outcome', () => {
  it('adopts the refund our command asked for', () => {
    const next = drive(refundOutcomeUnknown(), { type: 'inquiry.found', view: remitted(40) });
    expect(next.status).toBe('partially_refunded');
    expect(next.amounts.refunded).toBe(40);
  });

  it('sends a refund Sips made twice to review with an alert, never into our books', () => {
    const next = drive(refundOutcomeUnknown(), { type: 'inquiry.found', view: remitted(80) });
    expect(next.status).toBe('in_review');
    expect(next.amounts.refunded).toBe(0);
    expect(next.effects).toContainEqual({ type: 'review', reason: 'conflict' });
    expect(next.effects).toContainEqual(
      expect.objectContaining({
        type: 'alert',
        kind: 'inquiry_conflict',
        data: expect.objectContaining({
          detail: 'Sips shows 80 refunded; our commands explain 40',
        }),
      }),
    );
  });

  it('lets a person who saw the evidence adopt it all the same', () => {
    const inReview = drive(refundOutcomeUnknown(), { type: 'inquiry.found', view: remitted(80) });
    const adopted = drive(inReview, {
      type: 'review.adopt',
      view: remitted(80),
      note: 'two refunds confirmed with Sips support',
    });
    expect(adopted.status).toBe('partially_refunded');
    expect(adopted.amounts.refunded).toBe(80);
  });

  it('does not adopt a capture nobody here asked for on a reconciliation', () => {
    const authorized = drive(startPayment(inputFor('card')), accepted('authorize'));
    const next = stepPayment(authorized.snapshot, {
      type: 'inquiry.found',
      view: {
        state: 'authorized',
        originalAmount: AMOUNT,
        remainingAmount: AMOUNT,
        awaitingValidation: false,
      },
    });
    expect(next).toMatchObject({ accepted: true, status: 'in_review' });
  });

  it('adopts a validation it asked for, with the rest released', () => {
    const capturing = drive(
      startPayment(inputFor('card')),
      accepted('authorize'),
      { type: 'capture', amount: 60 },
      { type: 'sips.unknown', operation: 'capture', reason: 'timeout' },
    );
    const next = drive(capturing, {
      type: 'inquiry.found',
      view: {
        state: 'authorized',
        originalAmount: AMOUNT,
        remainingAmount: 60,
        awaitingValidation: false,
      },
    });
    expect(next.status).toBe('captured');
    expect(next.amounts).toMatchObject({ captured: 60, cancelled: AMOUNT - 60 });
  });
});
