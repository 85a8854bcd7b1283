/**
 * The Office Server JSON service catalogue: every function we speak, where it
 * lives (`/rs-services/v2/{domain}/{function}`) and its interfaceVersion prefix.
 */
export const SIPS_DOMAINS = ['checkout', 'cashManagement', 'diagnostic', 'wallet'] as const;
export type SipsDomain = (typeof SIPS_DOMAINS)[number];

const PREFIX: Record<SipsDomain, string> = {
  checkout: 'IR_WS_',
  cashManagement: 'CR_WS_',
  diagnostic: 'DR_WS_',
  wallet: 'WR_WS_',
};

export const SIPS_SERVICES = {
  cardOrder: 'checkout',
  walletOrder: 'checkout',
  cardCheckEnrollment: 'checkout',
  walletCheckEnrollment: 'checkout',
  cardValidateAuthentication: 'checkout',
  cardValidateAuthenticationAndOrder: 'checkout',
  paymentProviderInitialize: 'checkout',
  paymentProviderFinalize: 'checkout',
  walletIssuerWalletInitialize: 'checkout',
  walletIssuerWalletFinalize: 'checkout',
  validate: 'cashManagement',
  cancel: 'cashManagement',
  refund: 'cashManagement',
  duplicate: 'cashManagement',
  acceptChallenge: 'cashManagement',
  refuseChallenge: 'cashManagement',
  creditHolder: 'cashManagement',
  walletCreditHolder: 'cashManagement',
  getTransactionData: 'diagnostic',
  addCard: 'wallet',
  getWalletData: 'wallet',
  deletePaymentMean: 'wallet',
} as const satisfies Record<string, SipsDomain>;

export type SipsServiceName = keyof typeof SIPS_SERVICES;

export const SIPS_SERVICE_NAMES = Object.keys(SIPS_SERVICES) as SipsServiceName[];

/** The interface version number used when none is configured (seed: "la dernière interfaceVersion est 2.55"). */
export const DEFAULT_INTERFACE_VERSION = '2.55';

export function isSipsServiceName(name: string): name is SipsServiceName {
  return Object.hasOwn(SIPS_SERVICES, name);
}

export function domainOf(service: SipsServiceName): SipsDomain {
  return SIPS_SERVICES[service];
}

export function interfaceVersionFor(
  service: SipsServiceName,
  version = DEFAULT_INTERFACE_VERSION,
): string {
  return `${PREFIX[domainOf(service)]}${version}`;
}

export function servicePath(service: SipsServiceName): string {
  return `/rs-services/v2/${domainOf(service)}/${service}`;
}

/** Wallet functions answer with walletResponseCode instead of responseCode. */
export function answersWithWalletCode(service: SipsServiceName): boolean {
  return domainOf(service) === 'wallet';
}
