/**
 * The capture limit of a VALIDATION authorisation, as the machine keeps it
 * (machines/capture-limit.ts): the deferred capture, the warning, the policy
 * at the limit, and the policy `reauthorize`'s claim -> made -> replaced |
 * failed hand-over, during which captures and cancels wait.
 */
import { describe, expect, it } from 'vitest';
import {
  reauthorizationFacts,
  reauthorizationFromFacts,
  type Reauthorization,
} from '../../machines/capture-limit.ts';
import type {
  Effect,
  LimitPolicy,
  PaymentEvent,
  PaymentStatus,
  PersistedSnapshot,
  StepOutcome,
  StepResult,
} from '../../machines/contract.ts';
import {
  MACHINE_VERSION,
  captureLimitOf,
  isChallenged,
  pendingOperationOf,
  startPayment,
  statusOf,
  stepPayment,
  withReauthorization,
} from '../../machines/index.ts';
import {
  AMOUNT,
  LIMIT_AT,
  NEW_PAYMENT_ID,
  NO_TIME_GAINED,
  OTHER_PAYMENT_ID,
  PARTIAL,
  accepted,
  checkStep,
  inputFor,
  peek,
  type Position,
} from './machines.support.ts';

type Rejection = Extract<StepOutcome, { accepted: false }>;

/** Steps through `events`, each of which must be accepted and keep the invariants. */
function drive(start: Position, ...events: PaymentEvent[]): StepResult {
  let current = start as StepResult;
  for (const event of events) {
    const outcome = stepPayment(current.snapshot, event);
    checkStep(current, event, outcome);
    if (!outcome.accepted) {
      throw new Error(`${event.type} rejected in ${current.status}: ${outcome.reason}`);
    }
    current = outcome;
  }
  return current;
}

/** `event` is refused where `at` stands, and nothing changes. */
function rejected(at: Position, event: PaymentEvent): Rejection {
  const before = JSON.stringify(at.snapshot);
  const outcome = stepPayment(at.snapshot, event);
  checkStep(at, event, outcome);
  expect(JSON.stringify(at.snapshot)).toBe(before);
  if (outcome.accepted) throw new Error(`${event.type} accepted in ${at.status}`);
  expect(outcome.status).toBe(at.status);
  return outcome;
}

function emitted(
  result: StepResult,
): { name: string; data: Record<string, unknown> | undefined }[] {
  return result.effects.flatMap((effect) =>
    effect.type === 'emit' ? [{ name: effect.name, data: effect.data }] : [],
  );
}

function alerts(result: StepResult): Extract<Effect, { type: 'alert' }>[] {
  return result.effects.filter(
    (effect): effect is Extract<Effect, { type: 'alert' }> => effect.type === 'alert',
  );
}

function calls(result: StepResult): Extract<Effect, { type: 'call' }>[] {
  return result.effects.filter(
    (effect): effect is Extract<Effect, { type: 'call' }> => effect.type === 'call',
  );
}

const captureLimitAt = LIMIT_AT;
const captureDue: PaymentEvent = { type: 'timer.capture' };
const warningDue: PaymentEvent = { type: 'timer.limit_warning', captureLimitAt };

function policyDue(
  policy: LimitPolicy,
  extra: { newPaymentId?: string; reauthorizeRefusal?: string } = {},
): PaymentEvent {
  return {
    type: 'timer.limit_policy',
    policy,
    captureLimitAt,
    newPaymentId: NEW_PAYMENT_ID,
    ...extra,
  };
}

const made = (newPaymentId = NEW_PAYMENT_ID): PaymentEvent => ({
  type: 'reauthorization.made',
  newPaymentId,
  captureLimitAt,
});

const refusedForGood: PaymentEvent = {
  type: 'reauthorization.refused',
  code: 'command_not_allowed',
  reason: 'the card cannot be authorised again',
  captureLimitAt,
};

function settled(
  outcome: 'replaced' | 'failed',
  newPaymentId = NEW_PAYMENT_ID,
  status: PaymentStatus = outcome === 'replaced' ? 'authorized' : 'refused',
): PaymentEvent {
  return { type: 'reauthorization.settled', newPaymentId, outcome, status, captureLimitAt };
}

const TIMERS: readonly PaymentEvent[] = [captureDue, warningDue, policyDue('reauthorize')];

