/**
 * Lua scripts run with EVALSHA, falling back to EVAL once when the server does
 * not have the script cached (after a restart or a failover). A NOSCRIPT reply
 * means nothing ran, so the fallback never executes a script twice.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A standalone connection or a cluster client: every key of one call shares a slot. */
export type RedisClient = Redis | Cluster;

export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

export function defineScript(name: string, source: string): LuaScript {
  return Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') });
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

export async function runScript(
  redis: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(script.source, keys.length, ...keys, ...args);
  }
}
