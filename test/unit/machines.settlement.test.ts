import { describe, expect, it } from 'vitest';
import type { Amounts, GatewayView } from '../../machines/contract.ts';
import { initialContext, type PaymentContext } from '../../machines/model.ts';
import {
  arrivalEventName,
  confirmMark,
  settleFromMark,
  settleFromView,
} from '../../machines/settlement.ts';
import { inputFor } from './machines.support.ts';

function contextWith(
  amounts: Partial<Amounts>,
  extra: Partial<PaymentContext> = {},
): PaymentContext {
  const base = initialContext(inputFor('card'));
  return {
    ...base,
    pending: null,
    amounts: { ...base.amounts, ...amounts },
    ...extra,
  };
}

const view = (
  state: GatewayView['state'],
  remainingAmount: number,
  more: Partial<GatewayView> = {},
) => ({ state, originalAmount: 100, remainingAmount, ...more }) satisfies GatewayView;

describe('settleFromView: views that are never adopted', () => {
  const authorized = contextWith({ authorized: 100 });
  const captured = contextWith({ authorized: 100, captured: 100 });
  const refunded = contextWith({ authorized: 100, captured: 100, refunded: 40 });

  it.each([
    ['a fractional amount', authorized, view('authorized', 10.5)],
    ['a negative amount', authorized, view('authorized', -1)],
    ['remaining above original', authorized, view('authorized', 101)],
    ['another original amount', authorized, { ...view('authorized', 50), originalAmount: 50 }],
    ['a bad refunded amount', captured, view('captured', 50, { refundedAmount: -50 })],
    ['no authorisation where we hold one', authorized, view('awaiting_authorization', 100)],
    ['refused after a capture', captured, view('refused', 0)],
    ['expired after a capture', captured, view('expired', 0)],
    ['a challenge after a capture', captured, view('challenge', 100)],
    ['cancelled after a refund', refunded, view('cancelled', 0)],
    ['not remitted after a refund', refunded, view('authorized', 60)],
    ['another validated amount', captured, view('authorized', 60)],
    ['a refund undone', refunded, view('captured', 100, { refundedAmount: 0 })],
    ['numbers that do not add up', refunded, view('captured', 70, { refundedAmount: 40 })],
    ['refunded with nothing refunded', captured, view('refunded', 100, { refundedAmount: 0 })],
    ['a remittance of nothing', authorized, view('captured', 0)],
  ])('%s → inconsistent', (_, context, seen) => {
    expect(settleFromView(context, seen)).toMatchObject({ type: 'inconsistent' });
  });
});

describe('settleFromView: adopted positions', () => {
  it('awaiting authorisation before any → inconclusive', () => {
    expect(settleFromView(contextWith({}), view('awaiting_authorization', 100)).type).toBe(
      'inconclusive',
    );
  });

  it('validated (TO_CAPTURE) in VALIDATION mode → captured, the rest released', () => {
    expect(
      settleFromView(
        contextWith({ authorized: 100 }),
        view('authorized', 60, { awaitingValidation: false }),
      ),
    ).toEqual({
      type: 'position',
      position: {
        landing: 'captured',
        amounts: { authorized: 100, captured: 60, cancelled: 40, refunded: 0 },
      },
    });
  });

  it('AUTHOR_CAPTURE: TO_CAPTURE is simply authorised', () => {
    const context = contextWith({ authorized: 100 }, { captureMode: 'author_capture' });
    expect(
      settleFromView(context, view('authorized', 100, { awaitingValidation: false })),
    ).toMatchObject({ position: { landing: 'authorized' } });
  });

  it('remitted with refunds → partially_refunded, then refunded', () => {
    const context = contextWith({ authorized: 100, captured: 80, cancelled: 20, refunded: 30 });
    expect(settleFromView(context, view('captured', 40, { refundedAmount: 40 }))).toMatchObject({
      position: {
        landing: 'partially_refunded',
        amounts: { captured: 80, refunded: 40, cancelled: 20 },
      },
    });
    expect(settleFromView(context, view('refunded', 0))).toMatchObject({
      position: { landing: 'refunded', amounts: { refunded: 80 } },
    });
  });

  it('a partial cancel seen while challenged → challenged with the cancel', () => {
    expect(settleFromView(contextWith({ authorized: 100 }), view('challenge', 70))).toMatchObject({
      position: { landing: 'challenged', amounts: { cancelled: 30 } },
    });
  });
});

