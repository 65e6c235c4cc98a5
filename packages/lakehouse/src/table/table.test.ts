import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localObjectStore } from '@tributary/connectors/s3';
import { afterEach, describe, expect, it } from 'vitest';
import { storageCatalog } from '../catalog/storage-catalog.js';
import type { IcebergSchema, Row } from '../schema/types.js';
import { Table } from './table.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [{ id: 1, name: 'id', required: true, type: 'long' }],
};

let root: string | undefined;
afterEach(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('Table', () => {
  it('appends and upserts batches larger than the call-stack limit of argument spreading', async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-table-'));
    const table = await Table.create(storageCatalog({ store: localObjectStore({ root, fsync: false }) }), 'ns.big', { schema });
    const rows: Row[] = Array.from({ length: 200_000 }, (_, id) => ({ id }));
    await table.append(rows);
    await table.upsert(rows.slice(0, 150_000));
    expect(table.currentSnapshot()?.summary['total-records']).toBe('350000');
    expect(table.currentSnapshot()?.summary['total-position-deletes']).toBe('150000');
    expect(await table.read()).toHaveLength(200_000);
  });
});
