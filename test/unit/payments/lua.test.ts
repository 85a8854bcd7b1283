import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadScript, LuaScriptError } from '../../../src/payments/lua.ts';

let root: string;

function files(tree: Record<string, string>): void {
  root = mkdtempSync(join(tmpdir(), 'lua-'));
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const at = (path: string): URL => pathToFileURL(join(root, path));

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('loadScript', () => {
  it('replaces each include line by the file it names, relative to the including file', () => {
    files({
      'main.lua': [
        '-- main',
        '--- @include "includes/a"',
        "--- @include 'includes/b.lua'",
        'return a() + b()',
        '',
      ].join('\n'),
      'includes/a.lua': '--- @include "common"\nlocal function a() return one end\n\n',
      'includes/b.lua': '--- @include "common"\nlocal function b() return one end\n',
      'includes/common.lua': 'local one = 1\n',
    });
    const script = loadScript('test.main', at('main.lua'));
    expect(script.name).toBe('test.main');
    expect(script.source).toBe(
      [
        '-- main',
        'local one = 1',
        'local function a() return one end',
        // common was inserted once, for a: its second include line is left empty.
        '',
        'local function b() return one end',
        'return a() + b()',
        '',
      ].join('\n'),
    );
    expect(script.sha).toBe(createHash('sha1').update(script.source).digest('hex'));
  });

  it('reads a script once: a second load gives the same script', () => {
    files({ 'once.lua': 'return 1\n' });
    const first = loadScript('test.once', at('once.lua'));
    writeFileSync(join(root, 'once.lua'), 'return 2\n');
    expect(loadScript('test.once', at('once.lua'))).toBe(first);
    expect(loadScript('test.again', at('once.lua'))).toEqual({ ...first, name: 'test.again' });
  });

  it('names a missing include and the file that includes it', () => {
    files({
      'main.lua': '--- @include "includes/a"\nreturn 1\n',
      'includes/a.lua': '--- @include "gone"\n',
    });
    const load = () => loadScript('test.missing', at('main.lua'));
    expect(load).toThrow(LuaScriptError);
    expect(load).toThrow(
      `no file ${join(root, 'includes', 'gone.lua')} for an include in ${join('includes', 'a.lua')}`,
    );
  });

  it('names a missing script file', () => {
    files({});
    expect(() => loadScript('test.none', at('none.lua'))).toThrow(
      `no Lua script file ${join(root, 'none.lua')}`,
    );
  });

  it('refuses includes that lead back to a file being expanded, naming the circle', () => {
    files({
      'main.lua': '--- @include "includes/a"\nreturn 1\n',
      'includes/a.lua': '--- @include "b"\n',
      'includes/b.lua': '--- @include "../main"\n',
      'self.lua': '--- @include "self"\n',
    });
    const load = () => loadScript('test.cycle', at('main.lua'));
    expect(load).toThrow(LuaScriptError);
    expect(load).toThrow(
      `Lua include cycle: main.lua -> ${join('includes', 'a.lua')} -> ${join('includes', 'b.lua')} -> main.lua`,
    );
    expect(() => loadScript('test.self', at('self.lua'))).toThrow(
      'Lua include cycle: self.lua -> self.lua',
    );
  });
});

describe('the scripts in the source tree', () => {
  const source = new URL('../../../src/', import.meta.url);
  const scripts = ['payments/lua', 'schedules/lua'].flatMap((folder) =>
    readdirSync(new URL(folder, source))
      .filter((name) => name.endsWith('.lua'))
      .map((name) => `${folder}/${name}`),
  );

  it.each(scripts)('%s expands with every include resolved', (path) => {
    const script = loadScript(path, new URL(path, source));
    expect(script.source).not.toMatch(/@include/);
  });
});