describe('settleFromMark', () => {
  it('captured before anything was validated: what is left of the authorisation', () => {
    expect(
      settleFromMark(contextWith({ authorized: 100, cancelled: 30 }), 'captured'),
    ).toMatchObject({
      position: { landing: 'captured', amounts: { captured: 70, cancelled: 30 } },
    });
  });

  it('captured with a pending capture: the pending amount', () => {
    const context = contextWith(
      { authorized: 100 },
      { pending: { operation: 'capture', amount: 25, resumeTo: 'authorized' } },
    );
    expect(settleFromMark(context, 'captured')).toMatchObject({
      position: { amounts: { captured: 25, cancelled: 75 } },
    });
  });

  it('authorized when nothing was recorded: the requested amount', () => {
    expect(settleFromMark(contextWith({}), 'authorized')).toMatchObject({
      position: { landing: 'authorized', amounts: { authorized: 100 } },
    });
  });

  it.each(['authorized', 'cancelled', 'refused', 'failed'] as const)(
    '%s after a capture → refused as inconsistent',
    (status) => {
      expect(settleFromMark(contextWith({ authorized: 100, captured: 50 }), status).type).toBe(
        'inconsistent',
      );
    },
  );
});

describe('confirmMark: Sips must show what a person marks', () => {
  const nothing = contextWith({}, { captureMode: 'author_capture' });
  const validating = contextWith({}, { captureMode: 'validation' });

  it.each([
    ['authorized', nothing, view('authorized', 100)],
    ['authorized', nothing, view('challenge', 100)],
    ['refused', nothing, view('refused', 100)],
    ['failed', nothing, view('refused', 100)],
    ['refused', nothing, null],
    ['failed', nothing, null],
    ['cancelled', nothing, view('cancelled', 0)],
    ['captured', validating, view('authorized', 100, { awaitingValidation: false })],
    ['captured', nothing, view('captured', 100)],
  ] as const)('%s is confirmed by %#', (status, context, seen) => {
    expect(confirmMark(context, status, seen)).toEqual({ agrees: true });
  });

  it.each([
    ['refused', nothing, view('authorized', 100), 'Sips shows the payment authorized'],
    ['refused', validating, view('captured', 100), 'Sips shows the payment captured'],
    ['captured', nothing, view('authorized', 100), 'Sips shows the payment authorized'],
    ['authorized', nothing, view('authorized', 60), 'cancelled 40'],
    ['cancelled', nothing, view('refused', 100), 'Sips shows the payment refused'],
    ['authorized', nothing, null, 'Sips does not know the transaction'],
    ['refused', nothing, view('expired', 100), 'Sips shows the payment expired'],
    ['authorized', nothing, view('awaiting_authorization', 100), 'awaiting_authorization'],
  ] as const)('%s is not confirmed by %#', (status, context, seen, shows) => {
    const confirmation = confirmMark(context, status, seen);
    expect(confirmation.agrees).toBe(false);
    expect(confirmation).toMatchObject({ shows: expect.stringContaining(shows) });
  });
});

describe('arrivalEventName', () => {
  it('a follow-up whose view shows nothing changed did not happen', () => {
    const context = contextWith(
      { authorized: 100, captured: 100 },
      { pending: { operation: 'refund', amount: 30, resumeTo: 'captured' } },
    );
    expect(arrivalEventName(context, { landing: 'captured', amounts: context.amounts })).toBe(
      'payment.refund_failed',
    );
  });

  it('the first authorisation is announced as such, even after back-office cancels', () => {
    const context = contextWith({}, { pending: { operation: 'authorize' } });
    expect(
      arrivalEventName(context, {
        landing: 'authorized',
        amounts: { authorized: 100, captured: 0, cancelled: 30, refunded: 0 },
      }),
    ).toBe('payment.authorized');
  });
});
