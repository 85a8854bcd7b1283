/**
 * The `data` of each payment event, as zod schemas. A payment event's data
 * is what the machine's `emit` put in it (the amounts, the currency, the
 * operation at hand and the event's own fields, machines/actions.ts) with
 * the payment's identity added by the engine (src/engine/step.ts `eventsOf`,
 * src/service/payment-create.ts for `payment.received`). Objects are strict:
 * a field the code starts sending without describing it here is caught by
 * the tests that validate published events against these schemas.
 */
import { z } from 'zod';
import {
  OPERATIONS,
  PAYMENT_KINDS,
  PAYMENT_STATUSES,
  type DomainEventName,
  type Operation,
} from '../../machines/contract.ts';
import { LANDINGS, type Landing } from '../../machines/settlement.ts';

/** Where a review decision settles a payment: where Sips' view can land it, a fraud hold aside. */
const SETTLED_BY_REVIEW = LANDINGS.filter((landing) => landing !== 'challenged') as [
  Landing,
  ...Landing[],
];

/** One event type: what it means, and the schema of its `data`. */
export interface CatalogueEntry {
  summary: string;
  data: z.ZodType;
}

/** An amount in minor units (cents for EUR). */
export const minorUnits = () => z.int().nonnegative();
export const positiveAmount = () => z.int().positive().describe('Minor units');
export const isoTime = () => z.iso.datetime().describe('ISO 8601 date-time');

const AUTHORIZATION_OPERATIONS = [
  'authorize',
  'enroll',
  'complete_authentication',
  'initialize_provider',
  'finalize_provider',
] as const satisfies readonly Operation[];

const amounts = () =>
  z
    .strictObject({
      authorized: minorUnits(),
      captured: minorUnits(),
      cancelled: minorUnits(),
      refunded: minorUnits(),
    })
    .describe('What the payment stands at once this event happened, in minor units');

/** What every payment event's data carries. */
const identity = {
  paymentId: z.string().describe('The payment (also the event `subject`)'),
  kind: z.enum(PAYMENT_KINDS),
  currency: z.string().describe('ISO 4217 numeric code, e.g. 978 for EUR'),
  transactionReference: z.string().describe('The Sips transactionReference of the payment'),
  maskedPan: z.string().optional().describe('The card number masked; card payments only'),
  authorisationId: z.string().optional().describe("The issuer's authorisation id, once known"),
  amounts: amounts(),
  operationId: z
    .string()
    .optional()
    .describe(
      'The capture, cancel or refund resource the event is about (GET /v1/payments/{id}/refunds/{operationId} and the like)',
    ),
};

/** The Sips call the event is about (`amount` for captures, cancels and refunds). */
const during = <const T extends readonly [Operation, ...Operation[]]>(operations: T) => ({
  operation: z.enum(operations).describe('The operation the event is about'),
});

/** The operation in flight when the event happened, if one was. */
const maybeDuring = {
  operation: z
    .enum(OPERATIONS)
    .optional()
    .describe('The operation in flight or being established when this happened, if any'),
  amount: positiveAmount().optional().describe("That operation's amount (minor units)"),
};

/** An operation on the authorisation that Sips refused, could not process, or (inquiry) did not do. */
const followUpFailure = {
  responseCode: z.string().optional().describe('The Sips responseCode, when Sips answered'),
  invalid: z.boolean().optional().describe('Sips found the request invalid (not a refusal)'),
  reason: z.literal('sips_unavailable').optional().describe('Sips kept answering 90/99'),
};

const captureLimitAt = () =>
  z
    .union([isoTime(), z.literal('unknown')])
    .describe('When the authorisation can no longer be captured (ISO 8601)');

const gatewayView = z
  .strictObject({
    state: z.enum([
      'awaiting_authorization',
      'authorized',
      'captured',
      'cancelled',
      'refunded',
      'refused',
      'expired',
      'challenge',
    ]),
    originalAmount: minorUnits(),
    remainingAmount: minorUnits(),
    refundedAmount: minorUnits().optional(),
    authorisationId: z.string().optional(),
    awaitingValidation: z.boolean().optional(),
    remitted: z.boolean().optional(),
  })
  .describe('What Sips showed of the transaction (getTransactionData), as adopted');

const payment = (fields: z.ZodRawShape = {}) => z.strictObject({ ...identity, ...fields });

const amountRequested = (operation: 'capture' | 'cancel' | 'refund') =>
  payment({ ...during([operation]), amount: positiveAmount() });

const amountFailed = (operation: 'capture' | 'cancel' | 'refund') =>
  payment({ ...during([operation]), amount: positiveAmount(), ...followUpFailure });

