/**
 * One delivery attempt of one message: sign it with the endpoint's secrets in
 * force, POST it, and decide what its answer means.
 * - 2xx: delivered.
 * - 410 Gone: the receiver asks us to stop; the endpoint is disabled.
 * - anything else, or no answer: tried again on the retry schedule (with
 *   jitter), then failed for good. An endpoint that has failed without a
 *   single delivery for `disableAfterMs` is disabled, and ops are told.
 *
 * A job acts only on the generation of the message it was made for: a
 * replay starts a new generation with a job of its own, and the older
 * series stops (its writes are refused as stale). A message that is no
 * longer pending, or gone past its retention, is not sent by a leftover job.
 */
import type { Logger } from '../platform/logger.ts';
import type { EndpointStore, WebhookEndpoint } from './endpoints.ts';
import type { DeliveryJob } from './delivery-job.ts';
import type { WebhookAttemptResult, WebhookSender } from './http-sender.ts';
import type { DeliveryAttempt, MessageLog, WebhookMessage } from './messages.ts';
import type { SecretBox } from './secret-box.ts';
import { signMessage, signingKeyOf } from './signature.ts';

/** What an attempt came to, for the queue and the metrics. */
export type AttemptVerdict =
  { outcome: 'delivered' | 'failed' | 'skipped' } | { outcome: 'retry'; delayMs: number };

export interface AttemptReport {
  endpointId: string;
  outcome: 'delivered' | 'retry' | 'failed';
  /** `2xx` … `5xx`, or `none` without an answer. */
  statusClass: string;
  durationMs: number;
}

export interface DeliveryDeps {
  endpoints: EndpointStore;
  messages: MessageLog;
  sender: WebhookSender;
  secrets: SecretBox;
  now: () => number;
  /** Delays before each attempt: the first is the first attempt's. */
  retryScheduleMs: readonly number[];
  /** An endpoint failing this long without a delivery is disabled. */
  disableAfterMs: number;
  /**
   * Told when delivery stops an endpoint on its own, before the endpoint is
   * disabled (so a crash in between tells twice, never not at all).
   */
  onEndpointDisabled(endpoint: WebhookEndpoint, reason: 'gone' | 'failing'): Promise<void>;
  onAttempt?(report: AttemptReport): void;
  /** Random in [0, 1) for the jitter. */
  random?: () => number;
  logger: Logger;
}

/** The job's message is not there yet (a replay stored after its job was added): look again soon. */
const NOT_YET_DELAY_MS = 200;

/** ±20 % around the scheduled delay, so retries of many messages spread out. */
export function jittered(delayMs: number, random: () => number): number {
  return Math.round(delayMs * (0.8 + 0.4 * random()));
}

/** Signing keys by sealed secret: opened once per process, not once per attempt. */
const openedKeys = new Map<string, Buffer>();
const MAX_OPENED_KEYS = 10_000;

function keyOf(box: SecretBox, sealed: string): Buffer {
  let key = openedKeys.get(sealed);
  if (!key) {
    if (openedKeys.size >= MAX_OPENED_KEYS) openedKeys.clear();
    key = signingKeyOf(box.open(sealed));
    openedKeys.set(sealed, key);
  }
  return key;
}

/** The keys that sign now, or undefined when a secret cannot be opened (its vault key is gone). */
function keysInForce(deps: DeliveryDeps, endpoint: WebhookEndpoint, now: number) {
  try {
    return endpoint.secrets
      .filter((secret, index) => index === 0 || (secret.expiresAt ?? 0) > now)
      .map((secret) => keyOf(deps.secrets, secret.sealed));
  } catch (error) {
    deps.logger.error(
      { err: error, endpointId: endpoint.id },
      'a webhook signing secret cannot be opened: is its card vault key still configured?',
    );
    return undefined;
  }
}

function attemptOf(result: WebhookAttemptResult, at: number): DeliveryAttempt {
  if (result.kind === 'answered') {
    return {
      at,
      durationMs: Math.round(result.durationMs),
      statusCode: result.status,
      ...(result.body ? { responseBody: result.body } : {}),
    };
  }
  return {
    at,
    durationMs: Math.round(result.durationMs),
    error: `${result.reason}: ${result.message}`,
  };
}

function settled(
  message: WebhookMessage,
  status: 'delivered' | 'failed',
  fields: { failedReason?: string; deliveredAt?: number },
): WebhookMessage {
  const { nextAttemptAt: _next, failedReason: _reason, ...rest } = message;
  return { ...rest, status, ...fields };
}

/**
 * A message as the fan-out just stored it, with the endpoint it matched in
 * the endpoints it had just read: a first attempt made right away need not
 * read either back.
 */
export interface FreshMessage {
  message: WebhookMessage;
  endpoint: WebhookEndpoint;
}

