import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionsError } from '@tributary/core';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, addColumn, renameColumn, storageCatalog } from '@tributary/lakehouse';
import type { Catalog, IcebergSchema, Row } from '@tributary/lakehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlError } from '../errors.js';
import { sqlEngine } from './sql-engine.js';
import type { SqlEngine } from './sql-engine.js';

const ordersSchema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'customer_id', required: false, type: 'int' },
    { id: 3, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 4, name: 'created_at', required: false, type: 'timestamptz' },
    { id: 5, name: 'status', required: false, type: 'string' },
  ],
};
const customersSchema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'customer_id', required: true, type: 'int' },
    { id: 2, name: 'name', required: false, type: 'string' },
  ],
};

function orderRows(count: number, start = 0): Row[] {
  return Array.from({ length: count }, (_, i) => {
    const id = start + i;
    return {
      order_id: BigInt(id),
      customer_id: id % 7,
      amount: `${id * 3}.${String(id % 100).padStart(2, '0')}`,
      created_at: new Date(Date.UTC(2026, 0, 1) + id * 60_000),
      status: id % 3 === 0 ? 'open' : 'paid',
    };
  });
}

/** Amount in cents, computed from the rows themselves (the independent oracle for sums). */
const cents = (row: Row): bigint => BigInt(String(row.amount).replace('.', ''));
const formatCents = (c: bigint): string => `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;

let root: string;
let catalog: Catalog;
let ns: string;
let engine: SqlEngine;
let rowsNow: Row[];
let firstSnapshot: bigint;
let bigOrderId: bigint;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-sql-'));
  catalog = storageCatalog({ store: localObjectStore({ root }) });
  ns = `ns_${randomUUID().slice(0, 8)}`;
  await catalog.createNamespace([ns]);
  const orders = await Table.create(catalog, `${ns}.orders`, { schema: ordersSchema });
  const first = orderRows(300);
  firstSnapshot = (await orders.append(first))['snapshot-id'];
  bigOrderId = 2n ** 60n + 7n;
  const upserts: Row[] = [
    ...orderRows(50, 100).map((r) => ({ ...r, status: 'refunded' })),
    { ...orderRows(1, 0)[0]!, order_id: bigOrderId },
  ];
  await orders.upsert(upserts);
  await orders.delete([{ order_id: 5n }, { order_id: 6n }]);
  const byId = new Map<bigint, Row>();
  for (const row of first) byId.set(row.order_id as bigint, row);
  for (const row of upserts) byId.set(row.order_id as bigint, row);
  byId.delete(5n);
  byId.delete(6n);
  rowsNow = [...byId.values()];

  const customers = await Table.create(catalog, `${ns}.customers`, { schema: customersSchema });
  await customers.append(Array.from({ length: 7 }, (_, i) => ({ customer_id: i, name: `customer ${i}` })));
  engine = sqlEngine({ catalog, tables: [`${ns}.orders`, `${ns}.customers`], maxRows: 1000, timeoutMs: 10_000 });
});

afterAll(async () => {
  engine?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

async function refusal(sql: string, options?: Parameters<SqlEngine['query']>[1]): Promise<SqlError> {
  const error = await engine.query(sql, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${sql} to be refused`).toBeInstanceOf(SqlError);
  return error as SqlError;
}

