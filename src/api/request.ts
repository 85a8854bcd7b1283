/**
 * Reading a request's parts the way every API route does: headers, the JSON
 * content type, the Idempotency-Key, `?limit=` and the ids of the schedules
 * layer. Each refusal is an `ApiError` with its problem code.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseCommand, type ParseFailure } from '../payments/commands.ts';
import type { CommandOptions } from '../orchestrator.ts';
import { ListQuery, PLAN_ID, SUBSCRIPTION_ID } from './params.ts';
import { ApiError } from './problems.ts';
import { IDEMPOTENCY_KEY_PATTERN } from '../payments/keys.ts';

export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** API commands are JSON; a form or anything else is refused before it is read as one. */
export function requireJson(request: FastifyRequest): void {
  const type = header(request, 'content-type');
  if (request.body === undefined && type === undefined) return;
  if (!type || !/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError('unsupported_media_type', 'send Content-Type: application/json');
  }
}

/**
 * The Idempotency-Key header, checked against the one rule: 1 to 255 visible
 * ASCII characters. Node hands header bytes over as Latin-1, so a UTF-8 key
 * arrives as characters above 0x7E and is refused like any other; two
 * Idempotency-Key headers arrive joined by `, ` and are refused for the space.
 * Control characters never get here: Node's parser refuses the request itself.
 */
function idempotencyKey(request: FastifyRequest, required: boolean): string | undefined {
  const key = header(request, 'idempotency-key');
  if (key === undefined) {
    if (required) {
      throw new ApiError(
        'missing_idempotency_key',
        'the Idempotency-Key header is required',
        'Idempotency-Key',
      );
    }
    return undefined;
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new ApiError(
      'invalid_idempotency_key',
      'Idempotency-Key has 1 to 255 visible ASCII characters (0x21-0x7E): no space, tab, control or non-ASCII character',
      'Idempotency-Key',
    );
  }
  return key;
}

/** The command options of a request: its Idempotency-Key, when it has one. */
export function commandOptions(request: FastifyRequest, keyRequired: boolean): CommandOptions {
  const key = idempotencyKey(request, keyRequired);
  return key === undefined ? {} : { idempotencyKey: key };
}

/**
 * The options of a command on a payment, and whether the command, once it
 * answered, was a replay: applied before under the same key, only answered again.
 */
export function watchedCommandOptions(
  request: FastifyRequest,
  keyRequired: boolean,
): { options: CommandOptions; replayed(): boolean } {
  let replayed = false;
  const options = commandOptions(request, keyRequired);
  if (options.idempotencyKey === undefined) return { options, replayed: () => false };
  return {
    options: {
      ...options,
      onReplay: () => {
        replayed = true;
      },
    },
    replayed: () => replayed,
  };
}

/**
 * The answer to a request sent with an Idempotency-Key. A replay is answered
 * as the first request was (the IETF Idempotency-Key draft: "the result of the
 * previously completed operation"), with the same status and `Location`, plus
 * `Idempotent-Replayed: true`. Its body is the resource as it is now, not a
 * copy of the first body: the orchestrator keeps no responses, and a payment
 * read again shows where it got to since (`authorized` where the first answer
 * said `received`).
 */
export function sendIdempotent(
  reply: FastifyReply,
  answer: { status: 201 | 202; replayed: boolean; location?: string; body: unknown },
): FastifyReply {
  if (answer.location !== undefined) reply.header('Location', answer.location);
  if (answer.replayed) reply.header('Idempotent-Replayed', 'true');
  return reply.code(answer.status).send(answer.body);
}

/**
 * The refusal of a query or body the API parses itself: `invalid_command`
 * naming the first invalid field, or its own code, with every invalid field.
 */
export function parseFailureError(failure: ParseFailure): ApiError {
  return new ApiError(
    failure.code ?? 'invalid_command',
    `${failure.field} ${failure.message}`,
    failure.field,
    failure.errors,
  );
}

export function listOptions(query: unknown): { limit?: number } {
  const parsed = parseCommand(ListQuery, query ?? {});
  if (!parsed.ok) throw parseFailureError(parsed);
  return parsed.value.limit === undefined ? {} : { limit: parsed.value.limit };
}

/** A malformed id is an unknown one: 404 with the record's not-found code. */
export function subscriptionId(id: string): string {
  if (!SUBSCRIPTION_ID.test(id)) {
    throw new ApiError('subscription_not_found', `no subscription ${id.slice(0, 80)}`);
  }
  return id;
}

export function planId(id: string): string {
  if (!PLAN_ID.test(id)) {
    throw new ApiError('plan_not_found', `no instalment plan ${id.slice(0, 80)}`);
  }
  return id;
}
