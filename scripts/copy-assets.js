// Copies the files the compiled code reads at run time (the Lua scripts)
// from the source folders to the same places under dist/, beside the
// compiled modules that load them.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const folders = ['src', 'workers', 'machines'];

let copied = 0;
for (const folder of folders) {
  for (const path of readdirSync(join(repo, folder), { recursive: true })) {
    if (!String(path).endsWith('.lua')) continue;
    const target = join(repo, 'dist', folder, String(path));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(repo, folder, String(path)), target);
    copied++;
  }
}
if (copied === 0) throw new Error('no Lua scripts found to copy');
