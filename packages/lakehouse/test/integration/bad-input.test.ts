/**
 * Bad input: a row that breaks the table schema, an unknown table, a corrupt metadata file, an S3 error in the middle
 * of a commit. Each fails with a `LakehouseError` naming the table and the file (or column and row) involved, and
 * leaves the table readable at its last good snapshot — checked with pyiceberg, the independent reader. The S3 errors
 * come from a test double around the real S3 store that fails a chosen write.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toSink } from '@tributary/core';
import { TestDriver } from '@tributary/core/testing';
import { localObjectStore } from '@tributary/connectors/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/catalog/catalog.js';
import { storageCatalog } from '../../src/catalog/storage-catalog.js';
import { LakehouseError } from '../../src/errors.js';
import type { IcebergSchema, Row } from '../../src/schema/types.js';
import { icebergSink } from '../../src/sink/iceberg-sink.js';
import { Table } from '../../src/table/table.js';
import { pyicebergRead } from '../support/pyiceberg.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: true, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'decimal(10, 2)' },
    { id: 4, name: 'region', required: true, type: 'string' },
  ],
};

const rowsFrom = (start: number, count: number): Row[] =>
  Array.from({ length: count }, (_, i) => ({
    id: start + i,
    name: `n${start + i}`,
    amount: `${start + i}.50`,
    region: (start + i) % 2 === 0 ? 'eu' : 'us',
  }));

/** Ids pyiceberg reads from the table at `metadata`, sorted. */
async function idsOf(metadata: string, properties: Record<string, string> = {}): Promise<number[]> {
  const read = await pyicebergRead(metadata, { properties });
  return read.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
}

const range = (start: number, count: number): number[] => Array.from({ length: count }, (_, i) => start + i);

/** The rejection of `promise`, failing the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<LakehouseError> {
  try {
    await promise;
  } catch (error) {
    return error as LakehouseError;
  }
  throw new Error('expected a rejection');
}

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-bad-input-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A catalog on a fresh local warehouse, and the directory of `ns.<table>` in it. */
function localWarehouse(): { catalog: Catalog; dir: (table: string) => string } {
  const warehouse = join(root, randomUUID());
  return { catalog: storageCatalog({ store: localObjectStore({ root: warehouse }) }), dir: (table) => join(warehouse, ...table.split('.')) };
}

const filesIn = async (dir: string): Promise<string[]> => (await readdir(dir, { recursive: true }).catch(() => [])).filter((f) => f.includes('.')).sort();

describe('an unknown table', () => {
  it('Table.load fails with TABLE_NOT_FOUND naming the table and where its metadata was looked for', async () => {
    const { catalog } = localWarehouse();
    const name = `ns.missing_${randomUUID().slice(0, 8)}`;
    const error = await rejection(Table.load(catalog, name));
    expect(error).toBeInstanceOf(LakehouseError);
    expect(error).toMatchObject({ code: 'TABLE_NOT_FOUND', table: name });
    expect(error.message).toContain(name);
    expect(error.file).toMatch(new RegExp(`^file:///.*/${name.replace('.', '/')}/metadata/?$`));
    expect(error.message).toContain(error.file!);
  });

  it('icebergSink without `create` fails to open with TABLE_NOT_FOUND', async () => {
    const { catalog } = localWarehouse();
    const name = `ns.missing_${randomUUID().slice(0, 8)}`;
    const driver = new TestDriver<Row>({ name: 'unknown-table', pipeline: (source) => source.pipe(toSink(icebergSink<Row>({ catalog, table: name }))) });
    const error = await rejection(driver.send(rowsFrom(0, 1)[0]!, { eventTime: 0 }));
    expect(error).toMatchObject({ code: 'TABLE_NOT_FOUND', table: name });
    expect(error.message).toContain(name);
  });
});

describe('a corrupt newest metadata file', () => {
  it('load fails with CORRUPT_METADATA naming the file and the last good version; writers do not overwrite it', async () => {
    const { catalog, dir } = localWarehouse();
    const name = `ns.corrupt_${randomUUID().slice(0, 8)}`;
    const table = await Table.create(catalog, name, { schema });
    await table.append(rowsFrom(0, 5)); // v2
    const writer = await Table.load(catalog, name);
    await table.append(rowsFrom(5, 5)); // v3
    const metadataDir = join(dir(name), 'metadata');
    const v2 = table.metadataLocation.replace(/v3\.metadata\.json$/, 'v2.metadata.json');
    expect(table.metadataLocation).toMatch(/\/v3\.metadata\.json$/);
    await truncate(join(metadataDir, 'v3.metadata.json'), 200);
    const damaged = await readFile(join(metadataDir, 'v3.metadata.json'));
    const dataBefore = await filesIn(join(dir(name), 'data'));

    const error = await rejection(Table.load(catalog, name));
    expect(error).toBeInstanceOf(LakehouseError);
    expect(error).toMatchObject({ code: 'CORRUPT_METADATA', table: name, file: table.metadataLocation });
    expect(error.message).toContain(table.metadataLocation);
    expect(error.message).toContain(name);
    expect(error.message).toContain(v2);

    // A writer that loaded the table earlier cannot commit over the damage, and cleans up after itself.
    const failed = await rejection(writer.append(rowsFrom(10, 5)));
    expect(failed).toMatchObject({ code: 'CORRUPT_METADATA', table: name, file: table.metadataLocation });
    expect(await readFile(join(metadataDir, 'v3.metadata.json'))).toEqual(damaged);
    expect((await readdir(metadataDir)).filter((f) => f.endsWith('.metadata.json')).sort()).toEqual([
      'v1.metadata.json',
      'v2.metadata.json',
      'v3.metadata.json',
    ]);
    expect(await filesIn(join(dir(name), 'data'))).toEqual(dataBefore);

    // Readers can still open the last good version by its path.
    expect(await idsOf(v2)).toEqual(range(0, 5));

    // Recovery as the message says: removing the damaged file puts the table back at v2, and writing resumes.
    await unlink(join(metadataDir, 'v3.metadata.json'));
    const recovered = await Table.load(catalog, name);
    expect(recovered.metadataLocation).toBe(v2);
    await recovered.append(rowsFrom(20, 5));
    expect(await idsOf(recovered.metadataLocation)).toEqual([...range(0, 5), ...range(20, 5)]);
  });
});
