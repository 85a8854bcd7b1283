/**
 * The atomic commit of one transition: the machine steps, and one
 * compare-and-set write stores the new snapshot, the domain events, the
 * timeline, the engine data with its follow-ups and the card after the step;
 * the follow-ups are then dispatched. `annotate` is the same write for a
 * change that moves no status.
 */
import type { Effect, PaymentEvent } from '../../machines/contract.ts';
import { stepPayment } from '../../machines/index.ts';
import { liftLegacyFacts } from './reauthorization.ts';
import { buildEvent, type PaymentCloudEvent } from '../payments/events.ts';
import type { PaymentRecord, TimelineEntry } from '../payments/store.ts';
import { DEFAULT_MERCHANT_ID, engineDataOf, type EngineContext } from './context.ts';
import type { Annotation, ApplyOptions, ApplyResult } from './contract.ts';
import type { EngineData } from './engine-data.ts';
import { dispatch, planFollowUps } from './follow-ups.ts';
import { addToLogContext } from '../platform/log-context.ts';

/** Steps the machine with `event` and commits the result with its follow-ups, then enqueues them. */
export async function apply(
  engine: EngineContext,
  record: PaymentRecord,
  event: PaymentEvent,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const { store, clock } = engine.deps;
  addToLogContext({ paymentId: record.id, merchant: record.merchant.id ?? DEFAULT_MERCHANT_ID });
  const data = options.engineData ?? engineDataOf(record);
  const outcome = stepPayment(liftLegacyFacts(record.snapshot, data), event);
  if (!outcome.accepted) {
    return {
      ok: false,
      reason: 'not_allowed',
      status: outcome.status,
      detail: outcome.reason,
      ...(outcome.waitFor === undefined ? {} : { waitFor: outcome.waitFor }),
    };
  }
  const expectedVersion = options.expectedVersion ?? record.version;
  const version = expectedVersion + 1;
  options.update?.(data);
  // Alerts first: raised twice at worst (a lost race, a retry), never lost.
  await raiseAlerts(engine, record, outcome.effects);
  planFollowUps(engine, record, data, outcome, version, options.inquiryAttempt);
  const card = cardAfter(engine, record, outcome.effects);
  const timeline: TimelineEntry[] = [
    ...(options.timeline ?? []),
    ...(options.describe?.(outcome.effects) ?? []),
    ...operationOutcomes(outcome.effects, clock.now()),
    {
      at: clock.now(),
      kind: 'status',
      detail: { from: record.status, to: outcome.status, event: event.type },
    },
  ];
  const engineJson = JSON.stringify(data);
  const written = await store.commitStep(record.id, expectedVersion, {
    snapshot: outcome.snapshot,
    status: outcome.status,
    amounts: outcome.amounts,
    clearIntent: options.clearIntent ?? true,
    events: eventsOf(engine, record, version, outcome.effects, data),
    timeline,
    engine: engineJson,
    ...(card !== undefined ? { card } : {}),
    // The record was read at the version written against: its status is the stored one.
    ...(options.expectedVersion === undefined ? { currentStatus: record.status } : {}),
  });
  if (!written.ok) return { ok: false, reason: written.reason };
  logTransition(engine, record, outcome, event, written.version);
  const next: PaymentRecord & { engine?: string } = {
    ...record,
    version: written.version,
    status: outcome.status,
    amounts: outcome.amounts,
    snapshot: outcome.snapshot,
    engine: engineJson,
  };
  delete next.intent;
  if (card === null) delete next.card;
  else if (card !== undefined) next.card = card;
  // `engine` is this data as written, and nothing changes it any more.
  engine.parsedEngineData.set(next, data);
  await dispatch(engine, next);
  await engine.deps.jobs.removeEndedJobs?.(record, next);
  return { ok: true, record: next };
}

/**
 * One info line per status change (debug when the status stays), and a
 * warning when the step sends the payment to manual review.
 */
