/**
 * What the engine keeps with a payment beside the machine's snapshot: the
 * follow-up jobs of the last step (the outbox of jobs), the Sips facts worth
 * showing, the 3-D Secure or provider redirection, the request details later
 * calls need, and the evidence a reviewer will read. Never card data.
 */
import type { ReviewEvidence } from '../payments/review.ts';
import type { FollowUp } from './jobs.ts';

export interface Redirection {
  /** Where the browser is sent (ACS or provider page); absent when no redirection is needed. */
  url?: string;
  /** 3-D Secure v1 shape: PaReq, TermUrl and MD are posted. */
  paReq?: string;
  /** v2 and provider shape: redirection_data and message_version are posted. */
  redirectionData?: string;
  messageVersion?: string;
}

export interface EngineData {
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
  };
  evidence?: ReviewEvidence;
  /** Idempotency keys of merchant commands applied to this payment → request hash. */
  commandKeys?: Record<string, string>;
  /** getTransactionData answers gathered while the outcome was unknown (masked). */
  inquiries?: Record<string, unknown>[];
}

export function emptyEngineData(request: EngineData['request']): EngineData {
  return { followUps: [], followUpsVersion: 0, facts: {}, request };
}
