import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, storageCatalog } from '@tributary/lakehouse';
import type { IcebergSchema } from '@tributary/lakehouse';
import { sqlEngine } from '@tributary/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planChecks } from './check.js';
import { histogramPlan, profileTable } from './profile.js';
import { checkSql, columnKind, countKey, duckdbType, profileDistributionSql, profileStatsSql, quoteIdentifier, quoteTable } from './quality-sql.js';
import type { PinnedTable } from './table-read.js';

const HOSTILE = 'x" FROM y; DROP TABLE z; --';

describe('identifier quoting', () => {
  it('wraps names in double quotes and doubles embedded ones', () => {
    expect(quoteIdentifier('amount')).toBe('"amount"');
    expect(quoteIdentifier('we"ird')).toBe('"we""ird"');
    expect(quoteIdentifier(HOSTILE)).toBe('"x"" FROM y; DROP TABLE z; --"');
    expect(() => quoteIdentifier('a\u0000b')).toThrow(/NUL/);
  });

  it('quotes namespace and table apart', () => {
    expect(quoteTable('silver.orders')).toBe('"silver"."orders"');
    expect(quoteTable('ns.my-table')).toBe('"ns"."my-table"');
    expect(() => quoteTable('orders')).toThrow(/namespace\.table/);
    expect(() => quoteTable('ns.')).toThrow();
  });
});

describe('column kinds and types', () => {
  it('classifies Iceberg types', () => {
    expect(columnKind('int')).toBe('numeric');
    expect(columnKind('decimal(12, 2)')).toBe('numeric');
    expect(columnKind('timestamptz')).toBe('temporal');
    expect(columnKind('date')).toBe('temporal');
    expect(columnKind('uuid')).toBe('text');
    expect(columnKind('boolean')).toBe('boolean');
    expect(columnKind('fixed[16]')).toBe('binary');
    expect(columnKind({ type: 'list', 'element-id': 2, element: 'string', 'element-required': false })).toBe('nested');
    expect(duckdbType('decimal(12, 2)')).toBe('DECIMAL(12, 2)');
    expect(duckdbType('timestamptz')).toBe('TIMESTAMPTZ');
  });
});

describe('profile SQL', () => {
  it('keeps every name inside one quoted identifier and computes counts only for nested columns', () => {
    const sql = profileStatsSql('ns.t', [
      { name: HOSTILE, type: 'double' },
      { name: 'tags', type: { type: 'list', 'element-id': 2, element: 'string', 'element-required': false } },
    ]);
    expect(sql).toContain('count("x"" FROM y; DROP TABLE z; --") AS "c0_non_null"');
    expect(sql).toContain('approx_count_distinct("x"" FROM y; DROP TABLE z; --")');
    expect(sql).toContain('count("tags") AS "c1_non_null"');
    expect(sql).not.toMatch(/c1_(distinct|min|max)/);
    expect(sql.endsWith('FROM "ns"."t"')).toBe(true);
    expect(profileStatsSql('ns.t', [{ name: 'a', type: 'int' }], 'exact')).toContain('count(DISTINCT "a")');
  });

  it('passes histogram bounds as parameters and limits as integers', () => {
    const { sql, params } = profileDistributionSql('ns.t', [{ column: { name: 'a', type: 'int' }, topK: 3, histogram: { lo: -1.5, width: 0.25, bins: 8 } }]);
    expect(params).toEqual([-1.5, 0.25]);
    expect(sql).toContain('LIMIT 3');
    expect(sql).toContain('least(CAST(floor((CAST("a" AS DOUBLE) - CAST($1 AS DOUBLE)) / CAST($2 AS DOUBLE)) AS BIGINT), 7)');
    expect(() => profileDistributionSql('ns.t', [{ column: { name: 'a', type: 'int' }, topK: 1.5, histogram: undefined }])).toThrow();
  });

  it('plans equal-width bins, or one bin when the range is empty', () => {
    expect(histogramPlan(0, 100, 10)).toEqual({ lo: 0, width: 10, bins: 10 });
    expect(histogramPlan(5, 5, 10)).toEqual({ lo: 5, width: 1, bins: 1 });
    expect(histogramPlan(1e300, 1e300 * (1 + Number.EPSILON), 50)).toEqual({ lo: 1e300, width: 1, bins: 1 });
  });
});

