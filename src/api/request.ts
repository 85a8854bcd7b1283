/**
 * Reading a request's parts the way every API route does: headers, the
 * Idempotency-Key, `?limit=` and the ids of the schedules layer (the JSON
 * content type is checked for every API route by app.ts). Each refusal is an
 * `ApiError` or a `CommandError` with its problem code.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseCommand } from '../payments/commands.ts';
import { parseOrThrow } from '../service/parse.ts';
import type { CommandOptions } from '../orchestrator.ts';
import { ListQuery, PLAN_ID, SUBSCRIPTION_ID } from './params.ts';
import { ApiError } from './problems.ts';
import { IDEMPOTENCY_KEY_PATTERN } from '../payments/keys.ts';

export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
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

export function listOptions(query: unknown): { limit?: number } {
  const { limit } = parseOrThrow(parseCommand(ListQuery, query ?? {}));
  return limit === undefined ? {} : { limit };
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