const authorized = (): StepResult =>
  drive(startPayment(inputFor('card')), accepted('authorize', { authorisationId: 'A1' }));

/** Authorised, PARTIAL cancelled: AMOUNT - PARTIAL left uncaptured. */
const partlyCancelled = (): StepResult =>
  drive(authorized(), { type: 'cancel', amount: PARTIAL }, accepted('cancel'));
const LEFT = AMOUNT - PARTIAL;

const claimed = (from: StepResult = authorized()): StepResult =>
  drive(from, policyDue('reauthorize'));
const madeOne = (): StepResult => drive(claimed(), made());
const failedOne = (): StepResult => drive(claimed(), refusedForGood);
/** Replaced at its limit, and the release of the old authorisation declined by Sips. */
const replacedKept = (): StepResult =>
  drive(madeOne(), settled('replaced'), {
    type: 'sips.declined',
    operation: 'cancel',
    responseCode: '05',
    invalid: false,
  });

const limitOf = (result: Position) => captureLimitOf(result.snapshot);

describe('the deferred capture (timer.capture)', () => {
  it('captures what is still uncaptured, as a merchant capture would', () => {
    const result = drive(partlyCancelled(), captureDue);
    expect(result.status).toBe('capturing');
    expect(calls(result)).toEqual([{ type: 'call', operation: 'capture', amount: LEFT }]);
    expect(emitted(result).map(({ name }) => name)).toEqual(['payment.capture_requested']);
    expect(pendingOperationOf(result.snapshot)).toEqual({ operation: 'capture', amount: LEFT });
    expect(drive(result, accepted('capture')).amounts).toEqual({
      authorized: AMOUNT,
      captured: LEFT,
      cancelled: PARTIAL,
      refunded: 0,
    });
  });

  it.each([
    ['claimed', claimed],
    ['made', madeOne],
  ])('waits while a replacement is %s', (_, at) => {
    const refusal = rejected(at(), captureDue);
    expect(refusal.waitFor).toBe('replacement');
    expect(refusal.reason).toMatch(/being replaced/);
  });

  it('is refused for good once replaced: the new authorisation is the one to capture', () => {
    const at = replacedKept();
    expect(at.status).toBe('authorized');
    const refusal = rejected(at, captureDue);
    expect(refusal.waitFor).toBeUndefined();
    expect(refusal.reason).toMatch(/replaced/);
  });

  it('is refused for good when nothing is uncaptured', () => {
    const captured = drive(authorized(), { type: 'capture', amount: AMOUNT }, accepted('capture'));
    for (const timer of TIMERS) {
      const refusal = rejected(captured, timer);
      expect(refusal.waitFor).toBeUndefined();
      expect(refusal.reason).toMatch(/nothing left to protect \(status captured\)/);
    }
    const cancelled = drive(authorized(), { type: 'cancel', amount: AMOUNT }, accepted('cancel'));
    expect(rejected(cancelled, captureDue).waitFor).toBeUndefined();
  });

  it('captures again once the replacement failed', () => {
    const result = drive(failedOne(), captureDue);
    expect(result.status).toBe('capturing');
    expect(calls(result)).toEqual([{ type: 'call', operation: 'capture', amount: AMOUNT }]);
  });

  it('leaves an authorisation held for a fraud check alone', () => {
    const challenged = drive(
      startPayment(inputFor('card')),
      accepted('authorize', { challenge: true }),
    );
    expect(isChallenged(challenged.snapshot)).toBe(true);
    for (const timer of TIMERS) {
      const refusal = rejected(challenged, timer);
      expect(refusal.waitFor).toBeUndefined();
      expect(refusal.reason).toMatch(/challenged/);
    }
  });

  it('AUTHOR_CAPTURE has no capture limit: no timer acts, none waits', () => {
    const remitted = drive(startPayment(inputFor('card', 'author_capture')), accepted('authorize'));
    for (const timer of [...TIMERS, policyDue('capture'), policyDue('cancel'), policyDue('none')]) {
      const refusal = rejected(remitted, timer);
      expect(refusal.waitFor).toBeUndefined();
      expect(refusal.reason).toMatch(/author_capture/);
    }
  });
});

