/**
 * Finds something that looks like a card number in free text, in linear time.
 *
 * The rule: a *chain* is a run of digit groups joined by single separators
 * (space, `.`, `-` or `_`): `4539 1488 0343 6467`, `4539.1488.0343.6467`,
 * `4539148803436467`. Any other character ends a chain, letters included, so
 * `c=4539148803436467` and `card4539148803436467` hold one. A card number is
 * a window of whole consecutive groups of a chain adding up to 12 to 19
 * digits that passes the Luhn check; a group is never split, so a run of more
 * than 19 digits holds none, while `ORD-4539-1488-0343-6467` and
 * `4539 1488 0343 6467 2030` do. Slashes do not join groups: URL paths and
 * dates (`/orders/2026/04/15/1234`) would too often add up to a number.
 *
 * Never a card number, however their digits fall:
 * - a UUID, and an alphanumeric token of 32 hex characters or more (digests,
 *   signatures, form tokens);
 * - a dotted IPv4 address (four groups of 1 to 3 digits);
 * - a single run of exactly 13 digits starting with `1`: an epoch
 *   millisecond timestamp (2001-2286); no 13-digit card range starts with 1.
 *
 * The check is Luhn alone, so one number in ten of those lengths passes:
 * numeric order ids of 12 digits or more will now and then be taken for a
 * card number.
 */

/** Fewest and most digits of a card number (ISO/IEC 7812). */
export const PAN_MIN_DIGITS = 12;
export const PAN_MAX_DIGITS = 19;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Where a card number was found: the span of its chain window (digits and separators). */
export interface PanMatch {
  index: number;
  length: number;
}

const isDigit = (code: number): boolean => code >= 48 && code <= 57;

/** Space, `.`, `-`, `_`. */
const isSeparator = (code: number): boolean =>
  code === 32 || code === 46 || code === 45 || code === 95;

/**
 * UUIDs and long hex tokens, not preceded or followed by a letter or digit.
 * Linear: each alternative starts only at a token's first character, and the
 * lookahead fails at most once per character of that token.
 */
const HEX_TOKEN =
  /(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,})(?![0-9A-Za-z])/gi;

/** The text with UUIDs and hex tokens blotted out (same length, so indexes hold). */
function withoutHexTokens(text: string): string {
  HEX_TOKEN.lastIndex = 0;
  if (!HEX_TOKEN.test(text)) return text;
  return text.replace(HEX_TOKEN, (token) => '#'.repeat(token.length));
}

/** True when `text` holds at least `atLeast` decimal digits, wherever they are. */
export function hasDigits(text: string, atLeast: number): boolean {
  let found = 0;
  for (let i = 0; i < text.length; i++) {
    if (isDigit(text.charCodeAt(i)) && ++found >= atLeast) return true;
  }
  return false;
}

/** Group boundaries of a chain: `starts[k]` to `ends[k]` (exclusive). */
interface Chain {
  starts: number[];
  ends: number[];
  /** Every separator of the chain is a dot. */
  dotsOnly: boolean;
}

function isIpv4(chain: Chain): boolean {
  if (!chain.dotsOnly || chain.starts.length !== 4) return false;
  return chain.starts.every((start, k) => (chain.ends[k] as number) - start <= 3);
}

function isMillisecondTimestamp(text: string, chain: Chain, first: number, last: number): boolean {
  if (first !== last) return false;
  const start = chain.starts[first] as number;
  return (chain.ends[first] as number) - start === 13 && text.charCodeAt(start) === 49;
}

/**
 * The first window of whole groups of 12-19 digits passing Luhn. For each
 * last group, groups are added leftwards while the digits fit, and the Luhn
 * sum is carried along from the right: at most 19 digits per group are read.
 */
function windowInChain(text: string, chain: Chain): PanMatch | undefined {
  if (isIpv4(chain)) return undefined;
  const { starts, ends } = chain;
  for (let last = 0; last < starts.length; last++) {
    let digits = 0;
    let sum = 0;
    for (let first = last; first >= 0; first--) {
      const start = starts[first] as number;
      const end = ends[first] as number;
      if (digits + (end - start) > PAN_MAX_DIGITS) break;
      for (let i = end - 1; i >= start; i--) {
        let d = text.charCodeAt(i) - 48;
        if (digits % 2 === 1) {
          d *= 2;
          if (d > 9) d -= 9;
        }
        sum += d;
        digits++;
      }
      if (
        digits >= PAN_MIN_DIGITS &&
        sum % 10 === 0 &&
        !isMillisecondTimestamp(text, chain, first, last)
      ) {
        return { index: start, length: (ends[last] as number) - start };
      }
    }
  }
  return undefined;
}

/** Each chain of the text, with the first card-number-like window in it, if any. */
function* chainsOf(text: string): Generator<{ start: number; end: number; found?: PanMatch }> {
  if (text.length < PAN_MIN_DIGITS || !hasDigits(text, PAN_MIN_DIGITS)) return;
  const scanned = withoutHexTokens(text);
  const n = scanned.length;
  let i = 0;
  while (i < n) {
    if (!isDigit(scanned.charCodeAt(i))) {
      i++;
      continue;
    }
    const chain: Chain = { starts: [], ends: [], dotsOnly: true };
    let j = i;
    for (;;) {
      const start = j;
      while (j < n && isDigit(scanned.charCodeAt(j))) j++;
      chain.starts.push(start);
      chain.ends.push(j);
      const next = scanned.charCodeAt(j);
      if (j + 1 < n && isSeparator(next) && isDigit(scanned.charCodeAt(j + 1))) {
        if (next !== 46) chain.dotsOnly = false;
        j++;
        continue;
      }
      break;
    }
    const found = windowInChain(scanned, chain);
    yield found ? { start: i, end: j, found } : { start: i, end: j };
    i = j;
  }
}

/** The first card-number-like window in `text`, or undefined. */
export function findCardNumber(text: string): PanMatch | undefined {
  for (const chain of chainsOf(text)) {
    if (chain.found) return chain.found;
  }
  return undefined;
}

/** True when the text holds something that looks like a card number. */
export function containsCardNumber(text: string): boolean {
  return findCardNumber(text) !== undefined;
}

/** The text with every chain holding a card-number-like window replaced by `[redacted]`. */
export function redactCardNumbers(text: string): string {
  let out = '';
  let copied = 0;
  for (const chain of chainsOf(text)) {
    if (!chain.found) continue;
    out += `${text.slice(copied, chain.start)}[redacted]`;
    copied = chain.end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
