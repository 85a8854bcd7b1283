/**
 * What the engine keeps with a payment beside the machine's snapshot: the
 * follow-up jobs of the last step (the outbox of jobs), the Sips facts worth
 * showing, the 3-D Secure or provider redirection, the request details later
 * calls need, and the evidence a reviewer will read. Never card data.
 */
import type { ReviewEvidence } from '../payments/review.ts';
import type { FollowUp, TimerName } from './jobs.ts';

import type { LimitPolicy } from '../../machines/contract.ts';

export { LIMIT_POLICIES, type LimitPolicy } from '../../machines/contract.ts';

/** The Sips instalment plan sent with the first instalment (reference §9). */
export interface InstalmentData {
  number: number;
  /** YYYYMMDD, one per instalment. */
  datesList: string[];
  /** Minor units, one per instalment; they sum to the plan's total. */
  amountsList: number[];
  /** The first is the first instalment's own transactionReference. */
  transactionReferencesList: string[];
}

/**
 * The schedule a payment belongs to; its owner is told when the payment
 * settles. A `reauthorization` is the new authorisation that replaces
 * payment `id` at its capture limit.
 */
export type ScheduleLink =
  | { type: 'subscription'; id: string; period: number; attempt: number }
  | { type: 'instalments'; id: string; index: number }
  | {
      type: 'reauthorization';
      id: string;
      /** The capture limit of the authorisation replaced (ISO), to tell whether this one gained time. */
      replacedLimitAt?: string;
      /** 1 for the first new authorisation of a payment, 2 for the new one of that one... */
      generation?: number;
    };

export interface Redirection {
  /** Where the browser is sent (ACS or provider page); absent when no redirection is needed. */
  url?: string;
  /** 3-D Secure v1 shape: PaReq, TermUrl and MD are posted. */
  paReq?: string;
  /** v2 and provider shape: redirection_data and message_version are posted. */
  redirectionData?: string;
  messageVersion?: string;
}

/**
 * The format of the engine data this version writes. 1 (no `format`): the
 * reauthorisation at the capture limit was kept in `facts`; 2: the machine
 * keeps it, and the facts hold only what Sips said (src/engine/reauthorization.ts
 * lifts format 1 at the payment's next step).
 */
export const ENGINE_DATA_FORMAT = 2;

export interface EngineData {
  /** `ENGINE_DATA_FORMAT` when written by this version; absent in format 1. */
  format?: number;
  /** Jobs the last committed step asked for, each tagged with that step's version. */
  followUps: FollowUp[];
  /** Version of the step that wrote `followUps`. */
  followUpsVersion: number;
  facts: Record<string, string>;
  redirection?: Redirection;
  /** Posted back by the browser; consumed by the authentication call. */
  authenticationReturn?: { paRes?: string; redirectionData?: string; messageVersion?: string };
  request: {
    captureDay: number;
    returnUrl?: string;
    paymentMeanBrand?: string;
    wallet?: { merchantWalletId: string; paymentMeanId: string };
    fromTransactionReference?: string;
    fromPaymentId?: string;
    paymentPattern?: 'ONE_SHOT' | 'RECURRING_1' | 'RECURRING_N' | 'INSTALMENT';
    initialSchemeTransactionIdentifier?: string;
    instalmentData?: InstalmentData;
    /** VALIDATION mode: validate at `at` (epoch ms), and what to do at the capture limit. */
    capture?: { at?: number; atLimit?: LimitPolicy };
    link?: ScheduleLink;
  };
  /**
   * Delayed jobs that outlive single steps (deferred capture, capture-limit
   * warning and policy). A timer job runs only while its entry is here with
   * its job id, and the write that acts on it removes the entry.
   */
  timers?: Partial<Record<TimerName, { jobId: string; at: number }>>;
  /** Set once the timers of the authorisation were planned, so a later return to `authorized` does not plan them again. */
  timersPlanned?: true;
  evidence?: ReviewEvidence;
  /** Idempotency keys of merchant commands applied to this payment → request hash. */
  commandKeys?: Record<string, string>;
  /** getTransactionData answers gathered while the outcome was unknown (masked). */
  inquiries?: Record<string, unknown>[];
}

export function emptyEngineData(request: EngineData['request']): EngineData {
  return { format: ENGINE_DATA_FORMAT, followUps: [], followUpsVersion: 0, facts: {}, request };
}
