import { describe, expect, it } from 'vitest';
import {
  PAYMENT_KINDS,
  type Effect,
  type PaymentEvent,
  type PaymentKind,
  type PersistedSnapshot,
  type StepOutcome,
  type StepResult,
} from '../../machines/contract.ts';
import {
  MACHINE_VERSION,
  amountsOf,
  isChallenged,
  pendingOperationOf,
  startPayment,
  statusOf,
  stepPayment,
} from '../../machines/index.ts';
import { AMOUNT, accepted, checkStep, inputFor, peek, drive } from './machines.support.ts';

function rejected(at: StepResult, event: PaymentEvent): Extract<StepOutcome, { accepted: false }> {
  const before = JSON.stringify(at.snapshot);
  const outcome = stepPayment(at.snapshot, event);
  checkStep(at, event, outcome);
  expect(JSON.stringify(at.snapshot)).toBe(before);
  if (outcome.accepted) throw new Error(`${event.type} accepted in ${at.status}`);
  return outcome;
}

function emitted(result: StepResult): string[] {
  return result.effects.flatMap((effect) => (effect.type === 'emit' ? [effect.name] : []));
}

function without(effects: Effect[], type: Effect['type']): Effect[] {
  return effects.filter((effect) => effect.type !== type);
}

const start = (kind: PaymentKind, captureMode: 'validation' | 'author_capture' = 'validation') =>
  startPayment(inputFor(kind, captureMode));

const authorizedCard = (captureMode: 'validation' | 'author_capture' = 'validation') =>
  drive(start('card', captureMode), accepted('authorize', { authorisationId: 'A1' }));

const capturedCard = (amount = AMOUNT) =>
  drive(authorizedCard(), { type: 'capture', amount }, accepted('capture'));

describe('startPayment', () => {
  const firstCall: Record<PaymentKind, string> = {
    card: 'authorize',
    card_3ds: 'enroll',
    wallet: 'authorize',
    wallet_3ds: 'enroll',
    provider: 'initialize_provider',
    duplicate: 'authorize',
  };

  it.each(PAYMENT_KINDS)('%s: received, payment.received, then the first call', (kind) => {
    const result = start(kind);
    expect(result.status).toBe('received');
    expect(result.amounts).toEqual({ authorized: 0, captured: 0, cancelled: 0, refunded: 0 });
    expect(result.effects).toEqual([
      {
        type: 'emit',
        name: 'payment.received',
        data: {
          amounts: result.amounts,
          currency: '978',
          operation: firstCall[kind],
          kind,
        },
      },
      { type: 'call', operation: firstCall[kind] },
    ]);
    expect(pendingOperationOf(result.snapshot)).toEqual({ operation: firstCall[kind] });
    expect(peek(result.snapshot)).toMatchObject({ machineVersion: MACHINE_VERSION });
  });

  it.each([
    ['a zero amount', { amount: 0 }],
    ['a negative amount', { amount: -100 }],
    ['a fractional amount', { amount: 10.5 }],
    ['a currency that is not ISO numeric', { currency: 'EUR' }],
    ['an unknown kind', { kind: 'cheque' }],
    ['an unknown capture mode', { captureMode: 'immediate' }],
  ])('throws on %s', (_, override) => {
    expect(() => startPayment({ ...inputFor('card'), ...override } as never)).toThrow(RangeError);
  });
});

