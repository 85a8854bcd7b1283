/**
 * Amounts for people: integer minor units written with their currency's
 * exponent (EUR 2, JPY 0, KWD 3) and alphabetic code. Digits are placed by
 * string splitting, never by float arithmetic.
 */

/** ISO 4217 numeric code → alphabetic code and exponent (digits after the decimal point). */
const CURRENCIES: Readonly<Record<string, readonly [string, number]>> = {
  '978': ['EUR', 2],
  '840': ['USD', 2],
  '826': ['GBP', 2],
  '756': ['CHF', 2],
  '124': ['CAD', 2],
  '036': ['AUD', 2],
  '554': ['NZD', 2],
  '752': ['SEK', 2],
  '578': ['NOK', 2],
  '208': ['DKK', 2],
  '985': ['PLN', 2],
  '203': ['CZK', 2],
  '348': ['HUF', 2],
  '946': ['RON', 2],
  '949': ['TRY', 2],
  '156': ['CNY', 2],
  '344': ['HKD', 2],
  '702': ['SGD', 2],
  '356': ['INR', 2],
  '986': ['BRL', 2],
  '484': ['MXN', 2],
  '710': ['ZAR', 2],
  '504': ['MAD', 2],
  '392': ['JPY', 0],
  '410': ['KRW', 0],
  '953': ['XPF', 0],
  '952': ['XOF', 0],
  '950': ['XAF', 0],
  '048': ['BHD', 3],
  '414': ['KWD', 3],
  '512': ['OMR', 3],
  '788': ['TND', 3],
  '400': ['JOD', 3],
};

const BY_ALPHA: ReadonlyMap<string, readonly [string, number]> = new Map(
  Object.values(CURRENCIES).map((entry) => [entry[0], entry]),
);

/** The alphabetic code and exponent of a numeric or alphabetic ISO 4217 code, if known. */
export function currencyOf(code: string): { alpha: string; exponent: number } | undefined {
  const known = CURRENCIES[code] ?? BY_ALPHA.get(code.toUpperCase());
  return known ? { alpha: known[0], exponent: known[1] } : undefined;
}

/**
 * `1000, '978'` → `10.00 EUR`; `1000, '392'` → `1000 JPY`; `-5, 'EUR'` →
 * `-0.05 EUR`. An unknown currency keeps its minor units: `1000 minor units (123)`.
 */
export function formatMoney(minor: number | string, currency: string): string {
  const digits = String(minor).trim();
  if (!/^-?\d+$/.test(digits)) return `${digits} (${currency})`;
  const known = currencyOf(currency);
  if (!known) return `${digits} minor units (${currency})`;
  const negative = digits.startsWith('-');
  const unsigned = (negative ? digits.slice(1) : digits).replace(/^0+(?=\d)/, '');
  const { alpha, exponent } = known;
  if (exponent === 0) return `${negative ? '-' : ''}${unsigned} ${alpha}`;
  const padded = unsigned.padStart(exponent + 1, '0');
  const units = padded.slice(0, padded.length - exponent);
  const fraction = padded.slice(padded.length - exponent);
  return `${negative ? '-' : ''}${units}.${fraction} ${alpha}`;
}
