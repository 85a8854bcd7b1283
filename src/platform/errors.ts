/**
 * Every error code of the orchestrator, once, in one casing. The API's
 * problem answers, the error classes (`ApiError`, `CommandError`,
 * `PaymentsError`), the CLI's failure messages and the README's error table
 * (`npm run docs:errors`) all read this table.
 *
 * Each code has a retry verdict, a one-line meaning and a scope:
 * - `http`: a refusal of the HTTP layer itself (API key, body, route);
 * - `command`: a refusal of a command, by the service layer or by the API
 *   while it parses the command;
 * - `payments`: a failure inside the payments layer (store, keyspace, card
 *   vault, review queue). Clients never see these codes: the API answers with
 *   the public code named by `answeredAs`.
 *
 * `http` and `command` codes are public: clients see them as the problem's
 * `code`, with the HTTP `status`. They never change.
 */

export type ErrorScope = 'http' | 'command' | 'payments';

interface PublicError {
  readonly scope: 'http' | 'command';
  /** The HTTP status of the problem answer. */
  readonly status: number;
  /** Sending the same request again later may succeed. */
  readonly retryable: boolean;
  /** One line, for the README table and the CLI. */
  readonly meaning: string;
}

interface InternalError {
  readonly scope: 'payments';
  readonly retryable: boolean;
  readonly meaning: string;
  /** The public code the API answers with when this error reaches it. */
  readonly answeredAs: 'invalid_command' | 'internal_error';
}

export type ErrorSpec = PublicError | InternalError;

