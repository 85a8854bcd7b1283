/**
 * `sogenactif payments show ID` and `sogenactif review list|show|resolve`:
 * the ops actions of the HTTP API from a terminal. The API is found at
 * `--api URL` or SOGENACTIF_API_URL (default http://127.0.0.1:3000), the key
 * at `--key` or SOGENACTIF_API_KEY, else, when SIPS_ENV is `simulator` (its
 * default), the development key `npm start` accepts there; the key is never
 * printed. A decision is
 * recorded by the API under the name of that key: the CLI cannot name anyone
 * else.
 */
import { request } from 'undici';
import { describeFailure, type ApiAnswer } from './failure.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from './io.ts';

/**
 * The key `npm start` accepts when SIPS_ENV is `simulator` and API_KEYS is
 * unset (scopes payments and ops).
 */
export const DEV_API_KEY = 'dev-key';

const KEY_HELP = `--key defaults to SOGENACTIF_API_KEY, else to ${DEV_API_KEY} when SIPS_ENV is simulator
(its default); with any other SIPS_ENV a key is required.`;

export const PAYMENTS_USAGE = `usage: sogenactif payments show <id> [--api URL] [--key KEY]

--api defaults to SOGENACTIF_API_URL or http://127.0.0.1:3000.
${KEY_HELP}
`;

export const REVIEW_USAGE = `usage:
  sogenactif review list [--api URL] [--key KEY]
  sogenactif review show <jobId>
  sogenactif review resolve <jobId> --action adopt|mark|reinquire|dismiss --note TEXT
      [--status S] [--force --reason TEXT]

--api defaults to SOGENACTIF_API_URL or http://127.0.0.1:3000.
${KEY_HELP}
A decision is recorded under the name of the API key. --action mark --status S applies S
only when an inquiry at Sips confirms it; --force --reason TEXT applies it without that
confirmation, recorded as forced with the reason.
`;

export interface Parsed {
  positional: string[];
  options: Record<string, string>;
}

/**
 * The flag parser of the CLI commands. `flags` take no value: present, they
 * read as `'true'`. With `positional: false` (a command of options only)
 * anything that is not one of its options, a bare argument included, is
 * refused as `unknown argument ARG`, at the first one met.
 */
export function parse(
  args: readonly string[],
  allowed: readonly string[],
  flags: readonly string[] = [],
  { positional: acceptPositional = true }: { positional?: boolean } = {},
): Parsed {
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      if (!acceptPositional) throw new UsageError(`unknown argument ${arg}`);
      positional.push(arg);
      continue;
    }
    const name = arg.slice(2);
    if (flags.includes(name)) {
      options[name] = 'true';
      continue;
    }
    if (!allowed.includes(name)) {
      throw new UsageError(
        acceptPositional ? `unknown option --${name}` : `unknown argument ${arg}`,
      );
    }
    const value = args[i + 1];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    options[name] = value;
    i++;
  }
  return { positional, options };
}

/**
 * The API key a command sends: `--key`, else SOGENACTIF_API_KEY, else the
 * development key when SIPS_ENV is `simulator` (unset counts as `simulator`).
 */
export function resolveApiKey(
  options: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (options.key === '') throw new UsageError('--key is empty');
  const given = options.key ?? env.SOGENACTIF_API_KEY;
  if (given) return given;
  // As the service reads it: unset is `simulator`, surrounding spaces do not count.
  const environment = (env.SIPS_ENV ?? 'simulator').trim();
  if (environment === 'simulator') return DEV_API_KEY;
  throw new UsageError(
    `no API key: use --key or SOGENACTIF_API_KEY (required when SIPS_ENV=${environment}; ${DEV_API_KEY} applies only with SIPS_ENV=simulator)`,
  );
}

/** One call of the API at `--api` with the key `resolveApiKey` finds; the body parsed when JSON. */
export async function call(
  io: CliIo,
  options: Record<string, string>,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const base = (options.api ?? io.env.SOGENACTIF_API_URL ?? 'http://127.0.0.1:3000').replace(
    /\/+$/,
    '',
  );
  const key = resolveApiKey(options, io.env);
  const response = await request(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: printed as text
  }
  const retryAfter = response.headers['retry-after'];
  return {
    status: response.statusCode,
    json,
    retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
  };
}

/** Prints an answer: a failure with its code's meaning on stderr, anything else as JSON on stdout. */
function print(io: CliIo, result: ApiAnswer): number {
  if (result.status >= 400) {
    io.stderr(describeFailure(result));
    return EXIT_FAILURE;
  }
  const text = typeof result.json === 'string' ? result.json : JSON.stringify(result.json, null, 2);
  io.stdout(`${text}\n`);
  return EXIT_OK;
}

export async function runPayments(args: readonly string[], io: CliIo): Promise<number> {
  const { positional, options } = parse(args, ['api', 'key']);
  const [verb, id] = positional;
  if (verb !== 'show' || !id) throw new UsageError('expected: payments show <id>');
  return print(io, await call(io, options, 'GET', `/v1/payments/${encodeURIComponent(id)}`));
}

export async function runReview(args: readonly string[], io: CliIo): Promise<number> {
  if (args.includes('--by')) {
    throw new UsageError('--by is not accepted: a decision is recorded under the API key name');
  }
  const { positional, options } = parse(
    args,
    ['api', 'key', 'action', 'note', 'status', 'reason'],
    ['force'],
  );
  const [verb, jobId] = positional;
  switch (verb) {
    case 'list': {
      const result = await call(io, options, 'GET', '/v1/reviews');
      if (result.status >= 400) return print(io, result);
      const items = (result.json as { items: Record<string, unknown>[] }).items;
      const rows = items.map((item) =>
        [
          item.jobId,
          item.paymentId,
          item.reason,
          // RFC 3339; a server of an earlier version answers epoch ms.
          new Date(item.enqueuedAt as string | number).toISOString(),
        ].join('  '),
      );
      io.stdout(rows.length === 0 ? 'no open review items\n' : `${rows.join('\n')}\n`);
      return EXIT_OK;
    }
    case 'show':
      if (!jobId) throw new UsageError('expected: review show <jobId>');
      return print(io, await call(io, options, 'GET', `/v1/reviews/${encodeURIComponent(jobId)}`));
    case 'resolve': {
      if (!jobId) throw new UsageError('expected: review resolve <jobId> --action … --note …');
      if (!options.action || !options.note) {
        throw new UsageError('--action and --note are required');
      }
      return print(
        io,
        await call(io, options, 'POST', `/v1/reviews/${encodeURIComponent(jobId)}/resolve`, {
          action: options.action,
          note: options.note,
          ...(options.status ? { status: options.status } : {}),
          ...(options.force ? { force: true } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
        }),
      );
    }
    default:
      throw new UsageError('expected: review list|show|resolve');
  }
}
