/**
 * Merchant wallets (Sips "OneClick"): cards stored under a merchantWalletId,
 * each with a paymentMeanId. Wallets belong to a shop; the same wallet id in
 * two shops names two wallets.
 */
export interface WalletPaymentMean {
  paymentMeanId: string;
  pan: string;
  expiry: string;
  brand: string;
  maskedPan: string;
  alias?: string;
  createdAt: number;
}

export interface Wallet {
  merchantId: string;
  merchantWalletId: string;
  createdAt: number;
  lastActionAt: number;
  means: Map<string, WalletPaymentMean>;
  /** Next paymentMeanId to hand out (ids are never reused within a wallet). */
  nextId: number;
}

export interface WalletStore {
  get(merchantId: string, merchantWalletId: string): Wallet | undefined;
  /** The wallet, created when missing; `created` says which. */
  open(
    merchantId: string,
    merchantWalletId: string,
    now: number,
  ): { wallet: Wallet; created: boolean };
  paymentMean(
    merchantId: string,
    merchantWalletId: string,
    paymentMeanId: string,
  ): WalletPaymentMean | undefined;
  clear(): void;
  size(): number;
}

export function createWalletStore(): WalletStore {
  const wallets = new Map<string, Wallet>();
  const key = (merchantId: string, walletId: string) => `${merchantId}\u0000${walletId}`;
  return {
    get: (merchantId, merchantWalletId) => wallets.get(key(merchantId, merchantWalletId)),
    open(merchantId, merchantWalletId, now) {
      const existing = wallets.get(key(merchantId, merchantWalletId));
      if (existing) return { wallet: existing, created: false };
      const wallet: Wallet = {
        merchantId,
        merchantWalletId,
        createdAt: now,
        lastActionAt: now,
        means: new Map(),
        nextId: 1,
      };
      wallets.set(key(merchantId, merchantWalletId), wallet);
      return { wallet, created: true };
    },
    paymentMean(merchantId, merchantWalletId, paymentMeanId) {
      return wallets.get(key(merchantId, merchantWalletId))?.means.get(paymentMeanId);
    },
    clear: () => wallets.clear(),
    size: () => wallets.size,
  };
}
