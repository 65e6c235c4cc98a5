import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** Every bare module specifier reachable from `entry` through relative imports (type-only imports included). */
function externalImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else external.add(specifier);
    }
  };
  visit(entry);
  return external;
}

describe('sources and sinks exported from the package root', () => {
  it.each(['memory-log.ts', 'memory-source.ts', 'iterable-source.ts', join('..', 'sinks', 'memory-sink.ts')])(
    '%s imports nothing but rxjs and zod (no node: built-ins)',
    (file) => {
      const imports = [...externalImports(join(here, file))];
      expect(imports.filter((specifier) => specifier !== 'rxjs' && specifier !== 'zod')).toEqual([]);
    },
  );

  it('the check sees node: imports (the NDJSON source is Node-only)', () => {
    expect([...externalImports(join(here, 'ndjson-file-source.ts'))]).toContain('node:fs/promises');
  });
});