describe('timers in a busy status wait for the payment’s step', () => {
  const busy: [PaymentStatus, () => StepResult][] = [
    ['capturing', () => drive(authorized(), { type: 'capture', amount: PARTIAL })],
    ['cancelling', () => drive(authorized(), { type: 'cancel', amount: PARTIAL })],
    [
      'refunding',
      () =>
        drive(authorized(), { type: 'capture', amount: AMOUNT }, accepted('capture'), {
          type: 'refund',
          amount: PARTIAL,
        }),
    ],
    [
      'outcome_unknown',
      () =>
        drive(
          authorized(),
          { type: 'capture', amount: PARTIAL },
          {
            type: 'sips.unknown',
            operation: 'capture',
            reason: 'timeout',
          },
        ),
    ],
    [
      'authorizing',
      () =>
        drive(startPayment(inputFor('card')), accepted('authorize', { challenge: true }), {
          type: 'accept_challenge',
        }),
    ],
    [
      'in_review',
      () =>
        drive(
          authorized(),
          { type: 'capture', amount: PARTIAL },
          {
            type: 'sips.untrusted',
            operation: 'capture',
          },
        ),
    ],
  ];

  it.each(busy)('%s', (status, at) => {
    const where = at();
    expect(where.status).toBe(status);
    for (const timer of [...TIMERS, policyDue('capture'), policyDue('none')]) {
      const refusal = rejected(where, timer);
      expect(refusal.waitFor, timer.type).toBe('step');
      expect(refusal.reason).toMatch(new RegExp(`waits: the payment is ${status}`));
    }
  });
});

describe('the warning before the limit (timer.limit_warning)', () => {
  it('emits payment.authorisation_expiring and alerts capture_limit_near, once', () => {
    const result = drive(partlyCancelled(), warningDue);
    expect(result.status).toBe('authorized');
    expect(result.effects).toEqual([
      {
        type: 'alert',
        kind: 'capture_limit_near',
        data: { uncaptured: LEFT, captureLimitAt },
      },
      {
        type: 'emit',
        name: 'payment.authorisation_expiring',
        data: {
          amounts: result.amounts,
          currency: '978',
          captureLimitAt,
          uncaptured: LEFT,
        },
      },
    ]);
    expect(limitOf(result)).toEqual({ warned: true });

    const again = rejected(result, warningDue);
    expect(again.waitFor).toBeUndefined();
    expect(again.reason).toMatch(/acted already \(warned\)/);
  });

  it('is given while a replacement is in progress, and not once replaced', () => {
    const warned = drive(claimed(), warningDue);
    expect(limitOf(warned)).toEqual({
      warned: true,
      reauthorization: { phase: 'claimed', newPaymentId: NEW_PAYMENT_ID },
    });
    expect(rejected(replacedKept(), warningDue).waitFor).toBeUndefined();
  });
});

