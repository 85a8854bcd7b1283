/**
 * What the simulator saw and did: every request received (card data masked:
 * the ledger never holds a PAN or a CSC) and every money movement, per
 * transactionReference. Tests assert on it ("exactly one authorisation for
 * this reference"); the request log is a ring buffer so a long benchmark keeps
 * memory flat.
 */

export interface RequestRecord {
  /** Increases by one per request, never reused, even after the ring drops old entries. */
  seq: number;
  /** Simulator clock, epoch ms. */
  at: number;
  /** HTTP path. */
  path: string;
  /** Sips function, when the path names one. */
  service?: string;
  merchantId?: string;
  /** The key version the request names (its seal's key). */
  keyVersion?: string;
  transactionReference?: string;
  /** responseCode (or walletResponseCode) answered, when a Sips answer was sent. */
  responseCode?: string;
  errorFieldName?: string;
  httpStatus?: number;
  /** The fault applied to this request, if any. */
  fault?: string;
  faultId?: string;
  /** The request went through the business logic (store, movements). */
  processed: boolean;
  maskedPan?: string;
  amount?: number;
}

export type MovementKind =
  | 'authorisation'
  | 'duplicateAuthorisation'
  | 'validation'
  | 'cancellation'
  | 'refund'
  | 'capture'
  | 'credit'
  | 'expiry';

export interface Movement {
  seq: number;
  at: number;
  merchantId: string;
  transactionReference: string;
  kind: MovementKind;
  /** Minor units. */
  amount: number;
  currencyCode: string;
  /** The transaction's status after the movement. */
  status: string;
  authorisationId?: string;
  fromTransactionReference?: string;
  /** Released by the simulator rather than asked for (rest of a partial validation). */
  implicit?: true;
}

export interface RequestFilter {
  service?: string;
  merchantId?: string;
  transactionReference?: string;
  responseCode?: string;
  fault?: string;
}

export interface LedgerOptions {
  /** Requests kept (oldest dropped first). @defaultValue 10_000 */
  maxRequests?: number;
  /** Movements kept (oldest dropped first). @defaultValue 1_000_000 */
  maxMovements?: number;
}

export interface Ledger {
  recordRequest(record: Omit<RequestRecord, 'seq'>): RequestRecord;
  recordMovement(movement: Omit<Movement, 'seq'>): Movement;
  requests(filter?: RequestFilter): RequestRecord[];
  /** Movements, of one reference when given (optionally of one merchant). */
  movements(transactionReference?: string, merchantId?: string): Movement[];
  countRequests(filter?: RequestFilter): number;
  /** Accepted authorisations (including duplicate authorisations) of a reference. */
  countAuthorizations(transactionReference: string, merchantId?: string): number;
  countMovements(kind: MovementKind, transactionReference?: string): number;
  /** Requests received since the start (the ring may hold fewer). */
  totalRequests(): number;
  clear(): void;
}

/** A fixed-size ring: O(1) append, oldest entry overwritten when full. */
class Ring<T> {
  #items: T[] = [];
  #start = 0;

  constructor(readonly capacity: number) {}

  /** Appends and returns the entry pushed out, if any. */
  push(item: T): T | undefined {
    if (this.#items.length < this.capacity) {
      this.#items.push(item);
      return undefined;
    }
    const dropped = this.#items[this.#start];
    this.#items[this.#start] = item;
    this.#start = (this.#start + 1) % this.capacity;
    return dropped;
  }

  toArray(): T[] {
    return [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
  }

  clear(): void {
    this.#items = [];
    this.#start = 0;
  }
}

function matches(record: RequestRecord, filter: RequestFilter): boolean {
  return (
    (filter.service === undefined || record.service === filter.service) &&
    (filter.merchantId === undefined || record.merchantId === filter.merchantId) &&
    (filter.transactionReference === undefined ||
      record.transactionReference === filter.transactionReference) &&
    (filter.responseCode === undefined || record.responseCode === filter.responseCode) &&
    (filter.fault === undefined || record.fault === filter.fault)
  );
}

const AUTHORIZATIONS: ReadonlySet<MovementKind> = new Set([
  'authorisation',
  'duplicateAuthorisation',
]);

export function createLedger(options: LedgerOptions = {}): Ledger {
  const maxRequests = Math.max(1, options.maxRequests ?? 10_000);
  const maxMovements = Math.max(1, options.maxMovements ?? 1_000_000);
  const requestRing = new Ring<RequestRecord>(maxRequests);
  const movementRing = new Ring<Movement>(maxMovements);
  // Movements by reference, for the per-reference helpers; kept in step with the ring.
  const byReference = new Map<string, Movement[]>();
  let requestSeq = 0;
  let movementSeq = 0;

  const requests = (filter: RequestFilter = {}) =>
    requestRing.toArray().filter((record) => matches(record, filter));
  const movements = (transactionReference?: string, merchantId?: string) => {
    const list =
      transactionReference === undefined
        ? movementRing.toArray()
        : [...(byReference.get(transactionReference) ?? [])];
    return merchantId === undefined ? list : list.filter((m) => m.merchantId === merchantId);
  };

  return {
    recordRequest(record) {
      const full: RequestRecord = { seq: ++requestSeq, ...record };
      requestRing.push(full);
      return full;
    },
    recordMovement(movement) {
      const full: Movement = { seq: ++movementSeq, ...movement };
      const dropped = movementRing.push(full);
      if (dropped) {
        const list = byReference.get(dropped.transactionReference);
        if (list) {
          list.shift();
          if (list.length === 0) byReference.delete(dropped.transactionReference);
        }
      }
      const list = byReference.get(full.transactionReference);
      if (list) list.push(full);
      else byReference.set(full.transactionReference, [full]);
      return full;
    },
    requests,
    movements,
    countRequests: (filter = {}) => requests(filter).length,
    countAuthorizations: (transactionReference, merchantId) =>
      movements(transactionReference, merchantId).filter((m) => AUTHORIZATIONS.has(m.kind)).length,
    countMovements: (kind, transactionReference) =>
      movements(transactionReference).filter((m) => m.kind === kind).length,
    totalRequests: () => requestSeq,
    clear() {
      requestRing.clear();
      movementRing.clear();
      byReference.clear();
    },
  };
}
