import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph } from '../../../test/support/import-graph.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));

describe('@tributary/lakehouse package root', () => {
  it('reaches only its own dependencies and the S3 subpath of connectors (never kafkajs or ioredis)', () => {
    const { externals, files } = importGraph(resolve(src, 'index.ts'));
    expect(files.size).toBeGreaterThan(30);
    const allowed = /^(node:|apache-arrow|avsc|lossless-json|parquet-wasm|hyparquet|zod|@tributary\/core$|@tributary\/connectors\/s3$)/;
    const offenders = [...externals].filter(([specifier]) => !allowed.test(specifier));
    expect(offenders, `unexpected imports: ${offenders.map(([s, f]) => `${s} (in ${f})`).join(', ')}`).toEqual([]);
  });
});
