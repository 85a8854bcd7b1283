/**
 * Lua scripts: loaded from `.lua` files and run with EVALSHA, falling back
 * to EVAL once when the server does not have the script cached (after a
 * restart or a failover). A NOSCRIPT reply means nothing ran, so the
 * fallback never executes a script twice.
 *
 * A script file shares Lua with others through include lines, as BullMQ's
 * scripts do:
 *
 *     --- @include "includes/sections"
 *
 * The line is replaced by the named file (path relative to the including
 * file, `.lua` added when the name has no extension), itself expanded the
 * same way. A file included twice into one script is inserted only the
 * first time; an include that leads back to a file being expanded is an
 * error, and so is a missing file. Each file is read from disk once per
 * process; the compiled code finds the files beside it in dist/ (the build
 * copies them there).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, extname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from '../platform/redis.ts';

export type { RedisClient };

export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

/** A script file or one of its includes is missing, or includes lead in a circle. */
export class LuaScriptError extends Error {
  override readonly name = 'LuaScriptError';
}

function defineScript(name: string, source: string): LuaScript {
  return Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') });
}

const INCLUDE = /^-{2,3}[ \t]*@include[ \t]+(["'])(.+?)\1[ \t;]*$/gm;

const files = new Map<string, string>();
const loaded = new Map<string, LuaScript>();

function readLua(path: string, missing: () => string): string {
  let text = files.get(path);
  if (text === undefined) {
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new LuaScriptError(missing(), { cause: error });
    }
    files.set(path, text);
  }
  return text;
}

function expand(path: string, chain: readonly string[], included: Set<string>): string {
  const root = dirname(chain[0] ?? path);
  const shown = (file: string): string => relative(root, file) || file;
  const text = readLua(path, () =>
    chain.length === 0
      ? `no Lua script file ${path}`
      : `no file ${path} for an include in ${shown(chain.at(-1) as string)}`,
  );
  const stack = [...chain, path];
  return text.replace(INCLUDE, (_line, _quote, target: string) => {
    const file = resolve(dirname(path), extname(target) === '' ? `${target}.lua` : target);
    if (stack.includes(file)) {
      const circle = [...stack.slice(stack.indexOf(file)), file].map(shown).join(' -> ');
      throw new LuaScriptError(`Lua include cycle: ${circle}`);
    }
    if (included.has(file)) return '';
    included.add(file);
    return expand(file, stack, included).replace(/\n+$/, '');
  });
}

/** The script in `file` with its includes expanded (see the header); each file is read once. */
export function loadScript(name: string, file: URL): LuaScript {
  const path = fileURLToPath(file);
  let script = loaded.get(path);
  if (script === undefined) {
    script = defineScript(name, expand(path, [], new Set()));
    loaded.set(path, script);
  }
  return script.name === name ? script : Object.freeze({ ...script, name });
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