describe('sqlEngine: results', () => {
  it('aggregates with deletes and upserts applied, matching a computation over the rows', async () => {
    const result = await engine.query(
      `SELECT status, count(*) AS n, sum(amount) AS total FROM ${ns}.orders GROUP BY status ORDER BY status`,
    );
    const expected = new Map<string, { n: number; total: bigint }>();
    for (const row of rowsNow) {
      const entry = expected.get(String(row.status)) ?? { n: 0, total: 0n };
      entry.n += 1;
      entry.total += cents(row);
      expected.set(String(row.status), entry);
    }
    expect(result.rows).toEqual(
      [...expected.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([status, e]) => ({ status, n: e.n, total: formatCents(e.total) })),
    );
    expect(result.columns.map((c) => c.name)).toEqual(['status', 'n', 'total']);
    expect(result.truncated).toBe(false);
    expect(Object.keys(result.snapshots)).toEqual([`${ns}.orders`]);
  });

  it('joins two tables', async () => {
    const result = await engine.query(
      `SELECT c.name, count(*) AS n FROM ${ns}.orders o JOIN ${ns}.customers c ON o.customer_id = c.customer_id
       WHERE o.status = 'paid' GROUP BY c.name ORDER BY c.name`,
    );
    const counts = new Map<string, number>();
    for (const row of rowsNow) if (row.status === 'paid') counts.set(`customer ${String(row.customer_id)}`, (counts.get(`customer ${String(row.customer_id)}`) ?? 0) + 1);
    expect(result.rows).toEqual([...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, n]) => ({ name, n })));
  });

  it('returns JSON-safe values: big longs and decimals as strings, timestamps ISO', async () => {
    const result = await engine.query(`SELECT order_id, amount, created_at FROM ${ns}.orders WHERE order_id IN (1, $1) ORDER BY order_id`, {
      params: [bigOrderId],
    });
    expect(result.rows).toEqual([
      { order_id: 1, amount: '3.01', created_at: '2026-01-01T00:01:00.000Z' },
      { order_id: (2n ** 60n + 7n).toString(), amount: '0.00', created_at: '2026-01-01T00:00:00.000Z' },
    ]);
    expect(JSON.parse(JSON.stringify(result.rows))).toEqual(result.rows);
  });

  it('time travel by snapshot id and by time returns the older rows', async () => {
    const sql = `SELECT count(*) AS n, max(order_id) AS top, count(*) FILTER (WHERE status = 'refunded') AS refunded FROM ${ns}.orders`;
    const byId = await engine.query(sql, { asOf: { [`${ns}.orders`]: { snapshotId: String(firstSnapshot) } } });
    expect(byId.rows).toEqual([{ n: 300, top: 299, refunded: 0 }]);
    expect(byId.snapshots[`${ns}.orders`]).toBe(String(firstSnapshot));
    const table = await Table.load(catalog, `${ns}.orders`);
    const firstTime = table.history().find((s) => s['snapshot-id'] === firstSnapshot)!['timestamp-ms'];
    const byTime = await engine.query(sql, { asOf: { timestampMs: firstTime } });
    expect(byTime.rows).toEqual(byId.rows);
    const now = await engine.query(sql);
    expect(now.rows).toEqual([{ n: rowsNow.length, top: (2n ** 60n + 7n).toString(), refunded: 50 }]);
  });

  it('keeps every column when names repeat', async () => {
    const result = await engine.query(`SELECT 1 AS a, 2 AS a, 3 AS a_1`, { arrow: true });
    expect(result.rows).toEqual([{ a: 1, a_1: 2, a_1_1: 3 }]);
    expect(result.columns.map((c) => c.name)).toEqual(['a', 'a_1', 'a_1_1']);
    expect(result.arrow?.schema.fields.map((f) => f.name)).toEqual(['a', 'a_1', 'a_1_1']);
  });

  it('time travel reads the columns as they were (schema evolution)', async () => {
    const name = `${ns}.evolving`;
    const table = await Table.create(catalog, name, { schema: customersSchema });
    const before = (await table.append([{ customer_id: 1, name: 'a' }]))['snapshot-id'];
    await table.evolveSchema((v) => renameColumn(addColumn(v, 'tier', 'string'), 'name', 'label'));
    await table.append([{ customer_id: 2, label: 'b', tier: 'gold' }]);
    const evolving = sqlEngine({ catalog, tables: [name] });
    const old = await evolving.query(`SELECT * FROM ${name}`, { asOf: { snapshotId: before } });
    expect(old.columns.map((c) => c.name)).toEqual(['customer_id', 'name']);
    expect(old.rows).toEqual([{ customer_id: 1, name: 'a' }]);
    const now = await evolving.query(`SELECT * FROM ${name} ORDER BY customer_id`);
    expect(now.columns.map((c) => c.name)).toEqual(['customer_id', 'label', 'tier']);
    expect(now.rows).toEqual([
      { customer_id: 1, label: 'a', tier: null },
      { customer_id: 2, label: 'b', tier: 'gold' },
    ]);
    const pruned = await evolving.query(`SELECT label FROM ${name} WHERE tier IS NULL`);
    expect(pruned.rows).toEqual([{ label: 'a' }]);
  });

  it('caps rows and says so', async () => {
    const result = await engine.query(`SELECT order_id FROM ${ns}.orders ORDER BY order_id`, { maxRows: 10 });
    expect(result.rows).toHaveLength(10);
    expect(result.truncated).toBe(true);
    expect(result.rows[9]).toEqual({ order_id: 11 });
    const exact = await engine.query('SELECT * FROM range(10)', { maxRows: 10 });
    expect(exact.truncated).toBe(false);
  });

  it('returns Arrow with exact types when asked', async () => {
    const result = await engine.query(`SELECT order_id, amount, status FROM ${ns}.orders WHERE order_id < 3 ORDER BY order_id`, { arrow: true });
    expect(result.arrow?.numRows).toBe(3);
    expect(result.arrow?.getChild('order_id')?.get(2)).toBe(2n);
    expect(result.arrow?.schema.fields.map((f) => String(f.type))).toEqual(['Int64', 'Decimal[12e+2]', 'Utf8']);
    expect(result.arrow?.getChild('status')?.toArray()).toEqual(['open', 'paid', 'paid']);
  });

  it('whole-row references and CTEs work (column pruning falls back to every column)', async () => {
    const result = await engine.query(
      `WITH o AS (SELECT * FROM ${ns}.orders WHERE order_id = 1) SELECT c FROM ${ns}.customers c JOIN o USING (customer_id)`,
    );
    expect(result.rows).toEqual([{ c: { customer_id: 1, name: 'customer 1' } }]);
  });
});

