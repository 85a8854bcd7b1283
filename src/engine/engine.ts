/**
 * The step protocol (architecture §5): load -> transition -> persist -> act.
 *
 * A worker that runs a call job:
 * 1. loads the payment; a job that no longer matches the payment's pending
 *    follow-ups belongs to a step that already happened: it re-enqueues the
 *    current follow-ups (same job ids, so nothing doubles) and stops;
 * 2. writes the intent (compare-and-set on version) before sending anything;
 * 3. sends the sealed call; the client verifies the response seal;
 * 4. turns the result into a machine event and, in one atomic write, stores
 *    the new snapshot, clears the intent, appends the domain events and
 *    records the follow-ups;
 * 5. enqueues the follow-ups with deterministic ids.
 *
 * A job that finds its own intent without an outcome was interrupted between
 * 2 and 4: the call may have reached Sips. It never resends it; it feeds the
 * machine an unknown outcome, which asks for an inquiry (getTransactionData).
 */
import type { Effect, Operation, PaymentEvent, PaymentStatus } from '../../machines/contract.ts';
import { MONEY_MOVING } from '../../machines/contract.ts';
import { pendingOperationOf, stepPayment } from '../../machines/index.ts';
import type { CardVault } from '../payments/card-vault.ts';
import { buildEvent, type EventDeps, type PaymentCloudEvent } from '../payments/events.ts';
import type { ReviewEvidence, ReviewQueues } from '../payments/review.ts';
import type {
  PaymentIntent,
  PaymentRecord,
  PaymentStore,
  TimelineEntry,
} from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { SipsClient } from '../sips/client.ts';
import { maskCardData } from '../sips/mask.ts';
import type { SipsResult } from '../sips/result.ts';
import {
  acceptedDetails,
  answerFacts,
  eventForResult,
  inquiryAnswer,
  requestFields,
  type OperationInput,
} from '../sips/translate.ts';
import { emptyEngineData, type EngineData, type LimitPolicy } from './engine-data.ts';
import {
  abandonJobId,
  callJobId,
  inquiryJobId,
  settledJobId,
  timerJobId,
  type AbandonJob,
  type CallJob,
  type FollowUp,
  type InquiryJob,
  type TimerJob,
  type TimerName,
} from './jobs.ts';
import { captureLimitAt } from './capture-limit.ts';

/** Where follow-up jobs go; the BullMQ adapter lives with the workers. */
export interface JobSink {
  enqueueCall(job: CallJob, jobId: string): Promise<void>;
  enqueueInquiry(job: InquiryJob, jobId: string, delayMs: number): Promise<void>;
  enqueueAbandon(job: AbandonJob, jobId: string, delayMs: number): Promise<void>;
  enqueueTimer(job: TimerJob, jobId: string, delayMs: number): Promise<void>;
  /** The payment's schedule (subscription, instalments) learns that it settled. */
  enqueueSettled(paymentId: string, jobId: string): Promise<void>;
}

/** The least time a capture-limit policy keeps in hand before the limit. */
const POLICY_MARGIN_MS = 30 * 60_000;

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

/** Statuses whose arrival is told to the payment's schedule. */
export const SETTLED_FOR_SCHEDULES: ReadonlySet<PaymentStatus> = new Set([
  'authorized',
  'captured',
  'refused',
  'failed',
  'expired',
  'cancelled',
  'in_review',
]);

export interface EngineDeps {
  store: PaymentStore;
  vault: CardVault;
  client: SipsClient;
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
}

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
  | { ok: false; reason: 'not_allowed'; status: PaymentStatus; detail: string }
  | { ok: false; reason: 'version_conflict' | 'not_found' };

export interface ApplyOptions {
  timeline?: TimelineEntry[];
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
  event?: { name: `payment.${string}`; data?: Record<string, unknown> };
  timeline: TimelineEntry[];
  update?: (data: EngineData) => void;
}

