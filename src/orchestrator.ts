/**
 * The library surface: `createOrchestrator(options)` builds every dependency
 * in one place (Redis, Sips client, card vault, store, queues, workers) and
 * returns the commands merchants use. The HTTP API and the CLI are thin
 * layers over this object.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type {
  CaptureMode,
  PaymentEvent,
  PaymentKind,
  PaymentStatus,
} from '../machines/contract.ts';
import { FINAL_STATUSES } from '../machines/contract.ts';
import { isChallenged, MACHINE_VERSION, startPayment } from '../machines/index.ts';
import { createCardVault, type CardVault, type CardVaultOptions } from './payments/card-vault.ts';
import {
  AmountCommand,
  AuthenticationReturn,
  CreatePaymentCommand,
  DuplicateCommand,
  parseCommand,
} from './payments/commands.ts';
import {
  createEventConsumer,
  type Delivery,
  type EventConsumer,
} from './payments/event-consumer.ts';
import { buildEvent, type EventDeps, type PaymentCloudEvent } from './payments/events.ts';
import { PaymentsError } from './payments/errors.ts';
import { createKeyspace, type Keyspace } from './payments/keys.ts';
import {
  createReviewQueues,
  type ReviewDecision,
  type ReviewItem,
  type ReviewQueues,
} from './payments/review.ts';
import {
  createPaymentStore,
  createRequestHasher,
  type NewPayment,
  type PaymentRecord,
  type PaymentStore,
} from './payments/store.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { createUndiciTransport, type HttpTransport } from './platform/http.ts';
import { randomIds, type IdGenerator } from './platform/ids.ts';
import { silentLogger, type Logger } from './platform/logger.ts';
import { createSipsClient, type SipsClient, type SipsClientOptions } from './sips/client.ts';
import { maskPan } from './sips/mask.ts';
import type { SipsResult } from './sips/result.ts';
import { inquiryAnswer } from './sips/translate.ts';
import {
  createPaymentEngine,
  engineDataOf,
  StepRetryError,
  type ApplyOptions,
  type PaymentEngine,
} from './engine/engine.ts';
import { emptyEngineData, type EngineData, type Redirection } from './engine/engine-data.ts';
import { CommandError } from './engine/errors.ts';
import type { CaptureLimitOptions, JobSink } from './engine/engine.ts';
import type { LimitPolicy } from './engine/engine-data.ts';
import { uncapturedRemainder } from '../machines/model.ts';
import {
  createSchedules,
  type InstalmentPlan,
  type JanitorOptions,
  type JanitorReport,
  type OpsAlert,
  type Schedules,
  type SubscriptionView,
} from './schedules/index.ts';
import { reauthorizationGeneration, replacementInProgress } from './schedules/payment-timers.ts';
import {
  ChangeSubscriptionCommand,
  CreateInstalmentPlanCommand,
  CreateSubscriptionCommand,
} from './schedules/commands.ts';
import {
  createStepQueues,
  startStepWorkers,
  type StepQueues,
  type StepWorkers,
} from '../workers/payment-worker.ts';

export interface OrchestratorOptions {
  /** A redis:// URL or a connection (not closed by the orchestrator). */
  redis: string | Redis;
  /** Sips platform and credentials; `http`, `clock` and `logger` default to the orchestrator's. */
  sips: Omit<SipsClientOptions, 'http' | 'clock' | 'logger'> & { http?: HttpTransport };
  vault: CardVaultOptions;
  /** Key prefix and shard count (architecture §10). @defaultValue `sog`, 1 */
  keyPrefix?: string;
  shards?: number;
  /** Run step workers in this process. @defaultValue true */
  workers?: boolean;
  /** Step jobs in flight per shard. @defaultValue 200 */
  concurrency?: number;
  retry?: { attempts?: number; baseMs?: number; capMs?: number };
  /**
   * Responses 90 within `windowMs` that pause the step queue for `pauseMs`
   * instead of spending attempts. @defaultValue 5 in 10 s, 5 s pause
   */
  burst?: { threshold?: number; windowMs?: number; pauseMs?: number };
  /** Delays between inquiries after an unknown outcome. @defaultValue 10 s, 1 min, 5 min, 1 h, 6 h */
  inquiryScheduleMs?: readonly number[];
  /** Stalled-job detection, for faster recovery after a crash. @defaultValue 30 000 ms */
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** Secret keying the idempotency request hash (16+ bytes); defaults to one derived from the vault key. */
  requestHashSecret?: Buffer;
  clock?: Clock;
  ids?: IdGenerator;
  logger?: Logger;
  eventSource?: string;
  /** The HTTP service's public origin, for the 3-D Secure and provider return URL sent to Sips. */
  publicUrl?: string;
  /** How long a customer may stay at the ACS or the provider before the payment expires. @defaultValue 15 min */
  authenticationTimeoutMs?: number;
  /** Told of every Sips call's result made by this process's workers (metrics); must not throw. */
  onCall?: (result: SipsResult) => void;
  /** VALIDATION authorisations: warning and policy before the capture limit. */
  captureLimit?: CaptureLimitOptions;
  /** The janitor: per-status thresholds, escalation, and how often it runs (0: only on demand). @defaultValue every 60 s */
  janitor?: JanitorOptions & { intervalMs?: number };
  /** The length of a "day" in retry-on-decline and instalment schedules; for tests. @defaultValue 24 h */
  scheduleDayMs?: number;
}

