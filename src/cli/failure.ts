/**
 * A failure answer of the API told in a terminal: the problem's code, its
 * meaning from the error registry, the server's detail, and whether sending
 * the same request again can help.
 */
import { ERRORS, isErrorCode } from '../platform/errors.ts';

/** An answer of the API, its body parsed as JSON when it is JSON. */
export interface ApiAnswer {
  status: number;
  json: unknown;
  /** The `Retry-After` header, in seconds, when the API sent one. */
  retryAfter?: string | undefined;
}

interface Problem {
  code: string;
  detail?: unknown;
  field?: unknown;
}

function isProblem(json: unknown): json is Problem {
  return (
    typeof json === 'object' &&
    json !== null &&
    typeof (json as { code?: unknown }).code === 'string'
  );
}

/** The registry's meaning for a terminal: no Markdown quoting. */
export function meaningOf(code: string): string | undefined {
  return isErrorCode(code) ? ERRORS[code].meaning.replaceAll('`', '') : undefined;
}

/** The lines printed for a failed API call (a 4xx or 5xx answer). */
export function describeFailure(answer: ApiAnswer): string {
  const { json, status } = answer;
  if (!isProblem(json)) {
    const text = typeof json === 'string' ? json : JSON.stringify(json, null, 2);
    return `HTTP ${status}\n${text}\n`;
  }
  const meaning = meaningOf(json.code);
  const lines = [`${json.code} (HTTP ${status})${meaning ? `: ${meaning}` : ''}`];
  if (typeof json.detail === 'string' && json.detail !== '') lines.push(`  ${json.detail}`);
  if (typeof json.field === 'string') lines.push(`  field: ${json.field}`);
  if (isErrorCode(json.code) && ERRORS[json.code].retryable) {
    lines.push(
      answer.retryAfter
        ? `  send the same request again in ${answer.retryAfter} s`
        : '  send the same request again later',
    );
  }
  return `${lines.join('\n')}\n`;
}
