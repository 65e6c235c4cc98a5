/**
 * Conformance: every kind of table Tributary writes is read back by pyiceberg (an independent reader) with exactly
 * the expected rows — unpartitioned, each partition transform, after upserts and deletes, after schema evolution, and
 * at an older snapshot.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localObjectStore } from '@tributary/connectors/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageCatalog } from '../../src/catalog/storage-catalog.js';
import type { Catalog } from '../../src/catalog/catalog.js';
import type { IcebergSchema, Row } from '../../src/schema/types.js';
import { buildPartitionSpec } from '../../src/spec/partition-spec.js';
import { Table } from '../../src/table/table.js';
import { addColumn, renameColumn, widenColumn } from '../../src/schema/evolution.js';
import { canonicalRows, pyicebergRead, sortRows } from '../support/pyiceberg.js';
import { makeOrderRows, ordersSchema } from '../support/orders-fixture.js';

const schema = ordersSchema;
const makeRows = makeOrderRows;

let root: string;
let catalog: Catalog;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-conformance-'));
  catalog = storageCatalog({ store: localObjectStore({ root }) });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function expectPyiceberg(table: Table, expected: readonly Row[], snapshotId?: bigint): Promise<void> {
  const read = await pyicebergRead(table.metadataLocation, snapshotId === undefined ? {} : { snapshotId });
  expect(sortRows(read.rows, 'order_id')).toEqual(canonicalRows(schemaOf(table, snapshotId), expected, 'order_id'));
}

function schemaOf(table: Table, snapshotId?: bigint): IcebergSchema {
  if (snapshotId === undefined) return table.schema;
  const snapshot = table.metadata.snapshots.find((s) => s['snapshot-id'] === snapshotId)!;
  return table.metadata.schemas.find((s) => s['schema-id'] === snapshot['schema-id'])!;
}

describe('pyiceberg reads what Tributary writes', () => {
  it('an unpartitioned table after two appends', async () => {
    const table = await Table.create(catalog, 'conformance.unpartitioned', { schema });
    const first = makeRows(500);
    const second = makeRows(300, 500);
    await table.append(first);
    await table.append(second);
    await expectPyiceberg(table, [...first, ...second]);
    expect(table.currentSnapshot()?.summary['total-records']).toBe('800');
    const ours = await table.read();
    expect(ours).toHaveLength(800);
  });

  for (const [column, transform] of [
    ['customer', 'identity'],
    ['created_at', 'year'],
    ['created_at', 'month'],
    ['created_at', 'day'],
    ['created_at', 'hour'],
    ['order_id', 'bucket[8]'],
    ['customer', 'truncate[5]'],
    ['quantity', 'truncate[2]'],
    ['day', 'day'],
  ] as const) {
    it(`partitioned by ${transform}(${column})`, async () => {
      const name = `conformance.p_${column}_${transform.replace(/\W/g, '_')}`;
      const spec = buildPartitionSpec(schema, [{ column, transform }]);
      const table = await Table.create(catalog, name, { schema, partitionSpec: spec });
      const rows = makeRows(400);
      await table.append(rows);
      await expectPyiceberg(table, rows);
    });
  }

  it('after upserts and deletes by primary key (position deletes), and at the older snapshot', async () => {
    const table = await Table.create(catalog, 'conformance.upserts', {
      schema,
      partitionSpec: buildPartitionSpec(schema, [{ column: 'created_at', transform: 'month' }]),
    });
    const rows = makeRows(1000);
    const first = await table.append(rows);
    const updated = rows.filter((r) => (r.order_id as number) % 5 === 0).map((r): Row => ({ ...r, customer: "updated", quantity: 99 }));
    const deleted = rows.filter((r) => (r.order_id as number) % 20 === 1).map((r) => ({ order_id: r.order_id }));
    const tx = table.newTransaction();
    tx.upsert(updated);
    tx.delete(deleted);
    tx.upsert([{ ...makeRows(1, 5000)[0]! }]);
    await tx.commit();
    const byId = new Map(rows.map((r) => [r.order_id as number, r]));
    for (const row of updated) byId.set(row.order_id as number, row);
    for (const key of deleted) byId.delete(key.order_id as number);
    byId.set(5000, makeRows(1, 5000)[0]!);
    await expectPyiceberg(table, [...byId.values()]);
    await expectPyiceberg(table, rows, first['snapshot-id']);
    expect(table.currentSnapshot()?.summary.operation).toBe('overwrite');

    // A second round of updates deletes rows of files written by the first upsert.
    const again = updated.slice(0, 50).map((r): Row => ({ ...r, customer: "again" }));
    await table.upsert(again);
    for (const row of again) byId.set(row.order_id as number, row);
    await expectPyiceberg(table, [...byId.values()]);
    const ours = await table.read();
    expect(canonicalRows(schema, ours, 'order_id')).toEqual(canonicalRows(schema, [...byId.values()], 'order_id'));
  });

  it('after schema evolution: added, renamed and widened columns, old and new files together', async () => {
    const table = await Table.create(catalog, 'conformance.evolution', {
      schema,
      partitionSpec: buildPartitionSpec(schema, [{ column: 'order_id', transform: 'bucket[4]' }]),
    });
    const before = makeRows(300);
    const first = await table.append(before);
    await table.evolveSchema((current) => widenColumn(renameColumn(addColumn(current, 'channel', 'string'), 'customer', 'buyer'), 'quantity', 'long'));
    expect(table.schema.fields.map((f) => f.name)).toEqual([...schema.fields.map((f) => (f.name === 'customer' ? 'buyer' : f.name)), 'channel']);
    const after = makeRows(200, 300).map(({ customer, ...rest }): Row => ({ ...rest, buyer: customer, channel: 'web' }));
    await table.append(after);
    await table.upsert([{ ...after[0]!, channel: 'app' }]);
    const oldRows = before.map(({ customer, ...rest }): Row => ({ ...rest, buyer: customer, channel: null }));
    const expected = [...oldRows, { ...after[0]!, channel: 'app' }, ...after.slice(1)];
    await expectPyiceberg(table, expected);
    // Time travel reads the old snapshot with the schema it was written with.
    await expectPyiceberg(table, before, first['snapshot-id']);
    const ours = await table.read();
    expect(canonicalRows(table.schema, ours, 'order_id')).toEqual(canonicalRows(table.schema, expected, 'order_id'));
  });

  it('incremental read between two snapshots equals the difference of pyiceberg reads at both', async () => {
    const table = await Table.create(catalog, 'conformance.incremental', { schema });
    const rows = makeRows(400);
    const s1 = await table.append(rows.slice(0, 200));
    await table.append(rows.slice(200));
    await table.upsert(rows.slice(0, 50).map((r): Row => ({ ...r, customer: 'changed' })));
    await table.delete(rows.slice(300, 320).map((r) => ({ order_id: r.order_id })));
    const s2 = table.currentSnapshot()!;
    const { added, deleted } = await table.changes(s1['snapshot-id'], s2['snapshot-id']);
    const [then, now] = await Promise.all([
      pyicebergRead(table.metadataLocation, { snapshotId: s1['snapshot-id'] }),
      pyicebergRead(table.metadataLocation, { snapshotId: s2['snapshot-id'] }),
    ]);
    const key = (row: Record<string, unknown>) => JSON.stringify(row);
    const minus = (a: Record<string, unknown>[], b: Record<string, unknown>[]) => {
      const left = new Map<string, number>();
      for (const row of b) left.set(key(row), (left.get(key(row)) ?? 0) + 1);
      return a.filter((row) => {
        const n = left.get(key(row)) ?? 0;
        if (n === 0) return true;
        left.set(key(row), n - 1);
        return false;
      });
    };
    expect(canonicalRows(schema, added, 'order_id')).toEqual(sortRows(minus(now.rows, then.rows), 'order_id'));
    expect(canonicalRows(schema, deleted, 'order_id')).toEqual(sortRows(minus(then.rows, now.rows), 'order_id'));
    expect(added).toHaveLength(200 - 20 + 50); // rows added after s1, minus those deleted again, plus new versions of updated rows
    expect(deleted).toHaveLength(50);
    await expect(table.changes(s2['snapshot-id'], s1['snapshot-id'])).rejects.toMatchObject({ code: 'INVALID_RANGE' });
  });
});
