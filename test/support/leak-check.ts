/**
 * Runs in every test file: any test namespace opened with `openTestNamespace`
 * must be closed by the end of the file, and closing checks that no Redis
 * connection of that namespace (ours or BullMQ's) is still open.
 */
import { afterAll } from 'vitest';
import { openNamespaces } from './namespace.ts';

afterAll(() => {
  const open = [...openNamespaces()];
  if (open.length > 0) {
    throw new Error(`test namespaces left open (call close()): ${open.join(', ')}`);
  }
});
