/**
 * Failures of the payments layer. Each carries a stable `code` and a retry
 * verdict from the error registry (src/platform/errors.ts), so callers (the
 * engine, BullMQ's backoff strategy, the API) decide from data and never from
 * message text.
 */
import { ERRORS, type PaymentErrorCode } from '../platform/errors.ts';

export type { PaymentErrorCode };

export class PaymentsError extends Error {
  readonly code: PaymentErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: PaymentErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PaymentsError';
    this.code = code;
    this.retryable = ERRORS[code].retryable;
    this.details = options.details;
  }
}
