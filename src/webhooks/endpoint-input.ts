/**
 * Endpoint commands as merchants send them, parsed at the edge: a faulty
 * field is named (`invalid_command` with `field`), never guessed at.
 */
import { z } from 'zod';
import { parseCommand } from '../payments/commands.ts';
import { isEventType } from '../payments/event-catalogue.ts';
import { CommandError } from '../engine/errors.ts';
import { endpointUrlProblem, type DestinationPolicy } from './address-guard.ts';
import { ALL_EVENT_TYPES } from './endpoints.ts';

const MAX_URL_LENGTH = 2_048;
const MAX_DESCRIPTION_LENGTH = 500;
/** More than every type there is: a list past it is a mistake. */
const MAX_EVENT_TYPES = 200;

const eventTypes = z
  .array(z.string().max(100))
  .min(1, 'lists at least one event type, or "*" for all')
  .max(MAX_EVENT_TYPES)
  .superRefine((types, ctx) => {
    types.forEach((type, index) => {
      if (type !== ALL_EVENT_TYPES && !isEventType(type)) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `${JSON.stringify(type)} is not an event type`,
        });
      }
    });
  })
  .transform((types) =>
    types.includes(ALL_EVENT_TYPES) ? [ALL_EVENT_TYPES] : [...new Set(types)],
  );

const fields = {
  url: z.string().trim().min(1).max(MAX_URL_LENGTH),
  eventTypes,
  enabled: z.boolean(),
  description: z.string().max(MAX_DESCRIPTION_LENGTH),
};

export const CreateEndpoint = z.strictObject({
  url: fields.url,
  eventTypes: fields.eventTypes.default([ALL_EVENT_TYPES]),
  enabled: fields.enabled.default(true),
  description: fields.description.optional(),
  merchant: z.string().min(1).max(64).optional(),
});

export const ChangeEndpoint = z
  .strictObject({
    url: fields.url.optional(),
    eventTypes: fields.eventTypes.optional(),
    enabled: fields.enabled.optional(),
    /** `null` clears it. */
    description: fields.description.nullable().optional(),
  })
  .refine((change) => Object.keys(change).length > 0, 'changes at least one field');

export const RotateSecret = z.strictObject({
  /** How long the replaced secret keeps signing, in seconds (7 days at most). */
  overlapSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .optional(),
});

export const Replay = z.strictObject({
  /** RFC 3339: every message created at or after it is sent again. */
  since: z.iso.datetime({ offset: true }),
  /** Only messages that failed for good. @defaultValue false */
  failedOnly: z.boolean().optional(),
});

export type CreateEndpointCommand = z.output<typeof CreateEndpoint>;
export type ChangeEndpointCommand = z.output<typeof ChangeEndpoint>;

function parsed<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = parseCommand(schema, input);
  if (!result.ok) {
    throw new CommandError(result.code ?? 'invalid_command', `${result.field} ${result.message}`, {
      field: result.field,
      errors: result.errors,
    });
  }
  return result.value;
}

function checkUrl(url: string | undefined, policy: DestinationPolicy): void {
  if (url === undefined) return;
  const problem = endpointUrlProblem(url, policy);
  if (problem) throw new CommandError('invalid_command', `url ${problem}`, { field: 'url' });
}

/** A command with a `url`: parsed, then the address checked against the policy. */
function parsedWithUrl<S extends z.ZodType<{ url?: string | undefined }>>(
  schema: S,
  input: unknown,
  policy: DestinationPolicy,
): z.output<S> {
  const command = parsed(schema, input);
  checkUrl(command.url, policy);
  return command;
}

export function parseCreateEndpoint(
  input: unknown,
  policy: DestinationPolicy,
): CreateEndpointCommand {
  return parsedWithUrl(CreateEndpoint, input, policy);
}

export function parseChangeEndpoint(
  input: unknown,
  policy: DestinationPolicy,
): ChangeEndpointCommand {
  return parsedWithUrl(ChangeEndpoint, input, policy);
}

export function parseRotateSecret(input: unknown): { overlapSeconds?: number | undefined } {
  return parsed(RotateSecret, input ?? {});
}

export function parseReplay(input: unknown): { since: number; failedOnly: boolean } {
  const command = parsed(Replay, input);
  return { since: Date.parse(command.since), failedOnly: command.failedOnly ?? false };
}