export function engineDataOf(record: PaymentRecord): EngineData {
  const raw = (record as PaymentRecord & { engine?: string }).engine;
  if (raw === undefined) return emptyEngineData({ captureDay: 0 });
  return JSON.parse(raw) as EngineData;
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

export function createPaymentEngine(deps: EngineDeps): PaymentEngine {
  const { store, vault, client, reviews, jobs, clock, logger } = deps;
  const schedule = deps.inquiryScheduleMs.length > 0 ? deps.inquiryScheduleMs : [10_000];
  /** Engine data parsed once per record object, for the readers that never change it. */
  const parsedEngineData = new WeakMap<PaymentRecord, EngineData>();
  function readEngineData(record: PaymentRecord): EngineData {
    let data = parsedEngineData.get(record);
    if (data === undefined) {
      data = engineDataOf(record);
      parsedEngineData.set(record, data);
    }
    return data;
  }

  function followUpsOf(
    paymentId: string,
    version: number,
    effects: Effect[],
    inquiryAttempt = 0,
  ): FollowUp[] {
    const followUps: FollowUp[] = [];
    for (const effect of effects) {
      if (effect.type === 'call') {
        followUps.push({
          type: 'call',
          jobId: callJobId(paymentId, version, effect.operation),
          operation: effect.operation,
          ...(effect.amount !== undefined ? { amount: effect.amount } : {}),
        });
      } else if (effect.type === 'inquire') {
        const attempt = inquiryAttempt + 1;
        followUps.push({
          type: 'inquire',
          jobId: inquiryJobId(paymentId, version, attempt),
          attempt,
          delayMs: schedule[Math.min(attempt - 1, schedule.length - 1)] ?? 10_000,
        });
      } else if (effect.type === 'review') {
        followUps.push({ type: 'review', reason: effect.reason });
      }
    }
    return followUps;
  }

  function eventsOf(record: PaymentRecord, version: number, effects: Effect[], data: EngineData) {
    const events: PaymentCloudEvent[] = [];
    for (const effect of effects) {
      if (effect.type !== 'emit') continue;
      events.push(
        buildEvent(
          {
            type: effect.name,
            paymentId: record.id,
            sequence: version,
            data: {
              ...effect.data,
              paymentId: record.id,
              kind: record.kind,
              currency: record.currency,
              transactionReference: record.transactionReference,
              ...(record.maskedPan ? { maskedPan: record.maskedPan } : {}),
              ...(data.facts.authorisationId
                ? { authorisationId: data.facts.authorisationId }
                : {}),
            },
          },
          deps.events,
        ),
      );
    }
    return events;
  }

  /** The card after the step: the CSC goes once the authorisation is answered. */
  function cardAfter(record: PaymentRecord, effects: Effect[]): string | null | undefined {
    if (record.card === undefined) return undefined;
    let forgetCsc = false;
    for (const effect of effects) {
      if (effect.type !== 'forget') continue;
      // Forgetting the whole card wins: no point re-sealing it without its CSC first.
      if (effect.what === 'card') return null;
      if (effect.what === 'csc') forgetCsc = true;
    }
    return forgetCsc ? vault.withoutCsc(record.id, record.card) : undefined;
  }

  /**
   * VALIDATION mode: an authorisation lapses at its capture limit, so the
   * step that authorises plans the warning and the limit policy (and the
   * deferred capture) as delayed jobs stored with the step.
   */
  function planTimers(record: PaymentRecord, data: EngineData, version: number): void {
    data.timersPlanned = true;
    if (record.captureMode !== 'validation') return;
    const limit = deps.captureLimit ?? {};
    const limitAt = captureLimitAt(
      data.facts.captureLimitDate,
      clock.now(),
      data.request.captureDay,
    );
    data.facts.captureLimitAt = new Date(limitAt).toISOString();
    const now = clock.now();
    // The policy acts `actBeforeMs` before the limit, but never sooner than
    // halfway from the authorisation to the limit: a captureDay-0 payment
    // authorised late in the day keeps time to be validated by the merchant
    // instead of meeting its policy (a capture, an alert) as it is made. It
    // keeps half an hour in hand all the same (a retry, a busy payment), and
    // acts at once when less is left.
    const policyAt = Math.max(
      limitAt - (limit.actBeforeMs ?? 6 * 3_600_000),
      Math.min(now + Math.floor((limitAt - now) / 2), limitAt - POLICY_MARGIN_MS),
    );
    const captureAt = data.request.capture?.at;
    // A capture due at or after the policy time is the action at the limit:
    // no policy beside it to race it.
    const captureIsPolicy = captureAt !== undefined && captureAt >= policyAt;
    const warnAt = limitAt - (limit.warnBeforeMs ?? 24 * 3_600_000);
    const timers: [TimerName, number][] = [
      captureIsPolicy ? ['capture', policyAt] : ['limit_policy', policyAt],
    ];
    // An authorisation that lapses sooner than the warning window (captureDay
    // 0 lapses the same day) would be warned about as it is made, for every
    // such payment: the policy time is its only reminder.
    if (warnAt > now) timers.push(['limit_warning', warnAt]);
    if (captureAt !== undefined && !captureIsPolicy) timers.push(['capture', captureAt]);
    data.timers = {};
    for (const [timer, at] of timers) {
      const jobId = timerJobId(record.id, version, timer);
      data.timers[timer] = { jobId, at };
      data.followUps.push({ type: 'timer', jobId, timer, at });
    }
  }

  async function apply(
    record: PaymentRecord,
    event: PaymentEvent,
    options: ApplyOptions = {},
  ): Promise<ApplyResult> {
    const outcome = stepPayment(record.snapshot, event);
    if (!outcome.accepted) {
      return { ok: false, reason: 'not_allowed', status: outcome.status, detail: outcome.reason };
    }
    const expectedVersion = options.expectedVersion ?? record.version;
    const version = expectedVersion + 1;
    const data = options.engineData ?? engineDataOf(record);
    options.update?.(data);
    data.followUps = followUpsOf(record.id, version, outcome.effects, options.inquiryAttempt);
    if (
      outcome.status === 'awaiting_authentication' &&
      record.status !== 'awaiting_authentication'
    ) {
      // Nothing else would ever move a payment whose customer never comes back.
      data.followUps.push({
        type: 'abandon',
        jobId: abandonJobId(record.id, version),
        delayMs: deps.authenticationTimeoutMs ?? 15 * 60_000,
      });
    }
    if (outcome.status === 'authorized' && !data.timersPlanned) {
      planTimers(record, data, version);
    }
    if (
      data.request.link &&
      outcome.status !== record.status &&
      SETTLED_FOR_SCHEDULES.has(outcome.status)
    ) {
      data.followUps.push({ type: 'settled', jobId: settledJobId(record.id, version) });
    }
    data.followUpsVersion = version;
    const card = cardAfter(record, outcome.effects);
    const timeline: TimelineEntry[] = [
      ...(options.timeline ?? []),
      {
        at: clock.now(),
        kind: 'status',
        detail: { from: record.status, to: outcome.status, event: event.type },
      },
    ];
    const engine = JSON.stringify(data);
    const written = await store.commitStep(record.id, expectedVersion, {
      snapshot: outcome.snapshot,
      status: outcome.status,
      amounts: outcome.amounts,
      clearIntent: options.clearIntent ?? true,
      events: eventsOf(record, version, outcome.effects, data),
      timeline,
      engine,
      ...(card !== undefined ? { card } : {}),
      // The record was read at the version written against: its status is the stored one.
      ...(options.expectedVersion === undefined ? { currentStatus: record.status } : {}),
    });
    if (!written.ok) return { ok: false, reason: written.reason };
    const next: PaymentRecord & { engine?: string } = {
      ...record,
      version: written.version,
      status: outcome.status,
      amounts: outcome.amounts,
      snapshot: outcome.snapshot,
      engine,
    };
    delete next.intent;
    if (card === null) delete next.card;
    else if (card !== undefined) next.card = card;
    // `engine` is this data as written, and nothing changes it any more.
    parsedEngineData.set(next, data);
    await dispatch(next);
    return { ok: true, record: next };
  }

  async function dispatch(record: PaymentRecord, parsed?: EngineData): Promise<void> {
    const data = parsed ?? readEngineData(record);
    for (const followUp of data.followUps) {
      switch (followUp.type) {
        case 'call':
          await jobs.enqueueCall(
            {
              task: 'call',
              paymentId: record.id,
              version: data.followUpsVersion,
              operation: followUp.operation,
            },
            followUp.jobId,
          );
          break;
        case 'inquire':
          await jobs.enqueueInquiry(
            {
              task: 'inquire',
              paymentId: record.id,
              version: data.followUpsVersion,
              attempt: followUp.attempt,
            },
            followUp.jobId,
            followUp.delayMs,
          );
          break;
        case 'abandon':
          await jobs.enqueueAbandon(
            { task: 'abandon', paymentId: record.id, version: data.followUpsVersion },
            followUp.jobId,
            followUp.delayMs,
          );
          break;
        case 'timer':
          await jobs.enqueueTimer(
            { task: 'timer', paymentId: record.id, timer: followUp.timer },
            followUp.jobId,
            Math.max(0, followUp.at - clock.now()),
          );
          break;
        case 'settled':
          await jobs.enqueueSettled(record.id, followUp.jobId);
          break;
        case 'review': {
          const evidence: ReviewEvidence = { ...(data.evidence ?? {}) };
          if (data.inquiries && data.inquiries.length > 0) evidence.inquiries = data.inquiries;
          await reviews.enqueueReview({
            paymentId: record.id,
            version: data.followUpsVersion,
            reason: followUp.reason,
            evidence,
          });
          break;
        }
      }
    }
  }

  function pendingFollowUp(record: PaymentRecord, jobId: string): FollowUp | undefined {
    const data = readEngineData(record);
    return data.followUps.find((followUp) => 'jobId' in followUp && followUp.jobId === jobId);
  }

  function operationInput(
    record: PaymentRecord,
    operation: Operation,
    amount: number | undefined,
  ): OperationInput {
    const data = readEngineData(record);
    const input: OperationInput = {
      kind: record.kind,
      operation,
      transactionReference: record.transactionReference,
      amount: amount ?? record.amount,
      currency: record.currency,
      captureMode: record.captureMode,
      captureDay: data.request.captureDay,
    };
    if (record.merchant.orderId) input.orderId = record.merchant.orderId;
    if (record.merchant.customerId) input.customerId = record.merchant.customerId;
    if (record.merchant.customerEmail) input.customerEmail = record.merchant.customerEmail;
    if (record.merchant.customerIpAddress) {
      input.customerIpAddress = record.merchant.customerIpAddress;
    }
    if (deps.publicUrl) {
      input.merchantReturnUrl = `${deps.publicUrl}/v1/payments/${record.id}/authentication/return`;
    } else if (data.request.returnUrl) {
      input.merchantReturnUrl = data.request.returnUrl;
    }
    if (data.request.paymentMeanBrand) input.paymentMeanBrand = data.request.paymentMeanBrand;
    if (data.request.wallet) input.wallet = data.request.wallet;
    if (data.request.fromTransactionReference) {
      input.fromTransactionReference = data.request.fromTransactionReference;
    }
    const pattern =
      data.request.paymentPattern ?? (record.kind === 'duplicate' ? 'RECURRING_N' : undefined);
    if (pattern) input.paymentPattern = pattern;
    if (data.request.initialSchemeTransactionIdentifier) {
      input.initialSchemeTransactionIdentifier = data.request.initialSchemeTransactionIdentifier;
    }
    if (data.request.instalmentData) input.instalmentData = data.request.instalmentData;
    if (record.card !== undefined && needsCard(operation)) {
      input.card = vault.open(record.id, record.card);
    }
    if (operation === 'complete_authentication' || operation === 'finalize_provider') {
      const returned = data.authenticationReturn ?? {};
      const redirectionData = returned.redirectionData ?? data.redirection?.redirectionData;
      const messageVersion = returned.messageVersion ?? data.redirection?.messageVersion;
      if (redirectionData && messageVersion) {
        input.authentication = {
          redirectionData,
          messageVersion,
          ...(returned.paRes ? { paRes: returned.paRes } : {}),
        };
      }
    }
    return input;
  }

  function needsCard(operation: Operation): boolean {
    return operation === 'authorize' || operation === 'enroll';
  }

  function callTimeline(result: SipsResult, operation: Operation): TimelineEntry {
    const detail: Record<string, unknown> = {
      operation,
      service: result.call.service,
      outcome: result.kind,
      durationMs: result.call.durationMs,
    };
    if (result.kind !== 'unknown' && result.kind !== 'seal_mismatch') {
      detail.responseCode = result.responseCode;
      if (result.errorFieldName) detail.errorFieldName = result.errorFieldName;
    }
    if (result.kind === 'unknown') detail.reason = result.reason;
    return { at: clock.now(), kind: 'sips.call', detail };
  }

  /** Engine data updates a call's result brings (facts, redirection, evidence). */
  function absorbResult(result: SipsResult, operation: Operation): (data: EngineData) => void {
    return (data) => {
      if (result.kind === 'ok') {
        Object.assign(data.facts, answerFacts(result.response));
        const details = acceptedDetails(result.response);
        const response = result.response;
        // Kept even without a redirection: a card that is not enrolled still
        // completes with cardValidateAuthenticationAndOrder and this data.
        if (details.redirect || typeof response.redirectionData === 'string') {
          const messageVersion = details.redirect?.messageVersion ?? response.messageVersion;
          data.redirection = {
            ...(details.redirect ? { url: details.redirect.url } : {}),
            ...(typeof response.paReqMessage === 'string' ? { paReq: response.paReqMessage } : {}),
            ...(typeof response.redirectionData === 'string'
              ? { redirectionData: response.redirectionData }
              : {}),
            ...(typeof messageVersion === 'string' ? { messageVersion } : {}),
          };
        }
      } else if (result.kind === 'seal_mismatch') {
        data.evidence = {
          request: result.call.request,
          response: result.response,
          seal: result.seal,
          note: `response to ${operation} (${result.call.service}) failed its seal check`,
        };
      } else if (
        result.kind === 'refused' ||
        result.kind === 'invalid' ||
        result.kind === 'retryable'
      ) {
        data.facts.lastResponseCode = result.responseCode;
        if (result.code.action === 'inquire') {
          data.evidence = {
            request: result.call.request,
            response: maskCardData(result.response),
            note: `${result.call.service} answered ${result.responseCode}: ${result.code.meaning}`,
          };
        }
      }
      if (operation === 'complete_authentication' || operation === 'finalize_provider') {
        delete data.authenticationReturn;
      }
    };
  }

  async function runCall(
    job: CallJob,
    context: { jobId: string; attemptsLeft: boolean },
  ): Promise<void> {
    // The usual case in one script: the payment is still at the version that
    // recorded this job's call, with no intent, so the call's first intent
    // is written with the read.
    const claimedAt = clock.now();
    const read = await store.readForCall(job.paymentId, job.version, {
      op: job.operation,
      attempt: 1,
      at: claimedAt,
      jobId: context.jobId,
    });
    const record = read?.record;
    if (!read || !record) {
      logger.warn(
        { paymentId: job.paymentId, jobId: context.jobId },
        'call job for an unknown payment',
      );
      return;
    }
    const intent = record.intent;
    const followUp = pendingFollowUp(record, context.jobId);
    if (intent && intent.jobId === context.jobId && intent.answered !== 'not_processed') {
      // We wrote the intent and died before storing the outcome: the call may
      // have reached Sips. Resending a money-moving call could charge twice,
      // so the machine is told the outcome is unknown and inquires instead.
      const interrupted: PaymentEvent = {
        type: 'sips.unknown',
        operation: job.operation,
        reason: 'interrupted: the worker stopped before the answer was stored',
      };
      const applied = await apply(record, interrupted, {
        timeline: [
          {
            at: clock.now(),
            kind: 'sips.interrupted',
            detail: { operation: job.operation, moneyMoving: MONEY_MOVING.has(job.operation) },
          },
        ],
      });
      if (!applied.ok && applied.reason === 'version_conflict') {
        throw new StepRetryError('payment changed while recovering an interrupted call');
      }
      return;
    }
    if (!intent && !followUp) {
      if (read.intentVersion !== undefined) {
        // Not reached: the version that recorded this job lists its call. The
        // intent written stays; the next attempt treats the call as interrupted.
        throw new StepRetryError('an intent was written for a call the payment does not list');
      }
      // The step this job belongs to already happened: only make sure what
      // it asked for next exists.
      await dispatch(record);
      return;
    }
    if (intent && intent.jobId !== context.jobId) {
      throw new StepRetryError(`another call (${intent.op}) is in flight for this payment`);
    }
    const amount = followUp && followUp.type === 'call' ? followUp.amount : intent?.amount;
    const nextIntent: PaymentIntent = {
      op: job.operation,
      attempt: (intent?.attempt ?? 0) + 1,
      at: read.intentVersion !== undefined ? claimedAt : clock.now(),
      transactionReference: record.transactionReference,
      jobId: context.jobId,
      ...(amount !== undefined ? { amount } : {}),
    };
    const intentWritten =
      read.intentVersion !== undefined && amount === undefined
        ? // Written with the read, and it is this intent (no intent before: attempt 1).
          ({ ok: true, version: read.intentVersion } as const)
        : read.intentVersion !== undefined
          ? // Written with the read, without the amount of this call: complete it.
            await store.writeIntent(record.id, read.intentVersion, nextIntent, {
              replacePending: true,
            })
          : await store.writeIntent(record.id, record.version, nextIntent, {
              replacePending: intent !== undefined,
            });
    if (!intentWritten.ok) {
      throw new StepRetryError(`could not write the intent: ${intentWritten.reason}`);
    }
    const { service, fields } = requestFields(operationInput(record, job.operation, amount));
    const result = await client.call(service, fields as never);
    deps.onCall?.(result);
    const event = eventForResult(job.operation, result, context.attemptsLeft);
    const timeline = [callTimeline(result, job.operation)];
    if (event === 'retry') {
      // Sips said it did not process the call (90/99): mark the intent
      // answered so the next attempt resends instead of inquiring.
      const marked = await store.writeIntent(
        record.id,
        intentWritten.version,
        { ...nextIntent, answered: 'not_processed' },
        { replacePending: true, timeline },
      );
      if (!marked.ok) {
        throw new StepRetryError(`could not record the retryable answer: ${marked.reason}`);
      }
      const code = result.kind === 'retryable' ? result.responseCode : undefined;
      throw new StepRetryError(`Sips answered ${code ?? 'a retryable code'}`, code);
    }
    // The engine data read for the call is handed over to the step, which
    // changes it: forgotten here so that nothing reads it as the record's.
    const engineData = readEngineData(record);
    parsedEngineData.delete(record);
    const applied = await apply({ ...record, version: intentWritten.version }, event, {
      timeline,
      update: absorbResult(result, job.operation),
      engineData,
    });
    if (!applied.ok) {
      if (applied.reason === 'not_allowed') {
        logger.error(
          { paymentId: record.id, event: event.type, detail: applied.detail },
          'the machine refused the outcome of its own call',
        );
        return;
      }
      throw new StepRetryError(`could not store the outcome: ${applied.reason}`);
    }
  }

  /** The machine takes the event without moving: it only asks for another inquiry. */
  function onlyAsksAgain(record: PaymentRecord, event: PaymentEvent): boolean {
    const outcome = stepPayment(record.snapshot, event);
    return (
      outcome.accepted &&
      outcome.status === record.status &&
      outcome.effects.some((effect) => effect.type === 'inquire') &&
      !outcome.effects.some((effect) => effect.type === 'call')
    );
  }

  /** One getTransactionData: the machine event it makes (if any) and what to record. */
  async function inquire(record: PaymentRecord, attempt: number, by: string) {
    const result = await client.getTransactionData({
      transactionReference: record.transactionReference,
    });
    deps.onCall?.(result);
    const answer = inquiryAnswer(result, record.captureMode);
    const note: Record<string, unknown> = {
      attempt,
      by,
      at: new Date(clock.now()).toISOString(),
      outcome: result.kind,
      ...(result.kind === 'ok' || result.kind === 'refused' || result.kind === 'invalid'
        ? { response: maskCardData(result.response) }
        : {}),
    };
    const remember = (data: EngineData): void => {
      data.inquiries = [...(data.inquiries ?? []), note].slice(-10);
    };
    const timeline: TimelineEntry[] = [
      {
        at: clock.now(),
        kind: 'inquiry',
        detail: { attempt, by, found: String(answer.found) },
      },
    ];
    let event: PaymentEvent | undefined;
    if (answer.found === true) event = { type: 'inquiry.found', view: answer.view };
    else if (answer.found === false) event = { type: 'inquiry.not_found' };
    const detail = answer.found === 'unclear' ? answer.detail : 'answer not usable yet';
    return { event, remember, timeline, detail };
  }

  async function inquireNow(record: PaymentRecord, reason: string): Promise<InquireNowResult> {
    let current = record;
    const pending = pendingOperationOf(current.snapshot);
    if (current.status !== 'outcome_unknown' && pending !== null) {
      // The call's job is gone, but the call may have reached Sips: from
      // here on it is an unknown outcome, settled by inquiry, never resent blindly.
      const applied = await apply(
        current,
        { type: 'sips.unknown', operation: pending.operation, reason },
        { timeline: [{ at: clock.now(), kind: 'sips.lost', detail: { reason } }] },
      );
      if (!applied.ok) {
        return { outcome: 'unclear', record: current, detail: `not stored: ${applied.reason}` };
      }
      current = applied.record;
    }
    const { event, remember, timeline, detail } = await inquire(current, 0, reason);
    if (!event) return { outcome: 'unclear', record: current, detail };
    const outcome = stepPayment(current.snapshot, event);
    if (!outcome.accepted || onlyAsksAgain(current, event)) {
      return { outcome: 'unclear', record: current, detail };
    }
    if (outcome.status === current.status && outcome.effects.length === 0) {
      return { outcome: 'unchanged', record: current };
    }
    const applied = await apply(current, event, { timeline, update: remember, clearIntent: true });
    if (!applied.ok) {
      return { outcome: 'unclear', record: current, detail: `not stored: ${applied.reason}` };
    }
    return { outcome: 'reconciled', record: applied.record };
  }

  async function runInquiry(job: InquiryJob, context: { jobId: string }): Promise<void> {
    const record = await store.get(job.paymentId, { timeline: false });
    if (!record) return;
    if (!pendingFollowUp(record, context.jobId)) {
      await dispatch(record);
      return;
    }
    const { event, remember, timeline } = await inquire(record, job.attempt, 'schedule');
    // An answer that decides nothing (the machine only asks to inquire again)
    // on the last inquiry of the schedule exhausts it, like no answer at all.
    if (event && !(job.attempt >= schedule.length && onlyAsksAgain(record, event))) {
      const applied = await apply(record, event, {
        timeline,
        update: remember,
        inquiryAttempt: job.attempt,
        clearIntent: true,
      });
      if (applied.ok) return;
      if (applied.reason !== 'not_allowed') {
        throw new StepRetryError(`inquiry result not stored: ${applied.reason}`);
      }
      // The machine cannot use this answer yet (e.g. still being processed): ask again later.
    }
    if (job.attempt >= schedule.length) {
      const applied = await apply(
        record,
        { type: 'inquiry.exhausted' },
        { timeline, update: remember },
      );
      if (!applied.ok && applied.reason !== 'not_allowed') {
        throw new StepRetryError(`inquiry exhaustion not stored: ${applied.reason}`);
      }
      return;
    }
    // Schedule the next inquiry in the same write that records this one.
    const version = record.version + 1;
    const data = engineDataOf(record);
    remember(data);
    const attempt = job.attempt + 1;
    data.followUps = [
      {
        type: 'inquire',
        jobId: inquiryJobId(record.id, version, attempt),
        attempt,
        delayMs: schedule[attempt - 1] ?? 10_000,
      },
    ];
    data.followUpsVersion = version;
    const written = await store.commitStep(record.id, record.version, {
      snapshot: record.snapshot,
      status: record.status,
      amounts: record.amounts,
      clearIntent: false,
      timeline,
      engine: JSON.stringify(data),
      currentStatus: record.status,
    });
    if (!written.ok) throw new StepRetryError(`next inquiry not scheduled: ${written.reason}`);
    await dispatch({
      ...record,
      version: written.version,
      engine: JSON.stringify(data),
    } as PaymentRecord);
  }

  async function annotate(record: PaymentRecord, note: Annotation): Promise<ApplyResult> {
    const data = engineDataOf(record);
    note.update?.(data);
    const engine = JSON.stringify(data);
    const effects: Effect[] = note.event
      ? [
          {
            type: 'emit',
            name: note.event.name,
            data: { ...(note.event.data ?? {}), amounts: record.amounts },
          },
        ]
      : [];
    const written = await store.commitStep(record.id, record.version, {
      snapshot: record.snapshot,
      status: record.status,
      amounts: record.amounts,
      clearIntent: false,
      timeline: note.timeline,
      events: eventsOf(record, record.version + 1, effects, data),
      engine,
    });
    if (!written.ok) return { ok: false, reason: written.reason };
    return { ok: true, record: { ...record, version: written.version, engine } as PaymentRecord };
  }

  async function runAbandon(job: AbandonJob, context: { jobId: string }): Promise<void> {
    const record = await store.get(job.paymentId, { timeline: false });
    if (!record || record.status !== 'awaiting_authentication') return;
    if (!pendingFollowUp(record, context.jobId)) return;
    const applied = await apply(
      record,
      { type: 'customer.abandoned' },
      { timeline: [{ at: clock.now(), kind: 'authentication.abandoned' }] },
    );
    if (!applied.ok && applied.reason === 'version_conflict') {
      throw new StepRetryError('payment changed while expiring an abandoned authentication');
    }
  }

  return { apply, annotate, dispatch, runCall, runInquiry, runAbandon, inquireNow, followUpsOf };
}
