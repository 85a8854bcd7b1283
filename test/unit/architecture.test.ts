/**
 * The layout of architecture §3 held against the code: no import cycle, no
 * import against the layer direction, no module or function too large to
 * read. The checks are proven on a planted tree that breaks each rule.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { functionSizes, moduleLines } from '../support/code-size.ts';
import { findCycles, layerViolations, readImportGraph } from '../support/import-graph.ts';
import { LAYERS } from './architecture.layers.ts';

const root = resolve(import.meta.dirname, '../..');
const SOURCE_FOLDERS = ['src', 'machines', 'workers'];
/** Architecture budget: past these a module or a function no longer reads as one thing. */
const MAX_MODULE_LINES = 500;
const MAX_FUNCTION_LINES = 150;

describe('the layout', () => {
  const graph = readImportGraph(root, SOURCE_FOLDERS);

  it('has no import cycle', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('imports only down the layers, and never an entry point', () => {
    expect(layerViolations(graph, LAYERS)).toEqual([]);
  });

  it(`has no module over ${MAX_MODULE_LINES} lines and no function over ${MAX_FUNCTION_LINES}`, () => {
    const modules = graph.files.map((file) => ({
      where: file,
      lines: moduleLines(join(root, file)),
    }));
    const functions = graph.files.flatMap((file) => functionSizes(join(root, file), file));
    expect({
      modules: modules.filter((module) => module.lines > MAX_MODULE_LINES),
      functions: functions.filter((fn) => fn.lines > MAX_FUNCTION_LINES),
    }).toEqual({ modules: [], functions: [] });
  });
});

describe('the layout checks', () => {
  const planted = mkdtempSync(join(tmpdir(), 'layout-'));
  afterAll(() => rmSync(planted, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(join(planted, path, '..'), { recursive: true });
    writeFileSync(join(planted, path), text);
  };
  write('src/platform/clock.ts', "import { Store } from '../payments/store.ts';\n");
  write('src/payments/store.ts', "import type { Step } from './step.ts';\nexport class Store {}\n");
  write('src/payments/step.ts', "import { Store } from './store.ts';\nexport type Step = Store;\n");
  write('src/payments/uses-worker.ts', "import '../../workers/main.ts';\n");
  write('workers/main.ts', "import { Store } from '../src/payments/store.ts';\n");
  write('src/payments/long.ts', `export function long() {\n${'  void 0;\n'.repeat(200)}}\n`);
  const graph = readImportGraph(planted, ['src', 'workers']);

  it('find a planted cycle, type-only imports included', () => {
    expect(findCycles(graph)).toEqual([['src/payments/step.ts', 'src/payments/store.ts']]);
  });

  it('find an import up the layers and an import of an entry point', () => {
    expect(layerViolations(graph, LAYERS)).toEqual([
      'src/payments/uses-worker.ts -> workers/main.ts (entry points is an entry point)',
      'src/platform/clock.ts -> src/payments/store.ts (platform is below payments)',
    ]);
  });

  it('measure a function', () => {
    const [long] = functionSizes(join(planted, 'src/payments/long.ts'), 'long.ts');
    expect(long).toEqual({ where: 'long.ts:1 long', lines: 202 });
  });
});