describe('the policy at the limit (timer.limit_policy)', () => {
  it('capture takes what is uncaptured', () => {
    const result = drive(partlyCancelled(), policyDue('capture'));
    expect(result.status).toBe('capturing');
    expect(calls(result)).toEqual([{ type: 'call', operation: 'capture', amount: LEFT }]);
    expect(emitted(result).map(({ name }) => name)).toEqual(['payment.capture_requested']);
  });

  it('cancel releases what is uncaptured', () => {
    const result = drive(partlyCancelled(), policyDue('cancel'));
    expect(result.status).toBe('cancelling');
    expect(calls(result)).toEqual([{ type: 'call', operation: 'cancel', amount: LEFT }]);
    expect(emitted(result).map(({ name }) => name)).toEqual(['payment.cancel_requested']);
    expect(drive(result, accepted('cancel')).status).toBe('cancelled');
  });

  it.each([
    ['none', policyDue('none'), 'no policy'],
    [
      'reauthorize, when no new authorisation may be made',
      policyDue('reauthorize', { reauthorizeRefusal: NO_TIME_GAINED }),
      NO_TIME_GAINED,
    ],
  ])('%s: only tells (payment.authorisation_limit_reached, alert)', (_, event, why) => {
    const result = drive(partlyCancelled(), event);
    expect(result.status).toBe('authorized');
    expect(result.effects).toEqual([
      {
        type: 'alert',
        kind: 'capture_limit_reached',
        data: { uncaptured: LEFT, captureLimitAt, why },
      },
      {
        type: 'emit',
        name: 'payment.authorisation_limit_reached',
        data: { amounts: result.amounts, currency: '978', captureLimitAt, uncaptured: LEFT },
      },
    ]);
    expect(limitOf(result)).toEqual({});
    // The merchant can still capture before it lapses.
    expect(drive(result, { type: 'capture', amount: LEFT }).status).toBe('capturing');
  });

  it('reauthorize claims the new payment’s id, then asks for it for what is uncaptured', () => {
    const result = drive(partlyCancelled(), policyDue('reauthorize'));
    expect(result.status).toBe('authorized');
    expect(result.effects).toEqual([
      { type: 'reauthorize', newPaymentId: NEW_PAYMENT_ID, amount: LEFT },
    ]);
    expect(limitOf(result)).toEqual({
      reauthorization: { phase: 'claimed', newPaymentId: NEW_PAYMENT_ID },
    });
    expect(peek(result.snapshot).context.limit).toEqual(limitOf(result));
  });

  it('a second policy timer while claimed resumes under the id recorded with the claim', () => {
    const at = claimed();
    for (const event of [
      policyDue('reauthorize', { newPaymentId: OTHER_PAYMENT_ID }),
      // The claim is what counts, whatever the policy says now.
      policyDue('none', { newPaymentId: OTHER_PAYMENT_ID }),
    ]) {
      const resumed = drive(at, event);
      expect(resumed.effects).toEqual([
        { type: 'reauthorize', newPaymentId: NEW_PAYMENT_ID, amount: AMOUNT },
      ]);
      expect(limitOf(resumed)).toEqual(limitOf(at));
    }
  });

  it('a claim recorded before ids were chosen resumes under the id the timer brings', () => {
    const legacy = withReauthorization(authorized().snapshot, { phase: 'claimed' });
    const at: Position = { snapshot: legacy, status: 'authorized', amounts: authorized().amounts };
    const resumed = drive(at, policyDue('reauthorize'));
    expect(resumed.effects).toEqual([
      { type: 'reauthorize', newPaymentId: NEW_PAYMENT_ID, amount: AMOUNT },
    ]);
    expect(limitOf(resumed).reauthorization).toEqual({
      phase: 'claimed',
      newPaymentId: NEW_PAYMENT_ID,
    });
  });

  it.each([
    ['made', madeOne],
    ['failed', failedOne],
    ['replaced', replacedKept],
  ])('acts no more once the new authorisation is %s', (phase, at) => {
    for (const policy of ['reauthorize', 'capture', 'cancel', 'none'] as const) {
      const refusal = rejected(at(), policyDue(policy));
      expect(refusal.waitFor).toBeUndefined();
      expect(refusal.reason).toMatch(phase === 'replaced' ? /replaced/ : new RegExp(phase));
    }
  });
});

