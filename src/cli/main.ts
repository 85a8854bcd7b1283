/**
 * The `sogenactif` command: a small dispatcher. Each subcommand is a module
 * exporting `run…(args, io): Promise<exitCode>`; add a row to COMMANDS.
 */
import { CHECK_MERCHANTS_USAGE, runCheckMerchants } from './check-merchants.ts';
import { EXIT_USAGE, UsageError, processIo, type CliIo } from './io.ts';
import { PAYMENTS_USAGE, REVIEW_USAGE, runPayments, runReview } from './ops.ts';
import { RECONCILE_USAGE, runReconcile } from './reconcile.ts';
import { runSeal, SEAL_USAGE } from './seal.ts';

interface Command {
  summary: string;
  usage: string;
  run(args: readonly string[], io: CliIo): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  seal: {
    summary: 'compute or verify the seal of a JSON message (stdin)',
    usage: SEAL_USAGE,
    run: runSeal,
  },
  payments: {
    summary: 'show a payment (status, amounts, timeline) through the API',
    usage: PAYMENTS_USAGE,
    run: runPayments,
  },
  review: {
    summary: 'list, show and resolve manual-review items through the API',
    usage: REVIEW_USAGE,
    run: runReview,
  },
  reconcile: {
    summary: "a UTC day's payments against what Sips holds (totals, differences)",
    usage: RECONCILE_USAGE,
    run: runReconcile,
  },
  'check-merchants': {
    summary: 'go-live check: one harmless sealed call per configured shop',
    usage: CHECK_MERCHANTS_USAGE,
    run: runCheckMerchants,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  const rows = Object.entries(COMMANDS).map(
    ([name, command]) => `  ${name.padEnd(width)}${command.summary}`,
  );
  return `usage: sogenactif <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nRun "sogenactif <command> --help" for a command's options.\n`;
}

/** Runs the CLI and resolves to its exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`sogenactif: unknown command "${name}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`sogenactif ${name}: ${error.message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
