import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph } from '../../../test/support/import-graph.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));
/** Client libraries that must load only when the configuration asks for them. */
const heavy = /^(kafkajs|ioredis|@aws-sdk\/.+|@tributary\/connectors\/(kafka|redis))$/;

/** Static value imports (type-only imports are erased at build time) of `file`. */
function staticValueImports(file: string): string[] {
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const found: string[] = [];
  for (const match of code.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'"`;]*?from\s*['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
    found.push((match[1] ?? match[2])!);
  }
  return found;
}

describe('@tributary/mcp package root', () => {
  it('loads the Kafka, Redis and AWS clients only lazily: no static import of them anywhere it reaches', () => {
    const { files } = importGraph(resolve(src, 'index.ts'));
    expect(files.size).toBeGreaterThan(5);
    const offenders = [...files].flatMap((file) => staticValueImports(file).filter((s) => heavy.test(s)).map((s) => `${s} (in ${file})`));
    expect(offenders).toEqual([]);
  });

  it('the check sees value imports and skips type-only ones', () => {
    expect(staticValueImports(resolve(src, 'errors.ts'))).toContain('@tributary/core');
    const server = staticValueImports(resolve(src, 'server/create-tributary-mcp-server.ts'));
    expect(server).not.toContain('@tributary/connectors/kafka'); // imported as a type, and lazily with import()
    expect(readFileSync(resolve(src, 'server/create-tributary-mcp-server.ts'), 'utf8')).toContain("from '@tributary/connectors/kafka'");
  });
});