describe('card: authorisation outcomes', () => {
  it('accepted → authorized; the CSC and the PAN are forgotten at once', () => {
    const result = authorizedCard();
    expect(result.status).toBe('authorized');
    expect(result.amounts.authorized).toBe(AMOUNT);
    expect(result.effects).toEqual([
      {
        type: 'emit',
        name: 'payment.authorized',
        data: {
          amounts: result.amounts,
          currency: '978',
          operation: 'authorize',
          authorisationId: 'A1',
        },
      },
      { type: 'forget', what: 'csc' },
      { type: 'forget', what: 'card' },
    ]);
    expect(pendingOperationOf(result.snapshot)).toBeNull();
  });

  it('declined → refused, card data forgotten', () => {
    const result = drive(start('card'), {
      type: 'sips.declined',
      operation: 'authorize',
      responseCode: '05',
      invalid: false,
    });
    expect(result.status).toBe('refused');
    expect(emitted(result)).toEqual(['payment.refused']);
    expect(result.effects).toContainEqual({ type: 'forget', what: 'csc' });
  });

  it('invalid request → failed', () => {
    const result = drive(start('card'), {
      type: 'sips.declined',
      operation: 'authorize',
      responseCode: '12',
      invalid: true,
    });
    expect(result.status).toBe('failed');
    expect(result.effects[0]).toMatchObject({
      name: 'payment.failed',
      data: { reason: 'invalid_request', responseCode: '12' },
    });
  });

  it('unavailable (90/99 exhausted: not processed) → failed', () => {
    const result = drive(start('card'), {
      type: 'sips.unavailable',
      operation: 'authorize',
      responseCode: '90',
    });
    expect(result.status).toBe('failed');
    expect(result.effects[0]).toMatchObject({ data: { reason: 'sips_unavailable' } });
    expect(result.effects).toContainEqual({ type: 'forget', what: 'csc' });
  });

  it.each<PaymentEvent>([
    { type: 'sips.unknown', operation: 'authorize', reason: 'timeout' },
    { type: 'sips.conflict', operation: 'authorize', responseCode: '94' },
  ])('$type → outcome_unknown + inquire; the CSC is kept for a possible resend', (event) => {
    const result = drive(start('card'), event);
    expect(result.status).toBe('outcome_unknown');
    expect(without(result.effects, 'emit')).toEqual([{ type: 'inquire' }]);
    expect(emitted(result)).toEqual(['payment.outcome_unknown']);
    expect(pendingOperationOf(result.snapshot)).toEqual({ operation: 'authorize' });
  });

  it('untrusted (seal mismatch) → in_review, never retried; card data forgotten', () => {
    const result = drive(start('card'), { type: 'sips.untrusted', operation: 'authorize' });
    expect(result.status).toBe('in_review');
    expect(result.effects).toEqual([
      expect.objectContaining({
        name: 'payment.in_review',
        data: expect.objectContaining({ reason: 'seal_mismatch' }),
      }),
      { type: 'review', reason: 'seal_mismatch' },
      { type: 'forget', what: 'csc' },
      { type: 'forget', what: 'card' },
    ]);
  });

  it('rejects an answer for another operation, and a late answer', () => {
    const received = start('card');
    expect(rejected(received, accepted('capture')).reason).toMatch(
      /answer for capture while authorize is in flight/,
    );
    const authorized = authorizedCard();
    expect(rejected(authorized, accepted('authorize')).reason).toMatch(/no Sips call is in flight/);
  });

  it('rejects commands before the authorisation', () => {
    expect(rejected(start('card'), { type: 'capture', amount: 10 }).reason).toMatch(
      /authorize is in flight/,
    );
  });
});

describe('card_3ds and wallet_3ds: enrolment, ACS, completion', () => {
  it.each(['card_3ds', 'wallet_3ds'] as const)(
    '%s: enrolled → awaiting_authentication → customer back → authenticating → authorized',
    (kind) => {
      const enrolled = drive(
        start(kind),
        accepted('enroll', { redirect: { url: 'https://acs', hasPaReq: true } }),
      );
      expect(enrolled.status).toBe('awaiting_authentication');
      expect(enrolled.effects).toEqual([
        expect.objectContaining({
          name: 'payment.authentication_required',
          data: expect.objectContaining({ redirect: { url: 'https://acs', hasPaReq: true } }),
        }),
      ]);
      // The customer is away: nothing is in flight, commands are not accepted yet.
      expect(pendingOperationOf(enrolled.snapshot)).toBeNull();
      expect(rejected(enrolled, { type: 'cancel', amount: 10 }).reason).toMatch(/not authorised/);

      const back = drive(enrolled, { type: 'customer.returned' });
      expect(back.status).toBe('authenticating');
      expect(without(back.effects, 'emit')).toEqual([
        { type: 'call', operation: 'complete_authentication' },
      ]);
      expect(rejected(back, { type: 'customer.returned' }).reason).toMatch(/not expected/);

      const authorized = drive(back, accepted('complete_authentication'));
      expect(authorized.status).toBe('authorized');
      expect(without(authorized.effects, 'emit')).toEqual(
        kind === 'card_3ds'
          ? [
              { type: 'forget', what: 'csc' },
              { type: 'forget', what: 'card' },
            ]
          : [{ type: 'forget', what: 'csc' }],
      );
    },
  );

  it('not enrolled: straight to complete_authentication without redirection', () => {
    const result = drive(start('card_3ds'), accepted('enroll', { notEnrolled: true }));
    expect(result.status).toBe('authenticating');
    expect(result.effects).toEqual([
      expect.objectContaining({ name: 'payment.authentication_skipped' }),
      { type: 'call', operation: 'complete_authentication' },
    ]);
    expect(drive(result, accepted('complete_authentication')).status).toBe('authorized');
  });

  it('an enrolment answer with nowhere to send the customer → failed', () => {
    const result = drive(start('card_3ds'), accepted('enroll'));
    expect(result.status).toBe('failed');
    expect(result.effects[0]).toMatchObject({ data: { reason: 'no_redirection' } });
  });

  it('the customer never comes back → expired, card data forgotten', () => {
    const result = drive(
      start('card_3ds'),
      accepted('enroll', { redirect: { url: 'https://acs', hasPaReq: false } }),
      { type: 'customer.abandoned' },
    );
    expect(result.status).toBe('expired');
    expect(emitted(result)).toEqual(['payment.expired']);
    expect(result.effects).toContainEqual({ type: 'forget', what: 'card' });
  });

  it('enrolment declined → refused; authentication declined → refused', () => {
    const declined = { responseCode: '05', invalid: false } as const;
    expect(
      drive(start('card_3ds'), { type: 'sips.declined', operation: 'enroll', ...declined }).status,
    ).toBe('refused');
    expect(
      drive(start('card_3ds'), accepted('enroll', { notEnrolled: true }), {
        type: 'sips.declined',
        operation: 'complete_authentication',
        ...declined,
      }).status,
    ).toBe('refused');
  });
});

