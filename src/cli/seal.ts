/**
 * `sogenactif seal`: compute or verify the seal of a JSON message read on
 * standard input, printing the data string so an integrator can compare it
 * with their own, character by character.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  ANSWER_UNSEALED_FIELDS,
  computeSealOfData,
  DEFAULT_SEAL_ALGORITHM,
  isSealAlgorithm,
  SEAL_ALGORITHMS,
  sealDataString,
  verifySeal,
  type SealAlgorithm,
} from '../sips/seal.ts';
import { SecretKey } from '../sips/secret-key.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from './io.ts';

export const SEAL_USAGE = `usage: sogenactif seal [--key KEY | --key-file FILE] [--algorithm ALG] [--verify] < message.json

Prints the seal data string and the seal of the JSON message on standard input.
  --key KEY         the secret key (prefer --key-file or SIPS_SECRET_KEY: a key
                    on the command line can end up in the shell history)
  --key-file FILE   read the secret key from FILE (surrounding whitespace ignored)
  --algorithm ALG   ${SEAL_ALGORITHMS.join(' | ')}; default: the message's
                    sealAlgorithm, else ${DEFAULT_SEAL_ALGORITHM}
  --verify          check the message's own seal; exit 1 when it does not match
Environment: SIPS_SECRET_KEY is used when neither --key nor --key-file is given.
`;

async function readKey(
  values: { key?: string; 'key-file'?: string },
  io: CliIo,
): Promise<SecretKey> {
  if (values.key !== undefined && values['key-file'] !== undefined) {
    throw new UsageError('give the key with --key or --key-file, not both');
  }
  let text: string | undefined;
  if (values.key !== undefined) {
    text = values.key;
  } else if (values['key-file'] !== undefined) {
    const file = values['key-file'];
    try {
      text = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new UsageError(`cannot read the key file ${file} (${reason})`);
    }
  } else {
    text = io.env.SIPS_SECRET_KEY;
  }
  if (text === undefined || text.length === 0) {
    throw new UsageError('no secret key: use --key, --key-file or SIPS_SECRET_KEY');
  }
  return new SecretKey(text);
}

function parseMessage(input: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch (error) {
    throw new UsageError(`standard input is not JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError('standard input must be one JSON object');
  }
  return parsed as Record<string, unknown>;
}

function chooseAlgorithm(
  option: string | undefined,
  message: Record<string, unknown>,
): SealAlgorithm {
  if (option !== undefined) {
    if (!isSealAlgorithm(option)) {
      throw new UsageError(`unknown --algorithm ${option}; use ${SEAL_ALGORITHMS.join(', ')}`);
    }
    return option;
  }
  const named = message.sealAlgorithm;
  if (named === undefined || named === null || named === '') return DEFAULT_SEAL_ALGORITHM;
  if (!isSealAlgorithm(named)) {
    throw new UsageError(
      `the message names an unknown sealAlgorithm; use --algorithm with ${SEAL_ALGORITHMS.join(', ')}`,
    );
  }
  return named;
}

export async function runSeal(args: readonly string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        key: { type: 'string' },
        'key-file': { type: 'string' },
        algorithm: { type: 'string' },
        verify: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    // parseArgs quotes a stray positional argument, which may be a mistyped key: never echo it.
    const code = (error as { code?: string }).code;
    throw new UsageError(
      code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? 'this command takes no positional arguments (the message is read from standard input)'
        : (error as Error).message,
    );
  }
  if (values.help) {
    io.stdout(SEAL_USAGE);
    return EXIT_OK;
  }
  const key = await readKey(values, io);
  const message = parseMessage(await io.readStdin());
  const algorithm = chooseAlgorithm(values.algorithm, message);

  if (!values.verify) {
    const data = sealDataString(message);
    io.stdout(
      `algorithm: ${algorithm}\ndata: ${data}\nseal: ${computeSealOfData(data, key, algorithm)}\n`,
    );
    return EXIT_OK;
  }

  const check = verifySeal(message, key, algorithm);
  if (check.valid) {
    io.stdout(`seal ok (${algorithm})\ndata: ${check.data}\nseal: ${check.expected}\n`);
    return EXIT_OK;
  }
  // An answer carrying keyVersion or sealAlgorithm may be sealed over them too.
  const asAnswer = verifySeal(message, key, algorithm, ANSWER_UNSEALED_FIELDS);
  if (asAnswer.valid) {
    io.stdout(
      `seal ok as an answer, over every field but seal (${algorithm}); a request must leave keyVersion and sealAlgorithm out\n` +
        `data: ${asAnswer.data}\nseal: ${asAnswer.expected}\n`,
    );
    return EXIT_OK;
  }
  io.stdout(
    `seal ${check.reason === 'missing' ? 'MISSING' : 'MISMATCH'} (${algorithm})\n` +
      `data: ${check.data}\n` +
      `expected: ${check.expected}\n` +
      `received: ${check.received ?? '(none)'}\n`,
  );
  return EXIT_FAILURE;
}
