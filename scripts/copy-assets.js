// Copies the files the compiled code reads at run time (the Lua scripts)
// from the source folders to the same places under dist/, beside the
// compiled modules that load them. Any other file there that is neither
// TypeScript (compiled by tsc) nor documentation stops the build, so a new
// kind of run-time file is added to ASSETS rather than missing from dist/.
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const folders = ['src', 'workers', 'machines'];
const ASSETS = new Set(['.lua']);
const NOT_NEEDED = new Set(['.ts', '.md']);

let copied = 0;
const unknown = [];
for (const folder of folders) {
  for (const entry of readdirSync(join(repo, folder), { recursive: true })) {
    const path = String(entry);
    const source = join(repo, folder, path);
    if (!statSync(source).isFile() || NOT_NEEDED.has(extname(path))) continue;
    if (!ASSETS.has(extname(path))) {
      unknown.push(join(folder, path));
      continue;
    }
    const target = join(repo, 'dist', folder, path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    copied++;
  }
}
if (unknown.length > 0) {
  throw new Error(`files of no known kind (add their extension to ASSETS): ${unknown.join(', ')}`);
}
if (copied === 0) throw new Error('no Lua scripts found to copy');
console.log(`copied ${copied} run-time files to dist/`);
