/** The payment commands merchants use: the `payments` face of the orchestrator. */
import type { LimitPolicy, EngineData } from '../engine/engine-data.ts';
import {
  AmountCommand,
  AuthenticationReturn,
  CreatePaymentCommand,
  DuplicateCommand,
  parseCommand,
} from '../payments/commands.ts';
import { createHash } from 'node:crypto';
import type { PaymentEvent } from '../../machines/contract.ts';
import { operationIdFor } from './operations-views.ts';
import { CommandError } from '../engine/errors.ts';
import { DEFAULT_MERCHANT_ID } from '../engine/engine.ts';
import type { PaymentRecord } from '../payments/store.ts';
import type { Clock } from '../platform/clock.ts';
import type { CommandOptions } from './context.ts';
import { applyCommand, type CommandDeps } from './payment-commands.ts';
import { createPayment, type CreatedPayment } from './payment-create.ts';
import { cardOf, parseOrThrow } from './parse.ts';
import { loadPayment, viewPayment, type PaymentView } from './views.ts';

const DAY_MS = 86_400_000;

export interface PaymentCommands {
  create(command: unknown, options?: CommandOptions): Promise<CreatedPayment>;
  get(id: string): Promise<PaymentView>;
  capture(id: string, command: unknown, options?: CommandOptions): Promise<PaymentView>;
  cancel(id: string, command: unknown, options?: CommandOptions): Promise<PaymentView>;
  refund(id: string, command: unknown, options?: CommandOptions): Promise<PaymentView>;
  duplicate(id: string, command: unknown, options?: CommandOptions): Promise<CreatedPayment>;
  acceptChallenge(id: string, options?: CommandOptions): Promise<PaymentView>;
  refuseChallenge(id: string, options?: CommandOptions): Promise<PaymentView>;
  /** The browser came back from the ACS or the provider with these fields. */
  completeAuthentication(id: string, returned: unknown): Promise<PaymentView>;
}

