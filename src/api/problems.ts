/**
 * Problem answers: every refusal is `application/problem+json` with a stable
 * code (and the faulty field where there is one), never a 500 for bad input.
 * Codes and statuses come from the error registry (src/platform/errors.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CommandError } from '../engine/errors.ts';
import { PaymentsError } from '../payments/errors.ts';
import { problemOf, type ProblemCode } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';

export type ApiErrorCode = ProblemCode;

/** A refusal of the HTTP layer, answered as a problem with its code. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function sendProblem(
  reply: FastifyReply,
  code: ApiErrorCode,
  detail: string,
  field?: string,
): FastifyReply {
  const { status } = problemOf(code);
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `https://sogenactif-orchestrator.dev/problems/${code}`,
      title: code.replaceAll('_', ' '),
      status,
      code,
      detail,
      ...(field ? { field } : {}),
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
    return sendProblem(reply, error.code, error.message, error.field);
  }
  if (error instanceof CommandError) {
    // payment_busy, request_in_progress...: the same request may be sent again.
    if (error.retryable) void reply.header('retry-after', String(error.retryAfterSeconds));
    return sendProblem(reply, error.code, error.message, error.field);
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
