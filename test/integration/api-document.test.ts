/**
 * The OpenAPI document against the live route table: every `/v1` route the
 * app serves is documented with its method, and every documented operation
 * is served, so the document cannot drift from the routes unnoticed.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import { openApiDocument } from '../../src/api/openapi/document.ts';
import {
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

let h: OrchestratorHarness;
let app: FastifyInstance;

beforeAll(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({ orchestrator: h.orchestrator, apiKeys: parseApiKeys('ops:ops-secret:ops') });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * `METHOD /path/{param}` of every route, read from Fastify's route tree
 * (`printRoutes`: one segment per line, four columns per level).
 */
function liveOperations(tree: string): Set<string> {
  const stack: string[] = [];
  const operations = new Set<string>();
  for (const line of tree.split('\n')) {
    const at = line.indexOf('── ');
    if (at < 0) continue;
    const depth = Math.floor(at / 4);
    const match = /^(\S+)(?: \(([^)]*)\))?/.exec(line.slice(at + 3));
    if (!match) continue;
    stack.length = depth;
    stack.push(match[1] as string);
    const path =
      stack
        .join('')
        .replace(/:([A-Za-z0-9_]+)/g, '{$1}')
        .replace(/\/$/, '') || '/';
    for (const method of (match[2] ?? '').split(',').map((m) => m.trim())) {
      if (METHODS.includes(method)) operations.add(`${method} ${path}`);
    }
  }
  return operations;
}

function documentedOperations(): Set<string> {
  const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
  const operations = new Set<string>();
  for (const [path, item] of Object.entries(paths)) {
    for (const method of Object.keys(item)) {
      if (METHODS.includes(method.toUpperCase())) operations.add(`${method.toUpperCase()} ${path}`);
    }
  }
  return operations;
}

describe('the OpenAPI document', () => {
  it('documents every /v1 route the app serves, and nothing it does not serve', () => {
    const live = [...liveOperations(app.printRoutes({ commonPrefix: false }))].filter((op) =>
      op.split(' ')[1]?.startsWith('/v1/'),
    );
    const documented = [...documentedOperations()].filter((op) =>
      op.split(' ')[1]?.startsWith('/v1/'),
    );
    expect(live.length).toBeGreaterThan(30);
    expect(live.filter((op) => !documented.includes(op)).sort(), 'served, not documented').toEqual(
      [],
    );
    expect(documented.filter((op) => !live.includes(op)).sort(), 'documented, not served').toEqual(
      [],
    );
  });

  it('names every operation', () => {
    const paths = openApiDocument().paths as Record<
      string,
      Record<string, { operationId?: string }>
    >;
    const ids: string[] = [];
    for (const item of Object.values(paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (METHODS.includes(method.toUpperCase())) {
          ids.push(operation.operationId ?? `(${method})`);
        }
      }
    }
    expect(ids.filter((id) => id.startsWith('('))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
