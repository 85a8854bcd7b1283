/**
 * One delivery attempt of one message: sign it with the endpoint's secrets in
 * force, POST it, and decide what its answer means.
 * - 2xx: delivered.
 * - 410 Gone: the receiver asks us to stop; the endpoint is disabled.
 * - anything else, or no answer: tried again on the retry schedule (with
 *   jitter), then failed for good. An endpoint that has failed without a
 *   single delivery for `disableAfterMs` is disabled, and ops are told.
 *
 * A message that is no longer pending (delivered, failed, or gone past its
 * retention) is not sent again by a leftover job.
 */
import type { Logger } from '../platform/logger.ts';
import type { EndpointStore, WebhookEndpoint } from './endpoints.ts';
import type { DeliveryJob } from './fan-out.ts';
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
  /** Told when delivery stopped an endpoint on its own; must not throw. */
  onEndpointDisabled(endpoint: WebhookEndpoint, reason: 'gone' | 'failing'): Promise<void>;
  onAttempt?(report: AttemptReport): void;
  /** Random in [0, 1) for the jitter. */
  random?: () => number;
  logger: Logger;
}

/** ±20 % around the scheduled delay, so retries of many messages spread out. */
export function jittered(delayMs: number, random: () => number): number {
  return Math.round(delayMs * (0.8 + 0.4 * random()));
}

function secretsInForce(endpoint: WebhookEndpoint, box: SecretBox, now: number): Buffer[] {
  return endpoint.secrets
    .filter((secret, index) => index === 0 || (secret.expiresAt ?? 0) > now)
    .map((secret) => signingKeyOf(box.open(secret.sealed)));
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

function ended(message: WebhookMessage, reason: string): WebhookMessage {
  const { nextAttemptAt: _next, ...rest } = message;
  return { ...rest, status: 'failed', failedReason: reason };
}

/**
 * Runs attempt number `attempt` (1 for the job's first run) of the job's
 * message; `retry` asks the queue to run the job again after `delayMs`.
 */
export async function attemptDelivery(
  deps: DeliveryDeps,
  job: DeliveryJob,
  attempt: number,
): Promise<AttemptVerdict> {
  const message = await deps.messages.get(job.shard, job.endpointId, job.eventId);
  if (!message) return { outcome: 'skipped' };
  if (message.status !== 'pending') {
    // A leftover job (an event fanned out again after a crash): the message
    // is settled; saving it again only takes it out of the backlog index,
    // where the second fan-out may have put it back.
    await deps.messages.save(message);
    return { outcome: 'skipped' };
  }
  const endpoint = (await deps.endpoints.current()).byId.get(job.endpointId);
  if (!endpoint || !endpoint.enabled) {
    await deps.messages.save(ended(message, endpoint ? 'endpoint_disabled' : 'endpoint_deleted'));
    return { outcome: 'failed' };
  }
  const startedAt = deps.now();
  const headers = signMessage(
    message.eventId,
    startedAt / 1_000,
    message.body,
    secretsInForce(endpoint, deps.secrets, startedAt),
  );
  const result = await deps.sender.post({
    url: endpoint.url,
    headers: { ...headers },
    body: message.body,
  });
  const tried: WebhookMessage = {
    ...message,
    attemptCount: message.attemptCount + 1,
    attempts: [...message.attempts, attemptOf(result, startedAt)],
  };
  const status = result.kind === 'answered' ? result.status : undefined;
  const report = (outcome: AttemptReport['outcome']) =>
    deps.onAttempt?.({
      endpointId: endpoint.id,
      outcome,
      statusClass: status === undefined ? 'none' : `${Math.floor(status / 100)}xx`,
      durationMs: result.durationMs,
    });

  if (status !== undefined && status >= 200 && status < 300) {
    const { nextAttemptAt: _next, ...rest } = tried;
    await deps.messages.save({ ...rest, status: 'delivered', deliveredAt: deps.now() });
    if (endpoint.failingSince !== undefined) await clearFailing(deps, endpoint.id);
    report('delivered');
    return { outcome: 'delivered' };
  }
  if (status === 410) {
    await deps.messages.save(ended(tried, 'gone'));
    await disable(deps, endpoint.id, 'gone');
    report('failed');
    return { outcome: 'failed' };
  }
  const failingSince = endpoint.failingSince ?? startedAt;
  if (endpoint.failingSince === undefined) await markFailing(deps, endpoint.id, startedAt);
  if (startedAt - failingSince >= deps.disableAfterMs) {
    await deps.messages.save(ended(tried, 'endpoint_disabled'));
    await disable(deps, endpoint.id, 'failing');
    report('failed');
    return { outcome: 'failed' };
  }
  const scheduled = deps.retryScheduleMs[attempt];
  if (scheduled === undefined) {
    await deps.messages.save(ended(tried, 'retries_exhausted'));
    report('failed');
    return { outcome: 'failed' };
  }
  const delayMs = jittered(scheduled, deps.random ?? Math.random);
  await deps.messages.save({ ...tried, nextAttemptAt: deps.now() + delayMs });
  report('retry');
  return { outcome: 'retry', delayMs };
}

async function clearFailing(deps: DeliveryDeps, id: string): Promise<void> {
  await deps.endpoints.change(id, (current) => {
    if (current.failingSince === undefined) return undefined;
    const { failingSince: _since, ...rest } = current;
    return rest;
  });
}

async function markFailing(deps: DeliveryDeps, id: string, since: number): Promise<void> {
  await deps.endpoints.change(id, (current) =>
    current.failingSince === undefined ? { ...current, failingSince: since } : undefined,
  );
}

async function disable(deps: DeliveryDeps, id: string, reason: 'gone' | 'failing'): Promise<void> {
  let changed = false;
  const endpoint = await deps.endpoints.change(id, (current) => {
    if (!current.enabled) return undefined;
    changed = true;
    return { ...current, enabled: false, disabledReason: reason };
  });
  if (changed && endpoint) {
    deps.logger.warn({ endpointId: id, reason }, 'webhook endpoint disabled');
    await deps.onEndpointDisabled(endpoint, reason);
  }
}
