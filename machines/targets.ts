/**
 * Where transitions land: the state ids of the payment machine, by the
 * landing (settlement.ts) or status they stand for.
 */
import type { ResumePoint } from './model.ts';
import type { Landing } from './settlement.ts';

/** The state id each landing (and the two waiting statuses) leads to. */
export const TARGET: Record<Landing | 'outcome_unknown' | 'in_review', string> = {
  authorized: '#payment.authorized.normal',
  challenged: '#payment.authorized.challenged',
  captured: '#payment.captured',
  partially_refunded: '#payment.partially_refunded',
  refunded: '#payment.refunded',
  cancelled: '#payment.cancelled',
  refused: '#payment.refused',
  expired: '#payment.expired',
  failed: '#payment.failed',
  outcome_unknown: '#payment.outcome_unknown',
  in_review: '#payment.in_review',
};

/** The stable states a follow-up operation returns to when it did not happen. */
export const RESUME_POINTS: readonly ResumePoint[] = [
  'authorized',
  'challenged',
  'captured',
  'partially_refunded',
];