export function createPaymentCommands(ctx: CommandDeps): PaymentCommands {
  const amountCommand =
    (type: 'capture' | 'cancel' | 'refund') =>
    (id: string, input: unknown, options: CommandOptions = {}): Promise<PaymentView> => {
      const { amount } = parseOrThrow(parseCommand(AmountCommand, input));
      // Each command is a resource with its own id (and Location).
      const operationId = operationIdFor(ctx.ids, id, type, options.idempotencyKey);
      options.onOperation?.(operationId);
      const event: PaymentEvent =
        type === 'refund'
          ? {
              type,
              amount,
              operationId,
              beforeRemittance: ctx.refundBeforeRemittance,
            }
          : { type, amount, operationId };
      return applyCommand(ctx, id, event, options);
    };
  return {
    create: (input, options = {}) => createFromCommand(ctx, input, options),
    get: (id) => viewPayment(ctx, id),
    capture: amountCommand('capture'),
    cancel: amountCommand('cancel'),
    refund: amountCommand('refund'),
    duplicate: (id, input, options = {}) => duplicateFromCommand(ctx, id, input, options),
    acceptChallenge: (id, options) => applyCommand(ctx, id, { type: 'accept_challenge' }, options),
    refuseChallenge: (id, options) => applyCommand(ctx, id, { type: 'refuse_challenge' }, options),
    async completeAuthentication(id, input) {
      const returned = parseOrThrow(parseCommand(AuthenticationReturn, input));
      return applyCommand(
        ctx,
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
}

async function createFromCommand(
  ctx: CommandDeps,
  input: unknown,
  options: CommandOptions,
): Promise<CreatedPayment> {
  const parsed = parseOrThrow(parseCommand(CreatePaymentCommand, input));
  const merchantId = merchantOf(ctx, parsed.merchant);
  const command = withMerchantDefaults(parsed, input, ctx.merchantDefaults(merchantId));
  const request: EngineData['request'] = { captureDay: command.captureDay };
  if (command.returnUrl) request.returnUrl = command.returnUrl;
  if (command.paymentMeanBrand) request.paymentMeanBrand = command.paymentMeanBrand;
  if (command.wallet) {
    request.wallet = {
      merchantWalletId: command.wallet.merchantWalletId,
      paymentMeanId: command.wallet.paymentMeanId,
    };
  }
  if (command.capture) request.capture = captureScheduleOf(ctx.clock, command.capture);
  const merchant: PaymentRecord['merchant'] = { id: merchantId };
  if (command.orderId) merchant.orderId = command.orderId;
  if (command.customer?.id) merchant.customerId = command.customer.id;
  if (command.customer?.email) merchant.customerEmail = command.customer.email;
  if (command.customer?.ipAddress) merchant.customerIpAddress = command.customer.ipAddress;
  if (command.metadata) merchant.metadata = command.metadata;
  return createPayment(
    ctx,
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
    scopedToMerchant(merchantId, options),
  );
}

async function duplicateFromCommand(
  ctx: CommandDeps,
  id: string,
  input: unknown,
  options: CommandOptions,
): Promise<CreatedPayment> {
  const command = parseOrThrow(parseCommand(DuplicateCommand, input));
  const source = await loadPayment(ctx, id);
  // The copy is made under the source's shop, which must still be served.
  const shop = source.merchant.id ?? DEFAULT_MERCHANT_ID;
  if (shop !== DEFAULT_MERCHANT_ID) merchantOf(ctx, shop);
  return createPayment(
    ctx,
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
    scopedToMerchant(shop, options),
  );
}

function captureScheduleOf(
  clock: Clock,
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

/**
 * The shop a new payment belongs to: the one named, which must be
 * configured; without a name, the only one, or `default`.
 */
export function merchantOf(ctx: Pick<CommandDeps, 'merchants'>, named: string | undefined): string {
  const known = ctx.merchants();
  if (named !== undefined) {
    if (!known.includes(named)) {
      throw new CommandError('invalid_command', `merchant ${named} is not configured`, {
        field: 'merchant',
      });
    }
    return named;
  }
  if (known.length === 1) return known[0] as string;
  if (known.includes(DEFAULT_MERCHANT_ID)) return DEFAULT_MERCHANT_ID;
  throw new CommandError(
    'invalid_command',
    'merchant is required: this deployment serves several',
    {
      field: 'merchant',
    },
  );
}

/**
 * Idempotency keys are the merchant's own: the same key sent for two shops
 * makes two payments, and one shop never learns of another's keys. The
 * merchant `default` keeps the keys as sent (as before merchants existed).
 */
export function scopedToMerchant(merchant: string, options: CommandOptions): CommandOptions {
  if (merchant === DEFAULT_MERCHANT_ID || options.idempotencyKey === undefined) return options;
  const digest = createHash('sha256').update(options.idempotencyKey, 'utf8').digest('base64url');
  return { ...options, idempotencyKey: `m:${merchant}:${digest}` };
}

/**
 * The shop's defaults (MERCHANTS_FILE) for what the command left out. Applied
 * before the request hash is taken, so a replay of the same command is
 * recognised whatever the file says later.
 */
function withMerchantDefaults(
  command: CreatePaymentCommand,
  input: unknown,
  defaults: ReturnType<CommandDeps['merchantDefaults']>,
): CreatePaymentCommand {
  const sent = (input ?? {}) as Record<string, unknown>;
  // A shop that authenticates every card: a command naming no method is a 3-D Secure card payment.
  const method =
    sent.method === undefined && defaults.threeDSecure === true
      ? { method: 'card_3ds' as const }
      : {};
  return {
    ...command,
    ...method,
    ...(sent.captureMode === undefined && defaults.captureMode !== undefined
      ? { captureMode: defaults.captureMode }
      : {}),
    ...(sent.captureDay === undefined && defaults.captureDay !== undefined
      ? { captureDay: defaults.captureDay }
      : {}),
  };
}