describe('provider and duplicate', () => {
  it('provider: initialize → customer away → finalize → authorized; no card data', () => {
    const result = drive(
      start('provider'),
      accepted('initialize_provider', { redirect: { url: 'https://psp', hasPaReq: false } }),
      { type: 'customer.returned' },
    );
    expect(result.effects).toContainEqual({ type: 'call', operation: 'finalize_provider' });
    const authorized = drive(result, accepted('finalize_provider'));
    expect(authorized.status).toBe('authorized');
    expect(without(authorized.effects, 'emit')).toEqual([]);
  });

  it('provider: "not enrolled" means nothing for a provider → no redirection, failed', () => {
    expect(
      drive(start('provider'), accepted('initialize_provider', { notEnrolled: true })).status,
    ).toBe('failed');
  });

  it('duplicate: authorize via the duplicate call, then the shared lifecycle', () => {
    const result = drive(
      start('duplicate'),
      accepted('authorize', { schemeTransactionIdentifier: 'S1' }),
      { type: 'capture', amount: 40 },
      accepted('capture'),
      { type: 'refund', amount: 40 },
      accepted('refund'),
    );
    expect(result.status).toBe('refunded');
    expect(result.amounts).toEqual({ authorized: 100, captured: 40, cancelled: 60, refunded: 40 });
  });
});

describe('capture (VALIDATION mode: one validate, possibly partial)', () => {
  it('a partial capture → captured; the rest is released and no longer capturable', () => {
    const capturing = drive(authorizedCard(), { type: 'capture', amount: 60 });
    expect(capturing.status).toBe('capturing');
    expect(capturing.effects).toEqual([
      expect.objectContaining({ name: 'payment.capture_requested' }),
      { type: 'call', operation: 'capture', amount: 60 },
    ]);
    expect(pendingOperationOf(capturing.snapshot)).toEqual({ operation: 'capture', amount: 60 });
    const captured = drive(capturing, accepted('capture'));
    expect(captured.status).toBe('captured');
    expect(emitted(captured)).toEqual(['payment.captured']);
    expect(captured.amounts).toEqual({ authorized: 100, captured: 60, cancelled: 40, refunded: 0 });
    expect(rejected(captured, { type: 'capture', amount: 10 }).reason).toMatch(
      /validates an authorisation once/,
    );
    expect(rejected(captured, { type: 'cancel', amount: 10 }).reason).toMatch(/refund instead/);
  });

  it('commands wait while the capture is in flight', () => {
    const capturing = drive(authorizedCard(), { type: 'capture', amount: 60 });
    for (const command of [
      { type: 'capture', amount: 10 },
      { type: 'cancel', amount: 10 },
      { type: 'refund', amount: 10 },
    ] as const) {
      expect(rejected(capturing, command).reason).toMatch(/capture is in flight.*serialised/);
    }
  });

  it.each<PaymentEvent>([
    { type: 'sips.declined', operation: 'capture', responseCode: '24', invalid: false },
    { type: 'sips.declined', operation: 'capture', responseCode: '12', invalid: true },
    { type: 'sips.unavailable', operation: 'capture', responseCode: '99' },
  ])('$type → still authorized, payment.capture_failed', (event) => {
    const result = drive(authorizedCard(), { type: 'capture', amount: 60 }, event);
    expect(result.status).toBe('authorized');
    expect(emitted(result)).toEqual(['payment.capture_failed']);
    expect(result.amounts).toEqual({ authorized: 100, captured: 0, cancelled: 0, refunded: 0 });
    // The merchant may try again.
    expect(drive(result, { type: 'capture', amount: 60 }).status).toBe('capturing');
  });

  it('AUTHOR_CAPTURE: no capture command; authorized until an inquiry shows the remittance', () => {
    const authorized = authorizedCard('author_capture');
    expect(rejected(authorized, { type: 'capture', amount: 10 }).reason).toMatch(/author_capture/);
    // A refund is taken, and carried out by a cancel (machines.refunds.test.ts).
    expect(drive(authorized, { type: 'refund', amount: 10 }).status).toBe('cancelling');
    const stillAuthorized = stepPayment(authorized.snapshot, {
      type: 'inquiry.found',
      view: { state: 'authorized', originalAmount: 100, remainingAmount: 100 },
    });
    expect(stillAuthorized).toMatchObject({ accepted: true, status: 'authorized', effects: [] });
    const remitted = drive(authorized, {
      type: 'inquiry.found',
      view: { state: 'captured', originalAmount: 100, remainingAmount: 100 },
    });
    expect(remitted.status).toBe('captured');
    expect(emitted(remitted)).toEqual(['payment.captured']);
    expect(remitted.amounts).toEqual({ authorized: 100, captured: 100, cancelled: 0, refunded: 0 });
  });

  it('AUTHOR_CAPTURE after a partial cancel: the remittance is what was left', () => {
    const result = drive(
      authorizedCard('author_capture'),
      { type: 'cancel', amount: 30 },
      accepted('cancel'),
      {
        type: 'inquiry.found',
        view: { state: 'captured', originalAmount: 100, remainingAmount: 70 },
      },
    );
    expect(result.amounts).toEqual({ authorized: 100, captured: 70, cancelled: 30, refunded: 0 });
  });

  it('an authorisation that expired at Sips (capture limit passed) → expired', () => {
    const result = drive(authorizedCard(), {
      type: 'inquiry.found',
      view: { state: 'expired', originalAmount: 100, remainingAmount: 0 },
    });
    expect(result.status).toBe('expired');
    expect(emitted(result)).toEqual(['payment.expired']);
  });
});

