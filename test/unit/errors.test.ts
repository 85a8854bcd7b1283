import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  ERRORS_END,
  ERRORS_START,
  errorTables,
  withErrorTables,
} from '../../scripts/error-table.ts';
import { ApiError, sendError } from '../../src/api/problems.ts';
import { describeFailure } from '../../src/cli/failure.ts';
import { CommandError } from '../../src/engine/errors.ts';
import { PaymentsError } from '../../src/payments/errors.ts';
import {
  ERROR_CODES,
  ERRORS,
  PROBLEM_CODES,
  problemOf,
  type PaymentErrorCode,
} from '../../src/platform/errors.ts';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('the error registry', () => {
  it('names every code once, in snake_case', () => {
    for (const code of ERROR_CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('gives every public code an HTTP error status, and every internal code a public answer', () => {
    for (const code of ERROR_CODES) {
      const spec = ERRORS[code];
      expect(spec.meaning.length, code).toBeGreaterThan(0);
      expect(spec.meaning, code).not.toContain('\n');
      if (spec.scope === 'payments') {
        expect(PROBLEM_CODES, code).toContain(spec.answeredAs);
      } else {
        expect(spec.status, code).toBeGreaterThanOrEqual(400);
        expect(spec.status, code).toBeLessThan(600);
      }
    }
  });

  it('has every code raised somewhere in src/', () => {
    const registry = join(root, 'src/platform/errors.ts');
    const text = sourceFiles(join(root, 'src'))
      .filter((file) => file !== registry)
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const unused = ERROR_CODES.filter((code) => !text.includes(`'${code}'`));
    expect(unused).toEqual([]);
  });

  it('gives the error classes their status and retry verdict', () => {
    const busy = new CommandError('payment_busy', 'send again');
    expect([busy.status, busy.retryable]).toEqual([409, true]);
    const invalid = new CommandError('invalid_command', 'amount is required', { field: 'amount' });
    expect([invalid.status, invalid.retryable, invalid.field]).toEqual([400, false, 'amount']);
    const leak = new PaymentsError('card_data_leak', 'card data in an event');
    expect([leak.code, leak.retryable]).toEqual(['card_data_leak', false]);
  });

  it('answers an internal code with its public code and status', () => {
    expect(problemOf('card_data_leak')).toEqual({ code: 'invalid_command', status: 400 });
    expect(problemOf('payment_record_corrupt')).toEqual({ code: 'internal_error', status: 500 });
    expect(problemOf('payment_busy')).toEqual({ code: 'payment_busy', status: 409 });
  });
});

describe('the API answers by registry lookup', () => {
  async function answer(error: Error) {
    const app = Fastify({ logger: false });
    app.setErrorHandler((thrown, request, reply) => sendError(reply, thrown as Error, request));
    app.get('/v1/x', async () => {
      throw error;
    });
    const response = await app.inject({ method: 'GET', url: '/v1/x' });
    await app.close();
    return { status: response.statusCode, headers: response.headers, body: response.json() };
  }

  it('answers every payments code as the registry says', async () => {
    for (const code of ERROR_CODES) {
      const spec = ERRORS[code];
      if (spec.scope !== 'payments') continue;
      const { status, body } = await answer(new PaymentsError(code as PaymentErrorCode, 'why'));
      const expected = problemOf(code);
      expect({ status, code: body.code }, code).toEqual(expected);
      expect(body.detail, code).toBe(
        expected.code === 'internal_error'
          ? 'an unexpected error occurred; nothing was lost'
          : 'why',
      );
    }
  });

  it('answers command and HTTP refusals with their own code, status and retry hint', async () => {
    const busy = await answer(new CommandError('request_in_progress', 'still running'));
    expect(busy.status).toBe(409);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.body).toMatchObject({ code: 'request_in_progress', detail: 'still running' });
    const forbidden = await answer(new ApiError('forbidden', 'this API key lacks the ops scope'));
    expect(forbidden).toMatchObject({ status: 403, body: { code: 'forbidden', status: 403 } });
    expect(forbidden.headers['retry-after']).toBeUndefined();
  });
});

describe('the CLI tells a failure by its code', () => {
  it("prints the code, the registry's meaning, the detail and the field", () => {
    const text = describeFailure({
      status: 400,
      json: { code: 'invalid_command', detail: 'amount is required', field: 'amount' },
    });
    expect(text).toBe(
      'invalid_command (HTTP 400): the command does not parse; field names the faulty part\n' +
        '  amount is required\n' +
        '  field: amount\n',
    );
  });

  it('says when sending again can help', () => {
    const text = describeFailure({
      status: 409,
      json: { code: 'payment_busy', detail: 'the payment kept changing' },
      retryAfter: '1',
    });
    expect(text).toContain(`payment_busy (HTTP 409): ${ERRORS.payment_busy.meaning}`);
    expect(text).toContain('send the same request again in 1 s');
  });

  it('prints an unknown code or a body that is not a problem as it came', () => {
    expect(describeFailure({ status: 418, json: { code: 'teapot', detail: 'short' } })).toBe(
      'teapot (HTTP 418)\n  short\n',
    );
    expect(describeFailure({ status: 502, json: 'Bad Gateway' })).toBe('HTTP 502\nBad Gateway\n');
  });
});

describe("the README's error tables", () => {
  it('are the tables written from the registry (npm run docs:errors)', () => {
    const start = readme.indexOf(ERRORS_START);
    const end = readme.indexOf(ERRORS_END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    expect(readme.slice(start + ERRORS_START.length, end).trim()).toBe(errorTables());
    expect(withErrorTables(readme)).toBe(readme);
  });

  it('list every code, each once', () => {
    const listed = [...errorTables().matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1]);
    expect(listed).toEqual(ERROR_CODES);
  });

  it('are told apart from a README that drifted', () => {
    const drifted = readme.replace(
      '| `payment_busy` | 409 | yes |',
      '| `payment_busy` | 409 | no |',
    );
    expect(drifted).not.toBe(readme);
    expect(withErrorTables(drifted)).toBe(readme);
  });
});
