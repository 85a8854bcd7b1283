/**
 * The capture limit of a VALIDATION authorisation, as the machine keeps it.
 *
 * An authorisation in VALIDATION mode lapses at its capture limit. The engine
 * plans three timers when it is authorised (the deferred capture, a warning
 * before the limit, the policy at the limit); they reach the machine as
 * events (`timer.*`). The policy `reauthorize` replaces the authorisation by a
 * new one (a duplicate) before it lapses:
 *
 *   claimed  -> the new payment's id is chosen and recorded, before it exists,
 *               so a try resuming however late makes it once;
 *   made     -> the new payment exists; this one waits for it to settle;
 *   replaced -> the new one is authorised: what is left of this one is
 *               released (cancelled), and only the new one can be captured;
 *   failed   -> the new one was not authorised (or could not be made): this
 *               one is capturable again until it lapses.
 *
 * While `claimed` or `made`, captures and cancels of this payment wait
 * (`reauthorization_in_progress`), so the customer's card never carries two
 * capturable authorisations; once `replaced`, they are refused.
 */
import type { PaymentStatus } from './contract.ts';
import { isObject } from './checks.ts';

export const REAUTHORIZATION_PHASES = ['claimed', 'made', 'replaced', 'failed'] as const;
export type ReauthorizationPhase = (typeof REAUTHORIZATION_PHASES)[number];

export interface Reauthorization {
  phase: ReauthorizationPhase;
  /**
   * The new payment: chosen with the claim (absent only from a claim recorded
   * before ids were chosen first), absent from `failed` when it was never made.
   */
  newPaymentId?: string;
}

export interface CaptureLimitState {
  /** The warning before the limit was given (event and ops alert). */
  warned?: true;
  reauthorization?: Reauthorization;
}

/** Statuses in which a timer or a hand-over waits for the payment's step or a person. */
export const LIMIT_WAITS_IN: ReadonlySet<PaymentStatus> = new Set([
  'capturing',
  'cancelling',
  'refunding',
  'outcome_unknown',
  'authorizing',
  'in_review',
]);

/** The new authorisation is being made or settling: captures and cancels wait. */
export function replacementPending(limit: CaptureLimitState | undefined): boolean {
  const phase = limit?.reauthorization?.phase;
  return phase === 'claimed' || phase === 'made';
}

/** Whether `newPaymentId` is the new authorisation this payment waits for. */
export function isOwnReplacement(
  limit: CaptureLimitState | undefined,
  newPaymentId: string,
): boolean {
  const reauthorization = limit?.reauthorization;
  return replacementPending(limit) && reauthorization?.newPaymentId === newPaymentId;
}

/**
 * Facts in which payments stored the reauthorisation before the machine kept
 * it; read once, at the payment's next step, into the machine's context.
 */
export const LEGACY_REAUTHORIZATION_FACTS = [
  'reauthorizing',
  'reauthorizationId',
  'reauthorizedAs',
  'reauthorizationOutcome',
] as const;

export function reauthorizationFromFacts(
  facts: Readonly<Record<string, string>>,
): Reauthorization | undefined {
  const made = facts.reauthorizedAs;
  const outcome = facts.reauthorizationOutcome;
  if (outcome === 'replaced' || outcome === 'failed') {
    return made === undefined ? { phase: outcome } : { phase: outcome, newPaymentId: made };
  }
  if (made !== undefined) return { phase: 'made', newPaymentId: made };
  if (facts.reauthorizing !== 'true') return undefined;
  const chosen = facts.reauthorizationId;
  return chosen === undefined ? { phase: 'claimed' } : { phase: 'claimed', newPaymentId: chosen };
}

/**
 * The reauthorisation in the words the API has always shown it with
 * (`facts.reauthorizedAs`, `facts.reauthorizationOutcome`...).
 */
export function reauthorizationFacts(
  reauthorization: Reauthorization | undefined,
): Record<string, string> {
  if (reauthorization === undefined) return {};
  const { phase, newPaymentId } = reauthorization;
  if (phase === 'claimed') {
    return newPaymentId === undefined
      ? { reauthorizing: 'true' }
      : { reauthorizing: 'true', reauthorizationId: newPaymentId };
  }
  const made: Record<string, string> =
    newPaymentId === undefined ? {} : { reauthorizedAs: newPaymentId };
  return phase === 'made' ? made : { ...made, reauthorizationOutcome: phase };
}

const PHASES: ReadonlySet<unknown> = new Set(REAUTHORIZATION_PHASES);

/** The capture-limit state, checked and copied (known keys only), or undefined when malformed. */
export function readLimit(limit: unknown): CaptureLimitState | undefined {
  if (!isObject(limit)) return undefined;
  const copied: CaptureLimitState = {};
  if (limit.warned !== undefined) {
    if (limit.warned !== true) return undefined;
    copied.warned = true;
  }
  const reauthorization = limit.reauthorization;
  if (reauthorization !== undefined) {
    if (!isObject(reauthorization) || !PHASES.has(reauthorization.phase)) return undefined;
    const next: Reauthorization = { phase: reauthorization.phase as Reauthorization['phase'] };
    if (reauthorization.newPaymentId !== undefined) {
      if (typeof reauthorization.newPaymentId !== 'string') return undefined;
      next.newPaymentId = reauthorization.newPaymentId;
    }
    copied.reauthorization = next;
  }
  return copied;
}