describe('amount guards', () => {
  const invalid = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53];
  it.each(['capture', 'cancel'] as const)(
    '%s: invalid amounts and amounts above what remains',
    (type) => {
      const authorized = authorizedCard();
      for (const amount of invalid) {
        expect(rejected(authorized, { type, amount }).reason).toMatch(
          /positive integer in minor units/,
        );
      }
      expect(rejected(authorized, { type, amount: 101 }).reason).toMatch(
        /exceeds what can still be/,
      );
      const afterPartialCancel = drive(
        authorized,
        { type: 'cancel', amount: 30 },
        accepted('cancel'),
      );
      expect(rejected(afterPartialCancel, { type, amount: 71 }).reason).toMatch(/\(70\)/);
      expect(drive(afterPartialCancel, { type, amount: 70 }).status).toMatch(/ing$/);
    },
  );

  it('refund: invalid amounts and amounts above what was captured and not refunded', () => {
    const captured = capturedCard(80);
    for (const amount of invalid) {
      expect(rejected(captured, { type: 'refund', amount }).reason).toMatch(/positive integer/);
    }
    expect(rejected(captured, { type: 'refund', amount: 81 }).reason).toMatch(/\(80\)/);
    const partly = drive(captured, { type: 'refund', amount: 50 }, accepted('refund'));
    expect(rejected(partly, { type: 'refund', amount: 31 }).reason).toMatch(/\(30\)/);
  });
});

describe('cancel', () => {
  it('partial cancels, then the rest → cancelled', () => {
    const partly = drive(authorizedCard(), { type: 'cancel', amount: 30 }, accepted('cancel'));
    expect(partly.status).toBe('authorized');
    expect(emitted(partly)).toEqual(['payment.partially_cancelled']);
    expect(partly.amounts).toEqual({ authorized: 100, captured: 0, cancelled: 30, refunded: 0 });
    const all = drive(partly, { type: 'cancel', amount: 70 }, accepted('cancel'));
    expect(all.status).toBe('cancelled');
    expect(emitted(all)).toEqual(['payment.cancelled']);
    expect(rejected(all, { type: 'cancel', amount: 1 }).reason).toMatch(/cancelled/);
  });

  it('a remaining amount that contradicts our books → outcome_unknown + inquire', () => {
    const result = drive(
      authorizedCard(),
      { type: 'cancel', amount: 30 },
      accepted('cancel', { remainingAmount: 50 }),
    );
    expect(result.status).toBe('outcome_unknown');
    expect(without(result.effects, 'emit')).toEqual([{ type: 'inquire' }]);
  });

  it('a remaining amount that agrees is fine', () => {
    const result = drive(
      authorizedCard(),
      { type: 'cancel', amount: 30 },
      accepted('cancel', { remainingAmount: 70 }),
    );
    expect(result.status).toBe('authorized');
  });

  it('declined → still authorized, payment.cancel_failed', () => {
    const result = drive(
      authorizedCard(),
      { type: 'cancel', amount: 100 },
      {
        type: 'sips.declined',
        operation: 'cancel',
        responseCode: '24',
        invalid: false,
      },
    );
    expect(result.status).toBe('authorized');
    expect(emitted(result)).toEqual(['payment.cancel_failed']);
  });
});

