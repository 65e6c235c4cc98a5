/**
 * `node packages/sql/bench/sql.ts [rows]` (after `npm run build -w @tributary/core -w @tributary/connectors
 * -w @tributary/lakehouse -w @tributary/sql`): what one query costs over a local table of N rows (default 200,000;
 * 8 columns: long key, string, int, decimal(12, 2), timestamptz, date, boolean, double), phase by phase:
 *
 *   - `read`: the lakehouse reader alone (`table.read()`, every column, deletes applied);
 *   - `count(*)`: a query that needs no column (the engine still loads one, for the row count);
 *   - `group by`: three columns read, loaded, aggregated;
 *   - `select *`: every column loaded, 10,000 rows returned as JSON-safe rows.
 *
 * Prints one line per phase (best of 3, ms) and a last JSON line. Measured, never asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, storageCatalog } from '@tributary/lakehouse';
import type { IcebergSchema, Row } from '@tributary/lakehouse';
import { sqlEngine } from '@tributary/sql';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'customer', required: false, type: 'string' },
    { id: 3, name: 'quantity', required: false, type: 'int' },
    { id: 4, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 5, name: 'created_at', required: false, type: 'timestamptz' },
    { id: 6, name: 'day', required: false, type: 'date' },
    { id: 7, name: 'paid', required: false, type: 'boolean' },
    { id: 8, name: 'score', required: false, type: 'double' },
  ],
};

function rows(count: number, start: number): Row[] {
  return Array.from({ length: count }, (_, i) => {
    const id = start + i;
    const created = Date.UTC(2026, 0, 1) + id * 60_000;
    return {
      order_id: id,
      customer: `customer-${id % 97}`,
      quantity: id % 5,
      amount: `${id % 10_000}.${String(id % 100).padStart(2, '0')}`,
      created_at: new Date(created),
      day: new Date(created).toISOString().slice(0, 10),
      paid: id % 2 === 0,
      score: id / 8,
    };
  });
}

async function best(run: () => Promise<unknown>): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await run();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return Math.round(fastest);
}

/** Runs the benchmark on `count` rows and returns the figures (ms, best of 3). */
export async function benchSql(count: number): Promise<Record<string, number>> {
  const root = await mkdtemp(join(tmpdir(), 'tributary-sql-bench-'));
  try {
    const catalog = storageCatalog({ store: localObjectStore({ root }) });
    const table = await Table.create(catalog, 'bench.orders', { schema });
    for (let start = 0; start < count; start += 100_000) await table.append(rows(Math.min(100_000, count - start), start));
    const engine = sqlEngine({ catalog, tables: ['bench.orders'], timeoutMs: 600_000, maxRows: 10_000 });
    const figures = {
      rows: count,
      readMs: await best(() => table.read()),
      countMs: await best(() => engine.query('SELECT count(*) FROM bench.orders')),
      groupByMs: await best(() => engine.query('SELECT customer, sum(amount), avg(quantity) FROM bench.orders GROUP BY customer')),
      selectStarMs: await best(() => engine.query('SELECT * FROM bench.orders')),
      emptyQueryMs: await best(() => engine.query('SELECT 1')),
    };
    for (const [name, value] of Object.entries(figures)) console.log(`${name.padEnd(14)} ${value}`);
    console.log(JSON.stringify(figures));
    return figures;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSql(Number(process.argv[2] ?? 200_000));
