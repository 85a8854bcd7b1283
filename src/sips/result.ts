/**
 * What one Sips call returned, as a closed union. Callers switch on `kind`;
 * the responseCode row (codes.ts) rides along so nobody re-derives it.
 *
 * - `ok`, `refused`, `pending`, `retryable`, `invalid`: Sips answered, the
 *   seal verified (`pending`: the transaction is not finished, 60 and 62).
 * - `seal_mismatch`: Sips (or something claiming to be it) answered, but the
 *   seal is wrong or missing: the answer cannot be trusted either way, so the
 *   transaction's state is unknown and must not be retried automatically.
 * - `unknown`: no usable answer (timeout, reset, 5xx, non-JSON): the call
 *   may have been processed. Never treat it as a refusal.
 */
import type { OutcomeKind, ResponseCodeInfo } from './codes.ts';
import type { HttpFailureKind } from '../platform/http.ts';
import type { SealAlgorithm } from './seal.ts';

export type SipsResponse = Record<string, unknown> & { responseCode?: string };

export interface SealEvidence {
  /** The seal data string with card values masked. */
  data: string;
  expected: string;
  received?: string;
  reason: 'missing' | 'mismatch';
  /** The algorithm `expected` was computed with (the first one tried). */
  algorithm?: SealAlgorithm;
}

export interface CallInfo {
  service: string;
  url: string;
  /** The request as sent, card data masked. */
  request: Record<string, unknown>;
  durationMs: number;
}

export type AnsweredKind = OutcomeKind;

export interface AnsweredResult<R extends SipsResponse = SipsResponse> {
  kind: AnsweredKind;
  responseCode: string;
  code: ResponseCodeInfo;
  response: R;
  /** The field Sips named as faulty (12, 30). */
  errorFieldName?: string;
  /**
   * The algorithm the answer's seal verified under: the request's, or
   * HMAC-SHA-256 when the platform sealed with it instead (seal.ts
   * `answerSealAlgorithms`). Absent when the answer carried no seal and
   * unsealed answers are accepted.
   */
  sealAlgorithm?: SealAlgorithm;
  call: CallInfo;
}

export interface SealMismatchResult {
  kind: 'seal_mismatch';
  /** The response with card data masked; it is evidence, not truth. */
  response: Record<string, unknown>;
  seal: SealEvidence;
  call: CallInfo;
}

export type UnknownReason = HttpFailureKind | 'http_status' | 'non_json';

export interface UnknownResult {
  kind: 'unknown';
  reason: UnknownReason;
  detail: string;
  httpStatus?: number;
  call: CallInfo;
}

export type SipsResult<R extends SipsResponse = SipsResponse> =
  AnsweredResult<R> | SealMismatchResult | UnknownResult;