function logTransition(
  engine: EngineContext,
  record: PaymentRecord,
  outcome: { status: string; effects: readonly Effect[] },
  event: PaymentEvent,
  version: number,
): void {
  const { logger } = engine.deps;
  const line = {
    paymentId: record.id,
    merchant: record.merchant.id ?? DEFAULT_MERCHANT_ID,
    from: record.status,
    to: outcome.status,
    event: event.type,
    version,
  };
  if (record.status !== outcome.status) logger.info(line, 'payment status changed');
  else logger.debug(line, 'payment step');
  for (const effect of outcome.effects) {
    if (effect.type === 'review') {
      logger.warn({ ...line, reason: effect.reason }, 'payment sent to manual review');
    }
  }
}

/**
 * Timeline entries for a command's outcome the payment's status does not
 * tell (a refund carried out by a cancel, held, or failed while the payment
 * stays where it was).
 */
function operationOutcomes(effects: readonly Effect[], at: number): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const effect of effects) {
    if (effect.type === 'alert' && effect.kind === 'operation_failed') {
      entries.push({ at, kind: 'operation.failed', detail: { ...effect.data } });
    } else if (effect.type === 'emit' && effect.name.startsWith('refund.')) {
      const { operationId, performedAs, amount } = effect.data ?? {};
      entries.push({ at, kind: effect.name, detail: { operationId, performedAs, amount } });
    }
  }
  return entries;
}

async function raiseAlerts(
  engine: EngineContext,
  record: PaymentRecord,
  effects: readonly Effect[],
): Promise<void> {
  for (const effect of effects) {
    if (effect.type === 'alert') {
      // Ops learn which shop it is about (several may be served).
      const data = { merchant: record.merchant.id ?? DEFAULT_MERCHANT_ID, ...effect.data };
      await engine.deps.alerts?.raise(record.id, { kind: effect.kind, data });
    }
  }
}

/**
 * A write that changes no status: an event, timeline entries and engine
 * data (a capture-limit warning, a timer consumed), compare-and-set.
 */
export async function annotate(
  engine: EngineContext,
  record: PaymentRecord,
  note: Annotation,
): Promise<ApplyResult> {
  const data = engineDataOf(record);
  note.update?.(data);
  const engineJson = JSON.stringify(data);
  const effects: Effect[] = note.event
    ? [
        {
          type: 'emit',
          name: note.event.name,
          data: { ...(note.event.data ?? {}), amounts: record.amounts },
        },
      ]
    : [];
  const written = await engine.deps.store.commitStep(record.id, record.version, {
    snapshot: record.snapshot,
    status: record.status,
    amounts: record.amounts,
    clearIntent: false,
    timeline: note.timeline,
    events: eventsOf(engine, record, record.version + 1, effects, data),
    engine: engineJson,
  });
  if (!written.ok) return { ok: false, reason: written.reason };
  return {
    ok: true,
    record: { ...record, version: written.version, engine: engineJson } as PaymentRecord,
  };
}

/** The domain events of a step's `emit` effects, numbered by the step's version. */
export function eventsOf(
  engine: EngineContext,
  record: PaymentRecord,
  version: number,
  effects: Effect[],
  data: EngineData,
): PaymentCloudEvent[] {
  const events: PaymentCloudEvent[] = [];
  for (const effect of effects) {
    if (effect.type !== 'emit') continue;
    events.push(
      buildEvent(
        {
          type: effect.name,
          paymentId: record.id,
          sequence: version,
          merchant: record.merchant.id ?? DEFAULT_MERCHANT_ID,
          data: {
            ...effect.data,
            paymentId: record.id,
            kind: record.kind,
            currency: record.currency,
            transactionReference: record.transactionReference,
            ...(record.maskedPan ? { maskedPan: record.maskedPan } : {}),
            ...(data.facts.authorisationId ? { authorisationId: data.facts.authorisationId } : {}),
          },
        },
        engine.deps.events,
      ),
    );
  }
  return events;
}

/** The card after the step: the CSC goes once the authorisation is answered. */
export function cardAfter(
  engine: EngineContext,
  record: PaymentRecord,
  effects: Effect[],
): string | null | undefined {
  if (record.card === undefined) return undefined;
  let forgetCsc = false;
  for (const effect of effects) {
    if (effect.type !== 'forget') continue;
    // Forgetting the whole card wins: no point re-sealing it without its CSC first.
    if (effect.what === 'card') return null;
    if (effect.what === 'csc') forgetCsc = true;
  }
  return forgetCsc ? engine.deps.vault.withoutCsc(record.id, record.card) : undefined;
}
