/**
 * Idempotency, in one place, for every command that takes a key: creates of
 * payments, subscriptions and plans, and commands on a payment. One key rule
 * (`IDEMPOTENCY_KEY_PATTERN`), three records fitted to what they protect:
 *
 * - a payment create: the store's idempotency record, written by the create
 *   script with the payment, plus a short in-flight marker so a second request
 *   while the first still runs is told to wait instead of racing it;
 * - a command on a payment: the key and the request hash kept in the payment's
 *   engine data, written in the same compare-and-set as the step it applies;
 * - a schedule create: a key record pointing at the subscription or plan.
 *
 * Create records (payments and schedules) last the store's idempotency window
 * (`idempotencyTtlMs`, IDEMPOTENCY_KEY_TTL); command keys last as long as their
 * payment, the last `COMMAND_KEYS_KEPT` of each.
 *
 * As the IETF Idempotency-Key draft asks: the same key with the same request
 * is a replay, answered with the outcome of the first (the same record; the
 * HTTP layer answers it with the first answer's status and
 * `Idempotent-Replayed: true`); the same key with another request is refused
 * with `idempotency_key_reused` (422); a second request while the first still
 * runs with `request_in_progress` (409).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { EngineData } from '../engine/engine-data.ts';
import { CommandError } from '../engine/errors.ts';
import { IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE } from '../payments/keys.ts';
import type { ServiceContext } from './context.ts';

/** Longest time a create may hold its idempotency key's in-flight marker. */
const IN_FLIGHT_MARKER_MS = 30_000;
/** A schedule create's claim: a process that dies while creating frees the key soon. */
const SCHEDULE_CLAIM_TTL_SECONDS = 120;
/** Command keys kept per payment: a retry comes within minutes, not after fifty more commands. */
const COMMAND_KEYS_KEPT = 50;

/** The key, checked against the one rule; `invalid_idempotency_key` otherwise. */
export function checkIdempotencyKey(key: string): string {
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new CommandError('invalid_idempotency_key', IDEMPOTENCY_KEY_RULE);
  }
  return key;
}

function inProgress(): CommandError {
  return new CommandError(
    'request_in_progress',
    'a request with this idempotency key is still being processed; send it again shortly',
  );
}

function reused(what: string): CommandError {
  return new CommandError(
    'idempotency_key_reused',
    `this idempotency key was used for ${what}; send that request again unchanged, or use a new key`,
  );
}

/**
 * Runs a payment create while holding its key's in-flight marker: a second
 * request with the same key while the first is still running gets
 * `request_in_progress` (409, retry later) instead of racing it.
 */
export async function whileHoldingKey<T>(
  ctx: Pick<ServiceContext, 'redis' | 'keyspace'>,
  key: string | undefined,
  run: () => Promise<T>,
): Promise<T> {
  if (key === undefined) return run();
  const marker = `${ctx.keyspace.idempotencyKey(checkIdempotencyKey(key))}:in-flight`;
  const token = randomUUID();
  if ((await ctx.redis.set(marker, token, 'PX', IN_FLIGHT_MARKER_MS, 'NX')) === null) {
    throw inProgress();
  }
  try {
    return await run();
  } finally {
    // Only our own marker: one that expired and was taken by a later request stays.
    if ((await ctx.redis.get(marker)) === token) await ctx.redis.del(marker);
  }
}

/** A payment create found its key used for another request. */
export function createConflict(): CommandError {
  return reused('another payment request');
}

/**
 * A command on a payment under `key`: `replay` when this very command was
 * applied already, `new` otherwise; a conflict when the key was used for
 * another command on this payment.
 */
export function commandKeyVerdict(
  data: Pick<EngineData, 'commandKeys'>,
  key: string,
  hash: string,
): 'new' | 'replay' {
  const seen = data.commandKeys?.[key];
  if (seen === undefined) return 'new';
  if (seen !== hash) throw reused('another command on this payment');
  return 'replay';
}

/** Records a command's key with the step that applies it (the same write). */
export function rememberCommandKey(data: EngineData, key: string, hash: string): void {
  const keys = { ...(data.commandKeys ?? {}), [key]: hash };
  const names = Object.keys(keys);
  for (const name of names.slice(0, Math.max(0, names.length - COMMAND_KEYS_KEPT))) {
    delete keys[name];
  }
  data.commandKeys = keys;
}

/**
 * The record key of a schedule create: the scope, then the key as sent. A key
 * too long for the rule once scoped (the client's key may have 255
 * characters) is replaced by its SHA-256 under a scope of its own, which no
 * key as sent can produce (`subscription-sha256:` is never `subscription:`…).
 */
function scheduleRecordKey(scope: string, key: string): string {
  const scoped = `${scope}:${checkIdempotencyKey(key)}`;
  if (IDEMPOTENCY_KEY_PATTERN.test(scoped)) return scoped;
  return `${scope}-sha256:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}

/**
 * Idempotent creation of a schedule (subscription, plan): the key maps to the
 * record's id for the store's idempotency window; the same key with another
 * command is `idempotency_key_reused`, and a second request while the first
 * runs gets `request_in_progress`.
 */
export async function onceForKey(
  ctx: Pick<ServiceContext, 'redis' | 'keyspace' | 'hashRequest' | 'store'>,
  scope: string,
  key: string | undefined,
  command: unknown,
  make: (seed?: string) => Promise<string>,
): Promise<{ created: boolean; id: string }> {
  if (key === undefined) return { created: true, id: await make() };
  const redisKey = ctx.keyspace.idempotencyKey(scheduleRecordKey(scope, key));
  const hash = ctx.hashRequest({ scope, command });
  const claimed = await ctx.redis.set(
    redisKey,
    `pending:${hash}`,
    'EX',
    SCHEDULE_CLAIM_TTL_SECONDS,
    'NX',
  );
  if (claimed === null) {
    const seen = (await ctx.redis.get(redisKey)) ?? '';
    const [state, seenHash, id] = seen.split(':');
    if (seenHash !== hash) throw reused('another command');
    if (state === 'pending' || id === undefined) throw inProgress();
    return { created: false, id };
  }
  try {
    // Seeded by the key and the request: a retry after a crash between the
    // record and this marker finds the same record instead of making another.
    const id = await make(`${key}:${hash}`);
    await ctx.redis.set(redisKey, `done:${hash}:${id}`, 'PX', ctx.store.idempotencyTtlMs);
    return { created: true, id };
  } catch (error) {
    await ctx.redis.del(redisKey);
    throw error;
  }
}
