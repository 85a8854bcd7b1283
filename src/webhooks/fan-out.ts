/**
 * From the event streams to messages: the `webhooks` consumer group reads
 * every shard's stream (at least once, src/payments/event-consumer.ts) and,
 * for each event, writes one message per enabled endpoint of the event's
 * merchant that takes its type, then one delivery job per message.
 *
 * A crash between the two, or before the entry is acknowledged, runs the
 * event again: the messages are written once (they exist), a job is added
 * again for each one still pending (BullMQ adds a job id once; a job whose
 * message is settled does nothing), including the messages of endpoints
 * disabled or changed meanwhile, which their job then fails. So each message
 * is sent at least once, and more than once only when a receiver's answer
 * was lost.
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
  /** The message's generation the job delivers (0, one more per replay); absent: 0. */
  generation?: number;
}

export interface DeliveryJobSink {
  /** Adds each job once per `jobId`. */
  enqueue(
    shard: number,
    jobs: ReadonlyArray<{ job: DeliveryJob; jobId: string }>,
    options?: { delayMs?: number },
  ): Promise<void>;
}

/** The id of a message's first delivery job; a replay uses another. */
export function deliveryJobId(endpointId: string, eventId: string): string {
  return `wh_${endpointId}_${eventId}`;
}

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
}): (event: PaymentCloudEvent, delivery: Delivery) => Promise<void> {
  const { endpoints, messages, jobs } = options;
  const delay = options.firstDelayMs ? { delayMs: options.firstDelayMs } : {};
  return async (event, delivery) => {
    const snapshot = await endpoints.current();
    const mine = snapshot.byMerchant.get(event.merchant ?? DEFAULT_MERCHANT_ID) ?? [];
    if (mine.length === 0) return;
    const eventTime = Date.parse(event.time);
    const targets = mine.filter(
      (endpoint) => takesEvent(endpoint, event.type) && !(eventTime < endpoint.createdAt),
    );
    const others = mine.filter((endpoint) => !targets.includes(endpoint));
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
      generation: 0,
      seriesAttempts: 0,
      attempts: [],
    }));
    const found = await messages.add(delivery.shard, created);
    const toSend = created
      .filter((_, index) => found[index] === 'created' || found[index] === 'pending')
      .map((message) => message.endpointId);
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