describe('refund', () => {
  it('nothing captured yet: refund is refused, cancel is the way', () => {
    expect(rejected(authorizedCard(), { type: 'refund', amount: 10 }).reason).toMatch(
      /cancel instead/,
    );
  });

  it('several partial refunds → partially_refunded, then refunded', () => {
    let result = drive(capturedCard(), { type: 'refund', amount: 30 }, accepted('refund'));
    expect(result.status).toBe('partially_refunded');
    expect(emitted(result)).toEqual(['payment.partially_refunded']);
    result = drive(result, { type: 'refund', amount: 30 }, accepted('refund'));
    expect(result.status).toBe('partially_refunded');
    result = drive(
      result,
      { type: 'refund', amount: 40 },
      accepted('refund', { remainingAmount: 0 }),
    );
    expect(result.status).toBe('refunded');
    expect(emitted(result)).toEqual(['payment.refunded']);
    expect(result.amounts).toEqual({ authorized: 100, captured: 100, cancelled: 0, refunded: 100 });
    expect(rejected(result, { type: 'refund', amount: 1 }).reason).toMatch(
      /fully refunded|refunded/,
    );
  });

  it('declined → back where it was, payment.refund_failed', () => {
    const partly = drive(capturedCard(), { type: 'refund', amount: 30 }, accepted('refund'));
    const result = drive(
      partly,
      { type: 'refund', amount: 30 },
      {
        type: 'sips.unavailable',
        operation: 'refund',
        responseCode: '90',
      },
    );
    expect(result.status).toBe('partially_refunded');
    expect(result.amounts.refunded).toBe(30);
    expect(emitted(result)).toEqual(['payment.refund_failed']);
  });
});

describe('fraud challenge', () => {
  const challenged = () =>
    drive(start('card'), accepted('authorize', { challenge: true, authorisationId: 'A1' }));

  it('an authorisation held for a fraud check: authorized, challenged', () => {
    const result = challenged();
    expect(result.status).toBe('authorized');
    expect(isChallenged(result.snapshot)).toBe(true);
    expect(emitted(result)).toEqual(['payment.challenged']);
    expect(rejected(result, { type: 'capture', amount: 10 }).reason).toMatch(/fraud check/);
    expect(rejected(authorizedCard(), { type: 'accept_challenge' }).reason).toMatch(
      /no fraud challenge/,
    );
  });

  it('accept → authorizing → authorized (normal)', () => {
    const deciding = drive(challenged(), { type: 'accept_challenge' });
    expect(deciding.status).toBe('authorizing');
    expect(without(deciding.effects, 'emit')).toEqual([
      { type: 'call', operation: 'accept_challenge' },
    ]);
    const result = drive(deciding, accepted('accept_challenge'));
    expect(result.status).toBe('authorized');
    expect(isChallenged(result.snapshot)).toBe(false);
    expect(emitted(result)).toEqual(['payment.authorized']);
    expect(drive(result, { type: 'capture', amount: 100 }).status).toBe('capturing');
  });

  it('refuse → refused', () => {
    const result = drive(challenged(), { type: 'refuse_challenge' }, accepted('refuse_challenge'));
    expect(result.status).toBe('refused');
  });

  it('a declined decision leaves the challenge pending', () => {
    const result = drive(
      challenged(),
      { type: 'accept_challenge' },
      {
        type: 'sips.declined',
        operation: 'accept_challenge',
        responseCode: '24',
        invalid: false,
      },
    );
    expect(result.status).toBe('authorized');
    expect(isChallenged(result.snapshot)).toBe(true);
    expect(emitted(result)).toEqual(['payment.accept_challenge_failed']);
  });

  it('a partial cancel keeps the challenge; a total one cancels', () => {
    const partly = drive(challenged(), { type: 'cancel', amount: 30 }, accepted('cancel'));
    expect(isChallenged(partly.snapshot)).toBe(true);
    expect(drive(partly, { type: 'cancel', amount: 70 }, accepted('cancel')).status).toBe(
      'cancelled',
    );
  });
});