describe('the new authorisation (reauthorization.*)', () => {
  it('made: payment.reauthorized, and the payment waits for it to settle', () => {
    const result = drive(claimed(), made());
    expect(result.status).toBe('authorized');
    expect(result.effects).toEqual([
      {
        type: 'emit',
        name: 'payment.reauthorized',
        data: {
          amounts: result.amounts,
          currency: '978',
          newPaymentId: NEW_PAYMENT_ID,
          captureLimitAt,
        },
      },
    ]);
    expect(limitOf(result)).toEqual({
      reauthorization: { phase: 'made', newPaymentId: NEW_PAYMENT_ID },
    });
    expect(rejected(result, made()).reason).toMatch(/no new authorisation .* awaited \(made\)/);
  });

  it('refused for good: the claim fails, ops are told, the payment is capturable again', () => {
    const result = drive(claimed(), refusedForGood);
    expect(result.status).toBe('authorized');
    expect(result.effects).toEqual([
      {
        type: 'alert',
        kind: 'reauthorization_failed',
        data: {
          uncaptured: AMOUNT,
          captureLimitAt,
          code: 'command_not_allowed',
          reason: 'the card cannot be authorised again',
        },
      },
      {
        type: 'emit',
        name: 'payment.reauthorization_settled',
        data: {
          amounts: result.amounts,
          currency: '978',
          outcome: 'failed',
          reason: 'command_not_allowed',
        },
      },
    ]);
    expect(limitOf(result)).toEqual({ reauthorization: { phase: 'failed' } });
    // Only a claim can be refused: once made, its settling tells.
    expect(rejected(madeOne(), refusedForGood).waitFor).toBeUndefined();
  });

  it.each([
    ['claimed', claimed],
    ['made', madeOne],
  ])('settled replaced (%s) on a plain authorisation: the remainder is released', (_, at) => {
    const result = drive(at(), settled('replaced'));
    expect(result.status).toBe('cancelling');
    expect(calls(result)).toEqual([{ type: 'call', operation: 'cancel', amount: AMOUNT }]);
    expect(emitted(result).map(({ name }) => name)).toEqual(['payment.cancel_requested']);
    expect(limitOf(result)).toEqual({
      reauthorization: { phase: 'replaced', newPaymentId: NEW_PAYMENT_ID },
    });
    const released = drive(result, accepted('cancel'));
    expect(released.status).toBe('cancelled');
    expect(limitOf(released).reauthorization?.phase).toBe('replaced');
  });

  it('settled replaced with a partial remainder releases that remainder', () => {
    const result = drive(claimed(partlyCancelled()), settled('replaced'));
    expect(calls(result)).toEqual([{ type: 'call', operation: 'cancel', amount: LEFT }]);
  });

  const nothingLeft: [string, () => StepResult][] = [
    [
      // A capture nobody here asked for goes to review; a person adopts it.
      'captured in full (Sips shows it captured, a person adopts it)',
      () =>
        drive(
          madeOne(),
          {
            type: 'inquiry.found',
            view: { state: 'captured', originalAmount: AMOUNT, remainingAmount: AMOUNT },
          },
          {
            type: 'review.adopt',
            view: { state: 'captured', originalAmount: AMOUNT, remainingAmount: AMOUNT },
            note: 'captured at the back office',
          },
        ),
    ],
    [
      'held for a fraud check',
      () =>
        drive(madeOne(), {
          type: 'inquiry.found',
          view: { state: 'challenge', originalAmount: AMOUNT, remainingAmount: AMOUNT },
        }),
    ],
    [
      'lapsed (expired)',
      () =>
        drive(claimed(), {
          type: 'inquiry.found',
          view: { state: 'expired', originalAmount: AMOUNT, remainingAmount: 0 },
        }),
    ],
    [
      'captured before the claim was lifted from its facts',
      () => {
        const captured = drive(
          authorized(),
          { type: 'capture', amount: AMOUNT },
          accepted('capture'),
        );
        return {
          ...captured,
          snapshot: withReauthorization(captured.snapshot, {
            phase: 'made',
            newPaymentId: NEW_PAYMENT_ID,
          }),
        };
      },
    ],
  ];

  it.each(nothingLeft)(
    'settled replaced with nothing to release (%s): noted, payment.reauthorization_settled',
    (_, at) => {
      const before = at();
      const result = drive(before, settled('replaced'));
      expect(result.status).toBe(before.status);
      expect(statusOf(result.snapshot)).toBe(before.status);
      expect(calls(result)).toEqual([]);
      expect(emitted(result)).toEqual([
        {
          name: 'payment.reauthorization_settled',
          data: {
            amounts: result.amounts,
            currency: '978',
            newPaymentId: NEW_PAYMENT_ID,
            outcome: 'replaced',
          },
        },
      ]);
      expect(limitOf(result).reauthorization).toEqual({
        phase: 'replaced',
        newPaymentId: NEW_PAYMENT_ID,
      });
      expect(rejected(result, settled('replaced')).waitFor).toBeUndefined();
    },
  );

  it('settled replaced while the payment is busy waits for its step', () => {
    const capturing = drive(authorized(), { type: 'capture', amount: PARTIAL });
    const lifted: Position = {
      ...capturing,
      snapshot: withReauthorization(capturing.snapshot, {
        phase: 'made',
        newPaymentId: NEW_PAYMENT_ID,
      }),
    };
    const refusal = rejected(lifted, settled('replaced'));
    expect(refusal.waitFor).toBe('step');
    const inReview = drive(lifted, { type: 'sips.untrusted', operation: 'capture' });
    expect(rejected(inReview, settled('replaced')).waitFor).toBe('step');
    // Once the step settles, the hand-over goes through.
    const back = drive(lifted, {
      type: 'sips.declined',
      operation: 'capture',
      responseCode: '05',
      invalid: false,
    });
    expect(drive(back, settled('replaced')).status).toBe('cancelling');
  });

  it('settled failed: noted, ops alerted, payment.reauthorization_settled (failed)', () => {
    const result = drive(madeOne(), settled('failed'));
    expect(result.status).toBe('authorized');
    expect(alerts(result)).toEqual([
      {
        type: 'alert',
        kind: 'reauthorization_failed',
        data: {
          uncaptured: AMOUNT,
          captureLimitAt,
          newPaymentId: NEW_PAYMENT_ID,
          status: 'refused',
        },
      },
    ]);
    expect(emitted(result)).toEqual([
      {
        name: 'payment.reauthorization_settled',
        data: {
          amounts: result.amounts,
          currency: '978',
          newPaymentId: NEW_PAYMENT_ID,
          outcome: 'failed',
          status: 'refused',
        },
      },
    ]);
    expect(limitOf(result).reauthorization).toEqual({
      phase: 'failed',
      newPaymentId: NEW_PAYMENT_ID,
    });
  });

  it('settled failed is taken while the payment is busy too (a note, not a call)', () => {
    const capturing = drive(claimed(), settled('failed'), captureDue);
    expect(capturing.status).toBe('capturing');
    const lifted: Position = {
      ...capturing,
      snapshot: withReauthorization(capturing.snapshot, {
        phase: 'made',
        newPaymentId: NEW_PAYMENT_ID,
      }),
    };
    const result = drive(lifted, settled('failed'));
    expect(result.status).toBe('capturing');
    expect(limitOf(result).reauthorization?.phase).toBe('failed');
  });

  it('news of another payment is refused, whatever the phase', () => {
    for (const at of [claimed(), madeOne()]) {
      for (const event of [
        made(OTHER_PAYMENT_ID),
        settled('replaced', OTHER_PAYMENT_ID),
        settled('failed', OTHER_PAYMENT_ID),
      ]) {
        const refusal = rejected(at, event);
        expect(refusal.waitFor, `${event.type} in ${limitOf(at).reauthorization?.phase}`).toBe(
          undefined,
        );
        expect(refusal.reason).toBe(
          `${OTHER_PAYMENT_ID} is not the new authorisation of this payment (${NEW_PAYMENT_ID})`,
        );
      }
    }
  });

  it('news of another payment, or a repeated notice, does not wait for a busy payment', () => {
    const capturing = drive(authorized(), { type: 'capture', amount: PARTIAL });
    const lifted: Position = {
      ...capturing,
      snapshot: withReauthorization(capturing.snapshot, {
        phase: 'made',
        newPaymentId: NEW_PAYMENT_ID,
      }),
    };
    expect(rejected(lifted, settled('replaced', OTHER_PAYMENT_ID)).waitFor).toBeUndefined();
    // The hand-over's own release is in flight: the notice again is done with.
    const releasing = drive(madeOne(), settled('replaced'));
    expect(releasing.status).toBe('cancelling');
    const again = rejected(releasing, settled('replaced'));
    expect(again.waitFor).toBeUndefined();
    expect(again.reason).toMatch(/awaited \(replaced\)/);
  });

  it('news when no new authorisation is awaited is refused', () => {
    for (const at of [authorized(), failedOne(), replacedKept()]) {
      for (const event of [made(), refusedForGood, settled('replaced'), settled('failed')]) {
        const refusal = rejected(at, event);
        expect(refusal.waitFor).toBeUndefined();
        expect(refusal.reason).toMatch(/no new authorisation of this payment is awaited/);
      }
    }
  });

  it('a claim recorded before ids were chosen: made notes the id; settled waits for that', () => {
    const base = authorized();
    const legacy: Position = {
      ...base,
      snapshot: withReauthorization(base.snapshot, { phase: 'claimed' }),
    };
    expect(rejected(legacy, settled('replaced')).waitFor).toBe('replacement');
    const noted = drive(legacy, made(OTHER_PAYMENT_ID));
    expect(limitOf(noted).reauthorization).toEqual({
      phase: 'made',
      newPaymentId: OTHER_PAYMENT_ID,
    });
    expect(drive(noted, settled('replaced', OTHER_PAYMENT_ID)).status).toBe('cancelling');
  });
});

