/** `npm run docs:errors`: writes the README's error tables from the error registry. */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { withErrorTables } from './error-table.ts';

const path = resolve(import.meta.dirname, '../README.md');
const before = readFileSync(path, 'utf8');
const after = withErrorTables(before);
if (after === before) {
  process.stdout.write('README.md: the error tables are up to date\n');
} else {
  writeFileSync(path, after);
  process.stdout.write('README.md: error tables rewritten from src/platform/errors.ts\n');
}
