/**
 * Workers-only processes (`workers/main.ts`) as children of the test, for
 * crash tests: started with an environment of their own, known ready once
 * they log that the step workers run, and killed with SIGKILL like a machine
 * that loses power. Their output is kept (the last 64 KiB) for diagnostics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));
const KEEP_OUTPUT = 64 * 1024;
/** Variables the configuration reads that the test sets itself or leaves unset. */
const CONFIG_VARIABLE =
  /^(SIPS_|REDIS_URL$|KEY_PREFIX$|SHARDS$|CARD_VAULT_|WORKER_|RETRY_|INQUIRY_|STALLED_|LOCK_|LOG_LEVEL$|DATA_DIR$|WEBHOOK_|METRICS_PORT$)/;

/** Children still running: killed if the test process exits before they do. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface WorkerProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** Resolves when the process logged that its step workers run; rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly isReady: boolean;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<string>;
  readonly alive: boolean;
  output(): string;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
}

export function startWorkerProcess(name: string, env: Record<string, string>): WorkerProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !CONFIG_VARIABLE.test(key)),
  );
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: REPOSITORY,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  let ready = false;
  let alive = true;
  let markReady: () => void = () => undefined;
  let failStart: (error: Error) => void = () => undefined;
  const readyPromise = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failStart = reject;
  });
  // Nobody has to wait for readiness: a process killed while starting is fine.
  readyPromise.catch(() => undefined);
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-KEEP_OUTPUT);
    if (!ready && output.includes('"msg":"step workers running"')) {
      ready = true;
      markReady();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      running.delete(child);
      const how = signal ?? `code ${String(code)}`;
      if (!ready) failStart(new Error(`worker ${name} exited (${how}) before it was ready`));
      resolve(how);
    });
  });
  return {
    name,
    pid: child.pid,
    ready: readyPromise,
    get isReady() {
      return ready;
    },
    exited,
    get alive() {
      return alive;
    },
    output: () => output,
    async kill() {
      if (alive) child.kill('SIGKILL');
      await exited;
    },
  };
}
