/** What a CLI command reads and writes, so commands run the same in a terminal and in tests. */
export interface CliIo {
  /** The whole of standard input. */
  readStdin(): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
/** The command ran and found a problem (e.g. a seal that does not verify). */
export const EXIT_FAILURE = 1;
/** The command was called wrongly: unknown option, missing key, unreadable input. */
export const EXIT_USAGE = 2;

/** A mistake in how the command was called; printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function processIo(): CliIo {
  return {
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) {
        chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      }
      return Buffer.concat(chunks).toString('utf8');
    },
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  };
}
