/** What the rest of the code base may use from the payments layer. */
export { assertNoCardData, containsPan, luhnValid } from './card-guard.ts';
export type { CardData, CardVault, CardVaultOptions } from './card-vault.ts';
export {
  createCardVault,
  INSECURE_simulatorOnlyDevKey,
  maskedPan,
  parseVaultKey,
  parseVaultKeyList,
} from './card-vault.ts';
export type { PaymentErrorCode } from './errors.ts';
export { PAYMENT_ERROR_CODES, PaymentsError } from './errors.ts';
export type {
  DeadLetterEntry,
  Delivery,
  EventConsumer,
  EventConsumerOptions,
} from './event-consumer.ts';
export { createEventConsumer, trimAcknowledged } from './event-consumer.ts';
export type { EventDeps, EventInput, PaymentCloudEvent } from './events.ts';
export { buildEvent, DEFAULT_EVENT_SOURCE } from './events.ts';
export type { Keyspace, KeyspaceOptions } from './keys.ts';
export { createKeyspace } from './keys.ts';
export type { RedisClient } from './lua.ts';
export type { HeldLock, PaymentLockOptions, PaymentLocks } from './payment-lock.ts';
export { createPaymentLocks } from './payment-lock.ts';
export type {
  BackoffOptions,
  RateLimitTarget,
  RetryableResponseCode,
  UnavailableBurstOptions,
} from './retry-policy.ts';
export {
  backoffDelay,
  createBackoffStrategy,
  createUnavailableBurst,
  isRetryable,
  rateLimitOn90,
  SIPS_BACKOFF_TYPE,
  SipsRetryableError,
} from './retry-policy.ts';
export type {
  ReviewDecision,
  ReviewEvidence,
  ReviewItem,
  ReviewJobData,
  ReviewQueues,
  ReviewQueuesOptions,
  ReviewReason,
} from './review.ts';
export { createReviewQueues, reviewJobId } from './review.ts';
export type {
  CommitStep,
  CreateOptions,
  CreateResult,
  IntentResult,
  MerchantRef,
  NewPayment,
  PaymentIntent,
  PaymentRecord,
  PaymentStore,
  PaymentStoreOptions,
  StatusIndexEntry,
  TimelineEntry,
  WriteResult,
} from './store.ts';
export { createPaymentStore, createRequestHasher } from './store.ts';