export interface CommandOptions {
  /** Same key and same command: the same result; same key, other command: a conflict. */
  idempotencyKey?: string;
}

export interface PaymentView {
  id: string;
  status: PaymentStatus;
  final: boolean;
  kind: PaymentKind;
  amount: number;
  currency: string;
  captureMode: CaptureMode;
  amounts: { authorized: number; captured: number; cancelled: number; refunded: number };
  transactionReference: string;
  maskedPan?: string;
  authorisationId?: string;
  /** Where the customer must be sent to authenticate, while the payment waits for it. */
  redirection?: Redirection;
  /** The merchant's page the customer returns to after authentication. */
  returnUrl?: string;
  /** Present (true) while an authorisation is held for a fraud check: accept or refuse it. */
  challenged?: true;
  facts: Record<string, string>;
  version: number;
  createdAt: string;
  updatedAt: string;
  timeline: { at: string; kind: string; detail?: Record<string, unknown> }[];
}

export interface Orchestrator {
  payments: {
    create(
      command: unknown,
      options?: CommandOptions,
    ): Promise<{ created: boolean; payment: PaymentView }>;
    get(id: string): Promise<PaymentView>;
    capture(id: string, command: unknown, options?: CommandOptions): Promise<PaymentView>;
    cancel(id: string, command: unknown, options?: CommandOptions): Promise<PaymentView>;
    refund(id: string, command: unknown, options?: CommandOptions): Promise<PaymentView>;
    duplicate(
      id: string,
      command: unknown,
      options?: CommandOptions,
    ): Promise<{ created: boolean; payment: PaymentView }>;
    acceptChallenge(id: string, options?: CommandOptions): Promise<PaymentView>;
    refuseChallenge(id: string, options?: CommandOptions): Promise<PaymentView>;
    /** The browser came back from the ACS or the provider with these fields. */
    completeAuthentication(id: string, returned: unknown): Promise<PaymentView>;
  };
  subscriptions: {
    create(
      command: unknown,
      options?: CommandOptions,
    ): Promise<{ created: boolean; subscription: SubscriptionView; firstPayment: PaymentView }>;
    get(id: string): Promise<SubscriptionView>;
    list(options?: { limit?: number }): Promise<SubscriptionView[]>;
    pause(id: string): Promise<SubscriptionView>;
    resume(id: string): Promise<SubscriptionView>;
    cancel(id: string): Promise<SubscriptionView>;
    /** Later occurrences are charged the new amount. */
    changeAmount(id: string, command: unknown): Promise<SubscriptionView>;
  };
  instalmentPlans: {
    create(
      command: unknown,
      options?: CommandOptions,
    ): Promise<{ created: boolean; plan: InstalmentPlan; firstPayment: PaymentView }>;
    get(id: string): Promise<InstalmentPlan>;
    list(options?: { limit?: number }): Promise<InstalmentPlan[]>;
    /** Instalments not yet due are not taken. */
    cancel(id: string): Promise<InstalmentPlan>;
  };
  ops: {
    alerts(options?: { limit?: number }): Promise<OpsAlert[]>;
    /** One janitor pass now (it also runs on its schedule). */
    runJanitor(): Promise<JanitorReport>;
    /** Delayed jobs and job schedulers: deferred captures, capture limits, occurrences, instalments. */
    schedules(options?: { limit?: number }): Promise<ScheduledItem[]>;
  };
  reviews: {
    list(options?: { limit?: number }): Promise<ReviewItem[]>;
    get(jobId: string): Promise<ReviewItem | undefined>;
    /**
     * `adopt`: ask Sips now and take its status; `mark`: set `details.status`
     * by hand; `reinquire`: record what Sips says without deciding; `dismiss`.
     */
    resolve(
      jobId: string,
      decision: ReviewDecision,
    ): Promise<{ item: ReviewItem; payment: PaymentView }>;
  };
  events: {
    subscribe(
      group: string,
      handler: (event: PaymentCloudEvent, delivery: Delivery) => Promise<void>,
      options?: {
        consumer?: string;
        maxDeliveries?: number;
        claimIdleMs?: number;
        blockMs?: number;
      },
    ): Promise<EventConsumer>;
  };
  /** Internals for tests, the ops console and benchmarks. */
  readonly internals: {
    schedules: Schedules;
    keyspace: Keyspace;
    store: PaymentStore;
    engine: PaymentEngine;
    queues: StepQueues;
    reviews: ReviewQueues;
    client: SipsClient;
    vault: CardVault;
    redis: Redis;
  };
  /** Graceful: calls in flight finish and are stored before it resolves. */
  close(): Promise<void>;
}

/** Something that will run later: a delayed job or a job scheduler's next run. */
export interface ScheduledItem {
  kind:
    'timer' | 'inquiry' | 'abandon' | 'occurrence' | 'retry' | 'instalment' | 'janitor' | 'other';
  jobId: string;
  runAt: string;
  /** The payment, subscription or plan it belongs to. */
  subject?: string;
  detail?: string;
}

const COMMAND_KEYS_KEPT = 50;
const DAY_MS = 86_400_000;
/** Longest time a create may hold its idempotency key's in-flight marker. */
const IN_FLIGHT_MARKER_MS = 30_000;

