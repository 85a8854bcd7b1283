/**
 * The engine's contract: what it needs (`EngineDeps`, `JobSink`), what it
 * offers (`PaymentEngine`), the shapes its steps take and answer, and the
 * error that asks BullMQ to try a job again. Re-exported by engine.ts.
 */
import type {
  DomainEventName,
  Effect,
  LimitAlertKind,
  LimitPolicy,
  PaymentEvent,
  PaymentStatus,
  WaitFor,
} from '../../machines/contract.ts';
import type { CardVault } from '../payments/card-vault.ts';
import type { EventDeps } from '../payments/events.ts';
import type { WriteBarrier } from '../payments/durability.ts';
import type { ReviewQueues } from '../payments/review.ts';
import type { PaymentRecord, PaymentStore, TimelineEntry } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { SipsClient } from '../sips/client.ts';
import type { SipsResult } from '../sips/result.ts';
import type { EngineData } from './engine-data.ts';
import type {
  AbandonJob,
  CallJob,
  FollowUp,
  InquiryJob,
  ReauthorizeJob,
  TimerJob,
} from './jobs.ts';

/** Where follow-up jobs go; the BullMQ adapter lives with the workers. */
export interface JobSink {
  enqueueCall(job: CallJob, jobId: string): Promise<void>;
  enqueueInquiry(job: InquiryJob, jobId: string, delayMs: number): Promise<void>;
  enqueueAbandon(job: AbandonJob, jobId: string, delayMs: number): Promise<void>;
  enqueueTimer(job: TimerJob, jobId: string, delayMs: number): Promise<void>;
  /** The payment's schedule (subscription, instalments) learns that it settled. */
  enqueueSettled(paymentId: string, jobId: string): Promise<void>;
  enqueueReauthorize(job: ReauthorizeJob, jobId: string): Promise<void>;
  /**
   * After a step from `before` to `after` is stored: removes the delayed
   * jobs that ended with the state it left (src/queues/ended-jobs.ts).
   */
  removeEndedJobs?(before: PaymentRecord, after: PaymentRecord): Promise<void>;
}

/** Where the machine's ops alerts go (the capture-limit lifecycle's). */
export interface AlertSink {
  raise(
    paymentId: string,
    alert: { kind: LimitAlertKind; data: Record<string, unknown> },
  ): Promise<void>;
}

/** How the capture limit of a VALIDATION authorisation is watched. */
export interface CaptureLimitOptions {
  /** The warning (event and ops alert) fires this long before the limit. @defaultValue 24 h */
  warnBeforeMs?: number;
  /** The policy applies this long before the limit. @defaultValue 6 h */
  actBeforeMs?: number;
  /** The policy of payments that did not choose one. @defaultValue `none` (alert only) */
  defaultPolicy?: LimitPolicy;
  /**
   * How many times the policy `reauthorize` renews one payment's
   * authorisation (each new one gains a day) before it only alerts.
   * @defaultValue 6
   */
  maxReauthorizations?: number;
}

export interface EngineDeps {
  store: PaymentStore;
  vault: CardVault;
  /** The deployment's client: payments of merchant `default` (and those made before merchants). */
  client: SipsClient;
  /** The client of a configured merchant, by our id for it (MERCHANTS_FILE). */
  clientFor?: (merchant: string) => SipsClient | undefined;
  reviews: ReviewQueues;
  jobs: JobSink;
  clock: Clock;
  logger: Logger;
  events: EventDeps;
  /** Delays between inquiries after an unknown outcome; its length is the number of tries. */
  inquiryScheduleMs: readonly number[];
  /**
   * The service's public origin. When set, Sips sends the customer back to
   * our `/v1/payments/:id/authentication/return`, which resumes the payment
   * and then redirects to the merchant's returnUrl; otherwise Sips sends the
   * customer straight to the merchant's returnUrl.
   */
  publicUrl?: string;
  /** How long a customer may stay at the ACS or the provider before the payment expires. @defaultValue 15 min */
  authenticationTimeoutMs?: number;
  /** Told of every Sips call's result (metrics); must not throw. */
  onCall?: (result: SipsResult) => void;
  captureLimit?: CaptureLimitOptions;
  /** Raises the machine's `alert` effects, before the step that asks for them is stored. */
  alerts?: AlertSink;
  /** How a call's intent is made safe before the call goes out (src/payments/durability.ts). @defaultValue none */
  durability?: CallDurability;
}

