import type { NestedField, Row } from '@tributary/lakehouse';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadTable, unscaledDecimal } from './load-table.js';
import { jsonValue } from './result-values.js';
import { openSandbox } from './sandbox.js';
import type { Sandbox } from './sandbox.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await openSandbox();
});
afterEach(() => sandbox.close());

const fields: NestedField[] = [
  { id: 1, name: 'b', required: false, type: 'boolean' },
  { id: 2, name: 'i', required: false, type: 'int' },
  { id: 3, name: 'l', required: false, type: 'long' },
  { id: 4, name: 'f', required: false, type: 'float' },
  { id: 5, name: 'd', required: false, type: 'double' },
  { id: 6, name: 'dec', required: false, type: 'decimal(38, 4)' },
  { id: 7, name: 'day', required: false, type: 'date' },
  { id: 8, name: 't', required: false, type: 'time' },
  { id: 9, name: 'ts', required: false, type: 'timestamp' },
  { id: 10, name: 'tstz', required: false, type: 'timestamptz' },
  { id: 11, name: 's', required: false, type: 'string' },
  { id: 12, name: 'u', required: false, type: 'uuid' },
  { id: 13, name: 'bin', required: false, type: 'binary' },
  { id: 14, name: 'fx', required: false, type: 'fixed[2]' },
  { id: 15, name: 'st', required: false, type: { type: 'struct', fields: [{ id: 16, name: 'city', required: false, type: 'string' }] } },
  { id: 17, name: 'weird "name"', required: false, type: 'string' },
];

describe('loadTable', () => {
  it('loads every Iceberg primitive exactly, nulls included, and results come back JSON-safe', async () => {
    const rows: Row[] = [
      {
        b: true,
        i: -7,
        l: 2n ** 62n,
        f: 1.5,
        d: Number.NaN,
        dec: '-12345678901234567890123456789012.3456',
        day: '2026-03-01',
        t: '13:14:15.123456',
        ts: 1_767_225_600_000_001n,
        tstz: new Date(Date.UTC(2026, 0, 1, 12)),
        s: "it's \"quoted\"",
        u: '123e4567-e89b-12d3-a456-426614174000',
        bin: new Uint8Array([0, 255]),
        fx: new Uint8Array([1, 2]),
        st: { city: 'Paris' },
        'weird "name"': 'ok',
      },
      Object.fromEntries(fields.map((f) => [f.name, null])),
    ];
    // 5000 more rows: several data chunks (2048 rows each), boundaries included.
    for (let n = 0; n < 5000; n++) rows.push({ ...rows[1]!, i: n });
    await loadTable(sandbox.connection, 'lake', 'all_types', fields, rows);
    const reader = await sandbox.connection.runAndReadAll('SELECT * FROM lake.all_types WHERE i = -7 OR (i IS NULL AND b IS NULL)');
    const names = reader.columnNames();
    const out = reader.getRows().map((values) => Object.fromEntries(values.map((v, k) => [names[k], jsonValue(v)])));
    expect(out).toEqual([
      {
        b: true,
        i: -7,
        l: (2n ** 62n).toString(),
        f: 1.5,
        d: 'NaN',
        dec: '-12345678901234567890123456789012.3456',
        day: '2026-03-01',
        t: '13:14:15.123456',
        ts: '2026-01-01T00:00:00.000001Z',
        tstz: '2026-01-01T12:00:00.000Z',
        s: "it's \"quoted\"",
        u: '123e4567-e89b-12d3-a456-426614174000',
        bin: '00ff',
        fx: '0102',
        st: '{"city":"Paris"}',
        'weird "name"': 'ok',
      },
      Object.fromEntries(fields.map((f) => [f.name, null])),
    ]);
    const count = await sandbox.connection.runAndReadAll('SELECT count(*), sum(i) FROM lake.all_types');
    expect(count.getRowsJson()).toEqual([['5002', String(-7 + (4999 * 5000) / 2)]]);
    const json = await sandbox.connection.runAndReadAll("SELECT st->>'$.city' FROM lake.all_types WHERE i = -7");
    expect(json.getRowsJson()).toEqual([['Paris']]);
  });

  it('parses decimals exactly', () => {
    expect(unscaledDecimal('12.3', 2)).toBe(1230n);
    expect(unscaledDecimal('-0.05', 2)).toBe(-5n);
    expect(unscaledDecimal('7', 3)).toBe(7000n);
    expect(unscaledDecimal(1230n, 2)).toBe(1230n);
    expect(unscaledDecimal('1.2300', 2)).toBe(123n);
    expect(() => unscaledDecimal('1.234', 2)).toThrow(/more than 2/);
    expect(() => unscaledDecimal('abc', 2)).toThrow(/not a decimal/);
  });
});
