/**
 * Failures of the payments layer. Each carries a stable `code` and a retry
 * verdict, so callers (the engine, BullMQ's backoff strategy, the API) decide
 * from data and never from message text.
 */

export const PAYMENT_ERROR_CODES = {
  /** The keyspace options are unusable (prefix, shard count) or an id is malformed. */
  KEYSPACE_INVALID: { retryable: false },
  /** A payment record to create breaks a rule (reference, amounts, shard). */
  PAYMENT_RECORD_INVALID: { retryable: false },
  /** The id is already taken by another payment (id generator collision). */
  PAYMENT_ID_TAKEN: { retryable: false },
  /** A stored record could not be read back (corrupt or foreign data). */
  PAYMENT_RECORD_CORRUPT: { retryable: false },
  /** The idempotency key is empty, too long, or has characters we do not store. */
  IDEMPOTENCY_KEY_INVALID: { retryable: false },
  /** Someone else holds the payment's lock for longer than we were willing to wait. */
  PAYMENT_LOCK_TIMEOUT: { retryable: true },
  /** The lock expired or was taken while we held it. */
  PAYMENT_LOCK_LOST: { retryable: true },
  /** Card vault keys missing, of the wrong size, or the insecure dev key outside the simulator. */
  CARD_VAULT_CONFIG_INVALID: { retryable: false },
  /** A sealed card string is not in the `v1:` format. */
  CARD_VAULT_MALFORMED: { retryable: false },
  /** A sealed card names a key id the vault does not have. */
  CARD_VAULT_UNKNOWN_KEY: { retryable: false },
  /** Authentication failed: altered bytes, or a blob moved from another payment. */
  CARD_VAULT_TAMPERED: { retryable: false },
  /** The card to seal is not a card (PAN, expiry or CSC format). */
  CARD_DATA_INVALID: { retryable: false },
  /** Card data was about to leave the vault: in an event, a timeline entry or review evidence. */
  CARD_DATA_LEAK: { retryable: false },
  /** Sips answered 90 or 99: it did not process the call; send it again later. */
  SIPS_RETRYABLE: { retryable: true },
  /** No review item with this job id. */
  REVIEW_NOT_FOUND: { retryable: false },
  /** The review item id is not one of ours. */
  REVIEW_ID_INVALID: { retryable: false },
} as const;

export type PaymentErrorCode = keyof typeof PAYMENT_ERROR_CODES;

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
    this.retryable = PAYMENT_ERROR_CODES[code].retryable;
    this.details = options.details;
  }
}
