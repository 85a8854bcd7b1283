/**
 * Problem answers (RFC 9457): every refusal is `application/problem+json`
 * with a stable code, never a 500 for bad input. Codes and statuses come
 * from the error registry (src/platform/errors.ts).
 *
 * Members beyond RFC 9457's `type`, `title`, `status` and `detail`:
 * - `code`: the registry's code;
 * - `instance`: a URI reference naming this occurrence: the request's path
 *   (no query string; a card-number-like run replaced by `[redacted]`,
 *   percent-encoded) and, as its fragment, the request id the access log and
 *   the server know it by: `/v1/payments/pay_1#req-2a`;
 * - `field`: the faulty field, dotted (the first one when there are several);
 * - `errors`: with `field`, every faulty field: `{ field, detail, code }`,
 *   the first one first. A command that does not parse lists each invalid
 *   field once (each unknown key is one), with its own code
 *   (`invalid_command`, or `card_number_invalid`, `card_expired`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CommandError } from '../engine/errors.ts';
import { PaymentsError } from '../payments/errors.ts';
import { redactCardNumbers } from '../payments/pan-detect.ts';
import { problemOf, type ProblemCode } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';

export type ApiErrorCode = ProblemCode;

/** One faulty field of a problem. */
export interface ProblemField {
  field: string;
  detail: string;
  /** Its own code; absent: `invalid_command`. */
  code?: ProblemCode;
}

/** A refusal of the HTTP layer, answered as a problem with its code. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
    /** Every faulty field, when the request has several (the first is `field`). */
    readonly errors?: readonly ProblemField[],
  ) {
    super(message);
  }
}

/** Characters a URI path may hold as they are (RFC 3986 `pchar`, `/` and `%`). */
const NOT_IN_PATH = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g;

/**
 * A request path fit to be quoted (access log, problem details): every run
 * of 12 to 19 digits, and every card-number-like chain, is `[redacted]`.
 */
export function redactPath(path: string): string {
  return redactCardNumbers(path.replace(/\d{12,19}/g, '[redacted]'));
}

/**
 * The problem's `instance`: the request's path, without its query string,
 * card-number-like runs redacted, with the request id as the fragment.
 */
function instanceOf(request: FastifyRequest): string {
  const path = (request.url.split('?')[0] ?? '').split('#')[0] ?? '';
  const redacted = redactPath(path);
  const encoded = redacted.replace(NOT_IN_PATH, (char) => encodeURIComponent(char));
  return `${encoded}#${encodeURIComponent(String(request.id))}`;
}

export function sendProblem(
  reply: FastifyReply,
  code: ApiErrorCode,
  detail: string,
  field?: string,
  errors?: readonly ProblemField[],
): FastifyReply {
  const { status } = problemOf(code);
  const listed = errors && errors.length > 0 ? errors : field ? [{ field, detail, code }] : [];
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `https://sogenactif-orchestrator.dev/problems/${code}`,
      title: code.replaceAll('_', ' '),
      status,
      code,
      detail,
      instance: instanceOf(reply.request),
      ...(field ? { field } : {}),
      ...(listed.length > 0
        ? {
            errors: listed.map((entry) => ({
              field: entry.field,
              detail: entry.detail,
              code: entry.code ?? 'invalid_command',
            })),
          }
        : {}),
    });
}

/**
 * Answers any error thrown while handling a request: the HTTP layer's and the
 * commands' own refusals with their codes, the payments layer's failures with
 * the public code the registry answers them as, Fastify's body errors as the
 * caller's fault, anything else as a logged `internal_error`.
 */
export function sendError(
  reply: FastifyReply,
  error: Error & { statusCode?: number; code?: string },
  request: FastifyRequest,
  logger?: Logger,
): FastifyReply {
  if (error instanceof ApiError) {
    if (error.code === 'unauthorized' && !request.url.startsWith('/ops')) {
      // The API's one scheme. The console logs in with its own form: no
      // challenge there, which would make a browser prompt for credentials.
      void reply.header('www-authenticate', 'Bearer realm="sogenactif"');
    }
    return sendProblem(reply, error.code, error.message, error.field, error.errors);
  }
  if (error instanceof CommandError) {
    // payment_busy, request_in_progress...: the same request may be sent again.
    if (error.retryable) void reply.header('retry-after', String(error.retryAfterSeconds));
    return sendProblem(reply, error.code, error.message, error.field, error.errors);
  }
  if (error instanceof PaymentsError) {
    // Refused by the storage layer's own checks (still the caller's input), or a fault of ours.
    const answer = problemOf(error.code).code;
    if (answer !== 'internal_error') return sendProblem(reply, answer, error.message);
  }
  const status = error.statusCode ?? 500;
  if (status === 413) return sendProblem(reply, 'payload_too_large', 'the body is too large');
  if (status === 415) {
    return sendProblem(reply, 'unsupported_media_type', 'send Content-Type: application/json');
  }
  if (status >= 400 && status < 500) {
    return sendProblem(reply, 'malformed_json', `the body could not be read: ${error.message}`);
  }
  logger?.error({ err: error, url: request.url }, 'unexpected API error');
  return sendProblem(reply, 'internal_error', 'an unexpected error occurred; nothing was lost');
}
