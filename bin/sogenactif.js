#!/usr/bin/env node
// The `sogenactif` command. In a checkout with its development dependencies
// it runs the TypeScript sources through tsx, so it always matches them;
// elsewhere (a production install, the Docker image) it runs the compiled
// CLI under dist/ that `npm run build` writes.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

async function sources() {
  if (!existsSync(new URL('../src/cli/main.ts', import.meta.url))) return undefined;
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
  tsx.register();
  return import('../src/cli/main.ts');
}

const cli = (await sources()) ?? (await import('../dist/src/cli/main.js'));
process.exitCode = await cli.runCli(process.argv.slice(2));