describe('merchant captures and cancels during a replacement', () => {
  it.each([
    ['claimed', claimed],
    ['made', madeOne],
  ])('wait while the new authorisation is %s', (_, at) => {
    for (const event of [
      { type: 'capture', amount: AMOUNT },
      { type: 'cancel', amount: PARTIAL },
    ] as const) {
      const refusal = rejected(at(), event);
      expect(refusal.waitFor).toBe('replacement');
      expect(refusal.reason).toContain(`being replaced at its capture limit by ${NEW_PAYMENT_ID}`);
    }
    // Refunds and inquiries are not held up.
    expect(
      drive(at(), {
        type: 'inquiry.found',
        view: { state: 'authorized', originalAmount: AMOUNT, remainingAmount: AMOUNT },
      }).status,
    ).toBe('authorized');
  });

  it('are refused for good once replaced, naming the new payment', () => {
    const at = replacedKept();
    for (const event of [
      { type: 'capture', amount: AMOUNT },
      { type: 'cancel', amount: AMOUNT },
    ] as const) {
      const refusal = rejected(at, event);
      expect(refusal.waitFor).toBeUndefined();
      expect(refusal.reason).toBe(
        `this authorisation was replaced at its capture limit by ${NEW_PAYMENT_ID}; capture that payment`,
      );
    }
  });

  it('wait on an authorisation found held for a fraud check during the replacement', () => {
    const challenged = drive(claimed(), {
      type: 'inquiry.found',
      view: { state: 'challenge', originalAmount: AMOUNT, remainingAmount: AMOUNT },
    });
    expect(isChallenged(challenged.snapshot)).toBe(true);
    for (const event of [
      { type: 'capture', amount: AMOUNT },
      { type: 'cancel', amount: AMOUNT },
    ] as const) {
      const refusal = rejected(challenged, event);
      expect(refusal.waitFor).toBe('replacement');
      expect(refusal.reason).toMatch(/being replaced/);
    }
    // The timers leave it alone, replacement or not.
    const timer = rejected(challenged, captureDue);
    expect(timer.waitFor).toBeUndefined();
    expect(timer.reason).toMatch(/challenged/);
  });

  it('an invalid amount during a replacement still waits for it (checked once it settled)', () => {
    expect(rejected(claimed(), { type: 'capture', amount: AMOUNT + 1 }).waitFor).toBe(
      'replacement',
    );
  });

  it.each([
    ['refused for good', failedOne],
    ['settled failed', () => drive(madeOne(), settled('failed'))],
  ])('capture and cancel work again once the new authorisation %s', (_, at) => {
    const captured = drive(at(), { type: 'capture', amount: PARTIAL }, accepted('capture'));
    expect(captured.status).toBe('captured');
    expect(captured.amounts).toEqual({
      authorized: AMOUNT,
      captured: PARTIAL,
      cancelled: AMOUNT - PARTIAL,
      refunded: 0,
    });
    expect(drive(at(), { type: 'cancel', amount: AMOUNT }, accepted('cancel')).status).toBe(
      'cancelled',
    );
  });
});

