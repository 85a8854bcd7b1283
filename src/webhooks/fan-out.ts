/**
 * From the event streams to messages: the `webhooks` consumer group reads
 * every shard's stream (at least once, src/payments/event-consumer.ts) and,
 * for each event, writes one message per enabled endpoint of the event's
 * merchant that takes its type. A new message is then sent at once from the
 * process's pool of first attempts, under a lease written with it
 * (first-attempts.ts); when the pool is full, or the first attempt waits
 * (`firstDelayMs`), it gets a delivery job instead.
 *
 * A crash before the entry is acknowledged runs the event again: the
 * messages are written once (they exist), and a job is added for each one
 * still pending (BullMQ adds a job id once; a job whose message is settled
 * does nothing), including the messages of endpoints disabled or changed
 * meanwhile, which their job then fails. A crash after it leaves the leases
 * of the attempts in flight, which become jobs. So each message is sent at
 * least once, and more than once only when a receiver's answer was lost.
 *
 * An endpoint receives the events written after it was created, not older
 * ones a lagging consumer reads late.
 */
import type { PaymentCloudEvent } from '../payments/events.ts';
import type { Delivery } from '../payments/event-consumer.ts';
import { DEFAULT_MERCHANT_ID } from '../engine/engine.ts';
import { ALL_EVENT_TYPES, type EndpointStore, type WebhookEndpoint } from './endpoints.ts';
import { deliveryJobId, type DeliveryJobSink } from './delivery-job.ts';
import type { FirstAttempts } from './first-attempts.ts';
import type { MessageLog, WebhookMessage } from './messages.ts';

function takesEvent(endpoint: WebhookEndpoint, type: string): boolean {
  return (
    endpoint.enabled &&
    (endpoint.eventTypes.includes(ALL_EVENT_TYPES) || endpoint.eventTypes.includes(type))
  );
}

export function createFanOut(options: {
  endpoints: EndpointStore;
  messages: MessageLog;
  jobs: DeliveryJobSink;
  now: () => number;
  /** The delay before a message's first attempt. @defaultValue 0 */
  firstDelayMs?: number;
  /** Where first attempts run in process; without it (or with a first delay) every message gets a job. */
  firstAttempts?: FirstAttempts;
}): (event: PaymentCloudEvent, delivery: Delivery) => Promise<void> {
  const { endpoints, messages, jobs } = options;
  const delay = options.firstDelayMs ? { delayMs: options.firstDelayMs } : {};
  const inProcess = options.firstDelayMs ? undefined : options.firstAttempts;
  return async (event, delivery) => {
    const eventTime = Date.parse(event.time);
    const snapshot = await endpoints.current(Number.isNaN(eventTime) ? undefined : eventTime);
    const mine = snapshot.byMerchant.get(event.merchant ?? DEFAULT_MERCHANT_ID) ?? [];
    if (mine.length === 0) return;
    const targets = mine.filter(
      (endpoint) => takesEvent(endpoint, event.type) && !(eventTime < endpoint.createdAt),
    );
    const others = mine.filter((endpoint) => !targets.includes(endpoint));
    const created = messagesOf(event, delivery.shard, targets, eventTime, options.now);
    const leased: boolean[] = [];
    for (const message of created) {
      leased.push((await inProcess?.take(delivery.shard, message.endpointId)) ?? false);
    }
    const giveBack = (message: WebhookMessage, index: number) => {
      if (leased[index]) inProcess?.giveBack(delivery.shard, message.endpointId);
    };
    const found = await messages
      .add(delivery.shard, created, { leased, until: inProcess?.leaseDeadline() ?? 0 })
      .catch((error: unknown) => {
        created.forEach(giveBack);
        throw error;
      });
    const toSend: string[] = [];
    created.forEach((message, index) => {
      const endpoint = targets[index] as WebhookEndpoint;
      if (found[index] === 'created' && leased[index]) {
        return inProcess?.start({ message, endpoint });
      }
      giveBack(message, index);
      if (found[index] === 'created' || found[index] === 'pending') toSend.push(message.endpointId);
    });
    // An earlier run of this event may have written messages for endpoints
    // that no longer take it: their jobs settle them.
    if (others.length > 0) {
      toSend.push(
        ...(await messages.pendingOf(
          delivery.shard,
          others.map((endpoint) => endpoint.id),
          event.id,
        )),
      );
    }
    if (toSend.length === 0) return;
    await jobs.enqueue(
      delivery.shard,
      toSend.map((endpointId) => ({
        job: { shard: delivery.shard, endpointId, eventId: event.id },
        jobId: deliveryJobId(endpointId, event.id),
      })),
      delay,
    );
  };
}

function messagesOf(
  event: PaymentCloudEvent,
  shard: number,
  targets: readonly WebhookEndpoint[],
  eventTime: number,
  now: () => number,
): WebhookMessage[] {
  const body = JSON.stringify(event);
  return targets.map((endpoint) => ({
    endpointId: endpoint.id,
    eventId: event.id,
    eventType: event.type,
    subject: event.subject,
    sequence: event.sequence,
    shard,
    body,
    createdAt: Number.isNaN(eventTime) ? now() : eventTime,
    status: 'pending',
    attemptCount: 0,
    generation: 0,
    seriesAttempts: 0,
    attempts: [],
  }));
}
