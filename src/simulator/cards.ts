/**
 * Deterministic test cards and amounts: what an authorisation answers is a
 * pure function of the card, the amount and the context (authenticated or
 * not, customer- or merchant-initiated), never of chance. README.md carries
 * the same table for people.
 */

/** What the simulated ACS does for an enrolled card. */
export type ThreeDSBehaviour = 'CHOOSE' | 'SUCCESS' | 'FAILURE' | 'ATTEMPT' | 'NOT_ENROLLED';

export interface TestCard {
  pan: string;
  brand: string;
  label: string;
  /** responseCode of an authorisation with this card. */
  responseCode: string;
  acquirerResponseCode?: string;
  /** @defaultValue 'CHOOSE': enrolled, the tester picks the outcome on the ACS page */
  threeDS?: ThreeDSBehaviour;
  /** ORANGE puts an accepted authorisation in TO_CHALLENGE. */
  scoreColor?: 'GREEN' | 'ORANGE' | 'RED';
  /** Refused 05 / A1 (SCA required) unless authenticated or merchant-initiated. */
  softDecline?: boolean;
}

export const SIMULATOR_CARDS: readonly TestCard[] = [
  { pan: '4000000000000002', brand: 'VISA', label: 'accepted', responseCode: '00' },
  { pan: '4000000000000119', brand: 'VISA', label: 'refused 05', responseCode: '05' },
  { pan: '4000000000000127', brand: 'VISA', label: 'expired card 54', responseCode: '54' },
  {
    pan: '4000000000000135',
    brand: 'VISA',
    label: 'soft decline A1 unless authenticated',
    responseCode: '00',
    softDecline: true,
  },
  {
    pan: '4000000000000143',
    brand: 'VISA',
    label: 'orange score: TO_CHALLENGE',
    responseCode: '00',
    scoreColor: 'ORANGE',
  },
  {
    pan: '4000000000003001',
    brand: 'VISA',
    label: '3-D Secure: challenge succeeds',
    responseCode: '00',
    threeDS: 'SUCCESS',
  },
  {
    pan: '4000000000003019',
    brand: 'VISA',
    label: '3-D Secure: challenge fails',
    responseCode: '00',
    threeDS: 'FAILURE',
  },
  {
    pan: '4000000000003027',
    brand: 'VISA',
    label: '3-D Secure: attempt',
    responseCode: '00',
    threeDS: 'ATTEMPT',
  },
  {
    pan: '4000000000003035',
    brand: 'VISA',
    label: '3-D Secure: not enrolled',
    responseCode: '00',
    threeDS: 'NOT_ENROLLED',
  },
  {
    pan: '5100000000000511',
    brand: 'MASTERCARD',
    label: 'insufficient funds 51',
    responseCode: '51',
  },
];

/** The cards quoted for the real recette and simulation platforms (reference §10). */
export const REFERENCE_CARDS: readonly TestCard[] = [
  { pan: '5017679110380400', brand: 'CB', label: 'recette CB accepted', responseCode: '00' },
  { pan: '5017679110380905', brand: 'CB', label: 'recette CB refused 05', responseCode: '05' },
  { pan: '4200000000000000', brand: 'CB', label: 'simulation CB accepted', responseCode: '00' },
  { pan: '4100000000000005', brand: 'VISA', label: 'simulation VISA refused', responseCode: '05' },
  { pan: '4100000000000000', brand: 'VISA', label: 'simulation VISA accepted', responseCode: '00' },
  {
    pan: '5100000000000000',
    brand: 'MASTERCARD',
    label: 'simulation MasterCard accepted',
    responseCode: '00',
  },
];

/**
 * Amounts whose last five digits are 990XX answer XX, for these XX. Chosen so
 * that ordinary amounts (and benchmark amounts) never hit a rule by accident.
 */
export const AMOUNT_RULE_CODES: ReadonlySet<string> = new Set([
  '02',
  '05',
  '11',
  '14',
  '51',
  '54',
  '63',
]);

/** Codes the opt-in "last two digits" mode can select; other endings are accepted. */
export const LAST_TWO_DIGITS_CODES: ReadonlySet<string> = new Set([
  '00',
  '02',
  '05',
  '11',
  '12',
  '14',
  '51',
  '54',
  '55',
  '57',
  '63',
  '75',
]);

