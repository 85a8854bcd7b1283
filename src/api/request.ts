/**
 * Reading a request's parts the way every API route does: headers, the JSON
 * content type, the Idempotency-Key, `?limit=` and the ids of the schedules
 * layer. Each refusal is an `ApiError` with its problem code.
 */
import type { FastifyRequest } from 'fastify';
import { parseCommand } from '../payments/commands.ts';
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
      'Idempotency-Key has 1 to 255 printable ASCII characters, no spaces',
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

export function listOptions(query: unknown): { limit?: number } {
  const parsed = parseCommand(ListQuery, query ?? {});
  if (!parsed.ok) {
    throw new ApiError('invalid_command', `${parsed.field} ${parsed.message}`, parsed.field);
  }
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
