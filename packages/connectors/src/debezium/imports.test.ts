import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));

describe('@tributary/connectors/debezium imports', () => {
  it('load no client library: only zod, @tributary/core and its own files', () => {
    const files = [
      ...readdirSync(here)
        .filter((name) => name.endsWith('.ts') && !name.includes('.test'))
        .map((name) => `${here}${name}`),
      fileURLToPath(new URL('../debezium.ts', import.meta.url)),
    ];
    expect(files.length).toBeGreaterThan(8);
    const specifiers = new Set<string>();
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)) specifiers.add(match[1]!);
    }
    const outside = [...specifiers].filter((specifier) => !specifier.startsWith('./') && !['zod', '@tributary/core', '../errors.js'].includes(specifier) && !specifier.startsWith('./debezium/'));
    expect(outside).toEqual([]);
    expect(specifiers).toContain('@tributary/core');
  });
});
