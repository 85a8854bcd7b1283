/**
 * The README's error tables, rendered from the error registry
 * (src/platform/errors.ts). They sit between two markers in README.md;
 * `npm run docs:errors` rewrites them and a unit test fails when they differ.
 */
import { ERROR_CODES, ERRORS, type ErrorCode } from '../src/platform/errors.ts';

export const ERRORS_START = '<!-- errors:start -->';
export const ERRORS_END = '<!-- errors:end -->';

const cell = (text: string): string => text.replaceAll('|', '\\|');
const retry = (code: ErrorCode): string => (ERRORS[code].retryable ? 'yes' : 'no');

/** The tables: the codes clients see, then the payments layer's own codes. */
export function errorTables(): string {
  const lines = ['| code | status | retry | meaning |', '|---|---|---|---|'];
  for (const code of ERROR_CODES) {
    const spec = ERRORS[code];
    if (spec.scope === 'payments') continue;
    lines.push(`| \`${code}\` | ${spec.status} | ${retry(code)} | ${cell(spec.meaning)} |`);
  }
  lines.push(
    '',
    'Failures inside the payments layer (store, keyspace, card vault, review',
    'queue) have codes of their own, seen in logs and by code that uses the',
    'layer directly; the API answers them with the public code shown:',
    '',
    '| code | answered as | retry | meaning |',
    '|---|---|---|---|',
  );
  for (const code of ERROR_CODES) {
    const spec = ERRORS[code];
    if (spec.scope !== 'payments') continue;
    lines.push(`| \`${code}\` | \`${spec.answeredAs}\` | ${retry(code)} | ${cell(spec.meaning)} |`);
  }
  return lines.join('\n');
}

/** The README with the text between the markers replaced by the tables. */
export function withErrorTables(readme: string): string {
  const start = readme.indexOf(ERRORS_START);
  const end = readme.indexOf(ERRORS_END);
  if (start === -1 || end < start) {
    throw new Error(
      `README.md needs ${ERRORS_START} and then ${ERRORS_END} around the error table`,
    );
  }
  return `${readme.slice(0, start + ERRORS_START.length)}\n${errorTables()}\n${readme.slice(end)}`;
}
