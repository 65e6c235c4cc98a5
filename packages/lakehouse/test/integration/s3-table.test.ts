/**
 * Tables on the S3-compatible server (versitygw; one bucket per run): create, append, upsert and delete, through
 * `storageCatalog` over `s3ObjectStore` — and pyiceberg, reading through its own S3 FileIO, sees exactly the rows we
 * wrote, at the current snapshot and at an older one.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { toSink } from '@tributary/core';
import { TestDriver } from '@tributary/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/catalog/catalog.js';
import { storageCatalog } from '../../src/catalog/storage-catalog.js';
import type { Row } from '../../src/schema/types.js';
import { icebergSink, positionsSummaryKey } from '../../src/sink/iceberg-sink.js';
import type { RowChange } from '../../src/sink/iceberg-sink.js';
import { buildPartitionSpec } from '../../src/spec/partition-spec.js';
import { Table } from '../../src/table/table.js';
import { canonicalRows, pyicebergRead, pyS3Properties, sortRows } from '../support/pyiceberg.js';
import { makeOrderRows, ordersSchema } from '../support/orders-fixture.js';
import { TestBucket } from '../support/s3-bucket.js';

const schema = ordersSchema;
const makeRows = makeOrderRows;

const s3 = new TestBucket('s3');
const bucket = s3.name;
const admin = s3.admin;

/** A catalog over a new S3 store client on `warehouse` (a prefix of the run's bucket). */
function s3Catalog(warehouse: string): Catalog {
  return storageCatalog({ store: s3.store(warehouse), name: 's3-test' });
}

const keysUnder = (prefix: string): Promise<string[]> => s3.keys(prefix);

beforeAll(() => s3.create());
afterAll(() => s3.destroy());

async function expectPyiceberg(metadata: string, expected: readonly Row[], snapshotId?: bigint): Promise<void> {
  const read = await pyicebergRead(metadata, { properties: pyS3Properties, ...(snapshotId === undefined ? {} : { snapshotId }) });
  expect(sortRows(read.rows, 'order_id')).toEqual(canonicalRows(schema, expected, 'order_id'));
}

