// The ebpf proxier's modules depend on each other without a circle: shared
// types and helpers live in vocabulary.ts (and the conntrack decoder in
// flows.ts), which import none of the modules that use them. Type-only
// imports count too: a circle of types is a circle in the design.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/paths.js';

const DIR = join(repoRoot, 'control', 'proxiers', 'ebpf');

/** Every .ts file under `dir`, as paths relative to DIR. */
function sources(dir = DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [relative(DIR, join(dir, e.name))] : [],
  );
}

/** The files of DIR a source imports or re-exports from (static and dynamic imports, types included). */
function importsOf(file: string, text: string): string[] {
  const out = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) {
    const target = relative(DIR, resolve(dirname(join(DIR, file)), m[1]!.replace(/\.js$/, '.ts')));
    if (!target.startsWith('..')) out.add(target);
  }
  return [...out];
}

/** Every elementary circle's smallest representative, as a path "a.ts → b.ts → a.ts". */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const found = new Set<string>();
  const nodes = [...graph.keys()].sort();
  for (const start of nodes) {
    // Circles through `start` that visit only nodes after it: each circle is found once, from its least node.
    const walk = (node: string, path: string[]) => {
      for (const next of graph.get(node) ?? []) {
        if (next === start) found.add([...path, start].join(' → '));
        else if (next > start && !path.includes(next)) walk(next, [...path, next]);
      }
    };
    walk(start, [start]);
  }
  return [...found];
}

describe('control/proxiers/ebpf imports', () => {
  it('form no circle', () => {
    const graph = new Map(sources().map((f) => [f, importsOf(f, readFileSync(join(DIR, f), 'utf8'))]));
    expect(graph.size).toBeGreaterThan(5);
    expect(graph.get('dataplane.ts')).toContain('vocabulary.ts');
    const found = cycles(graph);
    if (found.length > 0) expect.fail(`import circles in control/proxiers/ebpf:\n  ${found.join('\n  ')}`);
  });

  it('finds and names a circle, type-only and re-exports included', () => {
    const graph = new Map([
      ['a.ts', importsOf('a.ts', "import type { B } from './b.js';\nimport { v } from './vocabulary.js';")],
      ['b.ts', importsOf('b.ts', "export { c } from './routes/c.js';")],
      ['routes/c.ts', importsOf('routes/c.ts', "import { a } from '../a.js';\nimport x from '../../model/x.js';")],
      ['vocabulary.ts', []],
    ]);
    expect(graph.get('routes/c.ts')).toEqual(['a.ts']);
    expect(cycles(graph)).toEqual(['a.ts → b.ts → routes/c.ts → a.ts']);
  });
});