export function brandOf(pan: string): string {
  if (pan.startsWith('4')) return 'VISA';
  if (/^(5[1-5]|2[2-7])/.test(pan)) return 'MASTERCARD';
  if (/^3[47]/.test(pan)) return 'AMEX';
  return 'CB';
}

export interface CardTable {
  find(pan: string): TestCard | undefined;
  list(): TestCard[];
  readonly lastTwoDigits: boolean;
}

export interface CardTableOptions {
  /** Extra or replacement rows, matched before the built-in ones. */
  cards?: readonly TestCard[];
  /** Cards outside the table answer the code in their last two digits. @defaultValue false */
  lastTwoDigits?: boolean;
}

export function createCardTable(options: CardTableOptions = {}): CardTable {
  const byPan = new Map<string, TestCard>();
  for (const card of [...SIMULATOR_CARDS, ...REFERENCE_CARDS, ...(options.cards ?? [])]) {
    byPan.set(card.pan, card);
  }
  return {
    find: (pan) => byPan.get(pan),
    list: () => [...byPan.values()],
    lastTwoDigits: options.lastTwoDigits ?? false,
  };
}

export interface AuthorizationInput {
  pan: string;
  /** YYYYMM, when known. */
  expiry?: string | undefined;
  amount: number;
  now: number;
  /** 3-D Secure succeeded or was attempted, or authentication data came with the order. */
  authenticated: boolean;
  /** RECURRING_N, duplicate: out of scope of strong customer authentication. */
  merchantInitiated: boolean;
}

export interface AuthorizationDecision {
  responseCode: string;
  acquirerResponseCode: string;
  brand: string;
  scoreColor?: 'GREEN' | 'ORANGE' | 'RED';
  /** Accepted but held for the merchant's decision (orange score). */
  challenge: boolean;
}

/**
 * The recette platform's rule, from the original page: the expiry date "doit
 * être supérieure au mois en cours" (must be after the current month), so a
 * card that expires this month is refused like one already expired.
 */
function expired(expiry: string | undefined, now: number): boolean {
  if (!expiry || !/^\d{6}$/.test(expiry)) return false;
  const date = new Date(now);
  const current = date.getUTCFullYear() * 100 + date.getUTCMonth() + 1;
  return Number(expiry) <= current;
}

/** The acquirer code that goes with a refusal code. */
function acquirerCodeFor(responseCode: string): string {
  return responseCode === '00' ? '00' : responseCode;
}

export function decideAuthorization(
  table: CardTable,
  input: AuthorizationInput,
): AuthorizationDecision {
  const card = table.find(input.pan);
  const brand = card?.brand ?? brandOf(input.pan);
  const refuse = (responseCode: string, acquirerResponseCode = acquirerCodeFor(responseCode)) => ({
    responseCode,
    acquirerResponseCode,
    brand,
    challenge: false,
  });

  if (expired(input.expiry, input.now)) return refuse('54');
  if (card && card.responseCode !== '00') {
    return refuse(card.responseCode, card.acquirerResponseCode);
  }
  if (card?.softDecline && !input.authenticated && !input.merchantInitiated) {
    return refuse('05', 'A1');
  }
  const lastFive = input.amount % 100000;
  if (lastFive >= 99000 && lastFive < 99100) {
    const code = String(lastFive - 99000).padStart(2, '0');
    if (AMOUNT_RULE_CODES.has(code)) return refuse(code);
  }
  if (!card && table.lastTwoDigits) {
    const code = input.pan.slice(-2);
    if (code !== '00' && LAST_TWO_DIGITS_CODES.has(code)) return refuse(code);
  }
  const scoreColor = card?.scoreColor;
  return {
    responseCode: '00',
    acquirerResponseCode: '00',
    brand,
    ...(scoreColor ? { scoreColor } : {}),
    challenge: scoreColor === 'ORANGE',
  };
}

/** How the ACS treats a card at enrolment. */
export function threeDSBehaviourOf(table: CardTable, pan: string): ThreeDSBehaviour {
  return table.find(pan)?.threeDS ?? 'CHOOSE';
}
