/**
 * What a payment machine remembers between steps, and the small amount rules
 * every machine shares. Everything here is plain data: the context is stored
 * as JSON in the payment record.
 */
import type {
  Amounts,
  CaptureMode,
  Operation,
  PaymentInput,
  PaymentKind,
  PaymentStatus,
} from './contract.ts';
import type { CaptureLimitState } from './capture-limit.ts';
import type { OperationRecord, RefundBeforeRemittance } from './operations.ts';

export const CAPTURE_MODES = [
  'author_capture',
  'validation',
] as const satisfies readonly CaptureMode[];

/** Operations that obtain the authorisation; their failures refuse or fail the payment. */
export type AuthorizationOperation =
  'authorize' | 'enroll' | 'complete_authentication' | 'initialize_provider' | 'finalize_provider';

/** Operations on an existing authorisation; their failures leave the payment where it was. */
export type FollowUpOperation = Exclude<Operation, AuthorizationOperation>;

export const AUTHORIZATION_OPERATIONS: ReadonlySet<Operation> = new Set<AuthorizationOperation>([
  'authorize',
  'enroll',
  'complete_authentication',
  'initialize_provider',
  'finalize_provider',
]);

export function isAuthorizationOperation(
  operation: Operation,
): operation is AuthorizationOperation {
  return AUTHORIZATION_OPERATIONS.has(operation);
}

/** Calls whose accepted answer is the authorisation itself. */
export const AUTHORIZING_OPERATIONS: readonly AuthorizationOperation[] = [
  'authorize',
  'complete_authentication',
  'finalize_provider',
];

/** Calls whose accepted answer sends the customer away (or, not enrolled, straight on). */
export const REDIRECTING_OPERATIONS: readonly AuthorizationOperation[] = [
  'enroll',
  'initialize_provider',
];

/** The stable place a follow-up operation returns to when it did not happen. */
export type ResumePoint = 'authorized' | 'challenged' | 'captured' | 'partially_refunded';

/** The Sips call in flight, or whose outcome is being established by inquiry or review. */
export interface PendingOperation {
  operation: Operation;
  /** For partial operations (capture, cancel, refund), in minor units. */
  amount?: number;
  /** Follow-up operations only. */
  resumeTo?: ResumePoint;
  /** The capture, cancel or refund resource this call carries out (operations.ts). */
  operationId?: string;
  /** A Sips cancel carrying out a refund: Sips had not remitted the payment. */
  asRefund?: true;
  /** Refunds: what to do if Sips has not remitted the payment yet. */
  beforeRemittance?: RefundBeforeRemittance;
}

/** Card data the engine's vault may hold for this payment, until the machine says to forget it. */
export interface CardDataHeld {
  csc: boolean;
  card: boolean;
}

export interface PaymentContext {
  kind: PaymentKind;
  currency: string;
  captureMode: CaptureMode;
  /** The amount the payment was created for (minor units). */
  requestedAmount: number;
  amounts: Amounts;
  pending: PendingOperation | null;
  held: CardDataHeld;
  /** VALIDATION authorisations: what became of the capture limit so far (capture-limit.ts). */
  limit?: CaptureLimitState;
  /** The merchant's captures, cancels and refunds, oldest first (absent before any). */
  operations?: OperationRecord[];
}

/** How a payment kind obtains its authorisation. */
export type PaymentFlow =
  | { redirect: false; first: 'authorize' }
  | {
      redirect: true;
      first: 'enroll' | 'initialize_provider';
      completion: 'complete_authentication' | 'finalize_provider';
      /** Only 3-D Secure knows "not enrolled": the authorisation follows without redirection. */
      mayBeNotEnrolled: boolean;
    };

export const PAYMENT_FLOWS: Record<PaymentKind, PaymentFlow> = {
  card: { redirect: false, first: 'authorize' },
  wallet: { redirect: false, first: 'authorize' },
  duplicate: { redirect: false, first: 'authorize' },
  card_3ds: {
    redirect: true,
    first: 'enroll',
    completion: 'complete_authentication',
    mayBeNotEnrolled: true,
  },
  wallet_3ds: {
    redirect: true,
    first: 'enroll',
    completion: 'complete_authentication',
    mayBeNotEnrolled: true,
  },
  provider: {
    redirect: true,
    first: 'initialize_provider',
    completion: 'finalize_provider',
    mayBeNotEnrolled: false,
  },
};

/**
 * Card payments carry the PAN and the CSC; wallet payments may carry a CSC
 * (the PAN stays in the Sips wallet); providers and duplicates carry neither.
 */
export const CARD_DATA_BY_KIND: Record<PaymentKind, CardDataHeld> = {
  card: { csc: true, card: true },
  card_3ds: { csc: true, card: true },
  wallet: { csc: true, card: false },
  wallet_3ds: { csc: true, card: false },
  provider: { csc: false, card: false },
  duplicate: { csc: false, card: false },
};

export const NO_AMOUNTS: Amounts = { authorized: 0, captured: 0, cancelled: 0, refunded: 0 };

export function initialContext(input: PaymentInput): PaymentContext {
  const flow = PAYMENT_FLOWS[input.kind];
  return {
    kind: input.kind,
    currency: input.currency,
    captureMode: input.captureMode,
    requestedAmount: input.amount,
    amounts: { ...NO_AMOUNTS },
    pending: { operation: flow.first },
    held: { ...CARD_DATA_BY_KIND[input.kind] },
  };
}

/** Still authorised and neither captured nor cancelled: what a validate or a cancel may take. */
export function uncapturedRemainder(amounts: Amounts): number {
  return amounts.authorized - amounts.cancelled - amounts.captured;
}

/** Captured and not yet refunded: what a refund may take. */
export function refundableRemainder(amounts: Amounts): number {
  return amounts.captured - amounts.refunded;
}

export function sameAmounts(a: Amounts, b: Amounts): boolean {
  return (
    a.authorized === b.authorized &&
    a.captured === b.captured &&
    a.cancelled === b.cancelled &&
    a.refunded === b.refunded
  );
}

/** Statuses with a Sips call in flight: commands wait until its answer is in. */
export const IN_FLIGHT_STATUSES: ReadonlySet<PaymentStatus> = new Set([
  'received',
  'enrolling',
  'authenticating',
  'authorizing',
  'capturing',
  'cancelling',
  'refunding',
]);