describe('check SQL', () => {
  it('binds bounds and patterns as parameters, never as SQL text', () => {
    const { sql, params } = checkSql(
      'ns.t',
      [
        { kind: 'range', column: { name: 'created', type: 'timestamptz' }, min: "2026-01-01'); DROP TABLE t; --", max: undefined },
        { kind: 'regex', column: { name: 'email', type: 'string' }, pattern: "'.*", fullMatch: true },
        { kind: 'range', column: { name: 'n', type: 'long' }, min: 0, max: 10 },
      ],
      2,
    );
    expect(params).toEqual(["2026-01-01'); DROP TABLE t; --", "'.*", 0, 10]);
    expect(sql).not.toContain('DROP');
    expect(sql).toContain('"created" < CAST($1 AS TIMESTAMPTZ)');
    expect(sql).toContain('NOT regexp_full_match(CAST("email" AS VARCHAR), $2)');
    expect(sql).toContain('("n" < CAST($3 AS DOUBLE) OR "n" > CAST($4 AS DOUBLE))');
    expect(sql).toContain('LIMIT 2');
  });

  it('compares unique keys without NULL parts and names the duplicate count apart from the key columns', () => {
    const columns = [
      { name: 'a', type: 'string' as const },
      { name: 'row_count', type: 'long' as const },
    ];
    const { sql } = checkSql('ns.t', [{ kind: 'unique', columns }], 3);
    expect(sql).toContain('WHERE "a" IS NOT NULL AND "row_count" IS NOT NULL GROUP BY ALL HAVING count(*) > 1');
    expect(countKey(columns)).toBe('_row_count');
    expect(sql).toContain("'_row_count': n");
    expect(checkSql('ns.t', [{ kind: 'unique', columns }], 0).sql).not.toContain('examples');
  });

  const schema: IcebergSchema = {
    type: 'struct',
    'schema-id': 0,
    fields: [
      { id: 1, name: 'n', required: false, type: 'int' },
      { id: 2, name: 'at', required: false, type: 'timestamp' },
      { id: 3, name: 'd', required: false, type: 'date' },
      { id: 4, name: 'flag', required: false, type: 'boolean' },
    ],
  };
  const pinned = { table: { name: 'ns.t' }, snapshot: undefined, schema, asOf: undefined } as unknown as PinnedTable;

  it('normalises bounds to the column type and refuses what does not fit', () => {
    const [range] = planChecks(pinned, [{ kind: 'range', column: 'at', min: '2026-01-01T02:00:00+02:00', max: 1_800_000_000_000 }], ['ns.t']);
    expect(range).toMatchObject({ min: '2026-01-01T00:00:00.000Z', max: '2027-01-15T08:00:00.000Z' });
    expect(planChecks(pinned, [{ kind: 'range', column: 'd', min: '2026-01-02' }], ['ns.t'])[0]).toMatchObject({ min: '2026-01-02' });
    const refuse = (check: Parameters<typeof planChecks>[1][number], code: RegExp): void => {
      expect(() => planChecks(pinned, [check], ['ns.t'])).toThrow(code);
    };
    refuse({ kind: 'range', column: 'n', min: '1' }, /must be a number/);
    refuse({ kind: 'range', column: 'n', min: 5, max: 1 }, /above max/);
    refuse({ kind: 'range', column: 'at', min: '2026-01-01T00:00:00' }, /zone/);
    refuse({ kind: 'range', column: 'flag', min: 'a' }, /does not apply/);
    refuse({ kind: 'range', column: 'n' }, /min, max or both/);
    refuse({ kind: 'not_null', column: 'N' }, /not in ns\.t/);
    refuse({ kind: 'unique', columns: ['n', 'n'] }, /twice/);
    refuse({ kind: 'freshness', column: 'n', max_age_ms: 1 }, /date or timestamp/);
    refuse({ kind: 'row_count', source: { table: 'ns.other' }, tolerance: 0, tolerance_fraction: 0 }, /not available/);
  });
});

describe('generated SQL on the real engine', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-quality-sql-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('profiles and checks a column whose name is an injection attempt', async () => {
    const catalog = storageCatalog({ store: localObjectStore({ root }) });
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: HOSTILE, required: false, type: 'int' },
        { id: 2, name: "it's", required: false, type: 'string' },
      ],
    };
    const table = await Table.create(catalog, 'ns.hostile', { schema });
    await table.append([
      { [HOSTILE]: 1, "it's": 'a' },
      { [HOSTILE]: 1, "it's": null },
      { [HOSTILE]: 7, "it's": 'b' },
    ]);
    const engine = sqlEngine({ catalog, tables: ['ns.hostile'], maxRows: 10, timeoutMs: 20_000 });
    try {
      const columns = schema.fields.map((f) => ({ name: f.name, type: f.type }));
      const stats = (await engine.query(profileStatsSql('ns.hostile', columns))).rows[0];
      expect(stats).toMatchObject({ row_count: 3, c0_non_null: 3, c0_min: 1, c0_max: 7, c1_non_null: 2, c1_min: 'a', c1_max: 'b' });
      const { sql, params } = checkSql(
        'ns.hostile',
        [
          { kind: 'not_null', column: columns[1]! },
          { kind: 'unique', columns: [columns[0]!] },
        ],
        5,
      );
      const row = (await engine.query(sql, { params })).rows[0];
      expect(row).toMatchObject({ row_count: 3, k0_failing: 1, k1_groups: 1, k1_failing: 2 });
      expect(row?.['k1_examples']).toEqual([{ [HOSTILE]: 1, row_count: 2 }]);
      expect(row?.['k0_examples']).toEqual([{ [HOSTILE]: 1, "it's": null }]);
    } finally {
      engine.close();
    }
  });

  it('cuts long text values in a profile and says so', async () => {
    const catalog = storageCatalog({ store: localObjectStore({ root }) });
    const schema: IcebergSchema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 's', required: false, type: 'string' }] };
    const table = await Table.create(catalog, 'ns.long', { schema });
    await table.append([{ s: 'z'.repeat(500) }, { s: 'z'.repeat(500) }, { s: 'a' }]);
    const engine = sqlEngine({ catalog, tables: ['ns.long'], maxRows: 10, timeoutMs: 20_000 });
    try {
      const pinned = { table: { name: 'ns.long' }, snapshot: undefined, schema, asOf: undefined } as unknown as PinnedTable;
      const signal = new AbortController().signal;
      const profile = await profileTable(engine, pinned, { columns: [{ name: 's', type: 'string' }], topK: 5, bins: 10, distinct: 'exact', signal });
      const [column] = profile.columns;
      const cut = `${'z'.repeat(200)}…`;
      expect(column).toMatchObject({ min: 'a', max: cut, distinct_count: 2, top_values: [{ value: cut, count: 2 }, { value: 'a', count: 1 }] });
      expect(column?.['values_clipped']).toMatch(/200 characters/);
    } finally {
      engine.close();
    }
  });
});
