/**
 * Wallet functions. They answer walletResponseCode and walletActionDateTime
 * instead of responseCode (reference §5.7).
 */
import { brandOf } from '../cards.ts';
import { formatDateTime } from '../clock.ts';
import { maskPan } from '../../sips/mask.ts';
import { SipsFailure } from '../protocol.ts';
import type { StoredCard } from '../store.ts';
import type { WalletPaymentMean } from '../wallets.ts';
import type { ServiceContext, ServiceResult } from './context.ts';
import { str } from './fields.ts';

export function storedCardOf(mean: WalletPaymentMean): StoredCard {
  return { pan: mean.pan, expiry: mean.expiry, brand: mean.brand, maskedPan: mean.maskedPan };
}

function meanAnswer(mean: WalletPaymentMean): Record<string, unknown> {
  return {
    paymentMeanId: mean.paymentMeanId,
    maskedPan: mean.maskedPan,
    panExpiryDate: mean.expiry,
    paymentMeanBrand: mean.brand,
    ...(mean.alias ? { paymentMeanAlias: mean.alias } : {}),
  };
}

/** Creates the wallet when needed and adds the card; 94 if the card is already in it. */
export function addCard(ctx: ServiceContext): ServiceResult {
  const merchantWalletId = str(ctx.body, 'merchantWalletId') ?? '';
  const pan = str(ctx.body, 'cardNumber') ?? '';
  const expiry = str(ctx.body, 'cardExpiryDate') ?? '';
  const existing = ctx.wallets.get(ctx.merchant.merchantId, merchantWalletId);
  if (existing && [...existing.means.values()].some((mean) => mean.pan === pan)) {
    throw new SipsFailure('94');
  }
  const { wallet, created } = ctx.wallets.open(ctx.merchant.merchantId, merchantWalletId, ctx.now);
  const alias = str(ctx.body, 'paymentMeanAlias');
  const mean: WalletPaymentMean = {
    paymentMeanId: String(wallet.nextId++),
    pan,
    expiry,
    brand: str(ctx.body, 'paymentMeanBrand') ?? ctx.cards.find(pan)?.brand ?? brandOf(pan),
    maskedPan: maskPan(pan),
    ...(alias ? { alias } : {}),
    createdAt: ctx.now,
  };
  wallet.means.set(mean.paymentMeanId, mean);
  wallet.lastActionAt = ctx.now;
  return {
    answer: {
      walletResponseCode: '00',
      walletActionDateTime: formatDateTime(ctx.now),
      ...(created ? { walletCreationDateTime: formatDateTime(wallet.createdAt) } : {}),
      ...meanAnswer(mean),
    },
    maskedPan: mean.maskedPan,
  };
}

export function getWalletData(ctx: ServiceContext): ServiceResult {
  const wallet = ctx.wallets.get(ctx.merchant.merchantId, str(ctx.body, 'merchantWalletId') ?? '');
  if (!wallet) throw new SipsFailure('25');
  return {
    answer: {
      walletResponseCode: '00',
      walletActionDateTime: formatDateTime(ctx.now),
      walletCreationDateTime: formatDateTime(wallet.createdAt),
      walletLastActionDateTime: formatDateTime(wallet.lastActionAt),
      walletPaymentMeanDataList: [...wallet.means.values()].map(meanAnswer),
    },
  };
}

export function deletePaymentMean(ctx: ServiceContext): ServiceResult {
  const wallet = ctx.wallets.get(ctx.merchant.merchantId, str(ctx.body, 'merchantWalletId') ?? '');
  if (!wallet) throw new SipsFailure('25');
  const paymentMeanId = str(ctx.body, 'paymentMeanId') ?? '';
  const mean = wallet.means.get(paymentMeanId);
  if (!mean) throw new SipsFailure('25');
  wallet.means.delete(paymentMeanId);
  wallet.lastActionAt = ctx.now;
  return {
    answer: { walletResponseCode: '00', walletActionDateTime: formatDateTime(ctx.now) },
    maskedPan: mean.maskedPan,
  };
}
