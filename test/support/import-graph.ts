/**
 * The import graph of the source tree, read with TypeScript's own
 * pre-processor (no type check), and the two rules the layout keeps: no
 * import cycle, and imports only down the layers of architecture §3.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export interface ImportGraph {
  /** Repository-relative paths with forward slashes. */
  files: string[];
  /** file -> files it imports (relative imports that resolve inside the tree). */
  edges: Map<string, string[]>;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
}

const toPosix = (path: string): string => path.split(sep).join('/');

export function readImportGraph(root: string, folders: readonly string[]): ImportGraph {
  const absolute: string[] = [];
  for (const folder of folders) walk(resolve(root, folder), absolute);
  const known = new Set(absolute);
  const edges = new Map<string, string[]>();
  for (const file of absolute) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets: string[] = [];
    for (const imported of info.importedFiles) {
      if (!imported.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), imported.fileName);
      if (known.has(target)) targets.push(toPosix(relative(root, target)));
    }
    edges.set(toPosix(relative(root, file)), [...new Set(targets)].sort());
  }
  return { files: [...edges.keys()].sort(), edges };
}

/** Every cycle of files (strongly connected components of more than one file, or a self-import). */
export function findCycles(graph: ImportGraph): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    indexOf.set(file, index);
    low.set(file, index);
    index++;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.edges.get(file) ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, indexOf.get(next)!));
      }
    }
    if (low.get(file) !== indexOf.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    const selfImport = (graph.edges.get(file) ?? []).includes(file);
    if (component.length > 1 || selfImport) cycles.push(component.sort());
  };
  for (const file of graph.files) if (!indexOf.has(file)) visit(file);
  return cycles;
}

/**
 * A layer: the files whose path starts with one of `paths`, and its rank.
 * A file may import files of its own layer or of a lower rank; an entry
 * point may import anything, and nothing may import it.
 */
export interface Layer {
  name: string;
  paths: readonly string[];
  rank: number;
  entry?: boolean;
}

export function layerOf(layers: readonly Layer[], file: string): Layer | undefined {
  let found: Layer | undefined;
  let longest = -1;
  for (const layer of layers) {
    for (const path of layer.paths) {
      if ((file === path || file.startsWith(path)) && path.length > longest) {
        found = layer;
        longest = path.length;
      }
    }
  }
  return found;
}

/** Imports against the layer direction, as `from -> to (why)`; files in no layer are named too. */
export function layerViolations(graph: ImportGraph, layers: readonly Layer[]): string[] {
  const violations: string[] = [];
  for (const file of graph.files) {
    const from = layerOf(layers, file);
    if (!from) {
      violations.push(`${file} belongs to no layer`);
      continue;
    }
    for (const target of graph.edges.get(file) ?? []) {
      const to = layerOf(layers, target);
      if (!to) continue;
      if (to.entry) {
        violations.push(`${file} -> ${target} (${to.name} is an entry point)`);
      } else if (!from.entry && to.rank > from.rank) {
        violations.push(`${file} -> ${target} (${from.name} is below ${to.name})`);
      } else if (!from.entry && to.rank === from.rank && to.name !== from.name) {
        violations.push(`${file} -> ${target} (${from.name} and ${to.name} are side by side)`);
      }
    }
  }
  return violations;
}
