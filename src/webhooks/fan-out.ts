/**
 * From the event streams to messages: the `webhooks` consumer group reads
 * every shard's stream (at least once, src/payments/event-consumer.ts) and,
 * for each event, writes one message per enabled endpoint of the event's
 * merchant that takes its type, then one delivery job per message.
 *
 * A crash between the two, or before the entry is acknowledged, runs the
 * event again: the messages are written once (they exist), the jobs have
 * ids of their own (BullMQ adds a job id once), and a job whose message is
 * delivered already does nothing. So each message is sent at least once,
 * and more than once only when a receiver's answer was lost.
 *
 * An endpoint receives the events written after it was created, not older
 * ones a lagging consumer reads late.
 */
import type { PaymentCloudEvent } from '../payments/events.ts';
import type { Delivery } from '../payments/event-consumer.ts';
import { DEFAULT_MERCHANT_ID } from '../engine/engine.ts';
import { ALL_EVENT_TYPES, type EndpointStore, type WebhookEndpoint } from './endpoints.ts';
import type { MessageLog, WebhookMessage } from './messages.ts';

export interface DeliveryJob {
  shard: number;
  endpointId: string;
  eventId: string;
}

export interface DeliveryJobSink {
  /** Adds each job once per `jobId`. */
  enqueue(shard: number, jobs: ReadonlyArray<{ job: DeliveryJob; jobId: string }>): Promise<void>;
}

/** The id of a message's first delivery job; a replay uses another. */
export function deliveryJobId(endpointId: string, eventId: string): string {
  return `wh_${endpointId}_${eventId}`;
}

export function takesEvent(endpoint: WebhookEndpoint, type: string): boolean {
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
}): (event: PaymentCloudEvent, delivery: Delivery) => Promise<void> {
  const { endpoints, messages, jobs } = options;
  return async (event, delivery) => {
    const snapshot = await endpoints.current();
    const merchant = event.merchant ?? DEFAULT_MERCHANT_ID;
    const eventTime = Date.parse(event.time);
    const targets = (snapshot.byMerchant.get(merchant) ?? []).filter(
      (endpoint) => takesEvent(endpoint, event.type) && !(eventTime < endpoint.createdAt),
    );
    if (targets.length === 0) return;
    const body = JSON.stringify(event);
    const created: WebhookMessage[] = targets.map((endpoint) => ({
      endpointId: endpoint.id,
      eventId: event.id,
      eventType: event.type,
      subject: event.subject,
      sequence: event.sequence,
      shard: delivery.shard,
      body,
      createdAt: Number.isNaN(eventTime) ? options.now() : eventTime,
      status: 'pending',
      attemptCount: 0,
      attempts: [],
    }));
    await messages.add(delivery.shard, created);
    await jobs.enqueue(
      delivery.shard,
      created.map((message) => ({
        job: { shard: delivery.shard, endpointId: message.endpointId, eventId: message.eventId },
        jobId: deliveryJobId(message.endpointId, message.eventId),
      })),
    );
  };
}
