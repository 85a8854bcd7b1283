/** One handler per Office function. */
import type { SipsServiceName } from '../../sips/services.ts';
import { acceptChallenge, cancel, refund, refuseChallenge, validate } from './cash-management.ts';
import type { ServiceHandler } from './context.ts';
import { getTransactionData } from './diagnostic.ts';
import { walletIssuerWalletFinalize, walletIssuerWalletInitialize } from './issuer-wallet.ts';
import { cardOrder, creditHolder, duplicate, walletCreditHolder, walletOrder } from './orders.ts';
import { paymentProviderFinalize, paymentProviderInitialize } from './provider.ts';
import {
  cardCheckEnrollment,
  cardValidateAuthentication,
  cardValidateAuthenticationAndOrder,
  walletCheckEnrollment,
} from './three-d-secure.ts';
import { addCard, deletePaymentMean, getWalletData } from './wallet.ts';

export const SERVICE_HANDLERS: Readonly<Record<SipsServiceName, ServiceHandler>> = {
  cardOrder,
  walletOrder,
  cardCheckEnrollment,
  walletCheckEnrollment,
  cardValidateAuthentication,
  cardValidateAuthenticationAndOrder,
  paymentProviderInitialize,
  paymentProviderFinalize,
  walletIssuerWalletInitialize,
  walletIssuerWalletFinalize,
  validate,
  cancel,
  refund,
  duplicate,
  acceptChallenge,
  refuseChallenge,
  creditHolder,
  walletCreditHolder,
  getTransactionData,
  addCard,
  getWalletData,
  deletePaymentMean,
};