function toView(record: PaymentRecord, data: EngineData = engineDataOf(record)): PaymentView {
  const view: PaymentView = {
    id: record.id,
    status: record.status,
    final: FINAL_STATUSES.has(record.status),
    kind: record.kind,
    amount: record.amount,
    currency: record.currency,
    captureMode: record.captureMode,
    amounts: { ...record.amounts },
    transactionReference: record.transactionReference,
    facts: { ...data.facts },
    version: record.version,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    timeline: record.timeline.map((entry) => ({
      at: new Date(entry.at).toISOString(),
      kind: entry.kind,
      ...(entry.detail ? { detail: entry.detail } : {}),
    })),
  };
  const maskedPan = record.maskedPan ?? data.facts.maskedPan;
  if (maskedPan) view.maskedPan = maskedPan;
  if (data.facts.authorisationId) view.authorisationId = data.facts.authorisationId;
  if (data.redirection && record.status === 'awaiting_authentication') {
    view.redirection = data.redirection;
  }
  if (data.request.returnUrl) view.returnUrl = data.request.returnUrl;
  if (record.status === 'authorized' && isChallenged(record.snapshot)) view.challenged = true;
  return view;
}

function parseOrThrow<T>(
  result: { ok: true; value: T } | { ok: false; field: string; message: string },
): T {
  if (!result.ok) {
    throw new CommandError('invalid_command', `${result.field} ${result.message}`, {
      field: result.field,
    });
  }
  return result.value;
}

/** Letters and digits only, at most 35: what Sips accepts as transactionReference. */
function transactionReferenceFor(paymentId: string): string {
  return paymentId.replace(/[^A-Za-z0-9]/g, '').slice(0, 35);
}

