import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_SCHEMA_PATH, clientSchemaSource } from '../../scripts/client-schema.ts';

/** `line N: <committed> / <regenerated>` at the first line that differs, or undefined. */
function firstDifference(committed: string, regenerated: string): string | undefined {
  const before = committed.split('\n');
  const after = regenerated.split('\n');
  for (let i = 0; i < Math.max(before.length, after.length); i++) {
    if (before[i] !== after[i]) {
      return `line ${i + 1}: ${JSON.stringify(before[i])} / ${JSON.stringify(after[i])}`;
    }
  }
  return undefined;
}

describe('the typed client (clients/typescript)', () => {
  it('has the schema of the OpenAPI document as it is (npm run client:generate)', async () => {
    const committed = readFileSync(CLIENT_SCHEMA_PATH, 'utf8');
    const regenerated = await clientSchemaSource();
    expect(
      firstDifference(committed, regenerated),
      'clients/typescript/src/schema.ts differs from the OpenAPI document: run `npm run client:generate`',
    ).toBeUndefined();
  });
});
