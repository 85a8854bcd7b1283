/**
 * Child processes of the benchmark (simulator, step workers): started with the
 * same Node and tsx, their stdout read line by line, their stderr passed to
 * ours, and every one of them killed when the benchmark exits, however it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export interface BenchChild {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves with the first stdout line `accept` returns a value for. */
  waitForLine<T>(accept: (line: string) => T | undefined, timeoutMs?: number): Promise<T>;
  /** Resident set size from /proc/<pid>/status (VmRSS), MiB. */
  rssMb(): number;
  /** CPU time used so far (user + system), seconds. */
  cpuSeconds(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
const cleanups = new Set<() => void>();

function killAll(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
  for (const cleanup of cleanups) cleanup();
  cleanups.clear();
}

/**
 * Runs `cleanup` (synchronously) if the benchmark exits or is interrupted
 * before it was done; for processes started elsewhere (the redis-server).
 * Returns a function that forgets it.
 */
export function onAbnormalExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** VmRSS of a process in MiB, or NaN when it cannot be read. */
export function rssOfPid(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU time of a process in seconds, or NaN when it cannot be read. */
export function cpuSecondsOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here (0-based 11, 12).
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** USER_HZ: 100 on Linux for every architecture Node runs on. */
const CLOCK_TICKS = 100;

/** CPU seconds all processes of the machine spent busy so far (/proc/stat), or NaN. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    const busy = ticks.slice(0, 8).reduce((sum, value, index) => {
      return index === 3 || index === 4 ? sum : sum + value;
    }, 0);
    return busy / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

const ROOT = resolve(import.meta.dirname, '..');

/**
 * Runs a TypeScript entry point as `node --import tsx <file>` (one process,
 * so its pid is the one doing the work), `preload` modules imported first. stdout lines are offered to
 * `waitForLine` and otherwise copied to our stderr; stdin stays open as a
 * lifeline the child may watch.
 */
export function startTsChild(
  name: string,
  file: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
  preload: readonly string[] = [],
): BenchChild {
  const args = [
    ...nodeArgs,
    '--import',
    'tsx',
    ...preload.flatMap((module) => ['--import', pathToFileURL(resolve(ROOT, module)).href]),
    resolve(ROOT, file),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const waiters = new Set<(line: string) => boolean>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    for (const waiter of waiters) if (waiter(line)) return;
    process.stderr.write(`[${name}] ${line}\n`);
  });
  const exited = new Promise<void>((resolveExit) => {
    if (child.exitCode !== null) resolveExit();
    child.once('exit', () => resolveExit());
  });

  return {
    name,
    get pid() {
      return child.pid ?? -1;
    },
    process: child,
    waitForLine<T>(accept: (line: string) => T | undefined, timeoutMs = 30_000): Promise<T> {
      return new Promise<T>((resolveLine, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name}: no expected line within ${timeoutMs} ms`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          reject(new Error(`${name} exited (code ${code}) before the expected line`));
        };
        const waiter = (line: string): boolean => {
          const value = accept(line);
          if (value === undefined) return false;
          clearTimeout(timer);
          waiters.delete(waiter);
          child.off('exit', onExit);
          resolveLine(value);
          return true;
        };
        waiters.add(waiter);
        child.once('exit', onExit);
      });
    },
    rssMb: () => (child.pid === undefined ? Number.NaN : rssOfPid(child.pid)),
    cpuSeconds: () => (child.pid === undefined ? Number.NaN : cpuSecondsOfPid(child.pid)),
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A JSON stdout line parsed, or undefined when the line is not JSON. */
export function jsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
