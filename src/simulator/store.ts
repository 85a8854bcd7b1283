/**
 * Transactions in memory, per shop and transactionReference, with the Sips
 * status rules of reference §7. Remittance and expiry are applied lazily:
 * whenever a transaction is read (by a call or the control API) it is first
 * brought up to the simulator clock, and `settleAll` (POST /_control/remittance)
 * does the same for every transaction at once. The outcome is the same as a
 * nightly batch: a transaction's state only depends on the clock, not on when
 * it was looked at.
 *
 * Amounts (minor units):
 * - `amount` is the authorised amount (originAmount) and never changes;
 * - `cancelledAmount` grows with cancellations, and with the part of a
 *   partial validation that was not validated (released at validation);
 * - before remittance the transaction is worth `amount - cancelledAmount`;
 *   remittance captures exactly that (`capturedAmount`);
 * - after remittance it is worth `capturedAmount - refundedAmount`.
 */
import { DAY_MS, formatDate, startOfDay, type SimulatorClock } from './clock.ts';
import type { Ledger, MovementKind } from './ledger.ts';

export const SIPS_STATUSES = [
  'TO_AUTHORIZE',
  'TO_VALIDATE',
  'TO_CAPTURE',
  'CAPTURED',
  'CANCELLED',
  'TO_CREDIT',
  'CREDITED',
  'REFUSED',
  'EXPIRED',
  'TO_CHALLENGE',
] as const;
export type SipsStatus = (typeof SIPS_STATUSES)[number];

export type CaptureMode = 'AUTHOR_CAPTURE' | 'VALIDATION' | 'IMMEDIATE';

/** A card as the simulator keeps it: in memory only, never in the ledger or a log. */
export interface StoredCard {
  pan: string;
  expiry?: string;
  brand: string;
  maskedPan: string;
}

/**
 * Pending customer redirection: 3-D Secure (ACS), an external provider, or
 * an issuer wallet (walletIssuerWalletInitialize; same provider page).
 */
export interface PendingRedirection {
  kind: 'threeDS' | 'provider' | 'issuerWallet';
  redirectionData: string;
  paReq: string;
  messageVersion: string;
  merchantReturnUrl?: string;
  /** The ACS behaviour of the card ('CHOOSE' lets the tester decide). */
  behaviour: string;
  /** SUCCESS, FAILURE, ATTEMPT, CANCEL, NOT_ENROLLED (3-D Secure); APPROVED, DECLINED, CANCEL (provider, issuer wallet). */
  outcome?: string;
  paRes?: string;
  /** cardValidateAuthentication was called: a later cardOrder may reuse the reference. */
  authenticatedForOrder?: boolean;
}

export interface Transaction {
  readonly key: string;
  readonly merchantId: string;
  readonly transactionReference: string;
  /** The function that created it. */
  readonly service: string;
  status: SipsStatus;
  createdAt: number;
  /** Authorisation (or creation) time. */
  transactionDateTime: number;
  amount: number;
  currencyCode: string;
  captureMode: CaptureMode;
  captureDay: number;
  cancelledAmount: number;
  capturedAmount: number;
  refundedAmount: number;
  validatedAmount?: number;
  /** When the remittance run takes a TO_CAPTURE (or TO_CREDIT) transaction. */
  captureAt?: number;
  /** When a TO_VALIDATE transaction expires. */
  expireAt?: number;
  captureLimitDate?: string;
  /** Status an accepted challenge resumes to. */
  resumeStatus?: 'TO_CAPTURE' | 'TO_VALIDATE';
  card?: StoredCard;
  paymentMeanBrand?: string;
  paymentMeanType: 'CARD' | 'PROVIDER' | 'WALLET';
  merchantWalletId?: string;
  paymentMeanId?: string;
  responseCode: string;
  acquirerResponseCode?: string;
  authorisationId?: string;
  holderAuthentStatus?: string;
  holderAuthentProgram?: string;
  guaranteeIndicator?: string;
  scoreColor?: string;
  cardCSCResultCode?: string;
  paymentPattern: string;
  schemeTransactionIdentifier?: string;
  initialSchemeTransactionIdentifier?: string;
  fromTransactionReference?: string;
  fromMerchantId?: string;
  orderId?: string;
  orderChannel?: string;
  customerId?: string;
  returnContext?: string;
  lastOperationName: string;
  lastOperationDateTime: number;
  redirection?: PendingRedirection;
  /** A credit (creditHolder) rather than a payment. */
  credit?: true;
}

export interface TransactionStoreOptions {
  clock: SimulatorClock;
  ledger: Ledger;
  /** UTC hour of the daily remittance run. @defaultValue 22 */
  remittanceHourUtc?: number;
  /** Transactions kept; the oldest are forgotten first. @defaultValue 1_000_000 */
  maxTransactions?: number;
}

export interface TransactionStore {
  /** The transaction, brought up to the simulator clock first. */
  get(merchantId: string, transactionReference: string): Transaction | undefined;
  has(merchantId: string, transactionReference: string): boolean;
  insert(transaction: Transaction): void;
  /** A transaction by one of its redirection tokens (redirectionData, PaReq, PaRes). */
  byToken(token: string): Transaction | undefined;
  indexToken(token: string, transaction: Transaction): void;
  /** Runs the remittance/expiry rules on every transaction; returns how many changed. */
  settleAll(): number;
  /** Applies due transitions to one transaction. */
  settle(transaction: Transaction): boolean;
  size(): number;
  all(): Transaction[];
  clear(): void;
  /** Next remittance run strictly after `epochMs`. */
  nextRemittance(epochMs: number): number;
  recordMovement(
    transaction: Transaction,
    kind: MovementKind,
    amount: number,
    at: number,
    extra?: { implicit?: true },
  ): void;
}

