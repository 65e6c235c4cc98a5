import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph } from '../../../test/support/import-graph.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));

describe('@tributary/core package root', () => {
  it('imports nothing but rxjs and zod, directly or through any module it reaches', () => {
    const { externals, files } = importGraph(resolve(src, 'index.ts'));
    expect(files.size).toBeGreaterThan(30);
    const offenders = [...externals].filter(([specifier]) => !/^(rxjs|zod)(\/|$)/.test(specifier));
    expect(offenders, `unexpected imports: ${offenders.map(([s, f]) => `${s} (in ${f})`).join(', ')}`).toEqual([]);
  });

  it('the check sees a Node builtin when one is reachable (the node subpath)', () => {
    const { externals } = importGraph(resolve(src, 'node.ts'));
    expect([...externals.keys()].some((specifier) => specifier.startsWith('node:'))).toBe(true);
  });
});