export const ERRORS = {
  // Refusals of a command.
  invalid_command: {
    scope: 'command',
    status: 400,
    retryable: false,
    meaning: 'the command does not parse; `field` names the faulty part',
  },
  card_number_invalid: {
    scope: 'command',
    status: 400,
    retryable: false,
    meaning:
      '`card.number` has 12 to 19 digits but is not a card number: its check digit is wrong (Luhn); nothing was stored or sent to Sips',
  },
  card_expired: {
    scope: 'command',
    status: 400,
    retryable: false,
    meaning: '`card.expiry` is a month already past (UTC); nothing was stored or sent to Sips',
  },
  invalid_idempotency_key: {
    scope: 'command',
    status: 400,
    retryable: false,
    meaning:
      'the idempotency key is empty, longer than 255 characters, or has a character outside visible ASCII (0x21–0x7E)',
  },
  command_not_confirmed: {
    scope: 'command',
    status: 503,
    retryable: false,
    meaning:
      'REDIS_DURABILITY=replica: the command was stored but replicas did not confirm it in time; read the payment before anything else, and send it again only with the same Idempotency-Key',
  },
  payment_not_found: {
    scope: 'command',
    status: 404,
    retryable: false,
    meaning: 'no payment with this id',
  },
  operation_not_found: {
    scope: 'command',
    status: 404,
    retryable: false,
    meaning: 'no capture, cancellation or refund with this id on this payment',
  },
  idempotency_key_reused: {
    scope: 'command',
    status: 422,
    retryable: false,
    meaning:
      'the idempotency key was used for another request (another body or another command); send the first request again unchanged, or use a new key',
  },
  command_not_allowed: {
    scope: 'command',
    status: 409,
    retryable: false,
    meaning: "not allowed in the payment's current status, or the amount is too high",
  },
  payment_busy: {
    scope: 'command',
    status: 409,
    retryable: true,
    meaning: 'another write won the race; sending again is safe',
  },
  request_in_progress: {
    scope: 'command',
    status: 409,
    retryable: true,
    meaning: 'the first request with this idempotency key is still running',
  },
  outcome_unknown: {
    scope: 'command',
    status: 409,
    retryable: true,
    meaning:
      "the payment's last call has an unknown outcome and Sips could not clarify it yet; nothing was sent",
  },
  reauthorization_in_progress: {
    scope: 'command',
    status: 409,
    retryable: true,
    meaning:
      'capture or cancel of an authorisation being replaced at its capture limit; once the new one settles, capture the new one (this one is then cancelled), or send again if it failed. `Retry-After: 2`, or `300` while the new one is in review (the message says so)',
  },
  review_mark_disagrees: {
    scope: 'command',
    status: 409,
    retryable: false,
    meaning:
      "Sips' view of the transaction does not confirm the status to mark (the message says what Sips shows); adopt it, or force the mark with a reason",
  },
  review_confirmation_unavailable: {
    scope: 'command',
    status: 503,
    retryable: true,
    meaning:
      'Sips gave no usable answer to the inquiry that confirms a mark; nothing was changed, send the decision again later',
  },
  subscription_not_found: {
    scope: 'command',
    status: 404,
    retryable: false,
    meaning: 'no subscription with this id',
  },
  plan_not_found: {
    scope: 'command',
    status: 404,
    retryable: false,
    meaning: 'no instalment plan with this id',
  },

  webhook_endpoint_not_found: {
    scope: 'command',
    status: 404,
    retryable: false,
    meaning: 'no webhook endpoint with this id',
  },
  webhook_message_not_found: {
    scope: 'command',
    status: 404,
    retryable: false,
    meaning: "no message with this id in the endpoint's delivery log",
  },
  webhook_endpoint_limit: {
    scope: 'command',
    status: 409,
    retryable: false,
    meaning:
      'the merchant has the most webhook endpoints allowed (WEBHOOK_MAX_ENDPOINTS); `field` is `merchant`',
  },
  webhook_endpoint_busy: {
    scope: 'command',
    status: 409,
    retryable: true,
    meaning: 'the webhook endpoint is being changed by another request; sending again is safe',
  },

  // Refusals of the HTTP layer.
  unauthorized: {
    scope: 'http',
    status: 401,
    retryable: false,
    meaning: 'no or unknown API key',
  },
  forbidden: {
    scope: 'http',
    status: 403,
    retryable: false,
    meaning: "the key lacks the route's scope",
  },
  missing_idempotency_key: {
    scope: 'http',
    status: 400,
    retryable: false,
    meaning: '`Idempotency-Key` is required on this route',
  },
  malformed_request: {
    scope: 'http',
    status: 400,
    retryable: false,
    meaning:
      'the request is not valid HTTP (a control character in a header, a malformed request line); the connection is closed',
  },
  malformed_json: {
    scope: 'http',
    status: 400,
    retryable: false,
    meaning: 'the body is not JSON',
  },
  unsupported_media_type: {
    scope: 'http',
    status: 415,
    retryable: false,
    meaning: 'the body is not `application/json`',
  },
  payload_too_large: {
    scope: 'http',
    status: 413,
    retryable: false,
    meaning: 'the body exceeds 64 KiB',
  },
  not_found: {
    scope: 'http',
    status: 404,
    retryable: false,
    meaning: 'no such route',
  },
  method_not_allowed: {
    scope: 'http',
    status: 405,
    retryable: false,
    meaning: 'the path exists with other methods only; `Allow` lists them',
  },
  merchants_file_invalid: {
    scope: 'http',
    status: 422,
    retryable: false,
    meaning:
      'the merchants file was refused (every problem named in `detail`); the shops in force stay',
  },
  rate_limited: {
    scope: 'http',
    status: 429,
    retryable: true,
    meaning:
      'too many requests for this API key (or, without a known key, from this address) in the window (RATE_LIMIT per RATE_LIMIT_WINDOW); send again after `Retry-After` seconds',
  },
  internal_error: {
    scope: 'http',
    status: 500,
    retryable: true,
    meaning: 'a fault of ours (never bad input); nothing was lost',
  },

  // Failures inside the payments layer.
  keyspace_invalid: {
    scope: 'payments',
    answeredAs: 'invalid_command',
    retryable: false,
    meaning: 'the keyspace options are unusable (prefix, shard count) or an id is malformed',
  },
  writes_not_replicated: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: true,
    meaning:
      'REDIS_DURABILITY=replica: fewer replicas than REDIS_WAIT_REPLICAS confirmed a write in time; nothing was sent to Sips',
  },
  durability_config_invalid: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: false,
    meaning: 'the Redis topology cannot honour REDIS_DURABILITY, or the combination is unsafe',
  },
  payment_record_invalid: {
    scope: 'payments',
    answeredAs: 'invalid_command',
    retryable: false,
    meaning: 'a payment record to create breaks a rule (reference, amounts, shard)',
  },
  payment_id_taken: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: false,
    meaning: 'the id is already taken by another payment (id generator collision)',
  },
  payment_record_corrupt: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: false,
    meaning: 'a stored record could not be read back (corrupt or foreign data)',
  },
  idempotency_key_invalid: {
    scope: 'payments',
    answeredAs: 'invalid_command',
    retryable: false,
    meaning: 'the idempotency key is empty, too long, or has characters the store does not keep',
  },
  card_vault_config_invalid: {
    scope: 'payments',
    answeredAs: 'invalid_command',
    retryable: false,
    meaning:
      'card vault keys missing, of the wrong size, or the insecure dev key outside the simulator',
  },
  card_vault_malformed: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: false,
    meaning: 'a sealed card string is not in the `v1:` format',
  },
  card_vault_unknown_key: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: false,
    meaning: 'a sealed card names a key id the vault does not have',
  },
  card_vault_tampered: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: false,
    meaning: 'a sealed card fails authentication: altered bytes, or moved from another payment',
  },
  card_data_invalid: {
    scope: 'payments',
    answeredAs: 'invalid_command',
    retryable: false,
    meaning: 'the card to seal is not a card (PAN, expiry or CSC format)',
  },
  card_data_leak: {
    scope: 'payments',
    answeredAs: 'invalid_command',
    retryable: false,
    meaning:
      'card data was about to leave the vault: in an event, a timeline entry or review evidence',
  },
  review_not_found: {
    scope: 'payments',
    answeredAs: 'internal_error',
    retryable: false,
    meaning: 'no review item with this job id',
  },
  review_id_invalid: {
    scope: 'payments',
    answeredAs: 'invalid_command',
    retryable: false,
    meaning: 'the review item id is not one of ours',
  },
} as const satisfies Record<string, ErrorSpec>;

