/**
 * The one responseCode table (architecture §6). Every code Sips is known to
 * answer has a row; the row says what the answer means for money and whether
 * anything may be retried. Nothing else in the code base matches on codes or
 * on message text: it asks this table.
 */

/**
 * How the client reports an answer: done (`ok`), a definitive refusal of the
 * payment (`refused`), our request rejected (`invalid`), not processed, try
 * again (`retryable`), or the transaction not finished yet (`pending`: its
 * outcome is unknown, never a refusal).
 */
export type OutcomeKind = 'ok' | 'refused' | 'pending' | 'retryable' | 'invalid';

/**
 * What the engine does next:
 * - `advance`: the operation was done;
 * - `retry`: not processed, try again later with backoff (90, 99 only);
 * - `final`: a definitive answer, never retried;
 * - `inquire`: the answer contradicts what we believe (24, 94) or says the
 *   transaction is not finished (60, 62): read the transaction with
 *   getTransactionData before deciding.
 */
export type NextAction = 'advance' | 'retry' | 'final' | 'inquire';

export interface ResponseCodeInfo {
  readonly code: string;
  readonly kind: OutcomeKind;
  readonly action: NextAction;
  readonly meaning: string;
  /** Counted as a technical refusal in the go-live figures (90, 97, 99). */
  readonly technical?: true;
  /** Our configuration is wrong (seal, key version, contract): alert someone. */
  readonly alert?: true;
  /**
   * The few words the console prints after the code (`response code 05,
   * refused`); a code without them is printed alone.
   */
  readonly label?: string;
}

function row(
  code: string,
  kind: OutcomeKind,
  action: NextAction,
  meaning: string,
  flags: { technical?: true; alert?: true; label?: string } = {},
): ResponseCodeInfo {
  return Object.freeze({ code, kind, action, meaning, ...flags });
}

const TABLE: readonly ResponseCodeInfo[] = [
  row('00', 'ok', 'advance', 'accepted, operation done', { label: 'accepted' }),
  row('01', 'ok', 'advance', 'partial success (token functions)'),
  row(
    '02',
    'refused',
    'final',
    'authorisation must be requested by phone (card ceiling exceeded)',
    { label: 'referral' },
  ),
  row('03', 'invalid', 'final', 'invalid merchant contract', {
    alert: true,
    label: 'invalid merchant',
  }),
  row('04', 'refused', 'final', 'unknown error reported by Sips'),
  row('05', 'refused', 'final', 'authorisation refused', { label: 'refused' }),
  row('11', 'refused', 'final', 'PAN blocked'),
  row('12', 'invalid', 'final', 'invalid transaction or request parameters', {
    label: 'invalid transaction',
  }),
  row('14', 'refused', 'final', 'invalid PAN or payment mean data', { label: 'invalid card' }),
  row('17', 'refused', 'final', 'cancelled by the customer', {
    label: 'cancelled by the customer',
  }),
  row('24', 'invalid', 'inquire', 'operation not compatible with the transaction status', {
    label: 'operation not allowed',
  }),
  row('25', 'invalid', 'final', 'transaction unknown to Sips', { label: 'transaction not found' }),
  row('30', 'invalid', 'final', 'format error', { label: 'format error' }),
  row('34', 'invalid', 'final', 'fraud suspicion: seal or key version rejected', {
    alert: true,
    label: 'fraud suspected',
  }),
  row('40', 'invalid', 'final', 'function not enabled for this merchant', {
    alert: true,
    label: 'not supported',
  }),
  row('51', 'refused', 'final', 'amount too high', { label: 'insufficient funds' }),
  row('54', 'refused', 'final', 'payment mean expired', { label: 'card expired' }),
  row('55', 'refused', 'final', 'prepaid cards not accepted'),
  row('57', 'refused', 'final', 'refund refused: original transaction was unpaid'),
  // Pending, not refused (reference §6.1: Odoo maps 60 to "pending"; 62 waits
  // for the provider's confirmation): the payment may still be authorised,
  // so ending it refused could lose a payment the customer made.
  row('60', 'pending', 'inquire', 'transaction pending', { label: 'pending' }),
  row('62', 'pending', 'inquire', 'waiting for confirmation'),
  row('63', 'refused', 'final', 'security rules not observed, transaction stopped', {
    label: 'security rules',
  }),
  row('75', 'refused', 'final', 'too many payment data entry attempts', {
    label: 'too many attempts',
  }),
  row('90', 'retryable', 'retry', 'service temporarily unavailable', {
    technical: true,
    label: 'service unavailable',
  }),
  row('94', 'invalid', 'inquire', 'transactionReference already used', { label: 'duplicate' }),
  row('97', 'refused', 'final', 'session timed out at Sips, transaction refused', {
    technical: true,
    label: 'timeout',
  }),
  row('99', 'retryable', 'retry', 'temporary problem on the Sips server', {
    technical: true,
    label: 'Sips problem',
  }),
];

const BY_CODE: ReadonlyMap<string, ResponseCodeInfo> = new Map(
  TABLE.map((info) => [info.code, info]),
);

export const RESPONSE_CODES: readonly ResponseCodeInfo[] = TABLE;

/**
 * The row for a code. A code missing from the table is a refusal that is
 * never retried: retrying an answer we do not understand could move money twice.
 */
export function describeResponseCode(code: string): ResponseCodeInfo {
  return (
    BY_CODE.get(code) ?? row(code, 'refused', 'final', `response code ${code} not in the table`)
  );
}

export function isRetryableCode(code: string): boolean {
  return describeResponseCode(code).action === 'retry';
}
