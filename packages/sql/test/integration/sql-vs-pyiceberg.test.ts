/**
 * SQL over tables Tributary wrote — on local disk and on the S3-compatible server — checked against pyiceberg, the
 * independent reader: `SELECT *` at the current snapshot and at an older one returns exactly pyiceberg's rows of that
 * snapshot (upserts and deletes applied), and aggregates equal the same aggregates computed over pyiceberg's rows.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { localObjectStore, s3ObjectStore } from '@tributary/connectors/s3';
import type { ObjectStore } from '@tributary/connectors/s3';
import { Table, buildPartitionSpec, storageCatalog } from '@tributary/lakehouse';
import type { Catalog } from '@tributary/lakehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlEngine } from '../../src/index.js';
import { canonicalRows, pyicebergRead, pyS3Properties, sortRows } from '../../../lakehouse/test/support/pyiceberg.js';
import { makeOrderRows, ordersSchema } from '../../../lakehouse/test/support/orders-fixture.js';
import { services } from '../../../../test/support/services.js';

const schema = ordersSchema;
const makeRows = makeOrderRows;

/** Writes three snapshots: an append of 400 rows, an upsert of 100 (half new), a delete of 30. */
async function writeHistory(catalog: Catalog, name: string): Promise<{ table: Table; first: bigint }> {
  const table = await Table.create(catalog, name, {
    schema,
    partitionSpec: buildPartitionSpec(schema, [{ column: 'created_at', transform: 'month' }]),
  });
  const first = (await table.append(makeRows(400)))['snapshot-id'];
  await table.upsert(makeRows(100, 350, 5));
  await table.delete(Array.from({ length: 30 }, (_, i) => ({ order_id: i * 11 })));
  await table.refresh();
  return { table, first };
}

/** The aggregate the SQL computes, computed over pyiceberg's canonical rows. */
function customerTotals(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const totals = new Map<string, { n: number; cents: bigint; quantity: number }>();
  for (const row of rows) {
    const key = typeof row.customer === 'string' ? row.customer : '(none)';
    const entry = totals.get(key) ?? { n: 0, cents: 0n, quantity: 0 };
    entry.n += 1;
    entry.cents += BigInt(String(row.amount).replace('.', ''));
    entry.quantity += Number(row.quantity);
    totals.set(key, entry);
  }
  return [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([customer, e]) => ({ customer, n: e.n, total: `${e.cents / 100n}.${String(e.cents % 100n).padStart(2, '0')}`, quantity: e.quantity }));
}

const totalsSql = (name: string): string =>
  `SELECT coalesce(customer, '(none)') AS customer, count(*) AS n, sum(amount) AS total, sum(quantity)::INTEGER AS quantity
   FROM ${name} GROUP BY ALL ORDER BY customer`;

async function checkAgainstPyiceberg(catalog: Catalog, name: string, properties: Record<string, string>): Promise<void> {
  const { table, first } = await writeHistory(catalog, name);
  const engine = sqlEngine({ catalog, tables: [name], maxRows: 10_000 });
  try {
    for (const snapshotId of [first, table.currentSnapshot()!['snapshot-id']]) {
      const py = await pyicebergRead(table.metadataLocation, { snapshotId, properties });
      const asOf = { [name]: { snapshotId } };
      const all = await engine.query(`SELECT * FROM ${name}`, { asOf });
      expect(all.snapshots[name]).toBe(String(snapshotId));
      expect(all.rows.length).toBe(py.rows.length);
      expect(canonicalRows(schema, all.rows, 'order_id')).toEqual(sortRows(py.rows, 'order_id'));
      const totals = await engine.query(totalsSql(name), { asOf });
      expect(totals.rows).toEqual(customerTotals(py.rows));
    }
    // The older snapshot really is different (400 rows, none deleted yet), so the comparison above could fail.
    const older = await engine.query(`SELECT count(*) AS n, count(*) FILTER (WHERE order_id = 0) AS zero FROM ${name}`, { asOf: { snapshotId: first } });
    expect(older.rows).toEqual([{ n: 400, zero: 1 }]);
    const now = await engine.query(`SELECT count(*) AS n, count(*) FILTER (WHERE order_id = 0) AS zero FROM ${name}`);
    expect(now.rows).toEqual([{ n: 450 - 30, zero: 0 }]);
  } finally {
    engine.close();
  }
}

describe('SQL over local tables vs pyiceberg', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-sql-py-'));
  });
  afterAll(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('SELECT * and aggregates at the current and an older snapshot equal pyiceberg', async () => {
    const catalog = storageCatalog({ store: localObjectStore({ root }) });
    await checkAgainstPyiceberg(catalog, `sql.orders_${randomUUID().slice(0, 8)}`, {});
  });
});

describe('SQL over S3-backed tables vs pyiceberg', () => {
  const bucket = `tributary-sql-s3-${randomUUID().slice(0, 8)}`;
  const admin = new S3Client({
    endpoint: services.s3Endpoint,
    region: services.s3Region,
    credentials: services.s3Credentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  let store: ObjectStore | undefined;

  beforeAll(async () => {
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    try {
      await store?.close();
      let token: string | undefined;
      do {
        const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        const objects = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
        if (objects.length > 0) await admin.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
        token = page.NextContinuationToken;
      } while (token !== undefined);
      await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    } finally {
      admin.destroy();
    }
  });

  it('SELECT * and aggregates at the current and an older snapshot equal pyiceberg reading through S3', async () => {
    store = s3ObjectStore({
      bucket,
      prefix: `wh-${randomUUID()}`,
      endpoint: services.s3Endpoint,
      region: services.s3Region,
      forcePathStyle: true,
      credentials: services.s3Credentials,
    });
    const catalog = storageCatalog({ store, name: 's3-sql-test' });
    await checkAgainstPyiceberg(catalog, `s3.orders_${randomUUID().slice(0, 8)}`, pyS3Properties);
  });
});
