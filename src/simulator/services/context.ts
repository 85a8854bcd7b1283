/**
 * What a function handler gets: the calling shop, the request, the time and
 * the simulator's state. Handlers are synchronous and do no I/O, so a call is
 * processed atomically: a fault that drops the connection afterwards always
 * leaves a complete transaction behind.
 */
import type { IdGenerator } from '../../platform/ids.ts';
import type { SipsServiceName } from '../../sips/services.ts';
import type { CardTable } from '../cards.ts';
import type { Merchant } from '../merchants.ts';
import type { SipsAnswer, SipsRequest } from '../protocol.ts';
import type { TransactionStore } from '../store.ts';
import type { WalletStore } from '../wallets.ts';

export interface Sequences {
  /** Six digits, like the acquirer's authorisation number. */
  authorisationId(): string;
  /** The scheme's identifier of an authorisation, used to chain recurring payments. */
  schemeTransactionIdentifier(): string;
  /** Opaque token (redirectionData, PaReq, PaRes...). */
  token(prefix: string): string;
}

export interface ServiceContext {
  service: SipsServiceName;
  merchant: Merchant;
  body: SipsRequest;
  now: number;
  store: TransactionStore;
  wallets: WalletStore;
  cards: CardTable;
  sequences: Sequences;
  /** Where the simulator is reached from a browser (ACS and provider pages). */
  publicUrl: string;
}

export interface ServiceResult {
  answer: SipsAnswer;
  /** The transaction the call was about, for the ledger. */
  transactionReference?: string;
  maskedPan?: string;
}

export type ServiceHandler = (ctx: ServiceContext) => ServiceResult;

export function createSequences(ids: IdGenerator): Sequences {
  let authorizations = 0;
  return {
    authorisationId: () => String(100000 + (authorizations++ % 900000)),
    schemeTransactionIdentifier: () => ids.next().replace(/[^A-Za-z0-9]/g, ''),
    token: (prefix) => ids.next(prefix),
  };
}
