/** `npm run client:generate`: writes the typed client's schema from the OpenAPI document. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { CLIENT_SCHEMA_PATH, clientSchemaSource } from './client-schema.ts';

const path = relative(process.cwd(), CLIENT_SCHEMA_PATH);
const after = await clientSchemaSource();
if (existsSync(CLIENT_SCHEMA_PATH) && readFileSync(CLIENT_SCHEMA_PATH, 'utf8') === after) {
  process.stdout.write(`${path}: up to date\n`);
} else {
  writeFileSync(CLIENT_SCHEMA_PATH, after);
  process.stdout.write(`${path}: written from the OpenAPI document\n`);
}
