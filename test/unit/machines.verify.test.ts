/**
 * REDIS_DURABILITY=verify: what Sips must show just before a call for the
 * call to go out. Anything that says an earlier attempt was processed holds
 * the call back.
 */
import { describe, expect, it } from 'vitest';
import type { GatewayView, StepResult } from '../../machines/contract.ts';
import { checkBeforeCall, startPayment } from '../../machines/index.ts';
import { AMOUNT, accepted, inputFor, drive } from './machines.support.ts';

const authorised = (): StepResult => drive(startPayment(inputFor('card')), accepted('authorize'));
const captured = (): StepResult =>
  drive(authorised(), { type: 'capture', amount: AMOUNT }, accepted('capture'));

const view = (over: Partial<GatewayView>): GatewayView => ({
  state: 'authorized',
  originalAmount: AMOUNT,
  remainingAmount: AMOUNT,
  awaitingValidation: true,
  ...over,
});

const remitted = (refunded: number): GatewayView => ({
  state: refunded === AMOUNT ? 'refunded' : 'captured',
  originalAmount: AMOUNT,
  remainingAmount: AMOUNT - refunded,
  refundedAmount: refunded,
});

describe('checkBeforeCall', () => {
  it('sends a capture while Sips still waits for the validation', () => {
    const capturing = drive(authorised(), { type: 'capture', amount: AMOUNT });
    expect(checkBeforeCall(capturing.snapshot, view({}))).toEqual({ send: true });
  });

  it('holds a capture back when Sips already shows it validated', () => {
    const capturing = drive(authorised(), { type: 'capture', amount: AMOUNT });
    const verdict = checkBeforeCall(
      capturing.snapshot,
      view({ state: 'captured', awaitingValidation: false }),
    );
    expect(verdict).toEqual({
      send: false,
      reason: `Sips shows captured ${AMOUNT}, cancelled 0, refunded 0; we recorded captured 0, cancelled 0, refunded 0`,
    });
  });

  it('sends a refund when Sips shows what we recorded, holds it when Sips shows more refunded', () => {
    const refunding = drive(captured(), { type: 'refund', amount: 40 });
    expect(checkBeforeCall(refunding.snapshot, remitted(0))).toEqual({ send: true });
    expect(checkBeforeCall(refunding.snapshot, remitted(40))).toMatchObject({
      send: false,
      reason: expect.stringContaining('refunded 40; we recorded'),
    });
  });

  it('holds a cancel back when Sips shows part of the authorisation cancelled already', () => {
    const cancelling = drive(authorised(), { type: 'cancel', amount: 30 });
    expect(checkBeforeCall(cancelling.snapshot, view({}))).toEqual({ send: true });
    expect(
      checkBeforeCall(cancelling.snapshot, view({ remainingAmount: AMOUNT - 30 })),
    ).toMatchObject({ send: false });
  });

  it('holds a call back when Sips does not know the transaction, or shows another amount', () => {
    const refunding = drive(captured(), { type: 'refund', amount: 40 });
    expect(checkBeforeCall(refunding.snapshot, null)).toEqual({
      send: false,
      reason: 'Sips does not know the transaction',
    });
    expect(
      checkBeforeCall(refunding.snapshot, { ...remitted(0), originalAmount: AMOUNT + 1 }),
    ).toMatchObject({ send: false });
  });

  it('holds nothing back when no operation is pending', () => {
    expect(checkBeforeCall(authorised().snapshot, view({}))).toEqual({
      send: false,
      reason: 'no operation is pending',
    });
  });
});