export async function createOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? randomIds;
  const logger = options.logger ?? silentLogger();
  const ownsRedis = typeof options.redis === 'string';
  const redis =
    typeof options.redis === 'string'
      ? new Redis(options.redis, {
          maxRetriesPerRequest: null,
          enableAutoPipelining: true,
          connectionName: `${options.keyPrefix ?? 'sog'}-orchestrator`,
        })
      : options.redis;
  const keyspace = createKeyspace({
    prefix: options.keyPrefix ?? 'sog',
    shards: options.shards ?? 1,
  });
  const vault = createCardVault(options.vault);
  const ownsHttp = options.sips.http === undefined;
  // One socket per step job in flight, so calls never queue behind the pool
  // (at 250 ms a call, 256 sockets cap a process near 1 000 calls/s).
  // Sockets open on demand: a large cap costs nothing while idle.
  const http =
    options.sips.http ??
    createUndiciTransport({
      connections: Math.max(256, (options.concurrency ?? 200) * (options.shards ?? 1)),
    });
  const client = createSipsClient({ ...options.sips, http, clock, logger });
  const store = createPaymentStore({ redis, keyspace, clock });
  const reviews = createReviewQueues({ connection: redis, keyspace, clock });
  const queues = createStepQueues({
    connection: redis,
    keyspace,
    ...(options.retry?.attempts !== undefined ? { attempts: options.retry.attempts } : {}),
  });
  const eventDeps: EventDeps = {
    clock,
    ...(options.eventSource ? { source: options.eventSource } : {}),
  };
  // The schedules layer needs the engine, and the engine tells it of settled
  // scheduled payments: bound once both exist.
  const bound: { schedules?: Schedules } = {};
  const jobs: JobSink = {
    enqueueCall: (job, jobId) => queues.enqueueCall(job, jobId),
    enqueueInquiry: (job, jobId, delayMs) => queues.enqueueInquiry(job, jobId, delayMs),
    enqueueAbandon: (job, jobId, delayMs) => queues.enqueueAbandon(job, jobId, delayMs),
    enqueueTimer: (job, jobId, delayMs) => queues.enqueueTimer(job, jobId, delayMs),
    async enqueueSettled(paymentId, jobId) {
      await bound.schedules?.queues.add(
        keyspace.shardOf(paymentId),
        { task: 'settled', paymentId },
        { jobId },
      );
    },
  };
  const engine = createPaymentEngine({
    store,
    vault,
    client,
    reviews,
    jobs,
    clock,
    logger,
    events: eventDeps,
    ...(options.onCall ? { onCall: options.onCall } : {}),
    ...(options.authenticationTimeoutMs !== undefined
      ? { authenticationTimeoutMs: options.authenticationTimeoutMs }
      : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl.replace(/\/+$/, '') } : {}),
    ...(options.captureLimit ? { captureLimit: options.captureLimit } : {}),
    inquiryScheduleMs: options.inquiryScheduleMs ?? [
      10_000, 60_000, 300_000, 3_600_000, 21_600_000,
    ],
  });
  const activeKey = options.vault.keys[options.vault.activeKeyId];
  const hashSecret =
    options.requestHashSecret ??
    Buffer.concat([Buffer.from('request-hash:'), activeKey ?? Buffer.alloc(32)]);
  const hashRequest = createRequestHasher(hashSecret);
  const consumers = new Set<EventConsumer>();
  const built = createSchedules({
    redis,
    keyspace,
    clock,
    ids,
    logger,
    store,
    engine,
    stepQueues: queues,
    payments: {
      newPaymentId: (key) => keyspace.newPaymentId(ids, key),
      referenceOf: transactionReferenceFor,
      get: (id) => store.get(id, { timeline: false }),
      async create(input) {
        const result = await createPayment(
          input.kind,
          {
            amount: input.amount,
            currency: input.currency,
            captureMode: input.captureMode,
            merchant: input.merchant,
            request: { ...input.request, captureDay: input.captureDay },
            ...(input.card ? { card: input.card } : {}),
          },
          { scheduled: input.idempotencyKey, amount: input.amount },
          { idempotencyKey: input.idempotencyKey },
          input.id,
        );
        return { created: result.created, paymentId: result.payment.id };
      },
    },
    reauthorization: {
      newPaymentId: (replacedId) => keyspace.newPaymentId(ids, reauthorizationKey(replacedId)),
      make: reauthorize,
    },
    ...(options.eventSource ? { eventSource: options.eventSource } : {}),
    ...(options.captureLimit?.defaultPolicy
      ? { captureLimitPolicy: options.captureLimit.defaultPolicy }
      : {}),
    ...(options.captureLimit?.maxReauthorizations !== undefined
      ? { maxReauthorizations: options.captureLimit.maxReauthorizations }
      : {}),
    ...(options.janitor ? { janitor: options.janitor } : {}),
    ...(options.scheduleDayMs !== undefined ? { dayMs: options.scheduleDayMs } : {}),
  });
  bound.schedules = built;
  let workers: StepWorkers | undefined;
  if (options.workers !== false) {
    workers = startStepWorkers({
      connection: redis,
      keyspace,
      engine,
      queues,
      runTimer: (job, context) => built.runTimer(job, context),
      clock,
      logger,
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      backoff: { baseMs: options.retry?.baseMs ?? 1_000, capMs: options.retry?.capMs ?? 60_000 },
      ...(options.stalledIntervalMs !== undefined
        ? { stalledIntervalMs: options.stalledIntervalMs }
        : {}),
      ...(options.lockDurationMs !== undefined ? { lockDurationMs: options.lockDurationMs } : {}),
      ...(options.burst !== undefined ? { burst: options.burst } : {}),
    });
    await built.startWorkers({
      ...(options.stalledIntervalMs !== undefined
        ? { stalledIntervalMs: options.stalledIntervalMs }
        : {}),
      ...(options.lockDurationMs !== undefined ? { lockDurationMs: options.lockDurationMs } : {}),
    });
  }

  const reauthorizationKey = (replacedId: string): string => `reauthorize:${replacedId}`;

  /**
   * The capture-limit policy `reauthorize`: a new authorisation of what is
   * still uncaptured, from the same card (a duplicate), made once per payment:
   * under the id the claim recorded (found again however late a retry comes)
   * and an idempotency key (the same request within its window).
   */
  async function reauthorize(record: PaymentRecord, newPaymentId?: string): Promise<string> {
    const data = engineDataOf(record);
    const result = await createPayment(
      'duplicate',
      {
        amount: uncapturedRemainder(record.amounts),
        currency: record.currency,
        captureMode: record.captureMode,
        merchant: record.merchant,
        request: {
          captureDay: data.request.captureDay,
          fromTransactionReference: record.transactionReference,
          fromPaymentId: record.id,
          // Its settling releases the old authorisation or unblocks it.
          link: {
            type: 'reauthorization',
            id: record.id,
            generation: reauthorizationGeneration(data) + 1,
            ...(data.facts.captureLimitAt ? { replacedLimitAt: data.facts.captureLimitAt } : {}),
          },
          ...(data.request.capture?.atLimit
            ? { capture: { atLimit: data.request.capture.atLimit } }
            : {}),
        },
      },
      { reauthorizes: record.id },
      { idempotencyKey: reauthorizationKey(record.id) },
      newPaymentId,
    );
    return result.payment.id;
  }

  async function load(id: string, timeline = false): Promise<PaymentRecord> {
    if (!keyspace.isPaymentId(id)) throw new CommandError('payment_not_found', `no payment ${id}`);
    const record = await store.get(id, { timeline });
    if (!record) throw new CommandError('payment_not_found', `no payment ${id}`);
    return record;
  }

  async function view(id: string): Promise<PaymentView> {
    return toView(await load(id, true));
  }

  /**
   * Applies a merchant command with compare-and-set, re-reading on a lost
   * race. An idempotency key is stored with the step in the same write, so a
   * retried command is recognised and never applied twice (a refund sent
   * twice by a nervous client is refunded once).
   */
  async function command(
    id: string,
    event: PaymentEvent,
    commandOptions: CommandOptions = {},
    extra: Pick<ApplyOptions, 'update'> = {},
  ): Promise<PaymentView> {
    const key = commandOptions.idempotencyKey;
    if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
      throw new CommandError(
        'invalid_idempotency_key',
        'an idempotency key has 1 to 255 printable ASCII characters',
      );
    }
    const hash = key === undefined ? undefined : hashRequest({ id, event });
    for (let attempt = 0; attempt < 5; attempt++) {
      let record = await load(id);
      if (record.status === 'outcome_unknown' && !event.type.startsWith('review.')) {
        // Acting on a payment whose last call has an unknown outcome could
        // act on a wrong belief: Sips is asked first.
        const inquired = await engine.inquireNow(record, `before ${event.type}`);
        if (inquired.outcome === 'unclear') {
          throw new CommandError(
            'outcome_unknown',
            `the outcome of the last call is still unknown (${inquired.detail}); send the command again later`,
          );
        }
        record = await load(id);
      }
      if (key !== undefined) {
        const seen = commandKeysOf(record)[key];
        if (seen !== undefined) {
          if (seen !== hash) {
            throw new CommandError(
              'idempotency_conflict',
              'this idempotency key was used for another command',
            );
          }
          return view(id);
        }
      }
      const onAuthorisation = event.type === 'capture' || event.type === 'cancel';
      const facts = engineDataOf(record).facts;
      if (onAuthorisation && facts.reauthorizationOutcome === 'replaced') {
        throw new CommandError(
          'command_not_allowed',
          `${event.type} is not allowed: this authorisation was replaced at its capture limit by ${facts.reauthorizedAs}; capture that payment`,
        );
      }
      const replacement = onAuthorisation ? replacementInProgress(facts) : undefined;
      if (replacement !== undefined) {
        // Checked on the record the compare-and-set below is made against: a
        // claim written in between fails the write, and the retry lands here.
        // A new authorisation that settled without its notice hands over now
        // (or, when this payment is busy, at the notice's next try).
        const handedOver = await built.handOverIfSettled(record).catch((error: unknown) => {
          if (error instanceof StepRetryError) return false;
          throw error;
        });
        if (handedOver) continue;
        // A new authorisation in review waits for a person, not for a call:
        // the client is told so, and to come back much later.
        const pending =
          replacement.paymentId === undefined
            ? undefined
            : await store.get(replacement.paymentId, { timeline: false });
        const inReview = pending?.status === 'in_review';
        const by = inReview
          ? `${replacement.paymentId}, which is in review; once ops decide it, capture that one`
          : `${replacement.paymentId ?? 'a new authorisation being made'}; once that one settles, capture it`;
        throw new CommandError(
          'reauthorization_in_progress',
          `this authorisation is being replaced at its capture limit by ${by}, or send this command again if it failed`,
          { retryAfterSeconds: inReview ? 300 : 2 },
        );
      }
      const applied = await engine.apply(record, event, {
        timeline: [{ at: clock.now(), kind: 'command', detail: { ...event } }],
        update: (data) => {
          extra.update?.(data);
          if (key !== undefined && hash !== undefined) rememberCommandKey(data, key, hash);
        },
      });
      if (applied.ok) return view(id);
      if (applied.reason === 'not_allowed') {
        throw new CommandError(
          'command_not_allowed',
          `${event.type} is not allowed: ${applied.detail}`,
        );
      }
      if (applied.reason === 'not_found') {
        throw new CommandError('payment_not_found', `no payment ${id}`);
      }
    }
    throw new CommandError('payment_busy', 'the payment kept changing; send the command again');
  }

  /**
   * A create with an idempotency key holds a short in-flight marker: a second
   * request with the same key while the first is still running gets
   * `request_in_progress` (409, retry later) instead of racing it.
   */
  async function createPayment(
    ...args: Parameters<typeof createPaymentOnce>
  ): ReturnType<typeof createPaymentOnce> {
    const key = args[3].idempotencyKey;
    if (key === undefined) return createPaymentOnce(...args);
    let marker: string;
    try {
      marker = `${keyspace.idempotencyKey(key)}:in-flight`;
    } catch {
      throw new CommandError(
        'invalid_idempotency_key',
        'an idempotency key has 1 to 255 printable ASCII characters, no spaces',
      );
    }
    const token = randomUUID();
    if ((await redis.set(marker, token, 'PX', IN_FLIGHT_MARKER_MS, 'NX')) === null) {
      throw new CommandError(
        'request_in_progress',
        'a request with this idempotency key is still being processed; send it again shortly',
      );
    }
    try {
      return await createPaymentOnce(...args);
    } finally {
      // Only our own marker: one that expired and was taken by a later request stays.
      if ((await redis.get(marker)) === token) await redis.del(marker);
    }
  }

  async function createPaymentOnce(
    kind: PaymentKind,
    fields: {
      amount: number;
      currency: string;
      captureMode: CaptureMode;
      card?: { pan: string; expiry: string; csc?: string };
      merchant: PaymentRecord['merchant'];
      request: EngineData['request'];
    },
    requestForHash: unknown,
    commandOptions: CommandOptions,
    presetId?: string,
  ): Promise<{ created: boolean; payment: PaymentView }> {
    let id: string;
    try {
      id = presetId ?? keyspace.newPaymentId(ids, commandOptions.idempotencyKey);
    } catch {
      throw new CommandError(
        'invalid_idempotency_key',
        'an idempotency key has 1 to 255 printable ASCII characters, no spaces',
      );
    }
    const start = startPayment({
      kind,
      amount: fields.amount,
      currency: fields.currency,
      captureMode: fields.captureMode,
    });
    const data = emptyEngineData(fields.request);
    data.followUps = engine.followUpsOf(id, 1, start.effects);
    data.followUpsVersion = 1;
    const transactionReference = transactionReferenceFor(id);
    const events = start.effects.flatMap((effect) =>
      effect.type === 'emit'
        ? [
            buildEvent(
              {
                type: effect.name,
                paymentId: id,
                sequence: 1,
                data: {
                  ...effect.data,
                  paymentId: id,
                  kind,
                  amount: fields.amount,
                  currency: fields.currency,
                  transactionReference,
                },
              },
              eventDeps,
            ),
          ]
        : [],
    );
    const payment = {
      id,
      machineVersion: MACHINE_VERSION,
      kind,
      status: start.status,
      amount: fields.amount,
      currency: fields.currency,
      captureMode: fields.captureMode,
      amounts: start.amounts,
      snapshot: start.snapshot,
      transactionReference,
      merchant: fields.merchant,
      engine: JSON.stringify(data),
      timeline: [
        {
          at: clock.now(),
          kind: 'created',
          detail: { kind, amount: fields.amount, currency: fields.currency },
        },
      ],
      ...(fields.card
        ? { card: vault.seal(id, fields.card), maskedPan: maskPan(fields.card.pan) }
        : {}),
    } satisfies NewPayment;
    const result = await store
      .create(payment, {
        events,
        ...(commandOptions.idempotencyKey !== undefined
          ? {
              idempotencyKey: commandOptions.idempotencyKey,
              requestHash: hashRequest(requestForHash),
            }
          : {}),
      })
      .catch((error: unknown) => {
        // A preset id was recorded by its caller before this create (a
        // schedule, a reauthorisation): a payment already there under it is
        // that caller's, made by an earlier try whose idempotency record has
        // since expired. It is the same payment, never a second one.
        if (
          presetId !== undefined &&
          error instanceof PaymentsError &&
          error.code === 'PAYMENT_ID_TAKEN'
        ) {
          return { created: false, conflict: false, id: presetId } as const;
        }
        throw error;
      });
    if (result.conflict) {
      throw new CommandError(
        'idempotency_conflict',
        'this idempotency key was used for another payment command',
      );
    }
    // The view is the payment as stored when the first step was
    // (re-)enqueued: a new one is what the create script just wrote (nothing
    // else writes a payment before its first step job exists); a replay is
    // read back.
    const record: PaymentRecord = result.created
      ? {
          ...payment,
          shard: keyspace.shardOf(id),
          version: 1,
          createdAt: result.createdAt,
          updatedAt: result.createdAt,
        }
      : await load(result.id, true);
    if (!result.created && presetId !== undefined && !madeFor(record, kind, fields)) {
      // Only with an id generator that repeats itself (random ids do not):
      // never take another payment for this one.
      throw new PaymentsError('PAYMENT_ID_TAKEN', `payment id ${presetId} is already used`);
    }
    // A replay also re-enqueues the first step, in case the first request
    // died between storing the payment and enqueueing its job.
    // A new record's engine data is `data`, as written.
    const written = result.created ? data : engineDataOf(record);
    await engine.dispatch(record, written);
    return { created: result.created, payment: toView(record, written) };
  }

  /** Whether a payment found under a preset id is the one these fields describe. */
  function madeFor(
    record: PaymentRecord,
    kind: PaymentKind,
    fields: { amount: number; request: EngineData['request'] },
  ): boolean {
    const link = engineDataOf(record).request.link;
    const wanted = fields.request.link;
    return (
      record.kind === kind &&
      record.amount === fields.amount &&
      link?.type === wanted?.type &&
      link?.id === wanted?.id
    );
  }

  function captureScheduleOf(
    capture: NonNullable<CreatePaymentCommand['capture']>,
  ): NonNullable<EngineData['request']['capture']> {
    const now = clock.now();
    let at: number | undefined;
    if (capture.at !== undefined) at = Date.parse(capture.at);
    else if (capture.afterDays !== undefined) at = now + capture.afterDays * DAY_MS;
    else if (capture.afterMs !== undefined) at = now + capture.afterMs;
    return {
      ...(at !== undefined ? { at } : {}),
      ...(capture.atLimit ? { atLimit: capture.atLimit as LimitPolicy } : {}),
    };
  }

  const payments: Orchestrator['payments'] = {
    async create(input, commandOptions = {}) {
      const command = parseOrThrow(parseCommand(CreatePaymentCommand, input));
      const request: EngineData['request'] = { captureDay: command.captureDay };
      if (command.returnUrl) request.returnUrl = command.returnUrl;
      if (command.paymentMeanBrand) request.paymentMeanBrand = command.paymentMeanBrand;
      if (command.wallet) {
        request.wallet = {
          merchantWalletId: command.wallet.merchantWalletId,
          paymentMeanId: command.wallet.paymentMeanId,
        };
      }
      if (command.capture) request.capture = captureScheduleOf(command.capture);
      const merchant: PaymentRecord['merchant'] = {};
      if (command.orderId) merchant.orderId = command.orderId;
      if (command.customer?.id) merchant.customerId = command.customer.id;
      if (command.customer?.email) merchant.customerEmail = command.customer.email;
      if (command.customer?.ipAddress) merchant.customerIpAddress = command.customer.ipAddress;
      if (command.metadata) merchant.metadata = command.metadata;
      return createPayment(
        command.method,
        {
          amount: command.amount,
          currency: command.currency,
          captureMode: command.captureMode,
          merchant,
          request,
          ...(command.card ? { card: cardOf(command.card) } : {}),
        },
        command,
        commandOptions,
      );
    },
    get: (id) => view(id),
    async capture(id, input, commandOptions) {
      const { amount } = parseOrThrow(parseCommand(AmountCommand, input));
      return command(id, { type: 'capture', amount }, commandOptions);
    },
    async cancel(id, input, commandOptions) {
      const { amount } = parseOrThrow(parseCommand(AmountCommand, input));
      return command(id, { type: 'cancel', amount }, commandOptions);
    },
    async refund(id, input, commandOptions) {
      const { amount } = parseOrThrow(parseCommand(AmountCommand, input));
      return command(id, { type: 'refund', amount }, commandOptions);
    },
    async duplicate(id, input, commandOptions = {}) {
      const command = parseOrThrow(parseCommand(DuplicateCommand, input));
      const source = await load(id);
      return createPayment(
        'duplicate',
        {
          amount: command.amount,
          currency: source.currency,
          captureMode: command.captureMode,
          merchant: {
            ...source.merchant,
            ...(command.orderId ? { orderId: command.orderId } : {}),
          },
          request: {
            captureDay: command.captureDay,
            fromTransactionReference: source.transactionReference,
            fromPaymentId: source.id,
          },
        },
        { duplicateOf: id, command },
        commandOptions,
      );
    },
    acceptChallenge: (id, commandOptions) =>
      command(id, { type: 'accept_challenge' }, commandOptions),
    refuseChallenge: (id, commandOptions) =>
      command(id, { type: 'refuse_challenge' }, commandOptions),
    async completeAuthentication(id, input) {
      const returned = parseOrThrow(parseCommand(AuthenticationReturn, input));
      return command(
        id,
        { type: 'customer.returned' },
        {},
        {
          update: (data) => {
            data.authenticationReturn = {
              ...(returned.paRes ? { paRes: returned.paRes } : {}),
              ...(returned.redirectionData ? { redirectionData: returned.redirectionData } : {}),
              ...(returned.messageVersion ? { messageVersion: returned.messageVersion } : {}),
            };
          },
        },
      );
    },
  };

  async function paymentView(id: string): Promise<PaymentView> {
    return view(id);
  }

  const subscriptionsApi: Orchestrator['subscriptions'] = {
    async create(input, commandOptions = {}) {
      const command = parseOrThrow(parseCommand(CreateSubscriptionCommand, input));
      const created = await onceForKey(
        'subscription',
        commandOptions.idempotencyKey,
        command,
        (seed) =>
          built.subscriptions
            .create(command, command.card ? cardOf(command.card) : undefined, seed)
            .then(({ subscription }) => subscription.id),
      );
      const subscription = await built.subscriptions.get(created.id);
      return {
        created: created.created,
        subscription,
        firstPayment: await paymentView(subscription.firstPaymentId),
      };
    },
    get: (id) => built.subscriptions.get(id),
    list: (listOptions) => built.subscriptions.list(listOptions),
    pause: (id) => built.subscriptions.pause(id),
    resume: (id) => built.subscriptions.resume(id),
    cancel: (id) => built.subscriptions.cancel(id),
    async changeAmount(id, input) {
      const { amount } = parseOrThrow(parseCommand(ChangeSubscriptionCommand, input));
      return built.subscriptions.changeAmount(id, amount);
    },
  };

  const plansApi: Orchestrator['instalmentPlans'] = {
    async create(input, commandOptions = {}) {
      const command = parseOrThrow(parseCommand(CreateInstalmentPlanCommand, input));
      const created = await onceForKey(
        'instalments',
        commandOptions.idempotencyKey,
        command,
        (seed) => built.plans.create(command, cardOf(command.card), seed).then((plan) => plan.id),
      );
      const plan = await built.plans.get(created.id);
      return {
        created: created.created,
        plan,
        firstPayment: await paymentView((plan.instalments[0] as { paymentId: string }).paymentId),
      };
    },
    get: (id) => built.plans.get(id),
    list: (listOptions) => built.plans.list(listOptions),
    cancel: (id) => built.plans.cancel(id),
  };

  /**
   * Idempotent creation of a schedule: the key maps to the record's id for
   * 24 h; the same key with another command is a conflict, and a second
   * request while the first runs gets `request_in_progress`.
   */
  async function onceForKey(
    scope: string,
    key: string | undefined,
    command: unknown,
    make: (seed?: string) => Promise<string>,
  ): Promise<{ created: boolean; id: string }> {
    if (key === undefined) return { created: true, id: await make() };
    let redisKey: string;
    try {
      redisKey = `${keyspace.idempotencyKey(`${scope}:${key}`)}`;
    } catch {
      throw new CommandError(
        'invalid_idempotency_key',
        'an idempotency key has 1 to 255 printable ASCII characters, no spaces',
      );
    }
    const hash = hashRequest({ scope, command });
    // A short claim: a process that dies while creating frees the key soon.
    const claimed = await redis.set(redisKey, `pending:${hash}`, 'EX', 120, 'NX');
    if (claimed === null) {
      const seen = (await redis.get(redisKey)) ?? '';
      const [state, seenHash, id] = seen.split(':');
      if (seenHash !== hash) {
        throw new CommandError(
          'idempotency_conflict',
          'this idempotency key was used for another command',
        );
      }
      if (state === 'pending' || id === undefined) {
        throw new CommandError(
          'request_in_progress',
          'a request with this idempotency key is still being processed; send it again shortly',
        );
      }
      return { created: false, id };
    }
    try {
      // Seeded by the key and the request: a retry after a crash between the
      // record and this marker finds the same record instead of making another.
      const id = await make(`${key}:${hash}`);
      await redis.set(redisKey, `done:${hash}:${id}`, 'EX', 86_400);
      return { created: true, id };
    } catch (error) {
      await redis.del(redisKey);
      throw error;
    }
  }

  const opsApi: Orchestrator['ops'] = {
    alerts: (listOptions) => built.alerts.list(listOptions),
    runJanitor: () => built.runJanitor(),
    async schedules(listOptions = {}) {
      const limit = listOptions.limit ?? 200;
      const items: ScheduledItem[] = [];
      for (const shard of keyspace.allShards) {
        for (const queue of [queues.queue(shard), built.queues.queue(shard)]) {
          const delayed = await queue.getDelayed(0, limit - 1);
          for (const job of delayed) {
            if (!job) continue;
            items.push(scheduledItemOf(job.id ?? '', job.timestamp + (job.delay ?? 0), job.data));
          }
        }
      }
      return items.sort((a, b) => a.runAt.localeCompare(b.runAt)).slice(0, limit);
    },
  };

  const reviewApi: Orchestrator['reviews'] = {
    list: (listOptions) => reviews.listReviews(listOptions),
    get: (jobId) => reviews.getReview(jobId),
    async resolve(jobId, decision) {
      const item = await reviews.getReview(jobId);
      if (!item) throw new CommandError('payment_not_found', `no review item ${jobId}`);
      const record = await load(item.paymentId);
      if (decision.action === 'adopt' || decision.action === 'reinquire') {
        const result = await client.getTransactionData({
          transactionReference: record.transactionReference,
        });
        const answer = inquiryAnswer(result, record.captureMode);
        if (decision.action === 'adopt') {
          if (answer.found !== true) {
            throw new CommandError(
              'command_not_allowed',
              answer.found === false
                ? 'Sips does not know this transaction (25): mark it instead'
                : `Sips gave no usable answer (${answer.detail})`,
            );
          }
          await command(item.paymentId, {
            type: 'review.adopt',
            view: answer.view,
            note: decision.note,
          });
        } else {
          return { item, payment: await view(item.paymentId) };
        }
      } else if (decision.action === 'mark') {
        const status = decision.details?.status;
        if (
          status !== 'refused' &&
          status !== 'failed' &&
          status !== 'authorized' &&
          status !== 'captured' &&
          status !== 'cancelled'
        ) {
          throw new CommandError(
            'invalid_command',
            'details.status must be refused, failed, authorized, captured or cancelled',
            { field: 'details.status' },
          );
        }
        await command(item.paymentId, { type: 'review.mark', status, note: decision.note });
      }
      const resolved = await reviews.resolveReview(jobId, decision);
      return { item: resolved.item, payment: await view(item.paymentId) };
    },
  };

  const eventsApi: Orchestrator['events'] = {
    async subscribe(group, handler, subscribeOptions = {}) {
      const consumer = createEventConsumer({
        redis,
        keyspace,
        group,
        consumer: subscribeOptions.consumer ?? `${hostname()}-${process.pid}`,
        handler,
        logger,
        ...(subscribeOptions.maxDeliveries !== undefined
          ? { maxDeliveries: subscribeOptions.maxDeliveries }
          : {}),
        ...(subscribeOptions.claimIdleMs !== undefined
          ? { claimIdleMs: subscribeOptions.claimIdleMs }
          : {}),
        ...(subscribeOptions.blockMs !== undefined ? { blockMs: subscribeOptions.blockMs } : {}),
      });
      await consumer.start();
      consumers.add(consumer);
      return consumer;
    },
  };

  return {
    payments,
    subscriptions: subscriptionsApi,
    instalmentPlans: plansApi,
    ops: opsApi,
    reviews: reviewApi,
    events: eventsApi,
    internals: { schedules: built, keyspace, store, engine, queues, reviews, client, vault, redis },
    async close() {
      await workers?.close();
      await built.close();
      await Promise.all([...consumers].map((consumer) => consumer.close()));
      await queues.close();
      await reviews.close();
      if (ownsHttp) await http.close();
      if (ownsRedis) redis.disconnect();
    },
  };
}

