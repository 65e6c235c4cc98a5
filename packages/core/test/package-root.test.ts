import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Every module specifier `file` imports or re-exports (static and dynamic), comments stripped. */
function specifiers(file: string): string[] {
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found: string[] = [];
  for (const match of code.matchAll(/(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)) {
    found.push((match[1] ?? match[2] ?? match[3])!);
  }
  return found;
}

/** Walks the relative import graph from `entry`; returns the external specifiers reached and the files visited. */
function externalImports(entry: string): { externals: Map<string, string>; files: Set<string> } {
  const externals = new Map<string, string>();
  const files = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of specifiers(file)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else externals.set(specifier, file);
    }
  }
  return { externals, files };
}

describe('@tributary/core package root', () => {
  it('imports nothing but rxjs and zod, directly or through any module it reaches', () => {
    const { externals, files } = externalImports(resolve(src, 'index.ts'));
    expect(files.size).toBeGreaterThan(30);
    const offenders = [...externals].filter(([specifier]) => !/^(rxjs|zod)(\/|$)/.test(specifier));
    expect(offenders, `unexpected imports: ${offenders.map(([s, f]) => `${s} (in ${f})`).join(', ')}`).toEqual([]);
  });

  it('the check sees a Node builtin when one is reachable (the node subpath)', () => {
    const { externals } = externalImports(resolve(src, 'node.ts'));
    expect([...externals.keys()].some((specifier) => specifier.startsWith('node:'))).toBe(true);
  });
});