describe('unknown outcomes and inquiries', () => {
  const unknown = (at: StepResult, operation: Parameters<typeof accepted>[0]) =>
    drive(at, { type: 'sips.unknown', operation, reason: 'timeout' });

  it('authorisation: 25 (never arrived) → the same call again; CSC kept until the answer', () => {
    const resent = drive(unknown(start('card'), 'authorize'), { type: 'inquiry.not_found' });
    expect(resent.status).toBe('authorizing');
    expect(resent.effects).toEqual([
      expect.objectContaining({ name: 'payment.operation_resent' }),
      { type: 'call', operation: 'authorize' },
    ]);
    const authorized = drive(resent, accepted('authorize'));
    expect(authorized.status).toBe('authorized');
    expect(authorized.effects).toContainEqual({ type: 'forget', what: 'csc' });
  });

  it('authorisation: found authorized → authorized (adopted), card data forgotten', () => {
    const result = drive(unknown(start('card'), 'authorize'), {
      type: 'inquiry.found',
      view: {
        state: 'authorized',
        originalAmount: 100,
        remainingAmount: 100,
        authorisationId: 'A',
      },
    });
    expect(result.status).toBe('authorized');
    expect(emitted(result)).toEqual(['payment.authorized']);
    expect(result.amounts.authorized).toBe(100);
    expect(result.effects).toContainEqual({ type: 'forget', what: 'csc' });
  });

  it('authorisation: found refused → refused; found challenge → challenged', () => {
    const base = unknown(start('wallet'), 'authorize');
    expect(
      drive(base, {
        type: 'inquiry.found',
        view: { state: 'refused', originalAmount: 100, remainingAmount: 0 },
      }).status,
    ).toBe('refused');
    const held = drive(base, {
      type: 'inquiry.found',
      view: { state: 'challenge', originalAmount: 100, remainingAmount: 100 },
    });
    expect(isChallenged(held.snapshot)).toBe(true);
  });

  it('not decided yet → stays, inquire again; exhausted → in_review (unknown_outcome)', () => {
    const base = unknown(start('card'), 'authorize');
    const again = drive(base, {
      type: 'inquiry.found',
      view: { state: 'awaiting_authorization', originalAmount: 100, remainingAmount: 100 },
    });
    expect(again.status).toBe('outcome_unknown');
    expect(again.effects).toEqual([{ type: 'inquire' }]);
    const review = drive(again, { type: 'inquiry.exhausted' });
    expect(review.status).toBe('in_review');
    expect(review.effects).toContainEqual({ type: 'review', reason: 'unknown_outcome' });
    expect(review.effects).toContainEqual({ type: 'forget', what: 'csc' });
    expect(pendingOperationOf(review.snapshot)).toEqual({ operation: 'authorize' });
  });

  it('a view of another amount is never adopted → in_review (conflict)', () => {
    const result = drive(unknown(start('card'), 'authorize'), {
      type: 'inquiry.found',
      view: { state: 'authorized', originalAmount: 999, remainingAmount: 999 },
    });
    expect(result.status).toBe('in_review');
    expect(result.effects).toContainEqual({ type: 'review', reason: 'conflict' });
  });

  it('enrolment: 25 → enroll again; registered but redirection lost → failed', () => {
    const base = unknown(start('card_3ds'), 'enroll');
    const resent = drive(base, { type: 'inquiry.not_found' });
    expect(resent.status).toBe('enrolling');
    expect(resent.effects).toContainEqual({ type: 'call', operation: 'enroll' });
    expect(
      drive(resent, accepted('enroll', { redirect: { url: 'https://acs', hasPaReq: true } }))
        .status,
    ).toBe('awaiting_authentication');
    const lost = drive(base, {
      type: 'inquiry.found',
      view: { state: 'awaiting_authorization', originalAmount: 100, remainingAmount: 100 },
    });
    expect(lost.status).toBe('failed');
    expect(lost.effects[0]).toMatchObject({ data: { reason: 'redirection_lost' } });
  });

  it('completion: 25 → complete_authentication again', () => {
    const base = unknown(
      drive(start('card_3ds'), accepted('enroll', { notEnrolled: true })),
      'complete_authentication',
    );
    const resent = drive(base, { type: 'inquiry.not_found' });
    expect(resent.status).toBe('authenticating');
    expect(resent.effects).toContainEqual({ type: 'call', operation: 'complete_authentication' });
  });

  describe('capture with an unknown outcome', () => {
    const base = () => unknown(drive(authorizedCard(), { type: 'capture', amount: 60 }), 'capture');

    it('validated (TO_CAPTURE) → captured', () => {
      const result = drive(base(), {
        type: 'inquiry.found',
        view: {
          state: 'authorized',
          originalAmount: 100,
          remainingAmount: 60,
          awaitingValidation: false,
        },
      });
      expect(result.status).toBe('captured');
      expect(emitted(result)).toEqual(['payment.captured']);
      expect(result.amounts).toEqual({ authorized: 100, captured: 60, cancelled: 40, refunded: 0 });
    });

    it('already remitted → captured', () => {
      const result = drive(base(), {
        type: 'inquiry.found',
        view: { state: 'captured', originalAmount: 100, remainingAmount: 60 },
      });
      expect(result.amounts.captured).toBe(60);
    });

    it('still awaiting validation → the capture did not happen: authorized, capture_failed', () => {
      const result = drive(base(), {
        type: 'inquiry.found',
        view: {
          state: 'authorized',
          originalAmount: 100,
          remainingAmount: 100,
          awaitingValidation: true,
        },
      });
      expect(result.status).toBe('authorized');
      expect(emitted(result)).toEqual(['payment.capture_failed']);
      expect(result.amounts.captured).toBe(0);
    });

    it('a view that cannot tell TO_VALIDATE from TO_CAPTURE → inquire again', () => {
      const result = drive(base(), {
        type: 'inquiry.found',
        view: { state: 'authorized', originalAmount: 100, remainingAmount: 100 },
      });
      expect(result.status).toBe('outcome_unknown');
      expect(result.effects).toEqual([{ type: 'inquire' }]);
    });

    it('25 for a transaction Sips authorised → in_review (conflict), never resent', () => {
      const result = drive(base(), { type: 'inquiry.not_found' });
      expect(result.status).toBe('in_review');
      expect(result.effects).toContainEqual({ type: 'review', reason: 'conflict' });
      expect(result.effects.some((effect) => effect.type === 'call')).toBe(false);
    });
  });

  it('refund: conflict (24) then the view shows it done → partially_refunded', () => {
    const result = drive(
      capturedCard(),
      { type: 'refund', amount: 30 },
      { type: 'sips.conflict', operation: 'refund', responseCode: '24' },
      {
        type: 'inquiry.found',
        view: { state: 'captured', originalAmount: 100, remainingAmount: 70, refundedAmount: 30 },
      },
    );
    expect(result.status).toBe('partially_refunded');
    expect(emitted(result)).toEqual(['payment.partially_refunded']);
  });

  it('refund: unknown then the view shows nothing refunded → captured, refund_failed', () => {
    const result = drive(
      capturedCard(),
      { type: 'refund', amount: 30 },
      { type: 'sips.unknown', operation: 'refund', reason: 'reset' },
      {
        type: 'inquiry.found',
        view: { state: 'captured', originalAmount: 100, remainingAmount: 100 },
      },
    );
    expect(result.status).toBe('captured');
    expect(emitted(result)).toEqual(['payment.refund_failed']);
  });

  it('refund: a view with less refunded than we recorded is inconsistent → in_review', () => {
    const partly = drive(capturedCard(), { type: 'refund', amount: 30 }, accepted('refund'));
    const result = drive(
      partly,
      { type: 'refund', amount: 30 },
      { type: 'sips.unknown', operation: 'refund', reason: 'x' },
      {
        type: 'inquiry.found',
        view: { state: 'captured', originalAmount: 100, remainingAmount: 100, refundedAmount: 0 },
      },
    );
    expect(result.status).toBe('in_review');
  });

  it('cancel: unknown, the view shows a partial cancel → authorized, partially_cancelled', () => {
    const result = drive(
      authorizedCard(),
      { type: 'cancel', amount: 30 },
      { type: 'sips.unknown', operation: 'cancel', reason: 'timeout' },
      {
        type: 'inquiry.found',
        view: { state: 'authorized', originalAmount: 100, remainingAmount: 70 },
      },
    );
    expect(result.status).toBe('authorized');
    expect(emitted(result)).toEqual(['payment.partially_cancelled']);
    expect(result.amounts.cancelled).toBe(30);
  });

  it('untrusted capture answer → in_review (seal_mismatch)', () => {
    const result = drive(
      authorizedCard(),
      { type: 'capture', amount: 60 },
      {
        type: 'sips.untrusted',
        operation: 'capture',
      },
    );
    expect(result.status).toBe('in_review');
    expect(result.effects).toContainEqual({ type: 'review', reason: 'seal_mismatch' });
    expect(pendingOperationOf(result.snapshot)).toEqual({ operation: 'capture', amount: 60 });
  });

  it('inquiries are not expected where nothing is uncertain', () => {
    expect(rejected(start('card'), { type: 'inquiry.not_found' }).reason).toMatch(/no inquiry/);
    const refused = drive(start('card'), {
      type: 'sips.declined',
      operation: 'authorize',
      responseCode: '05',
      invalid: false,
    });
    expect(
      rejected(refused, {
        type: 'inquiry.found',
        view: { state: 'authorized', originalAmount: 100, remainingAmount: 100 },
      }).reason,
    ).toMatch(/no inquiry/);
  });
});

