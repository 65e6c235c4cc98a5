import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionsError } from '@tributary/core';
import { localObjectStore } from '@tributary/connectors/s3';
import type { ObjectStore } from '@tributary/connectors/s3';
import { afterEach, describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import { tableIdentifier } from './catalog.js';
import { storageCatalog } from './storage-catalog.js';

let root: string | undefined;
afterEach(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('storageCatalog', () => {
  it('refuses invalid options at construction, naming the field', () => {
    expect(() => storageCatalog({ store: {} as ObjectStore })).toThrow(InvalidOptionsError);
    expect(() => storageCatalog({ store: {} as ObjectStore })).toThrow(/store: must be an ObjectStore/);
    root = undefined;
  });

  it('refuses a table whose schema is invalid, before writing anything', async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-catalog-'));
    const catalog = storageCatalog({ store: localObjectStore({ root }) });
    const id = tableIdentifier('ns.bad');
    const duplicateIds = {
      type: 'struct' as const,
      'schema-id': 0,
      fields: [
        { id: 1, name: 'a', required: true, type: 'long' as const },
        { id: 1, name: 'b', required: false, type: 'string' as const },
      ],
    };
    const error = await catalog.createTable(id, { schema: duplicateIds }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LakehouseError);
    expect((error as LakehouseError).code).toBe('INVALID_SCHEMA');
    expect(await catalog.tableExists(id)).toBe(false);
  });
});