describe('sqlEngine: refusals', () => {
  const escapes: [string, string][] = [
    ["SELECT * FROM read_csv('/etc/passwd')", 'SQL_REFUSED'],
    ["SELECT * FROM read_text('/etc/passwd')", 'SQL_REFUSED'],
    ["SELECT * FROM glob('/etc/*')", 'SQL_REFUSED'],
    ["SELECT * FROM query('SELECT 42')", 'SQL_REFUSED'],
    ['SELECT * FROM duckdb_settings()', 'SQL_REFUSED'],
    ["SELECT * FROM '/etc/passwd'", 'UNKNOWN_TABLE'],
    ["COPY (SELECT 1) TO '/tmp/x'", 'SQL_REFUSED'],
    ["ATTACH '/tmp/x.db' AS x", 'SQL_REFUSED'],
    ['INSTALL httpfs', 'SQL_REFUSED'],
    ['LOAD httpfs', 'SQL_REFUSED'],
    ['PRAGMA version', 'SQL_REFUSED'],
    ["SET memory_limit = '100GB'", 'SQL_REFUSED'],
    ['CALL pragma_version()', 'SQL_REFUSED'],
    ["EXPORT DATABASE '/tmp/x'", 'SQL_REFUSED'],
    ['SELECT 1; DROP TABLE x', 'SQL_REFUSED'],
    ['SELECT 1; SELECT 2', 'SQL_REFUSED'],
    ['CREATE TABLE t AS SELECT 1', 'SQL_REFUSED'],
    ['INSERT INTO t VALUES (1)', 'SQL_REFUSED'],
    ['UPDATE t SET a = 1', 'SQL_REFUSED'],
    ['DELETE FROM t', 'SQL_REFUSED'],
    ['DROP TABLE t', 'SQL_REFUSED'],
    ['DESCRIBE SELECT 1', 'SQL_REFUSED'],
    ['SELECT * FROM information_schema.tables', 'UNKNOWN_TABLE'],
    ['SELECT * FROM other.secret', 'UNKNOWN_TABLE'],
    ['SELECT * FROM orders', 'UNKNOWN_TABLE'],
    ['SELECT (SELECT count(*) FROM other.secret)', 'UNKNOWN_TABLE'],
    ['SELECT * FROM duckdb_tables', 'UNKNOWN_TABLE'],
    ['SELECT * FROM (WITH duckdb_tables AS (SELECT 1) SELECT * FROM duckdb_tables), duckdb_tables', 'UNKNOWN_TABLE'],
    ["SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))", 'SQL_REFUSED'],
    ["SELECT 1 WHERE EXISTS (FROM read_text('/etc/passwd'))", 'SQL_REFUSED'],
    ['SELECT * FROM memory.main.x', 'UNKNOWN_TABLE'],
    ['SELEC 1', 'SQL_SYNTAX'],
  ];
  it.each(escapes)('%s -> %s', async (sql, code) => {
    const error = await refusal(sql);
    expect(error.code).toBe(code);
    expect(error.message.length).toBeGreaterThan(20);
  });

  it('refuses DuckDB AT (...) time travel syntax (asOf is the way)', async () => {
    const error = await refusal(`SELECT * FROM ${ns}.orders AT (VERSION => 1)`);
    expect(error.code).toBe('SQL_REFUSED');
    expect(error.message).toContain('asOf');
  });

  it('allows CTEs in scope, recursive ones included', async () => {
    const result = await engine.query(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5), o AS (SELECT order_id FROM ${ns}.orders)
       SELECT (SELECT sum(i) FROM n) AS s, (SELECT count(*) FROM o WHERE order_id < 10) AS c`,
    );
    expect(result.rows).toEqual([{ s: 15, c: 8 }]);
  });

  it('names the table and the allowlist for an unknown table', async () => {
    const error = await refusal('SELECT * FROM other.secret');
    expect(error.table).toBe('other.secret');
    expect(error.message).toContain(`${ns}.orders`);
  });

  it('writes nothing: COPY / EXPORT never create the target', async () => {
    const target = join(root, `copy-${randomUUID()}`);
    await refusal(`COPY (SELECT 1) TO '${target}.csv'`);
    await refusal(`EXPORT DATABASE '${target}'`);
    expect(existsSync(`${target}.csv`)).toBe(false);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses reading a warehouse data file directly', async () => {
    const dataDir = join(root, ns, 'orders', 'data');
    const file = (await readdir(dataDir, { recursive: true })).find((f) => String(f).endsWith('.parquet'));
    expect(file).toBeDefined();
    const error = await refusal(`SELECT * FROM read_parquet('${join(dataDir, String(file))}')`);
    expect(error.code).toBe('SQL_REFUSED');
    const direct = await refusal(`SELECT * FROM '${join(dataDir, String(file))}'`);
    expect(direct.code).toBe('UNKNOWN_TABLE');
  });

  it('rejects absurd limits when options are parsed', () => {
    expect(() => sqlEngine({ catalog, tables: [`${ns}.orders`], maxRows: 1e12 })).toThrow(InvalidOptionsError);
    expect(() => sqlEngine({ catalog, tables: [`${ns}.orders`], timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => sqlEngine({ catalog, tables: [] })).toThrow(/tables/);
    expect(() => sqlEngine({ catalog, tables: ['a.b.c'] })).toThrow(/tables\.0/);
    expect(() => sqlEngine({ catalog, tables: ['x.y'], unknown: 1 } as never)).toThrow(InvalidOptionsError);
  });

  it('rejects per-query limits above the engine limits and bad asOf', async () => {
    await expect(engine.query('SELECT 1', { maxRows: 1e12 })).rejects.toThrow(InvalidOptionsError);
    await expect(engine.query('SELECT 1', { maxRows: 5000 })).rejects.toThrow(InvalidOptionsError);
    await expect(engine.query('SELECT 1', { timeoutMs: 60_000 })).rejects.toThrow(/timeoutMs/);
    await expect(engine.query('SELECT 1', { asOf: { snapshotId: 'abc' } })).rejects.toThrow(InvalidOptionsError);
    const unknownSnapshot = await refusal(`SELECT count(*) FROM ${ns}.orders`, { asOf: { snapshotId: '123' } });
    expect(unknownSnapshot.code).toBe('SNAPSHOT_NOT_FOUND');
    const twoTables = await refusal(`SELECT count(*) FROM ${ns}.orders, ${ns}.customers`, { asOf: { snapshotId: String(firstSnapshot) } });
    expect(twoTables.code).toBe('INVALID_AS_OF');
    const otherTable = await refusal('SELECT 1', { asOf: { 'other.secret': { timestampMs: 0 } } });
    expect(otherTable.code).toBe('UNKNOWN_TABLE');
  });

  it('interrupts a long query at the timeout', async () => {
    const started = performance.now();
    const error = await refusal('SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range + b.range = -1', { timeoutMs: 300 });
    expect(error.code).toBe('SQL_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('times out while loading a table too (a catalog that hangs)', async () => {
    const slow = new Proxy(catalog, {
      get(target, property, receiver) {
        if (property !== 'loadTable') return Reflect.get(target, property, receiver) as unknown;
        return () => new Promise(() => {}); // never answers
      },
    });
    const hanging = sqlEngine({ catalog: slow, tables: [`${ns}.orders`], timeoutMs: 300 });
    const started = performance.now();
    await expect(hanging.query(`SELECT count(*) FROM ${ns}.orders`)).rejects.toMatchObject({ code: 'SQL_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('cancels on an AbortSignal', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const error = await refusal('SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range + b.range = -1', {
      signal: controller.signal,
    });
    expect(error.code).toBe('SQL_ABORTED');
  });

  it('refuses to load a table larger than maxScanRows', async () => {
    const small = sqlEngine({ catalog, tables: [`${ns}.orders`, `${ns}.customers`], maxScanRows: 100 });
    const error = await small.query(`SELECT count(*) FROM ${ns}.orders`).then(
      () => undefined,
      (e: unknown) => e as SqlError,
    );
    expect(error?.code).toBe('TABLE_TOO_LARGE');
    expect(error?.table).toBe(`${ns}.orders`);
    expect((await small.query(`SELECT count(*) AS n FROM ${ns}.customers`)).rows).toEqual([{ n: 7 }]);
  });

  it('reports DuckDB errors on allowed statements as SQL_FAILED', async () => {
    const error = await refusal(`SELECT no_such_column FROM ${ns}.orders`);
    expect(error.code).toBe('SQL_FAILED');
    expect(error.message).toContain('no_such_column');
  });

  it('refuses queries after close', async () => {
    const closed = sqlEngine({ catalog, tables: [`${ns}.orders`] });
    closed.close();
    await expect(closed.query('SELECT 1')).rejects.toMatchObject({ code: 'ENGINE_CLOSED' });
  });
});
