/**
 * The seam between the pure payment machines and the engine that runs them.
 *
 * The engine loads a payment's persisted snapshot, turns what happened (a
 * command from a merchant, the answer of a Sips call, the result of an
 * inquiry, a customer back from 3-D Secure) into a `PaymentEvent`, asks the
 * machine for the next state with `step()`, stores the result atomically and
 * then carries out the returned `Effect`s. The machines never do I/O, never
 * sleep and never see Sips wire names: the engine maps our operation names to
 * Sips services and Sips statuses to `GatewayView`.
 */

/** Our statuses (architecture §4). Sips statuses never appear outside src/sips. */
export const PAYMENT_STATUSES = [
  'received',
  'enrolling',
  'awaiting_authentication',
  'authenticating',
  'authorizing',
  'authorized',
  'capturing',
  'captured',
  'cancelling',
  'cancelled',
  'refunding',
  'partially_refunded',
  'refunded',
  'refused',
  'failed',
  'expired',
  'outcome_unknown',
  'in_review',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Statuses after which nothing happens unless a person or a new command acts. */
export const FINAL_STATUSES: ReadonlySet<PaymentStatus> = new Set([
  'refused',
  'failed',
  'expired',
  'cancelled',
  'refunded',
]);

/**
 * - `card`: cardOrder, no 3-D Secure redirection;
 * - `card_3ds`: cardCheckEnrollment, customer at the ACS, cardValidateAuthenticationAndOrder;
 * - `wallet`: walletOrder; `wallet_3ds`: walletCheckEnrollment then as card_3ds;
 * - `provider`: paymentProviderInitialize, customer redirect, paymentProviderFinalize;
 * - `duplicate`: a new payment authorised from an earlier one (cashManagement duplicate).
 */
export const PAYMENT_KINDS = [
  'card',
  'card_3ds',
  'wallet',
  'wallet_3ds',
  'provider',
  'duplicate',
] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

/** What to do when an authorisation in VALIDATION mode reaches its capture limit. */
export const LIMIT_POLICIES = ['capture', 'cancel', 'reauthorize', 'none'] as const;
export type LimitPolicy = (typeof LIMIT_POLICIES)[number];

/** AUTHOR_CAPTURE: remitted automatically after captureDay; VALIDATION: waits for a capture. */
export type CaptureMode = 'author_capture' | 'validation';

export interface PaymentInput {
  kind: PaymentKind;
  /** Integer minor units. */
  amount: number;
  /** ISO 4217 numeric, e.g. '978'. */
  currency: string;
  captureMode: CaptureMode;
}

/** Operations the engine performs with a Sips call, in our words. */
export const OPERATIONS = [
  'authorize',
  'enroll',
  'complete_authentication',
  'initialize_provider',
  'finalize_provider',
  'capture',
  'cancel',
  'refund',
  'accept_challenge',
  'refuse_challenge',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Operations that move money or could: never resent blindly after an unknown outcome. */
export const MONEY_MOVING: ReadonlySet<Operation> = new Set([
  'authorize',
  'complete_authentication',
  'finalize_provider',
  'capture',
  'cancel',
  'refund',
  'accept_challenge',
]);

/** What Sips says about the transaction, translated by the engine from getTransactionData. */
export interface GatewayView {
  state:
    | 'awaiting_authorization'
    | 'authorized'
    | 'captured'
    | 'cancelled'
    | 'refunded'
    | 'refused'
    | 'expired'
    | 'challenge';
  /** Amount authorised at first (minor units). */
  originalAmount: number;
  /** What can still be captured, cancelled (before remittance) or refunded (after). */
  remainingAmount: number;
  /** Total refunded so far, when Sips reports it. */
  refundedAmount?: number;
  authorisationId?: string;
  /**
   * VALIDATION mode only: `true` while Sips still waits for a validation
   * (TO_VALIDATE), `false` once validated (TO_CAPTURE). Both map to
   * `authorized`, and after an unknown capture outcome only this tells whether
   * the capture happened; leave it out when the Sips status is unknown.
   */
  awaitingValidation?: boolean;
  /**
   * Whether Sips has remitted the money (CAPTURED, CREDITED: `true`) or still
   * holds it to capture (TO_CAPTURE: `false`); it refunds remitted money
   * only. Left out when the Sips status does not tell.
   */
  remitted?: boolean;
}

/** Details of an accepted Sips answer, in our words. */
export interface AcceptedDetails {
  authorisationId?: string;
  /** 3-D Secure or provider: the customer must be sent away to finish. */
  redirect?: { url: string; messageVersion?: string; hasPaReq: boolean };
  /** The card is not enrolled: authorisation follows without redirection. */
  notEnrolled?: boolean;
  /** The authorisation is held for a fraud check (orange score). */
  challenge?: boolean;
  /** For captures, cancels and refunds: the amount Sips reports as remaining. */
  remainingAmount?: number;
  schemeTransactionIdentifier?: string;
}

export type PaymentEvent =
  // Commands from the merchant (amounts in minor units).
  // `operationId` names the resource the command creates (operations.ts);
  // `beforeRemittance` is the refund policy while Sips has not remitted.
  | { type: 'capture'; amount: number; operationId?: string }
  | { type: 'cancel'; amount: number; operationId?: string }
  | {
      type: 'refund';
      amount: number;
      operationId?: string;
      beforeRemittance?: 'cancel' | 'hold';
    }
  | { type: 'accept_challenge' }
  | { type: 'refuse_challenge' }
  // Answers of the Sips call for `operation`.
  | { type: 'sips.accepted'; operation: Operation; details: AcceptedDetails }
  /** A definitive refusal (05, 51, 54...) or an invalid request (12, 30, 34, 40...). */
  | { type: 'sips.declined'; operation: Operation; responseCode: string; invalid: boolean }
  /** 90/99 until the attempts ran out: Sips said it did not process the call. */
  | { type: 'sips.unavailable'; operation: Operation; responseCode: string }
  /** Timeout, reset, 5xx, non-JSON: the call may have been processed. */
  | { type: 'sips.unknown'; operation: Operation; reason: string }
  /**
   * 24 or 94 (the answer contradicts what we believe), or 60/62 (Sips is
   * still processing the transaction): the engine inquires.
   */
  | { type: 'sips.conflict'; operation: Operation; responseCode: string }
  /** The response seal did not verify or was missing. */
  | { type: 'sips.untrusted'; operation: Operation }
  /**
   * 03 (unknown merchant) or 34 (key or key version refused), sealed or not:
   * probably our credentials, but a forged answer must not fail a payment
   * Sips authorised, so the engine inquires once.
   */
  | { type: 'sips.credentials_refused'; operation: Operation; responseCode: string }
  // The customer came back from the ACS or the provider.
  | { type: 'customer.returned' }
  /** The customer did not come back in time (a delayed job of the engine): nothing was authorised. */
  | { type: 'customer.abandoned' }
  // Results of getTransactionData.
  | { type: 'inquiry.found'; view: GatewayView }
  /** 25: Sips does not know the transaction, so the pending call never arrived. */
  | { type: 'inquiry.not_found' }
  /** The inquiry schedule ran out without a clear answer. */
  | { type: 'inquiry.exhausted' }
  /** The inquiry too was refused with 03 or 34: our credentials are wrong, nothing happened at Sips. */
  | { type: 'inquiry.credentials_refused'; responseCode: string }
  // A person decided in the review console.
  | { type: 'review.adopt'; view: GatewayView; note: string }
  | {
      type: 'review.mark';
      status: 'refused' | 'failed' | 'authorized' | 'captured' | 'cancelled';
      note: string;
      /** What Sips showed when an inquiry confirmed the mark (absent: Sips did not know it). */
      view?: GatewayView;
      /** Marked without Sips' confirmation, for `reason`. */
      forced?: true;
      reason?: string;
    }
  // Timers of a VALIDATION authorisation (delayed jobs of the engine); the
  // capture limit (ISO) is carried for the events and alerts they raise.
  /** The deferred capture is due: what is still uncaptured is captured. */
  | { type: 'timer.capture' }
  /** The capture limit is near. */
  | { type: 'timer.limit_warning'; captureLimitAt: string }
  /**
   * The capture limit's policy is due. `newPaymentId` is the id a new
   * authorisation would get (policy `reauthorize`); `reauthorizeRefusal` says
   * why none may be made now (no time gained, renewal cap): then the policy
   * only alerts.
   */
  | {
      type: 'timer.limit_policy';
      policy: LimitPolicy;
      captureLimitAt: string;
      newPaymentId: string;
      reauthorizeRefusal?: string;
    }
  // The new authorisation of the policy `reauthorize`.
  /** It was made (or found made) under the claimed id. */
  | { type: 'reauthorization.made'; newPaymentId: string; captureLimitAt: string }
  /** It could not be made, for good (`code` and `reason` from the refusal). */
  | { type: 'reauthorization.refused'; code: string; reason: string; captureLimitAt: string }
  /** It settled: authorised (`replaced`) or not (`failed`), in `status`. */
  | {
      type: 'reauthorization.settled';
      newPaymentId: string;
      outcome: 'replaced' | 'failed';
      status: PaymentStatus;
      captureLimitAt: string;
    };

export type PaymentEventType = PaymentEvent['type'];

/**
 * Every domain event name a payment publishes (CloudEvents `type`): those the
 * machines emit, template ones included (`payment.<operation>_requested`,
 * `payment.<operation>_failed` for the follow-up operations, `payment.<landing>`
 * after an inquiry), and `payment.received` written when a payment is created.
 * An emit of a name missing here does not compile; each name has its payload
 * described in src/payments/event-catalogue.ts.
 */
export const PAYMENT_EVENT_TYPES = [
  'payment.received',
  'payment.authentication_required',
  'payment.authentication_skipped',
  'payment.customer_returned',
  'payment.operation_resent',
  'payment.authorized',
  'payment.challenged',
  'payment.refused',
  'payment.failed',
  'payment.expired',
  'payment.capture_requested',
  'payment.cancel_requested',
  'payment.refund_requested',
  'payment.challenge_acceptance_requested',
  'payment.challenge_refusal_requested',
  'payment.captured',
  'payment.cancelled',
  'payment.partially_cancelled',
  'payment.refunded',
  'payment.partially_refunded',
  'payment.capture_failed',
  'payment.cancel_failed',
  'payment.refund_failed',
  'payment.accept_challenge_failed',
  'payment.refuse_challenge_failed',
  'payment.outcome_unknown',
  'payment.in_review',
  'payment.review_resolved',
  'payment.authorisation_expiring',
  'payment.authorisation_limit_reached',
  'payment.reauthorized',
  'payment.reauthorization_settled',
  'refund.succeeded',
  'refund.failed',
  'refund.held',
] as const;

/** Domain event names published to consumers (CloudEvents `type`). */
export type DomainEventName = (typeof PAYMENT_EVENT_TYPES)[number];

export type Effect =
  /** Perform the Sips call for this operation (amount for partial operations). */
  | { type: 'call'; operation: Operation; amount?: number }
  /**
   * Read the transaction with getTransactionData and feed back inquiry.*;
   * `promptly` when Sips answered at once that the call does not fit the
   * transaction (24): no reason to wait before asking what it holds.
   */
  | { type: 'inquire'; promptly?: true }
  /** Put the payment in the manual-review queue with the evidence at hand. */
  | { type: 'review'; reason: 'seal_mismatch' | 'unknown_outcome' | 'conflict' }
  /** Publish a domain event (in the same atomic write as the state change). */
  | { type: 'emit'; name: DomainEventName; data?: Record<string, unknown> }
  /** Card data the payment no longer needs. */
  | { type: 'forget'; what: 'csc' | 'card' }
  /** Tell ops (raised before the step is stored: twice at worst, never lost). */
  | { type: 'alert'; kind: LimitAlertKind; data: Record<string, unknown> }
  /** Make the policy `reauthorize`'s new authorisation of `amount` under `newPaymentId`. */
  | { type: 'reauthorize'; newPaymentId: string; amount: number };

/** Ops alerts the machine raises: the capture-limit lifecycle's, and a view of Sips it will not adopt. */
export type LimitAlertKind =
  | 'inquiry_conflict'
  | 'capture_limit_near'
  | 'capture_limit_reached'
  | 'reauthorization_failed'
  | 'merchant_credentials_invalid'
  /** A capture, cancel or refund Sips did not carry out. */
  | 'operation_failed';

/** Amounts the machines keep (minor units). */
export interface Amounts {
  authorized: number;
  captured: number;
  cancelled: number;
  refunded: number;
}

/** An opaque, JSON-serialisable persisted machine snapshot. */
export type PersistedSnapshot = Record<string, unknown>;

export interface StepResult {
  snapshot: PersistedSnapshot;
  status: PaymentStatus;
  amounts: Amounts;
  effects: Effect[];
}

/**
 * Why a refused event may be accepted later: `step`, once the payment's call,
 * inquiry or review settles; `replacement`, once its authorisation's
 * replacement at the capture limit settles.
 */
export type WaitFor = 'step' | 'replacement';

export type StepOutcome =
  | ({ accepted: true } & StepResult)
  | { accepted: false; status: PaymentStatus; reason: string; waitFor?: WaitFor };