/** REDIS_DURABILITY as the engine uses it: `replica` brings its barrier. */
export type CallDurability =
  { mode: 'none' | 'fsync' | 'verify' } | { mode: 'replica'; barrier: WriteBarrier };

/** Thrown to make BullMQ try the job again later (90/99, or a lost write race). */
export class StepRetryError extends Error {
  readonly retryable = true;

  constructor(
    message: string,
    readonly responseCode?: string,
  ) {
    super(message);
    this.name = 'StepRetryError';
  }
}

export type ApplyResult =
  | { ok: true; record: PaymentRecord }
  | {
      ok: false;
      reason: 'not_allowed';
      status: PaymentStatus;
      detail: string;
      /** The event may be accepted later, after this (machines/contract.ts `WaitFor`). */
      waitFor?: WaitFor;
    }
  | { ok: false; reason: 'version_conflict' | 'not_found' };

export interface ApplyOptions {
  timeline?: TimelineEntry[];
  /** Timeline entries told by what the machine decided (written before the status entry). */
  describe?: (effects: readonly Effect[]) => TimelineEntry[];
  /** Changes to the engine data written with the step. */
  update?: (data: EngineData) => void;
  /** The inquiry attempt that produced this event, so a further inquiry is the next one. */
  inquiryAttempt?: number;
  /** The version to compare-and-set against; defaults to the record's. */
  expectedVersion?: number;
  /** Clear the intent in the same write. @defaultValue true */
  clearIntent?: boolean;
  /**
   * The record's engine data already parsed, handed over: apply changes it
   * and stores it, so the caller must not read it afterwards. Parsed from the
   * record when absent.
   */
  engineData?: EngineData;
}

/** What an inquiry made outside the inquiry schedule (janitor, before a command) achieved. */
export type InquireNowResult =
  | { outcome: 'reconciled'; record: PaymentRecord }
  /** Sips agrees with what we hold: nothing written. */
  | { outcome: 'unchanged'; record: PaymentRecord }
  | { outcome: 'unclear'; record: PaymentRecord; detail: string };

export interface Annotation {
  event?: { name: DomainEventName; data?: Record<string, unknown> };
  timeline: TimelineEntry[];
  update?: (data: EngineData) => void;
}

export interface PaymentEngine {
  /** Steps the machine with `event` and commits the result with its follow-ups, then enqueues them. */
  apply(record: PaymentRecord, event: PaymentEvent, options?: ApplyOptions): Promise<ApplyResult>;
  /** Enqueues the follow-ups recorded on the payment (idempotent: deterministic job ids). */
  /** `data`: the record's engine data when the caller has it parsed (read only). */
  dispatch(record: PaymentRecord, data?: EngineData): Promise<void>;
  runCall(job: CallJob, context: { jobId: string; attemptsLeft: boolean }): Promise<void>;
  runInquiry(job: InquiryJob, context: { jobId: string }): Promise<void>;
  /** The customer did not come back in time: the payment expires if it is still waiting. */
  runAbandon(job: AbandonJob, context: { jobId: string }): Promise<void>;
  /**
   * Establishes now, with getTransactionData, what happened to a payment whose
   * outcome is unknown or whose call lost its job (a call status with no live
   * job: the caller checks that). Never resends anything itself.
   */
  inquireNow(record: PaymentRecord, reason: string): Promise<InquireNowResult>;
  /**
   * A write that changes no status: an event, timeline entries and engine
   * data (a capture-limit warning, a timer consumed), compare-and-set.
   */
  annotate(record: PaymentRecord, note: Annotation): Promise<ApplyResult>;
  /** The follow-ups a step's effects ask for. */
  followUpsOf(
    paymentId: string,
    version: number,
    effects: Effect[],
    inquiryAttempt?: number,
  ): FollowUp[];
}