describe('snapshots', () => {
  const journey: PaymentEvent[] = [
    accepted('authorize', { authorisationId: 'A1' }),
    { type: 'cancel', amount: PARTIAL },
    accepted('cancel'),
    warningDue,
    policyDue('reauthorize'),
    policyDue('reauthorize'),
    made(),
    settled('replaced'),
    { type: 'sips.declined', operation: 'cancel', responseCode: '05', invalid: false },
  ];

  it('round-trip through JSON gives identical behaviour at every step', () => {
    let current: Position = startPayment(inputFor('card'));
    for (const event of journey) {
      const direct = stepPayment(current.snapshot, event);
      const restored = stepPayment(
        JSON.parse(JSON.stringify(current.snapshot)) as PersistedSnapshot,
        event,
      );
      expect(restored).toEqual(direct);
      checkStep(current, event, direct);
      if (!direct.accepted) throw new Error(direct.reason);
      expect(peek(direct.snapshot)).toMatchObject({ machineVersion: MACHINE_VERSION });
      current = { ...direct, snapshot: JSON.parse(JSON.stringify(direct.snapshot)) };
    }
    expect(current.status).toBe('authorized');
    expect(captureLimitOf(current.snapshot)).toEqual({
      warned: true,
      reauthorization: { phase: 'replaced', newPaymentId: NEW_PAYMENT_ID },
    });
  });

  /** A snapshot as payment-machines/1 wrote it: no capture-limit state in the context. */
  function asVersion1(result: Position): Position {
    const { limit: _limit, ...context } = peek(result.snapshot).context;
    const snapshot = {
      ...result.snapshot,
      machineVersion: 'payment-machines/1',
      context,
    } as PersistedSnapshot;
    return { ...result, snapshot: JSON.parse(JSON.stringify(snapshot)) as PersistedSnapshot };
  }

  it('a payment-machines/1 snapshot is read and stepped on, and written back as the new version', () => {
    const old = asVersion1(authorized());
    expect(peek(old.snapshot)).toMatchObject({ machineVersion: 'payment-machines/1' });
    expect(statusOf(old.snapshot)).toBe('authorized');
    expect(captureLimitOf(old.snapshot)).toEqual({});
    const warned = drive(old, warningDue);
    expect(peek(warned.snapshot)).toMatchObject({ machineVersion: MACHINE_VERSION });
    expect(captureLimitOf(warned.snapshot)).toEqual({ warned: true });
    expect(drive(old, { type: 'capture', amount: AMOUNT }).status).toBe('capturing');
  });

  it('withReauthorization lifts a reauthorisation kept in facts into a /1 snapshot', () => {
    const old = asVersion1(authorized());
    const facts = { reauthorizedAs: NEW_PAYMENT_ID, captureLimitAt };
    const reauthorization = reauthorizationFromFacts(facts);
    expect(reauthorization).toEqual({ phase: 'made', newPaymentId: NEW_PAYMENT_ID });
    const before = JSON.stringify(old.snapshot);
    const lifted = withReauthorization(old.snapshot, reauthorization as Reauthorization);
    expect(JSON.stringify(old.snapshot)).toBe(before);
    expect(JSON.parse(JSON.stringify(lifted))).toEqual(lifted);
    expect(captureLimitOf(lifted)).toEqual({ reauthorization });
    const at: Position = { ...old, snapshot: lifted };
    expect(rejected(at, { type: 'capture', amount: AMOUNT }).waitFor).toBe('replacement');
    const handedOver = drive(at, settled('replaced'));
    expect(handedOver.status).toBe('cancelling');
    expect(peek(handedOver.snapshot)).toMatchObject({ machineVersion: MACHINE_VERSION });
  });

  it('withReauthorization keeps the warning and replaces an earlier reauthorisation', () => {
    const warned = drive(claimed(), warningDue);
    const lifted = withReauthorization(warned.snapshot, { phase: 'failed' });
    expect(captureLimitOf(lifted)).toEqual({ warned: true, reauthorization: { phase: 'failed' } });
    expect(statusOf(lifted)).toBe('authorized');
  });

  it.each<[Record<string, string>, Reauthorization | undefined]>([
    [{}, undefined],
    [{ reauthorizing: 'true' }, { phase: 'claimed' }],
    [
      { reauthorizing: 'true', reauthorizationId: NEW_PAYMENT_ID },
      { phase: 'claimed', newPaymentId: NEW_PAYMENT_ID },
    ],
    [{ reauthorizedAs: NEW_PAYMENT_ID }, { phase: 'made', newPaymentId: NEW_PAYMENT_ID }],
    [
      { reauthorizedAs: NEW_PAYMENT_ID, reauthorizationOutcome: 'replaced' },
      { phase: 'replaced', newPaymentId: NEW_PAYMENT_ID },
    ],
    [{ reauthorizationOutcome: 'failed' }, { phase: 'failed' }],
  ])('facts %j are the reauthorisation %j, and back', (facts, reauthorization) => {
    expect(reauthorizationFromFacts(facts)).toEqual(reauthorization);
    expect(reauthorizationFacts(reauthorization)).toEqual(facts);
  });

  it('rejects a malformed capture-limit state', () => {
    const { snapshot } = authorized();
    const context = peek(snapshot).context;
    for (const limit of [
      { warned: false },
      { reauthorization: { phase: 'pending' } },
      { reauthorization: { phase: 'made', newPaymentId: 7 } },
      'claimed',
    ]) {
      expect(() => statusOf({ ...snapshot, context: { ...context, limit } })).toThrow(TypeError);
    }
  });

  it('pure: the same snapshot and event always give the same outcome', () => {
    const { snapshot } = claimed();
    for (const event of [policyDue('reauthorize'), made(), settled('replaced'), captureDue]) {
      expect(stepPayment(snapshot, event)).toEqual(stepPayment(snapshot, event));
    }
  });
});
