/**
 * Domain events as CloudEvents 1.0 JSON (architecture §8). They are appended
 * to the shard's stream in the same atomic write as the state change they
 * describe (see store.ts), so a committed step always has its events and a
 * refused one has none.
 *
 * `sequence` (a CloudEvents extension attribute) is the payment's version
 * after the write that produced the event: consumers order and deduplicate per
 * payment with (`subject`, `sequence`), and across retries with (`source`, `id`).
 */
import type { DomainEventName } from '../../machines/contract.ts';
import type { Clock } from '../platform/clock.ts';
import { uuid } from '../platform/ids.ts';
import { assertNoCardData } from './card-guard.ts';

export const DEFAULT_EVENT_SOURCE = 'sogenactif-orchestrator';

export interface PaymentCloudEvent<D extends Record<string, unknown> = Record<string, unknown>> {
  specversion: '1.0';
  id: string;
  source: string;
  type: DomainEventName;
  /** The payment id. */
  subject: string;
  /** ISO 8601, from the injected clock. */
  time: string;
  datacontenttype: 'application/json';
  /** The payment's version after the write that carries this event. */
  sequence: number;
  /** Our id of the payment's shop (a CloudEvents extension attribute). */
  merchant?: string;
  data: D;
}

export interface EventInput<D extends Record<string, unknown> = Record<string, unknown>> {
  type: DomainEventName;
  paymentId: string;
  /** The version the payment will have once the write carrying this event commits. */
  sequence: number;
  /** Our id of the payment's shop. */
  merchant?: string;
  data?: D;
}

export interface EventDeps {
  clock: Clock;
  /** @defaultValue `sogenactif-orchestrator` */
  source?: string;
  /** @defaultValue random UUID v4 */
  newId?: () => string;
}

/**
 * Builds one event. Throws `card_data_leak` when `data` holds card data: events
 * leave our trust boundary (consumers, webhooks) and may carry `maskedPan` only.
 */
export function buildEvent<D extends Record<string, unknown>>(
  input: EventInput<D>,
  deps: EventDeps,
): PaymentCloudEvent<D> {
  const data = (input.data ?? {}) as D;
  assertNoCardData(data, `event ${input.type}`);
  if (!Number.isInteger(input.sequence) || input.sequence < 1) {
    throw new RangeError('an event sequence is the positive payment version');
  }
  return {
    specversion: '1.0',
    id: (deps.newId ?? uuid)(),
    source: deps.source ?? DEFAULT_EVENT_SOURCE,
    type: input.type,
    subject: input.paymentId,
    time: new Date(deps.clock.now()).toISOString(),
    datacontenttype: 'application/json',
    sequence: input.sequence,
    ...(input.merchant === undefined ? {} : { merchant: input.merchant }),
    data,
  };
}