describe('manual review', () => {
  const untrustedCapture = () =>
    drive(
      authorizedCard(),
      { type: 'capture', amount: 60 },
      { type: 'sips.untrusted', operation: 'capture' },
    );

  it('adopt a view → its status, payment.review_resolved', () => {
    const result = drive(untrustedCapture(), {
      type: 'review.adopt',
      view: {
        state: 'authorized',
        originalAmount: 100,
        remainingAmount: 60,
        awaitingValidation: false,
      },
      note: 'back office shows the validation',
    });
    expect(result.status).toBe('captured');
    expect(result.effects).toEqual([
      expect.objectContaining({
        name: 'payment.review_resolved',
        data: expect.objectContaining({
          decision: 'adopt',
          status: 'captured',
          note: 'back office shows the validation',
        }),
      }),
    ]);
    expect(pendingOperationOf(result.snapshot)).toBeNull();
  });

  it('mark a decision → that status', () => {
    const result = drive(untrustedCapture(), {
      type: 'review.mark',
      status: 'authorized',
      note: 'not validated',
    });
    expect(result.status).toBe('authorized');
    expect(emitted(result)).toEqual(['payment.review_resolved']);
    const captured = drive(untrustedCapture(), {
      type: 'review.mark',
      status: 'captured',
      note: 'validated',
    });
    expect(captured.amounts).toEqual({ authorized: 100, captured: 60, cancelled: 40, refunded: 0 });
  });

  it('also from outcome_unknown, before the inquiries run out', () => {
    const base = drive(start('card'), {
      type: 'sips.unknown',
      operation: 'authorize',
      reason: 'timeout',
    });
    const result = drive(base, { type: 'review.mark', status: 'refused', note: 'issuer refused' });
    expect(result.status).toBe('refused');
    expect(result.effects).toContainEqual({ type: 'forget', what: 'csc' });
  });

  it('refuses decisions that would undo captured money, and views it cannot adopt', () => {
    const refundUnknown = drive(
      capturedCard(),
      { type: 'refund', amount: 30 },
      {
        type: 'sips.untrusted',
        operation: 'refund',
      },
    );
    expect(
      rejected(refundUnknown, { type: 'review.mark', status: 'cancelled', note: 'x' }).reason,
    ).toMatch(/refund it instead/);
    expect(
      rejected(refundUnknown, {
        type: 'review.adopt',
        view: { state: 'awaiting_authorization', originalAmount: 100, remainingAmount: 100 },
        note: 'x',
      }).reason,
    ).toMatch(/inconsistent|no authorisation/i);
    expect(
      drive(refundUnknown, { type: 'review.mark', status: 'captured', note: 'not refunded' })
        .status,
    ).toBe('captured');
  });

  it('no review outside outcome_unknown and in_review', () => {
    expect(
      rejected(authorizedCard(), { type: 'review.mark', status: 'failed', note: 'x' }).reason,
    ).toMatch(/no review is open/);
  });
});

