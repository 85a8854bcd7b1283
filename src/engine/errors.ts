/**
 * Refusals of a command, as the orchestrator's callers see them. The code,
 * its HTTP status and its retry verdict come from the error registry
 * (src/platform/errors.ts).
 */
import { ERRORS, type CommandErrorCode } from '../platform/errors.ts';

export type { CommandErrorCode };

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
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }
}