/** Runs the next attempt of the job's message. */
export async function attemptDelivery(
  deps: DeliveryDeps,
  job: DeliveryJob,
  fresh?: FreshMessage,
): Promise<AttemptVerdict> {
  const wanted = job.generation ?? 0;
  const message =
    fresh?.message ?? (await deps.messages.get(job.shard, job.endpointId, job.eventId));
  if (!message) {
    await deps.messages.forget(job.shard, job.endpointId, job.eventId);
    return { outcome: 'skipped' };
  }
  const generation = message.generation ?? 0;
  if (generation < wanted) return { outcome: 'retry', delayMs: NOT_YET_DELAY_MS };
  if (generation > wanted || message.status !== 'pending') return { outcome: 'skipped' };
  const save = (next: WebhookMessage) => deps.messages.save(next, generation);

  const endpoint = fresh?.endpoint ?? (await deps.endpoints.current()).byId.get(job.endpointId);
  if (!endpoint || !endpoint.enabled) {
    const reason = endpoint ? 'endpoint_disabled' : 'endpoint_deleted';
    await save(settled(message, 'failed', { failedReason: reason }));
    return { outcome: 'failed' };
  }
  const startedAt = deps.now();
  const keys = keysInForce(deps, endpoint, startedAt);
  if (!keys) {
    await save(settled(message, 'failed', { failedReason: 'signing_secret_unreadable' }));
    return { outcome: 'failed' };
  }
  const headers = signMessage(message.eventId, startedAt / 1_000, message.body, keys);
  const result = await deps.sender.post({
    url: endpoint.url,
    headers: { ...headers },
    body: message.body,
  });
  const tried: WebhookMessage = {
    ...message,
    attemptCount: message.attemptCount + 1,
    seriesAttempts: (message.seriesAttempts ?? 0) + 1,
    attempts: [...message.attempts, attemptOf(result, startedAt)],
  };
  const status = result.kind === 'answered' ? result.status : undefined;
  const outcome = await settle(deps, endpoint, tried, status, startedAt, save);
  deps.onAttempt?.({
    endpointId: endpoint.id,
    outcome:
      outcome.outcome === 'retry'
        ? 'retry'
        : outcome.outcome === 'delivered'
          ? 'delivered'
          : 'failed',
    statusClass: status === undefined ? 'none' : `${Math.floor(status / 100)}xx`,
    durationMs: result.durationMs,
  });
  return outcome;
}

/** What the answer means for the message and the endpoint. */
async function settle(
  deps: DeliveryDeps,
  endpoint: WebhookEndpoint,
  tried: WebhookMessage,
  status: number | undefined,
  startedAt: number,
  save: (message: WebhookMessage) => Promise<unknown>,
): Promise<AttemptVerdict> {
  if (status !== undefined && status >= 200 && status < 300) {
    // One round trip for both: the two commands leave in the same pipeline.
    await Promise.all([
      save(settled(tried, 'delivered', { deliveredAt: deps.now() })),
      deps.endpoints.clearFailing(endpoint.id),
    ]);
    return { outcome: 'delivered' };
  }
  if (status === 410) {
    await disable(deps, endpoint, 'gone');
    await save(settled(tried, 'failed', { failedReason: 'gone' }));
    return { outcome: 'failed' };
  }
  const failingSince = await deps.endpoints.markFailing(endpoint.id, startedAt);
  if (startedAt - failingSince >= deps.disableAfterMs) {
    await disable(deps, endpoint, 'failing');
    await save(settled(tried, 'failed', { failedReason: 'endpoint_disabled' }));
    return { outcome: 'failed' };
  }
  const scheduled = deps.retryScheduleMs[tried.seriesAttempts];
  if (scheduled === undefined) {
    await save(settled(tried, 'failed', { failedReason: 'retries_exhausted' }));
    return { outcome: 'failed' };
  }
  const delayMs = jittered(scheduled, deps.random ?? Math.random);
  const stored = await save({ ...tried, nextAttemptAt: deps.now() + delayMs });
  // Replayed meanwhile, or expired: this series ends here.
  if (stored !== 'ok') return { outcome: 'skipped' };
  return { outcome: 'retry', delayMs };
}

async function disable(
  deps: DeliveryDeps,
  endpoint: WebhookEndpoint,
  reason: 'gone' | 'failing',
): Promise<void> {
  // Many messages of one failing endpoint reach this point: one tells.
  const fresh = await deps.endpoints.get(endpoint.id);
  if (!fresh?.enabled || !(await deps.endpoints.claimDisabling(endpoint.id))) return;
  deps.logger.warn({ endpointId: endpoint.id, reason }, 'webhook endpoint disabled');
  await deps.onEndpointDisabled(fresh, reason);
  await deps.endpoints.change(endpoint.id, (current) =>
    current.enabled ? { ...current, enabled: false, disabledReason: reason } : undefined,
  );
}