describe('Iceberg tables on S3', () => {
  it('create and append (partitioned by month): files under s3://, pyiceberg reads every row through S3', async () => {
    const warehouse = `wh-${randomUUID()}`;
    const catalog = s3Catalog(warehouse);
    const name = `s3.orders_${randomUUID().slice(0, 8)}`;
    const table = await Table.create(catalog, name, {
      schema,
      partitionSpec: buildPartitionSpec(schema, [{ column: 'created_at', transform: 'month' }]),
    });
    const first = makeRows(300);
    const second = makeRows(200, 300);
    await table.append(first);
    await table.append(second);

    const tablePrefix = `${warehouse}/${name.replace('.', '/')}`;
    expect(table.metadata.location).toBe(`s3://${bucket}/${tablePrefix}`);
    expect(table.metadataLocation).toBe(`s3://${bucket}/${tablePrefix}/metadata/v3.metadata.json`);
    const keys = await keysUnder(`${tablePrefix}/`);
    expect(keys.filter((key) => key.endsWith('.parquet')).every((key) => key.startsWith(`${tablePrefix}/data/created_at_month=`))).toBe(true);
    const hint = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: `${tablePrefix}/metadata/version-hint.text` }));
    expect(await hint.Body!.transformToString()).toBe('3');

    // Another client (another process) sees the table through the catalog.
    const other = s3Catalog(warehouse);
    expect(await other.tableExists({ namespace: ['s3'], name: name.split('.')[1]! })).toBe(true);
    expect((await other.listTables(['s3'])).map((id) => id.name)).toContain(name.split('.')[1]);
    const loaded = await Table.load(other, name);
    expect(loaded.currentSnapshot()?.summary['total-records']).toBe('500');
    expect(canonicalRows(schema, await loaded.read(), 'order_id')).toEqual(canonicalRows(schema, [...first, ...second], 'order_id'));

    await expectPyiceberg(table.metadataLocation, [...first, ...second]);
  });

  it('upserts and deletes by key (position deletes on S3): pyiceberg reads the new state, and the old one by snapshot id', async () => {
    const warehouse = `wh-${randomUUID()}`;
    const catalog = s3Catalog(warehouse);
    const name = `s3.upserts_${randomUUID().slice(0, 8)}`;
    const table = await Table.create(catalog, name, {
      schema,
      partitionSpec: buildPartitionSpec(schema, [{ column: 'order_id', transform: 'bucket[4]' }]),
    });
    const rows = makeRows(400);
    const first = await table.append(rows);

    const updated = rows.filter((r) => (r.order_id as number) % 5 === 0).map((r): Row => ({ ...r, customer: 'updated', quantity: 99 }));
    const deleted = rows.filter((r) => (r.order_id as number) % 20 === 1).map((r) => ({ order_id: r.order_id }));
    const inserted = makeRows(3, 1000);
    const tx = table.newTransaction();
    tx.upsert([...updated, ...inserted]);
    tx.delete(deleted);
    const changed = await tx.commit();
    expect(changed.summary.operation).toBe('overwrite');
    expect(Number(changed.summary['added-position-deletes'])).toBe(updated.length + deleted.length);

    // A second round deletes rows of files the first upsert wrote, and a plain delete removes one key.
    const again = updated.slice(0, 10).map((r): Row => ({ ...r, customer: 'again' }));
    await table.upsert(again);
    await table.delete([{ order_id: 1000 }]);

    const expected = new Map(rows.map((r) => [r.order_id as number, r]));
    for (const row of [...updated, ...inserted, ...again]) expected.set(row.order_id as number, row);
    for (const key of [...deleted, { order_id: 1000 }]) expected.delete(key.order_id as number);
    expect(table.currentSnapshot()?.summary['total-records']).toBe(String(rows.length + updated.length + inserted.length + again.length));
    await expectPyiceberg(table.metadataLocation, [...expected.values()]);
    await expectPyiceberg(table.metadataLocation, rows, first['snapshot-id']);
    const fresh = await Table.load(s3Catalog(warehouse), name);
    expect(canonicalRows(schema, await fresh.read(), 'order_id')).toEqual(canonicalRows(schema, [...expected.values()], 'order_id'));
  });

  it('two processes creating the same table at once: one creates it, the other loads it', async () => {
    const warehouse = `wh-${randomUUID()}`;
    const name = `s3.race_${randomUUID().slice(0, 8)}`;
    const [a, b] = await Promise.all([
      Table.loadOrCreate(s3Catalog(warehouse), name, { schema }),
      Table.loadOrCreate(s3Catalog(warehouse), name, { schema }),
    ]);
    expect(a.metadata['table-uuid']).toBe(b.metadata['table-uuid']);
    const metadataFiles = (await keysUnder(`${warehouse}/${name.replace('.', '/')}/metadata/`)).filter((key) => key.endsWith('.metadata.json'));
    expect(metadataFiles.map((key) => key.slice(key.lastIndexOf('/') + 1))).toEqual(['v1.metadata.json']);
  });

  it('icebergSink in upsert mode on S3: a checkpoint commits one snapshot with its source positions; pyiceberg agrees', async () => {
    const catalog = s3Catalog(`wh-${randomUUID()}`);
    const name = `s3.sink_${randomUUID().slice(0, 8)}`;
    type Change = { readonly deleted: boolean; readonly row: Row };
    const sink = icebergSink<Change>({
      catalog,
      table: name,
      name: 'orders-s3',
      mode: 'upsert',
      create: { schema },
      toChange: (record): RowChange => ({ op: record.value.deleted ? 'delete' : 'upsert', row: record.value.row }),
    });
    const driver = new TestDriver<Change>({ name: 's3-sink', pipeline: (source) => source.pipe(toSink(sink)) });
    const rows = makeRows(50);
    await driver.sendMany(rows.map((row, i) => ({ value: { deleted: false, row }, eventTime: i, partition: `p${i % 2}` })));
    await driver.checkpoint();
    const changes: Change[] = [
      { deleted: false, row: { ...rows[3]!, customer: 'changed' } },
      { deleted: true, row: { order_id: 4 } },
    ];
    await driver.sendMany(changes.map((value, i) => ({ value, eventTime: 100 + i, partition: 'p0' })));
    await driver.checkpoint();
    await driver.end();

    const table = await Table.load(catalog, name);
    expect(table.history()).toHaveLength(2);
    expect(JSON.parse(table.currentSnapshot()!.summary[positionsSummaryKey('orders-s3')]!)).toEqual({ p0: 27, p1: 25 });
    const expected = rows.filter((r) => r.order_id !== 4).map((r) => (r.order_id === 3 ? { ...r, customer: 'changed' } : r));
    await expectPyiceberg(table.metadataLocation, expected);
  });
});
