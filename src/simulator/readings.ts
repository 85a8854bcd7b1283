/**
 * The simulator's choice where the reference is unsure, switchable so the
 * client is tested against every reading it must tolerate:
 *
 * - `inquiryCodeField`: which field carries getTransactionData's own result
 *   (reference §5.6, single source). `getTransDataResponseCode` (default):
 *   that field is the call's result and `responseCode` the original
 *   authorisation's. `responseCode`: one field only, the call's result; the
 *   transaction's own code is not reported.
 * - `answerSealAlgorithm`: how answers are sealed (reference §4.2–4.3).
 *   `request` (default): with the algorithm the request named (HMAC-SHA-256
 *   when it named none). `HMAC-SHA-256`: always with HMAC-SHA-256, whatever
 *   the request used.
 *
 * Set by `startSimulator` options, SIMULATOR_INQUIRY_CODE_FIELD and
 * SIMULATOR_ANSWER_SEAL_ALGORITHM (main.ts), or the control API at run time.
 */
import { z } from 'zod';
import type { SipsServiceName } from '../sips/services.ts';

export const INQUIRY_CODE_FIELDS = ['getTransDataResponseCode', 'responseCode'] as const;
export type InquiryCodeField = (typeof INQUIRY_CODE_FIELDS)[number];

export const ANSWER_SEAL_ALGORITHMS = ['request', 'HMAC-SHA-256'] as const;
export type AnswerSealAlgorithm = (typeof ANSWER_SEAL_ALGORITHMS)[number];

export interface Readings {
  readonly inquiryCodeField: InquiryCodeField;
  readonly answerSealAlgorithm: AnswerSealAlgorithm;
}

export const DEFAULT_READINGS: Readings = Object.freeze({
  inquiryCodeField: 'getTransDataResponseCode',
  answerSealAlgorithm: 'request',
});

/** A change of readings, as the options and the control API take it. */
export const readingsChange = z.strictObject({
  inquiryCodeField: z.enum(INQUIRY_CODE_FIELDS).optional(),
  answerSealAlgorithm: z.enum(ANSWER_SEAL_ALGORITHMS).optional(),
});
export type ReadingsChange = z.infer<typeof readingsChange>;

/** The readings a change names, as options (no key for what it leaves as it is). */
export function namedReadings(change: ReadingsChange): Partial<Readings> {
  return {
    ...(change.inquiryCodeField ? { inquiryCodeField: change.inquiryCodeField } : {}),
    ...(change.answerSealAlgorithm ? { answerSealAlgorithm: change.answerSealAlgorithm } : {}),
  };
}

/** The readings in force, changed at run time and back to the configured ones on reset. */
export interface ReadingsHolder {
  current(): Readings;
  change(change: ReadingsChange): Readings;
  reset(): void;
}

function merged(base: Readings, change: ReadingsChange): Readings {
  return Object.freeze({
    inquiryCodeField: change.inquiryCodeField ?? base.inquiryCodeField,
    answerSealAlgorithm: change.answerSealAlgorithm ?? base.answerSealAlgorithm,
  });
}

export function createReadings(configured: ReadingsChange = {}): ReadingsHolder {
  const initial = merged(DEFAULT_READINGS, readingsChange.parse(configured));
  let readings = initial;
  return {
    current: () => readings,
    change(change) {
      readings = merged(readings, readingsChange.parse(change));
      return readings;
    },
    reset() {
      readings = initial;
    },
  };
}

/**
 * The answer in the configured reading of getTransactionData's code. Services
 * answer the default way (the call's result in getTransDataResponseCode);
 * the other reading moves it into responseCode, replacing the original
 * authorisation's code there.
 */
export function answerAsRead(
  service: SipsServiceName,
  answer: Record<string, unknown>,
  readings: Readings,
): Record<string, unknown> {
  if (service !== 'getTransactionData' || readings.inquiryCodeField !== 'responseCode') {
    return answer;
  }
  const { getTransDataResponseCode: callCode, ...rest } = answer;
  return callCode === undefined ? answer : { ...rest, responseCode: callCode };
}