export function transactionKey(merchantId: string, transactionReference: string): string {
  return `${merchantId}\u0000${transactionReference}`;
}

/** What can still be cancelled/validated (before remittance) or refunded (after). */
export function remainingAmount(tx: Transaction): number {
  switch (tx.status) {
    case 'TO_AUTHORIZE':
    case 'TO_VALIDATE':
    case 'TO_CAPTURE':
    case 'TO_CHALLENGE':
      return tx.amount - tx.cancelledAmount;
    case 'CAPTURED':
      return tx.credit ? 0 : tx.capturedAmount - tx.refundedAmount;
    default:
      return 0;
  }
}

/** The transaction's worth now (see the module comment). */
export function currentAmount(tx: Transaction): number {
  if (tx.credit) return tx.status === 'REFUSED' ? 0 : tx.amount;
  switch (tx.status) {
    case 'CAPTURED':
    case 'CREDITED':
      return tx.capturedAmount - tx.refundedAmount;
    case 'REFUSED':
    case 'CANCELLED':
    case 'EXPIRED':
      return 0;
    default:
      return tx.amount - tx.cancelledAmount;
  }
}

export function createTransactionStore(options: TransactionStoreOptions): TransactionStore {
  const { clock, ledger } = options;
  const remittanceHour = options.remittanceHourUtc ?? 22;
  const maxTransactions = Math.max(1, options.maxTransactions ?? 1_000_000);
  const transactions = new Map<string, Transaction>();
  const tokens = new Map<string, string>();

  function nextRemittance(epochMs: number): number {
    const today = startOfDay(epochMs) + remittanceHour * 60 * 60 * 1000;
    return today > epochMs ? today : today + DAY_MS;
  }

  function recordMovement(
    tx: Transaction,
    kind: MovementKind,
    amount: number,
    at: number,
    extra: { implicit?: true } = {},
  ): void {
    ledger.recordMovement({
      at,
      merchantId: tx.merchantId,
      transactionReference: tx.transactionReference,
      kind,
      amount,
      currencyCode: tx.currencyCode,
      status: tx.status,
      ...(tx.authorisationId ? { authorisationId: tx.authorisationId } : {}),
      ...(tx.fromTransactionReference
        ? { fromTransactionReference: tx.fromTransactionReference }
        : {}),
      ...extra,
    });
  }

  function settle(tx: Transaction): boolean {
    const now = clock.now();
    if (tx.status === 'TO_CAPTURE' && tx.captureAt !== undefined && tx.captureAt <= now) {
      tx.status = 'CAPTURED';
      tx.capturedAmount = tx.amount - tx.cancelledAmount;
      tx.lastOperationName = 'CAPTURE';
      tx.lastOperationDateTime = tx.captureAt;
      recordMovement(tx, 'capture', tx.capturedAmount, tx.captureAt);
      return true;
    }
    if (tx.status === 'TO_VALIDATE' && tx.expireAt !== undefined && tx.expireAt <= now) {
      tx.status = 'EXPIRED';
      tx.lastOperationName = 'EXPIRY';
      tx.lastOperationDateTime = tx.expireAt;
      recordMovement(tx, 'expiry', tx.amount - tx.cancelledAmount, tx.expireAt);
      return true;
    }
    if (tx.status === 'TO_CREDIT' && tx.captureAt !== undefined && tx.captureAt <= now) {
      tx.status = 'CREDITED';
      tx.lastOperationName = 'CREDIT_REMITTANCE';
      tx.lastOperationDateTime = tx.captureAt;
      return true;
    }
    return false;
  }

  function forget(key: string): void {
    const tx = transactions.get(key);
    if (!tx) return;
    transactions.delete(key);
    const r = tx.redirection;
    if (r) {
      tokens.delete(r.redirectionData);
      tokens.delete(r.paReq);
      if (r.paRes) tokens.delete(r.paRes);
    }
  }

  return {
    get(merchantId, transactionReference) {
      const tx = transactions.get(transactionKey(merchantId, transactionReference));
      if (tx) settle(tx);
      return tx;
    },
    has: (merchantId, transactionReference) =>
      transactions.has(transactionKey(merchantId, transactionReference)),
    insert(tx) {
      transactions.set(tx.key, tx);
      while (transactions.size > maxTransactions) {
        const oldest = transactions.keys().next().value;
        if (oldest === undefined) break;
        forget(oldest);
      }
    },
    byToken(token) {
      const key = tokens.get(token);
      const tx = key === undefined ? undefined : transactions.get(key);
      if (tx) settle(tx);
      return tx;
    },
    indexToken(token, tx) {
      tokens.set(token, tx.key);
    },
    settleAll() {
      let changed = 0;
      for (const tx of transactions.values()) {
        // A capture can be followed by nothing else, but loop for safety.
        while (settle(tx)) changed++;
      }
      return changed;
    },
    settle,
    size: () => transactions.size,
    all: () => [...transactions.values()],
    clear() {
      transactions.clear();
      tokens.clear();
    },
    nextRemittance,
    recordMovement,
  };
}

/** Capture limit date and due times for a new authorisation (reference §9). */
export function scheduleAuthorization(
  store: TransactionStore,
  tx: Transaction,
  authorizedAt: number,
): void {
  const due = store.nextRemittance(authorizedAt + tx.captureDay * DAY_MS);
  tx.captureLimitDate = formatDate(due);
  if (tx.captureMode === 'VALIDATION') {
    tx.expireAt = due;
    delete tx.captureAt;
  } else {
    tx.captureAt = due;
    delete tx.expireAt;
  }
}