/** A refund resource's outcome (machines/operations.ts). */
const refundOutcome = (fields: z.ZodRawShape = {}) =>
  payment({
    operationId: z.string().describe('The refund (GET /v1/payments/{id}/refunds/{operationId})'),
    type: z.literal('refund'),
    performedAs: z
      .enum(['refund', 'cancel'])
      .describe('The Sips operation that carried it out: a cancel while Sips had not remitted'),
    amount: positiveAmount(),
    ...fields,
  });

/** The data of every payment event type. */
export const PAYMENT_EVENT_CATALOGUE: Record<DomainEventName, CatalogueEntry> = {
  'payment.received': {
    summary: 'A payment was created; its first Sips call is on its way',
    data: payment({
      amount: positiveAmount().describe('The amount asked for (minor units)'),
      ...during(['authorize', 'enroll', 'initialize_provider']),
    }),
  },
  'payment.authentication_required': {
    summary: 'The customer must be sent to the ACS (3-D Secure) or the payment provider',
    data: payment({
      ...during(['enroll', 'initialize_provider']),
      redirect: z.strictObject({
        url: z.string(),
        hasPaReq: z.boolean().describe('A 3-D Secure 1 PaReq goes with the redirection'),
        messageVersion: z.string().optional(),
      }),
    }),
  },
  'payment.authentication_skipped': {
    summary: 'The card is not enrolled in 3-D Secure: the authorisation follows at once',
    data: payment({ ...during(['complete_authentication']), reason: z.literal('not_enrolled') }),
  },
  'payment.customer_returned': {
    summary: 'The customer came back from the ACS or the provider; the authorisation is asked',
    data: payment(during(['complete_authentication', 'finalize_provider'])),
  },
  'payment.operation_resent': {
    summary: 'Sips did not know the call (25): the authorisation call is sent again, safely',
    data: payment(during(AUTHORIZATION_OPERATIONS)),
  },
  'payment.authorized': {
    summary: 'The payment is authorised (also after a fraud challenge was accepted)',
    data: payment({
      ...maybeDuring,
      schemeTransactionIdentifier: z.string().optional(),
      challenge: z.literal('accepted').optional().describe('A fraud challenge was accepted'),
    }),
  },
  'payment.challenged': {
    summary: 'Authorised but held by Sips for a fraud check: accept or refuse the challenge',
    data: payment({ ...maybeDuring, schemeTransactionIdentifier: z.string().optional() }),
  },
  'payment.refused': {
    summary: 'The authorisation was refused (by the issuer, or a fraud challenge refused)',
    data: payment({
      ...maybeDuring,
      responseCode: z.string().optional().describe('The Sips responseCode of the refusal'),
      challenge: z.literal('refused').optional().describe('A fraud challenge was refused'),
    }),
  },
  'payment.failed': {
    summary: 'The payment could not be authorised (invalid request, Sips unavailable...)',
    data: payment({
      ...during(AUTHORIZATION_OPERATIONS),
      reason: z.enum([
        'invalid_request',
        'sips_unavailable',
        'no_redirection',
        'redirection_lost',
        'merchant_credentials_invalid',
      ]),
      responseCode: z.string().optional(),
    }),
  },
  'payment.expired': {
    summary: 'The authorisation lapsed, or the customer never came back from authentication',
    data: payment({ ...maybeDuring, reason: z.literal('customer_did_not_return').optional() }),
  },
  'payment.capture_requested': {
    summary: 'A capture (validation) was asked and is on its way to Sips',
    data: amountRequested('capture'),
  },
  'payment.cancel_requested': {
    summary: 'A cancellation was asked and is on its way to Sips',
    data: payment({
      ...during(['cancel']),
      amount: positiveAmount(),
      reason: z
        .literal('not_remitted')
        .optional()
        .describe('A refund carried out by a cancel: Sips had not remitted the payment yet'),
    }),
  },
  'payment.refund_requested': {
    summary: 'A refund was asked and is on its way to Sips (as a cancel before remittance)',
    data: payment({
      ...during(['refund', 'cancel']),
      amount: positiveAmount(),
      reason: z
        .literal('remitted')
        .optional()
        .describe(
          'Sent once Sips showed the payment remitted (a held refund, or a cancel too late)',
        ),
    }),
  },
  'payment.challenge_acceptance_requested': {
    summary: 'The acceptance of a fraud challenge is on its way to Sips',
    data: payment(during(['accept_challenge'])),
  },
  'payment.challenge_refusal_requested': {
    summary: 'The refusal of a fraud challenge is on its way to Sips',
    data: payment(during(['refuse_challenge'])),
  },
  'payment.captured': {
    summary: 'The payment is captured (validated, or remitted by Sips)',
    data: payment(maybeDuring),
  },
  'payment.cancelled': {
    summary: 'Whatever was left of the authorisation is cancelled',
    data: payment(maybeDuring),
  },
  'payment.partially_cancelled': {
    summary: 'Part of the authorisation was cancelled; the rest stays authorised',
    data: payment(maybeDuring),
  },
  'payment.refunded': {
    summary: 'Everything captured is refunded',
    data: payment(maybeDuring),
  },
  'payment.partially_refunded': {
    summary: 'Part of what was captured is refunded',
    data: payment(maybeDuring),
  },
  'payment.capture_failed': {
    summary: 'A capture did not happen; the payment stays authorised',
    data: amountFailed('capture'),
  },
  'payment.cancel_failed': {
    summary: 'A cancellation did not happen; the payment stays where it was',
    data: amountFailed('cancel'),
  },
  'payment.refund_failed': {
    summary: 'A refund did not happen; the payment stays where it was',
    data: amountFailed('refund'),
  },
  'payment.accept_challenge_failed': {
    summary: 'The acceptance of a fraud challenge did not happen; it is still held',
    data: payment({ ...during(['accept_challenge']), ...followUpFailure }),
  },
  'payment.refuse_challenge_failed': {
    summary: 'The refusal of a fraud challenge did not happen; it is still held',
    data: payment({ ...during(['refuse_challenge']), ...followUpFailure }),
  },
  'payment.outcome_unknown': {
    summary: 'The outcome of a Sips call is not known yet: Sips is being asked',
    data: payment({
      operation: z.enum(OPERATIONS).describe('The operation whose outcome is not known'),
      amount: positiveAmount().optional(),
      reason: z.string().describe('Why (timeout, conflict, credentials_refused...)'),
      responseCode: z.string().optional(),
    }),
  },
  'payment.in_review': {
    summary: 'A person must decide (seal mismatch, unknown outcome, or Sips contradicting us)',
    data: payment({
      ...maybeDuring,
      reason: z.enum(['conflict', 'seal_mismatch', 'unknown_outcome']),
      detail: z.string().optional().describe('What contradicts, for a conflict'),
    }),
  },
  'payment.review_resolved': {
    summary: "A person settled a payment in review, adopting Sips' view or marking a status",
    data: payment({
      ...maybeDuring,
      decision: z.enum(['adopt', 'mark']),
      status: z.enum(SETTLED_BY_REVIEW).describe('The status the payment was settled in'),
      note: z.string().describe("The reviewer's note"),
      view: gatewayView
        .optional()
        .describe('What Sips showed (decision `adopt`, or the inquiry that confirmed a mark)'),
      forced: z
        .literal(true)
        .optional()
        .describe("Present when the status was marked without Sips' confirmation"),
      reason: z.string().min(1).optional().describe('Why a mark was forced (with `forced`)'),
    }),
  },
  'payment.authorisation_expiring': {
    summary: 'A VALIDATION authorisation nears its capture limit with something uncaptured',
    data: payment({
      captureLimitAt: captureLimitAt(),
      uncaptured: minorUnits().describe('What can still be captured (minor units)'),
    }),
  },
  'payment.authorisation_limit_reached': {
    summary: 'The capture limit is due and no policy acts on it: only this notice',
    data: payment({
      captureLimitAt: captureLimitAt(),
      uncaptured: minorUnits().describe('What can still be captured (minor units)'),
    }),
  },
  'payment.reauthorized': {
    summary: 'A new authorisation was made to replace this one before its capture limit',
    data: payment({
      ...maybeDuring,
      newPaymentId: z.string().describe('The payment of the new authorisation'),
      captureLimitAt: captureLimitAt(),
    }),
  },
  'refund.succeeded': {
    summary: 'A refund resource succeeded: by a Sips refund, or a cancel before remittance',
    data: refundOutcome(),
  },
  'refund.failed': {
    summary: 'A refund resource failed: the money stayed where it was (also an ops alert)',
    data: refundOutcome({
      reason: z.string().describe('declined, invalid_request, sips_unavailable or not_done'),
      responseCode: z.string().optional().describe('The Sips responseCode, when Sips answered'),
    }),
  },
  'refund.held': {
    summary:
      'A refund resource waits for Sips to remit the payment (REFUND_BEFORE_REMITTANCE=hold)',
    data: refundOutcome(),
  },
  'payment.reauthorization_settled': {
    summary: 'The replacing authorisation settled: this one is replaced, or stays (failed)',
    data: payment({
      ...maybeDuring,
      outcome: z.enum(['replaced', 'failed']),
      newPaymentId: z.string().optional().describe('The payment of the new authorisation'),
      status: z.enum(PAYMENT_STATUSES).optional().describe('Status of the new payment, failed'),
      reason: z.string().optional().describe('Why no new authorisation could be made'),
    }),
  },
};
