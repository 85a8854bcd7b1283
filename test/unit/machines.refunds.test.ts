/**
 * Refunds that always land, in the machine: what a refund becomes when Sips
 * has not remitted the payment (a cancel, or held), how it goes on when Sips
 * did remit meanwhile, and the resource records every command leaves.
 */
import { describe, expect, it } from 'vitest';
import type { Effect, PaymentEvent, StepResult } from '../../machines/contract.ts';
import { commandOperationsOf, startPayment } from '../../machines/index.ts';
import { accepted, drive, inputFor, peek } from './machines.support.ts';

const authorized = (captureMode: 'validation' | 'author_capture') =>
  drive(startPayment({ ...inputFor('card', captureMode), amount: 10_000 }), accepted('authorize'));

const captured = () =>
  drive(
    authorized('validation'),
    { type: 'capture', amount: 8_000, operationId: 'cap_1' },
    accepted('capture'),
  );

const refund = (beforeRemittance?: 'cancel' | 'hold'): PaymentEvent => ({
  type: 'refund',
  amount: 3_000,
  operationId: 'ref_1',
  ...(beforeRemittance ? { beforeRemittance } : {}),
});

const refused24: PaymentEvent = { type: 'sips.conflict', operation: 'refund', responseCode: '24' };

/** A VALIDATION transaction validated and not remitted (TO_CAPTURE). */
const notRemitted = (remainingAmount: number): PaymentEvent => ({
  type: 'inquiry.found',
  view: { state: 'captured', originalAmount: 10_000, remainingAmount, remitted: false },
});

const remitted = (remainingAmount: number): PaymentEvent => ({
  type: 'inquiry.found',
  view: { state: 'captured', originalAmount: 10_000, remainingAmount, remitted: true },
});

const emitted = (result: StepResult) =>
  result.effects.flatMap((effect) => (effect.type === 'emit' ? [effect.name] : []));

const operation = (result: StepResult, id: string) =>
  commandOperationsOf(result.snapshot).find((record) => record.id === id);

describe('a refund before remittance, policy cancel', () => {
  it('24 then TO_CAPTURE: the refund is carried out by a cancel of that amount', () => {
    const switched = drive(captured(), refund('cancel'), refused24, notRemitted(8_000));
    expect(switched.status).toBe('cancelling');
    expect(switched.effects).toContainEqual({ type: 'call', operation: 'cancel', amount: 3_000 });
    expect(emitted(switched)).toEqual(['payment.cancel_requested']);
    expect(operation(switched, 'ref_1')).toMatchObject({
      status: 'pending',
      performedAs: 'cancel',
    });

    const done = drive(switched, accepted('cancel', { remainingAmount: 5_000 }));
    expect(done.status).toBe('captured');
    expect(done.amounts).toEqual({
      authorized: 10_000,
      captured: 5_000,
      cancelled: 5_000,
      refunded: 0,
    });
    expect(emitted(done)).toEqual(['payment.partially_cancelled', 'refund.succeeded']);
    expect(operation(done, 'ref_1')).toEqual({
      id: 'ref_1',
      type: 'refund',
      amount: 3_000,
      status: 'succeeded',
      performedAs: 'cancel',
      beforeRemittance: 'cancel',
    });
  });

  it('a remaining amount other than expected after the cancel: inquire', () => {
    const switched = drive(captured(), refund('cancel'), refused24, notRemitted(8_000));
    expect(drive(switched, accepted('cancel', { remainingAmount: 4_000 })).status).toBe(
      'outcome_unknown',
    );
  });

  it('the cancel outcome unknown, then seen done: settled as a cancel of captured money', () => {
    const switched = drive(captured(), refund('cancel'), refused24, notRemitted(8_000));
    const done = drive(
      switched,
      { type: 'sips.unknown', operation: 'cancel', reason: 'timeout' },
      notRemitted(5_000),
    );
    expect(done.status).toBe('captured');
    expect(done.amounts).toMatchObject({ captured: 5_000, cancelled: 5_000, refunded: 0 });
    expect(operation(done, 'ref_1')?.status).toBe('succeeded');
  });

  it('without a policy (a command of an earlier version), the refund fails as before', () => {
    const failed = drive(captured(), refund(), refused24, notRemitted(8_000));
    expect(failed.status).toBe('captured');
    expect(emitted(failed)).toEqual(['payment.refund_failed', 'refund.failed']);
    expect(operation(failed, 'ref_1')).toMatchObject({
      status: 'failed',
      failure: { reason: 'not_done' },
    });
  });
});

