/**
 * Refusals of a command, as the orchestrator's callers see them. The code,
 * its HTTP status and its retry verdict come from the error registry
 * (src/platform/errors.ts).
 */
import { ERRORS, type CommandErrorCode } from '../platform/errors.ts';

export type { CommandErrorCode };

/** One invalid field of a refused command, with its own code when it has one. */
export interface InvalidField {
  /** Dotted, as `field`. */
  field: string;
  detail: string;
  code?: CommandErrorCode;
}

export class CommandError extends Error {
  readonly code: CommandErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  /** The faulty field, dotted, for `invalid_command` (the first one when there are several). */
  readonly field: string | undefined;
  /** Every invalid field of a command that does not parse, the first one first. */
  readonly errors: readonly InvalidField[] | undefined;
  /** For a retryable error: how long to wait before sending the same request again. */
  readonly retryAfterSeconds: number;

  constructor(
    code: CommandErrorCode,
    message: string,
    options: { field?: string; errors?: readonly InvalidField[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
    this.field = options.field;
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }
}