describe('snapshots', () => {
  const journey: PaymentEvent[] = [
    accepted('enroll', { redirect: { url: 'https://acs', hasPaReq: true } }),
    { type: 'customer.returned' },
    accepted('complete_authentication'),
    { type: 'capture', amount: 70 },
    accepted('capture'),
    { type: 'refund', amount: 20 },
    { type: 'sips.unknown', operation: 'refund', reason: 'timeout' },
    {
      type: 'inquiry.found',
      view: { state: 'captured', originalAmount: 100, remainingAmount: 50, refundedAmount: 20 },
    },
  ];

  it('round-trip through JSON gives identical behaviour at every step', () => {
    let snapshot: PersistedSnapshot = start('card_3ds').snapshot;
    for (const event of journey) {
      const direct = stepPayment(snapshot, event);
      const restored = stepPayment(
        JSON.parse(JSON.stringify(snapshot)) as PersistedSnapshot,
        event,
      );
      expect(restored).toEqual(direct);
      if (!direct.accepted) throw new Error(direct.reason);
      snapshot = JSON.parse(JSON.stringify(direct.snapshot)) as PersistedSnapshot;
    }
    expect(statusOf(snapshot)).toBe('partially_refunded');
    expect(amountsOf(snapshot)).toEqual({
      authorized: 100,
      captured: 70,
      cancelled: 30,
      refunded: 20,
    });
  });

  it('rejects snapshots that are not ours or from another machine version', () => {
    const { snapshot } = start('card');
    expect(() => statusOf({ ...snapshot, machineVersion: 'payment-machines/0' })).toThrow(
      /migrate/,
    );
    expect(() => stepPayment({ hello: 'world' }, { type: 'inquiry.exhausted' })).toThrow(TypeError);
    expect(() => statusOf({ ...snapshot, value: 'somewhere_else' })).toThrow(
      /unknown machine state/,
    );
  });

  it('pure: the same snapshot and event always give the same outcome', () => {
    const { snapshot } = authorizedCard();
    const event: PaymentEvent = { type: 'capture', amount: 50 };
    expect(stepPayment(snapshot, event)).toEqual(stepPayment(snapshot, event));
  });
});