describe('a refund before remittance, policy hold', () => {
  it('is held, then sent once an inquiry shows the payment remitted', () => {
    const held = drive(captured(), refund('hold'), refused24, notRemitted(8_000));
    expect(held.status).toBe('captured');
    expect(emitted(held)).toEqual(['refund.held']);
    expect(operation(held, 'ref_1')).toMatchObject({ status: 'held', performedAs: 'refund' });
    expect(held.effects.some((effect) => effect.type === 'alert')).toBe(false);

    // Still not remitted: nothing happens.
    const still = drive(held, notRemitted(8_000));
    expect(still.status).toBe('captured');
    expect(still.effects).toEqual([]);

    const sent = drive(still, remitted(8_000));
    expect(sent.status).toBe('refunding');
    expect(sent.effects).toContainEqual({ type: 'call', operation: 'refund', amount: 3_000 });
    const done = drive(sent, accepted('refund', { remainingAmount: 5_000 }));
    expect(done.status).toBe('partially_refunded');
    expect(done.amounts).toMatchObject({ captured: 8_000, refunded: 3_000 });
    expect(operation(done, 'ref_1')).toMatchObject({ status: 'succeeded', performedAs: 'refund' });
  });
});

describe('AUTHOR_CAPTURE, not seen remitted', () => {
  it('a refund is a cancel; should Sips have remitted meanwhile, the refund goes instead', () => {
    const cancelling = drive(authorized('author_capture'), refund('cancel'));
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.effects).toContainEqual({
      type: 'call',
      operation: 'cancel',
      amount: 3_000,
    });
    const refunding = drive(
      cancelling,
      { type: 'sips.conflict', operation: 'cancel', responseCode: '24' },
      remitted(10_000),
    );
    expect(refunding.status).toBe('refunding');
    expect(refunding.amounts).toMatchObject({ captured: 10_000, cancelled: 0 });
    expect(refunding.effects).toContainEqual({ type: 'call', operation: 'refund', amount: 3_000 });
    const done = drive(refunding, accepted('refund', { remainingAmount: 7_000 }));
    expect(done.status).toBe('partially_refunded');
    expect(operation(done, 'ref_1')).toMatchObject({ status: 'succeeded', performedAs: 'refund' });
  });

  it('a challenged authorisation takes no refund', () => {
    const challenged = drive(
      startPayment({ ...inputFor('card', 'author_capture'), amount: 10_000 }),
      accepted('authorize', { challenge: true }),
    );
    const outcome = drive.bind(null, challenged);
    expect(() => outcome(refund('cancel'))).toThrow(/fraud check/);
  });
});

describe('failed commands leave a record, an event and an alert', () => {
  it.each<[string, PaymentEvent, Record<string, unknown>]>([
    [
      'declined',
      { type: 'sips.declined', operation: 'refund', responseCode: '05', invalid: false },
      { reason: 'declined', responseCode: '05' },
    ],
    [
      'unavailable',
      { type: 'sips.unavailable', operation: 'refund', responseCode: '99' },
      { reason: 'sips_unavailable', responseCode: '99' },
    ],
  ])('%s', (_, answer, failure) => {
    const sent = drive(captured(), { type: 'refund', amount: 1_000, operationId: 'ref_2' });
    const failed = drive(sent, answer);
    expect(failed.status).toBe('captured');
    expect(operation(failed, 'ref_2')).toMatchObject({ status: 'failed', failure });
    const alert = failed.effects.find(
      (effect): effect is Extract<Effect, { type: 'alert' }> => effect.type === 'alert',
    );
    expect(alert).toMatchObject({
      kind: 'operation_failed',
      data: { operationId: 'ref_2', type: 'refund', ...failure },
    });
    expect(emitted(failed)).toEqual(['payment.refund_failed', 'refund.failed']);
  });

  it('a failed capture is recorded too (no refund event)', () => {
    const failed = drive(
      authorized('validation'),
      { type: 'capture', amount: 100, operationId: 'cap_9' },
      { type: 'sips.declined', operation: 'capture', responseCode: '12', invalid: true },
    );
    expect(operation(failed, 'cap_9')).toMatchObject({
      status: 'failed',
      failure: { reason: 'invalid_request', responseCode: '12' },
    });
    expect(emitted(failed)).toEqual(['payment.capture_failed']);
  });
});

describe('snapshots', () => {
  it('keep the operation records through JSON, and read those written before them', () => {
    const done = captured();
    const copy = JSON.parse(JSON.stringify(done.snapshot));
    expect(commandOperationsOf(copy)).toEqual([
      {
        id: 'cap_1',
        type: 'capture',
        amount: 8_000,
        status: 'succeeded',
        performedAs: 'capture',
      },
    ]);
    const { operations: _dropped, ...older } = peek(done.snapshot).context;
    const olderSnapshot = { ...copy, context: older };
    expect(commandOperationsOf(olderSnapshot)).toEqual([]);
    expect(drive({ ...done, snapshot: olderSnapshot }, refund('cancel')).status).toBe('refunding');
  });
});
