/**
 * Starts a private redis-server child process on a free loopback port.
 * Used by the test setup (no persistence) and by `npm start` when no Redis
 * answers at REDIS_URL (AOF on, data kept under a directory of the caller's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { resolve } from 'node:path';

export interface RedisServerOptions {
  /** `none` keeps nothing on disk; `aof` appends every write under `dataDir`. */
  persistence: 'none' | 'aof';
  /** Where AOF files live when persistence is `aof`. @defaultValue `./data/redis` */
  dataDir?: string;
  /** Binary to run. @defaultValue `redis-server` from PATH */
  binary?: string;
  port?: number;
  /** More `redis-server` arguments, after ours (e.g. `--appendfsync always`, `--replicaof h p`). */
  extraArgs?: readonly string[];
}

export interface RedisServerHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Sends a signal (SIGKILL: a crash) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

function ping(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host, port });
    let answer = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolvePing(answer.startsWith('+PONG'));
      }
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolvePing(false);
    });
    socket.on('error', () => resolvePing(false));
  });
}

export async function startRedisServer(options: RedisServerOptions): Promise<RedisServerHandle> {
  const port = options.port ?? (await findFreePort());
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
  ];
  if (options.persistence === 'aof') {
    const dir = resolve(options.dataDir ?? './data/redis');
    mkdirSync(dir, { recursive: true });
    args.push('--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir);
  } else {
    args.push('--appendonly', 'no');
  }
  args.push(...(options.extraArgs ?? []));
  const child: ChildProcess = spawn(options.binary ?? 'redis-server', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let spawnError: Error | undefined;
  child.on('error', (error) => {
    spawnError = error;
  });
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (spawnError) {
      throw new Error(`could not start redis-server: ${spawnError.message}`, { cause: spawnError });
    }
    if (child.exitCode !== null) {
      throw new Error(`redis-server exited with code ${child.exitCode} before answering`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const kill = (signal: NodeJS.Signals) =>
    new Promise<void>((resolveStop) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
      child.once('exit', () => resolveStop());
      child.kill(signal);
    });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => kill('SIGTERM'),
    kill: (signal = 'SIGKILL') => kill(signal),
  };
}

/** True when a Redis server answers PING at this redis:// URL. */
export async function redisAnswers(url: string): Promise<boolean> {
  const parsed = new URL(url);
  if (parsed.password || parsed.protocol !== 'redis:') {
    // Authenticated or TLS servers are checked by the real client instead.
    return true;
  }
  return ping(Number(parsed.port || 6379), parsed.hostname || '127.0.0.1');
}
