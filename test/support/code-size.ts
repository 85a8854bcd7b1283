/** Lines per module and per function, read with TypeScript's parser (no type check). */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export interface Sized {
  where: string;
  lines: number;
}

export function moduleLines(file: string): number {
  return readFileSync(file, 'utf8').split('\n').length;
}

/** Every function of a file (declarations, expressions, arrows, methods) with its length. */
export function functionSizes(file: string, label: string): Sized[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const sizes: Sized[] = [];
  const lineOf = (position: number): number =>
    source.getLineAndCharacterOfPosition(position).line + 1;
  const visit = (node: ts.Node): void => {
    if (
      ts.isFunctionDeclaration(node) ||
      ts.isFunctionExpression(node) ||
      ts.isArrowFunction(node) ||
      ts.isMethodDeclaration(node)
    ) {
      const start = lineOf(node.getStart(source));
      const name =
        (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name
          ? node.name.getText(source)
          : ts.isVariableDeclaration(node.parent)
            ? node.parent.name.getText(source)
            : ts.isPropertyAssignment(node.parent)
              ? node.parent.name.getText(source)
              : '(anonymous)';
      sizes.push({ where: `${label}:${start} ${name}`, lines: lineOf(node.getEnd()) - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sizes;
}
