/**
 * Issuer wallets (PAYLIB-type) stored in the shop's Sips wallet, paid in
 * OneClick: walletIssuerWalletInitialize creates a TO_AUTHORIZE transaction
 * and sends the customer to the issuer wallet's pages, then
 * walletIssuerWalletFinalize authorises.
 *
 * The data dictionary's page says the redirection is the "POST form to
 * external suppliers" and that the customer comes back to merchantReturnUrl,
 * exactly like paymentProviderInitialize / paymentProviderFinalize. Where the
 * dictionary could not be read, the simulator takes the reading closest to
 * those and to walletOrder:
 *
 * - the wallet must exist (an unknown merchantWalletId answers 12 naming it,
 *   as walletOrder does); paymentMeanId is optional (absent from the
 *   dictionary's sample) and, when given, must name a stored payment mean
 *   (else 12 naming it), whose card then goes through the card table at
 *   finalisation;
 * - the issuer wallet's pages are the simulator's provider page (Approve /
 *   Decline / Cancel), posting merchantId, messageVersion and redirectionData
 *   back to merchantReturnUrl;
 * - finalisation answers like paymentProviderFinalize: 00 (the amount rules,
 *   and the card table for a stored card, apply; the customer authenticated
 *   with the issuer wallet), 05 declined, 17 cancelled, 60 while the customer
 *   has not come back, 24 once finalised; it adds walletType (the issuer
 *   wallet's brand) and panEntryMode WALLET;
 * - the answer's paymentMeanBrand is the issuer wallet's (PAYLIB), the card's
 *   brand is in cardScheme.
 *
 * An accepted payment is an ordinary authorisation (one `authorisation`
 * movement), then captured, cancelled or refunded like any other.
 */
import { SipsFailure } from '../protocol.ts';
import type { StoredCard } from '../store.ts';
import {
  newTransaction,
  orderAnswer,
  requireNewReference,
  requireReference,
} from './authorization.ts';
import type { ServiceContext, ServiceResult } from './context.ts';
import { str } from './fields.ts';
import { awaitAtProviderPage, finalizeExternal, pendingExternal } from './provider.ts';
import { storedCardOf } from './wallet.ts';

/** The shop's wallet and, when the request names one, its stored payment mean. */
function issuerWalletOf(ctx: ServiceContext): {
  merchantWalletId: string;
  paymentMeanId?: string;
  card?: StoredCard;
} {
  const merchantWalletId = str(ctx.body, 'merchantWalletId') ?? '';
  const wallet = ctx.wallets.get(ctx.merchant.merchantId, merchantWalletId);
  if (!wallet) throw new SipsFailure('12', { errorFieldName: 'merchantWalletId' });
  const paymentMeanId = str(ctx.body, 'paymentMeanId');
  if (paymentMeanId === undefined) return { merchantWalletId };
  const mean = wallet.means.get(paymentMeanId);
  if (!mean) throw new SipsFailure('12', { errorFieldName: 'paymentMeanId' });
  return { merchantWalletId, paymentMeanId, card: storedCardOf(mean) };
}

export function walletIssuerWalletInitialize(ctx: ServiceContext): ServiceResult {
  const reference = requireReference(ctx);
  requireNewReference(ctx, reference);
  const { merchantWalletId, paymentMeanId, card } = issuerWalletOf(ctx);
  const brand = str(ctx.body, 'paymentMeanBrand') ?? 'PAYLIB';
  const tx = newTransaction(ctx, reference, {
    paymentMeanType: 'WALLET',
    merchantWalletId,
    ...(paymentMeanId !== undefined ? { paymentMeanId } : {}),
    ...(card ? { card } : {}),
    lastOperationName: 'WALLET_ISSUER_INITIALIZE',
  });
  // The issuer wallet's brand, not the stored card's (newTransaction sets that one).
  tx.paymentMeanBrand = brand;
  const { accepted } = awaitAtProviderPage(ctx, tx, 'issuerWallet');
  return {
    answer: {
      ...accepted,
      transactionReference: reference,
      paymentMeanBrand: brand,
      maskedPan: card?.maskedPan,
    },
    transactionReference: reference,
    ...(card ? { maskedPan: card.maskedPan } : {}),
  };
}

export function walletIssuerWalletFinalize(ctx: ServiceContext): ServiceResult {
  const tx = pendingExternal(ctx, 'issuerWallet');
  finalizeExternal(ctx, tx);
  return {
    answer: {
      ...orderAnswer(ctx, tx),
      transactionStatus: tx.status,
      walletType: tx.paymentMeanBrand,
      panEntryMode: 'WALLET',
    },
    transactionReference: tx.transactionReference,
    ...(tx.card ? { maskedPan: tx.card.maskedPan } : {}),
  };
}
