/**
 * Merchant commands on a payment (capture, cancel, refund, challenge
 * decisions, the customer's return, review decisions): parsed, checked
 * against the payment's idempotency keys and capture-limit replacement, then
 * applied to the machine with compare-and-set, re-reading on a lost race.
 */
import type { PaymentEvent } from '../../machines/contract.ts';
import {
  engineDataOf,
  reauthorizationOf,
  StepRetryError,
  type ApplyOptions,
} from '../engine/engine.ts';
import { CommandError } from '../engine/errors.ts';
import type { PaymentRecord } from '../payments/store.ts';
import type { CommandOptions, ServiceContext } from './context.ts';
import { checkIdempotencyKey, commandKeyVerdict, rememberCommandKey } from './idempotency.ts';
import { loadPayment, viewPayment, type PaymentView } from './views.ts';
import { addToLogContext } from '../platform/log-context.ts';

/** Tries of a command that keeps losing its compare-and-set to other writes. */
const COMMAND_ATTEMPTS = 5;

export interface CommandDeps extends ServiceContext {
  /**
   * Hands a payment replaced at its capture limit over to its new
   * authorisation when that one settled without its notice: true when it did.
   */
  handOverIfSettled(record: PaymentRecord): Promise<boolean>;
}

/**
 * Applies a merchant command with compare-and-set, re-reading on a lost
 * race. An idempotency key is stored with the step in the same write, so a
 * retried command is recognised and never applied twice (a refund sent
 * twice by a nervous client is refunded once).
 */
export async function applyCommand(
  ctx: CommandDeps,
  id: string,
  event: PaymentEvent,
  options: CommandOptions = {},
  extra: Pick<ApplyOptions, 'update'> = {},
): Promise<PaymentView> {
  const key =
    options.idempotencyKey === undefined ? undefined : checkIdempotencyKey(options.idempotencyKey);
  const hash = key === undefined ? undefined : ctx.hashRequest({ id, event: asRequested(event) });
  addToLogContext({ paymentId: id });
  for (let attempt = 0; attempt < COMMAND_ATTEMPTS; attempt++) {
    const record = await settledBeforeCommand(ctx, await loadPayment(ctx, id), event);
    if (key !== undefined && hash !== undefined) {
      if (commandKeyVerdict(engineDataOf(record), key, hash) === 'replay') {
        options.onReplay?.();
        return viewPayment(ctx, id);
      }
    }
    const applied = await ctx.engine.apply(record, event, {
      timeline: [{ at: ctx.clock.now(), kind: 'command', detail: { ...event } }],
      update: (next) => {
        extra.update?.(next);
        if (key !== undefined && hash !== undefined) rememberCommandKey(next, key, hash);
      },
    });
    if (applied.ok) {
      ctx.logger.info({ paymentId: id, command: event.type }, 'command accepted');
      return viewPayment(ctx, id);
    }
    if (applied.reason === 'not_allowed' && applied.waitFor === 'replacement') {
      if (await handedOver(ctx, record)) continue;
      throw await replacementInProgress(ctx, record);
    }
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
 * The command as the merchant sent it, for the idempotency hash: the
 * resource id and the refund policy are ours, and a retry under the same
 * key must match whatever the settings became (and keys stored before
 * commands were resources).
 */
function asRequested(event: PaymentEvent): PaymentEvent {
  if (event.type !== 'capture' && event.type !== 'cancel' && event.type !== 'refund') return event;
  return { type: event.type, amount: event.amount };
}

/**
 * Acting on a payment whose last call has an unknown outcome could act on a
 * wrong belief: Sips is asked first.
 */
async function settledBeforeCommand(
  ctx: ServiceContext,
  record: PaymentRecord,
  event: PaymentEvent,
): Promise<PaymentRecord> {
  if (record.status !== 'outcome_unknown' || event.type.startsWith('review.')) return record;
  const inquired = await ctx.engine.inquireNow(record, `before ${event.type}`);
  if (inquired.outcome === 'unclear') {
    throw new CommandError(
      'outcome_unknown',
      `the outcome of the last call is still unknown (${inquired.detail}); send the command again later`,
    );
  }
  return loadPayment(ctx, record.id);
}

/**
 * A new authorisation that settled without its notice (a crash) hands over
 * now, so the command is tried again on the record it wrote; when this
 * payment is busy, at the notice's next try.
 */
async function handedOver(ctx: CommandDeps, record: PaymentRecord): Promise<boolean> {
  return ctx.handOverIfSettled(record).catch((error: unknown) => {
    if (error instanceof StepRetryError) return false;
    throw error;
  });
}

/**
 * The machine keeps captures and cancels of an authorisation being replaced
 * at its capture limit waiting, so the customer's card never carries two
 * capturable authorisations. A new authorisation in review waits for a
 * person, not for a call: the client is told so, and to come back much later.
 */
async function replacementInProgress(
  ctx: ServiceContext,
  record: PaymentRecord,
): Promise<CommandError> {
  const newPaymentId = reauthorizationOf(record)?.newPaymentId;
  const pending =
    newPaymentId === undefined ? undefined : await ctx.store.get(newPaymentId, { timeline: false });
  const inReview = pending?.status === 'in_review';
  const by = inReview
    ? `${newPaymentId}, which is in review; once ops decide it, capture that one`
    : `${newPaymentId ?? 'a new authorisation being made'}; once that one settles, capture it`;
  return new CommandError(
    'reauthorization_in_progress',
    `this authorisation is being replaced at its capture limit by ${by}, or send this command again if it failed`,
    { retryAfterSeconds: inReview ? 300 : 2 },
  );
}