type Registry = typeof ERRORS;

export type ErrorCode = keyof Registry;

type CodesOf<Scope extends ErrorScope> = {
  [Code in ErrorCode]: Registry[Code]['scope'] extends Scope ? Code : never;
}[ErrorCode];

/** Codes of a command's refusals (`CommandError`). */
export type CommandErrorCode = CodesOf<'command'>;
/** Codes of the HTTP layer's own refusals. */
export type HttpErrorCode = CodesOf<'http'>;
/** Codes of the payments layer's failures (`PaymentsError`); never sent to clients. */
export type PaymentErrorCode = CodesOf<'payments'>;
/** The codes clients see as a problem's `code`. */
export type ProblemCode = CommandErrorCode | HttpErrorCode;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export const PROBLEM_CODES = ERROR_CODES.filter(
  (code): code is ProblemCode => ERRORS[code].scope !== 'payments',
);

export function isErrorCode(text: unknown): text is ErrorCode {
  return typeof text === 'string' && Object.hasOwn(ERRORS, text);
}

/** The public code and HTTP status an error with this code is answered with. */
export function problemOf(code: ErrorCode): { code: ProblemCode; status: number } {
  const spec: ErrorSpec = ERRORS[code];
  const answered: ProblemCode = spec.scope === 'payments' ? spec.answeredAs : (code as ProblemCode);
  return { code: answered, status: (ERRORS[answered] as PublicError).status };
}