/** A parsed command's card in the shape the vault seals. */
function cardOf(card: { number: string; expiry: string; csc?: string | undefined }): {
  pan: string;
  expiry: string;
  csc?: string;
} {
  return { pan: card.number, expiry: card.expiry, ...(card.csc ? { csc: card.csc } : {}) };
}

function commandKeysOf(record: PaymentRecord): Record<string, string> {
  return engineDataOf(record).commandKeys ?? {};
}

function rememberCommandKey(data: EngineData, key: string, hash: string): void {
  const keys = { ...(data.commandKeys ?? {}), [key]: hash };
  const names = Object.keys(keys);
  // Keep the most recent ones: a retry comes within minutes, not after fifty more commands.
  for (const name of names.slice(0, Math.max(0, names.length - COMMAND_KEYS_KEPT))) {
    delete keys[name];
  }
  data.commandKeys = keys;
}

function scheduledItemOf(jobId: string, runAt: number, data: unknown): ScheduledItem {
  const job = (data ?? {}) as Record<string, unknown>;
  const task = String(job.task ?? '');
  const item: ScheduledItem = {
    kind: 'other',
    jobId,
    runAt: new Date(runAt).toISOString(),
  };
  const subject = job.paymentId ?? job.subscriptionId ?? job.planId;
  if (typeof subject === 'string') item.subject = subject;
  if (task === 'timer') {
    item.kind = 'timer';
    item.detail = String(job.timer);
  } else if (task === 'inquire') item.kind = 'inquiry';
  else if (task === 'abandon') item.kind = 'abandon';
  else if (task === 'occurrence') item.kind = 'occurrence';
  else if (task === 'retry') {
    item.kind = 'retry';
    item.detail = `period ${String(job.period)}, attempt ${String(job.attempt)}`;
  } else if (task === 'instalment') {
    item.kind = 'instalment';
    item.detail = `instalment ${Number(job.index) + 1}`;
  } else if (task === 'janitor') item.kind = 'janitor';
  return item;
}
