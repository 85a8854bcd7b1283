/**
 * Failures a caller of the orchestrator sees. Each has a stable code, the HTTP
 * status the API maps it to, and a retry verdict for the caller.
 */
export const COMMAND_ERROR_CODES = {
  /** The command does not parse: `field` names the faulty part. */
  invalid_command: { status: 400, retryable: false },
  /** The idempotency key is missing or malformed. */
  invalid_idempotency_key: { status: 400, retryable: false },
  /** No payment with this id. */
  payment_not_found: { status: 404, retryable: false },
  /** The idempotency key was used before with a different command. */
  idempotency_conflict: { status: 409, retryable: false },
  /** The command is not allowed in the payment's current status (or the amount is too high). */
  command_not_allowed: { status: 409, retryable: false },
  /** Another write to the same payment won the race; sending again is safe. */
  payment_busy: { status: 409, retryable: true },
  /** The first request with this idempotency key is still running; send it again shortly. */
  request_in_progress: { status: 409, retryable: true },
  /** The payment's last call has an unknown outcome and an inquiry could not settle it yet. */
  outcome_unknown: { status: 409, retryable: true },
  /**
   * The payment's authorisation is being replaced at its capture limit (policy
   * `reauthorize`): captures and cancels wait until the new one settles. Sent
   * again then, the command applies if the new one failed; if it was
   * authorised, capture the new payment instead (this one is cancelled).
   */
  reauthorization_in_progress: { status: 409, retryable: true },
  /** No subscription with this id. */
  subscription_not_found: { status: 404, retryable: false },
  /** No instalment plan with this id. */
  plan_not_found: { status: 404, retryable: false },
} as const;

export type CommandErrorCode = keyof typeof COMMAND_ERROR_CODES;

export class CommandError extends Error {
  readonly code: CommandErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  /** The faulty field, dotted, for `invalid_command`. */
  readonly field: string | undefined;
  /** For a retryable error: how long to wait before sending the same request again. */
  readonly retryAfterSeconds: number;

  constructor(
    code: CommandErrorCode,
    message: string,
    options: { field?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.status = COMMAND_ERROR_CODES[code].status;
    this.retryable = COMMAND_ERROR_CODES[code].retryable;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }
}
