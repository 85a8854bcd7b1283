/**
 * `npm run lint:openapi`: writes the OpenAPI document (src/api/openapi/document.ts)
 * to .tmp/openapi.json and lints it with Redocly's recommended rules
 * (redocly.yaml). Exits non-zero on any error; warnings are printed only.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { openApiDocument } from '../src/api/openapi/document.ts';

const root = resolve(import.meta.dirname, '..');
const path = resolve(root, '.tmp/openapi.json');
mkdirSync(resolve(root, '.tmp'), { recursive: true });
writeFileSync(path, `${JSON.stringify(openApiDocument(), null, 2)}\n`);

const cli = createRequire(import.meta.url).resolve('@redocly/cli/bin/cli.js');
const result = spawnSync(
  process.execPath,
  [
    cli,
    'lint',
    path,
    '--format',
    'stylish',
    '--config',
    resolve(root, 'redocly.yaml'),
    '--max-problems',
    '1000',
  ],
  {
    cwd: root,
    stdio: 'inherit',
    // No usage report and no update check: the lint reads nothing but the file.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  },
);
process.exit(result.status ?? 1);
