/** How webhook delivery runs: the orchestrator's `webhooks` option. */
import type { DestinationPolicy } from './address-guard.ts';
import type { AttemptReport } from './deliver.ts';

export interface WebhookOptions {
  /** Where deliveries may go. @defaultValue https only, no private addresses */
  policy?: DestinationPolicy;
  /** Run the consumer group and the delivery workers here. @defaultValue the orchestrator's `workers` */
  deliver?: boolean;
  /** Delays before each attempt. @defaultValue at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h */
  retryScheduleMs?: readonly number[];
  /** An endpoint failing this long without a delivery is disabled. @defaultValue 5 days */
  disableAfterMs?: number;
  /** How long a replaced secret keeps signing after a rotation. @defaultValue 24 h */
  secretOverlapMs?: number;
  /** @defaultValue 16 */
  maxEndpointsPerMerchant?: number;
  /** How long the delivery log keeps a message. @defaultValue 30 days */
  retentionMs?: number;
  /** Deliveries in flight per shard. @defaultValue 50 */
  concurrency?: number;
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** Told of every attempt (metrics); must not throw. */
  onAttempt?: (report: AttemptReport) => void;
  /**
   * How long a first attempt made in process holds its lease before any
   * delivering process hands the message to a job (first-attempts.ts).
   * @defaultValue twice the connect and response timeouts, plus 5 s (45 s)
   */
  firstAttemptLeaseMs?: number;
  /** Event stream reads of the consumer group (tests shorten them). */
  claimIdleMs?: number;
  blockMs?: number;
}
