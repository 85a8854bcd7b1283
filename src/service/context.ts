/**
 * What the service modules share: the dependencies built once by
 * `createOrchestrator` (src/orchestrator.ts), handed to each module
 * explicitly instead of captured by one large closure.
 */
import type { RedisClient } from '../platform/redis.ts';
import type { CardVault } from '../payments/card-vault.ts';
import type { EventDeps } from '../payments/events.ts';
import type { Keyspace } from '../payments/keys.ts';
import type { ReviewQueues } from '../payments/review.ts';
import type { PaymentRecord, PaymentStore } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { IdGenerator } from '../platform/ids.ts';
import type { Logger } from '../platform/logger.ts';
import type { SipsClient } from '../sips/client.ts';
import type { PaymentEngine } from '../engine/engine.ts';

export interface ServiceContext {
  redis: RedisClient;
  keyspace: Keyspace;
  store: PaymentStore;
  engine: PaymentEngine;
  vault: CardVault;
  client: SipsClient;
  /** The client of the payment's merchant. */
  clientOf(record: PaymentRecord): SipsClient;
  reviews: ReviewQueues;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  events: EventDeps;
  /** Our ids of the configured shops (MERCHANTS_FILE, or `default`). */
  merchants(): readonly string[];
  /** A shop's defaults for what a create command leaves out (MERCHANTS_FILE). */
  merchantDefaults(merchant: string): {
    captureMode?: 'author_capture' | 'validation' | undefined;
    captureDay?: number | undefined;
    threeDSecure?: boolean | undefined;
  };
  /** Keyed hash of a request, to tell a replay from another command under one idempotency key. */
  hashRequest(request: unknown): string;
  /**
   * What a refund becomes while Sips has not remitted the payment
   * (REFUND_BEFORE_REMITTANCE): a cancel of that amount, or held until it is.
   */
  refundBeforeRemittance: 'cancel' | 'hold';
}

/** Same key and same command: the same result; same key, other command: `idempotency_key_reused`. */
export interface CommandOptions {
  idempotencyKey?: string;
  /**
   * Told when a command on a payment was applied before under this key and
   * this call only answers it again (the HTTP layer's `Idempotent-Replayed`).
   */
  onReplay?: () => void;
  /** Told the id of the capture, cancel or refund resource the command made (or made before). */
  onOperation?: (operationId: string) => void;
}
