import { InvalidOptionsError } from '@tributary/core';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parquetMetadata } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../../../test/support/services.js';
import { fieldIdOf } from '../arrow/arrow-schema.js';
import { arrowToRows } from '../arrow/rows-to-arrow.js';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema } from '../schema/types.js';
import { readParquet } from './read-parquet.js';
import { writeParquet } from './write-parquet.js';

const run = promisify(execFile);

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tributary-read-parquet-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** Runs a pyarrow script that writes a Parquet file to `sys.argv[1]`, and returns the file. */
async function pyarrowFile(script: string): Promise<Uint8Array> {
  const path = join(directory, `${randomUUID()}.parquet`);
  try {
    await run(services.pythonBin, ['-c', `import sys, decimal, datetime\nimport pyarrow as pa, pyarrow.parquet as pq\n${script}`, path]);
  } catch (error) {
    throw new Error(`pyarrow failed: ${(error as { stderr?: string }).stderr ?? String(error)}`, { cause: error });
  }
  return new Uint8Array(await readFile(path));
}

const v0: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'int' },
    { id: 2, name: 'price', required: false, type: 'float' },
    { id: 3, name: 'amount', required: false, type: 'decimal(9, 2)' },
    { id: 4, name: 'name', required: false, type: 'string' },
    {
      id: 5,
      name: 'addr',
      required: false,
      type: {
        type: 'struct',
        fields: [
          { id: 6, name: 'city', required: true, type: 'string' },
          { id: 7, name: 'zip', required: false, type: 'int' },
        ],
      },
    },
    { id: 8, name: 'tags', required: false, type: { type: 'list', 'element-id': 9, element: 'int', 'element-required': false } },
    { id: 10, name: 'm', required: false, type: { type: 'map', 'key-id': 11, key: 'int', 'value-id': 12, value: 'float', 'value-required': false } },
  ],
};

/** v0 after schema evolution: renames, widenings, added columns (top level and nested), a dropped column. */
const v1: IcebergSchema = {
  type: 'struct',
  'schema-id': 1,
  fields: [
    { id: 1, name: 'key', required: true, type: 'long' },
    { id: 14, name: 'added', required: false, type: 'string' },
    { id: 2, name: 'price', required: false, type: 'double' },
    { id: 3, name: 'amount', required: false, type: 'decimal(20, 2)' },
    {
      id: 5,
      name: 'address',
      required: false,
      type: {
        type: 'struct',
        fields: [
          { id: 7, name: 'postcode', required: false, type: 'long' },
          { id: 6, name: 'town', required: true, type: 'string' },
          { id: 13, name: 'country', required: false, type: 'string' },
        ],
      },
    },
    { id: 8, name: 'labels', required: false, type: { type: 'list', 'element-id': 9, element: 'long', 'element-required': false } },
    { id: 10, name: 'm', required: false, type: { type: 'map', 'key-id': 11, key: 'long', 'value-id': 12, value: 'double', 'value-required': false } },
  ],
};

const v0Rows = [
  { id: 1, price: 1.5, amount: '-12.34', name: 'a', addr: { city: 'Paris', zip: 75001 }, tags: [1, null], m: new Map([[1, 0.5]]) },
  { id: 2, price: null, amount: null, name: null, addr: null, tags: null, m: null },
];

describe('readParquet', () => {
  it('matches columns by field id across renames, added columns, widened types and dropped columns', async () => {
    const file = await writeParquet(v0, v0Rows);
    const table = await readParquet(file.bytes, v1);
    expect(table.schema.fields.map((field) => [field.name, fieldIdOf(field)])).toEqual(v1.fields.map((field) => [field.name, field.id]));
    expect(arrowToRows(table, v1)).toEqual([
      {
        key: 1n,
        added: null,
        price: 1.5,
        amount: '-12.34',
        address: { postcode: 75001n, town: 'Paris', country: null },
        labels: [1n, null],
        m: new Map([[1n, 0.5]]),
      },
      { key: 2n, added: null, price: null, amount: null, address: null, labels: null, m: null },
    ]);
  });

  it('returns a table that can be written again under the new schema (compaction after evolution)', async () => {
    const file = await writeParquet(v0, v0Rows);
    const rewritten = await writeParquet(v1, await readParquet(file.bytes, v1));
    expect(arrowToRows(await readParquet(rewritten.bytes, v1), v1)).toEqual(arrowToRows(await readParquet(file.bytes, v1), v1));
    const metrics = new Map(rewritten.columns.map((metric) => [metric.fieldId, metric]));
    expect(metrics.get(14)).toMatchObject({ valueCount: 2, nullCount: 2 });
    expect(metrics.get(14)!.lower).toBeUndefined();
    expect(metrics.get(13)).toMatchObject({ valueCount: 2, nullCount: 2 });
    expect(metrics.get(1)).toMatchObject({ lower: 1n, upper: 2n });
    expect(metrics.get(3)).toMatchObject({ lower: '-12.34', upper: '-12.34', nullCount: 1 });
  });

  it('projects top-level columns by field id, in schema order', async () => {
    const file = await writeParquet(v0, v0Rows);
    const table = await readParquet(file.bytes, v1, { columns: [5, 1] });
    expect(table.schema.fields.map((field) => field.name)).toEqual(['key', 'address']);
    expect(table.numRows).toBe(2);
    await expect(readParquet(file.bytes, v1, { columns: [6] })).rejects.toThrow(/field id 6, which is not a top-level field/);
    // Only added columns: no column chunk is read, the row count still comes from the file.
    expect(arrowToRows(await readParquet(file.bytes, v1, { columns: [14] }), { ...v1, fields: [v1.fields[1]!] })).toEqual([{ added: null }, { added: null }]);
    await expect(readParquet(file.bytes, v1, { column: [1] } as never)).rejects.toThrow(InvalidOptionsError);
  });

  it('does not decode the column chunks a projection leaves out', async () => {
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'key', required: true, type: 'long' },
        { id: 2, name: 'payload', required: false, type: 'string' },
      ],
    };
    const rows = Array.from({ length: 100 }, (_, n) => ({ key: n, payload: `payload-${n}-${'x'.repeat(n)}` }));
    const file = await writeParquet(schema, rows, { compression: 'uncompressed' });
    // Overwrite the middle of the payload chunk: reading it fails, reading around it must not.
    const chunk = parquetMetadata(file.bytes.slice().buffer).row_groups[0]!.columns[1]!.meta_data!;
    const start = Number(chunk.dictionary_page_offset ?? chunk.data_page_offset);
    const damaged = file.bytes.slice();
    damaged.fill(0xff, start, start + Number(chunk.total_compressed_size));
    await expect(readParquet(damaged, schema)).rejects.toMatchObject({ code: 'CORRUPT_PARQUET' });
    const keys = await readParquet(damaged, schema, { columns: [1] });
    expect(arrowToRows(keys, { ...schema, fields: [schema.fields[0]!] }).map((row) => row.key)).toEqual(rows.map((row) => BigInt(row.key)));
  });

  it('refuses what Iceberg cannot read: a missing required column, a type that is no promotion, bytes that are not Parquet', async () => {
    const file = await writeParquet(v0, v0Rows);
    const requiredAdded: IcebergSchema = { ...v0, fields: [...v0.fields, { id: 20, name: 'must', required: true, type: 'string' }] };
    await expect(readParquet(file.bytes, requiredAdded, { table: 'silver.t', file: 'data/f.parquet' })).rejects.toThrow(
      new LakehouseError(
        'SCHEMA_MISMATCH',
        'Parquet file data/f.parquet of table silver.t has no column with field id 20 ("must"), which the schema requires. A required column cannot be added to existing files; make it optional.',
        { table: 'silver.t', file: 'data/f.parquet' },
      ),
    );
    const cases: [IcebergSchema['fields'][number], RegExp][] = [
      [{ id: 4, name: 'name', required: false, type: 'int' }, /Column "name" of Parquet file is Utf8, which cannot be read as int/],
      [{ id: 3, name: 'amount', required: false, type: 'decimal(9, 3)' }, /Column "amount" of Parquet file is Decimal\[9e\+2\], which cannot be read as decimal\(9, 3\)/],
      [{ id: 3, name: 'amount', required: false, type: 'decimal(8, 2)' }, /cannot be read as decimal\(8, 2\)/],
      [{ id: 2, name: 'price', required: false, type: 'int' }, /Column "price" .* is Float32, which cannot be read as int/],
      [{ id: 1, name: 'id', required: true, type: 'float' }, /is Int32, which cannot be read as float/],
      [{ id: 5, name: 'addr', required: false, type: 'string' }, /Column "addr" .* cannot be read as string/],
    ];
    for (const [field, message] of cases) {
      const schema: IcebergSchema = { type: 'struct', 'schema-id': 2, fields: [field] };
      const error = await readParquet(file.bytes, schema).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LakehouseError);
      expect((error as LakehouseError).code).toBe('SCHEMA_MISMATCH');
      expect((error as Error).message).toMatch(message);
    }
    const corrupt = await readParquet(new Uint8Array([1, 2, 3, 4]), v0, { file: 'x.parquet' }).catch((caught: unknown) => caught);
    expect(corrupt).toMatchObject({ code: 'CORRUPT_PARQUET', file: 'x.parquet' });
    expect((corrupt as Error).message).toMatch(/^Cannot read Parquet file x.parquet \(4 bytes\): .*The file is damaged or not Parquet\.$/);
  });

  it('keeps file order across row groups and record batches, so row index = position', async () => {
    const schema: IcebergSchema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'n', required: true, type: 'int' }] };
    const count = 70_000;
    const file = await writeParquet(
      schema,
      Array.from({ length: count }, (_, n) => ({ n })),
      { rowGroupRows: 30_000 },
    );
    expect(file.splitOffsets).toHaveLength(3);
    const table = await readParquet(file.bytes, schema);
    expect(table.numRows).toBe(count);
    expect(table.batches.length).toBeGreaterThan(1);
    const values = table.batches.flatMap((batch) => Array.from(batch.getChildAt(0)!.data[0]!.values as Int32Array));
    expect(values.every((value, index) => value === index)).toBe(true);
  });

  it('reads a file pyarrow wrote the way pyiceberg does (field ids in metadata), with several row groups', async () => {
    const bytes = await pyarrowFile(`
def f(name, typ, fid, nullable=True):
    return pa.field(name, typ, nullable=nullable, metadata={b'PARQUET:field_id': str(fid).encode()})
schema = pa.schema([
    f('id', pa.int64(), 1, False),
    f('qty', pa.int32(), 2),
    f('amount', pa.decimal128(10, 2), 3),
    f('ts', pa.timestamp('us', tz='UTC'), 4),
    f('nanos', pa.timestamp('ns'), 5),
    f('day', pa.date32(), 6),
    f('tags', pa.list_(f('element', pa.string(), 8)), 7),
    f('point', pa.struct([f('x', pa.float64(), 10, False), f('y', pa.float32(), 11)]), 9),
    f('attrs', pa.map_(f('key', pa.string(), 13, False), f('value', pa.int64(), 14)), 12),
    f('guid', pa.binary(16), 15),
    f('text', pa.large_string(), 16),
])
table = pa.table({
    'id': [10, 11, 12],
    'qty': [1, None, -3],
    'amount': [decimal.Decimal('-1.25'), None, decimal.Decimal('99999999.99')],
    'ts': [datetime.datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=datetime.timezone.utc), None, datetime.datetime(1960, 1, 1, tzinfo=datetime.timezone.utc)],
    'nanos': pa.array([1714566600123456789, None, -1], pa.timestamp('ns')),
    'day': [datetime.date(2024, 2, 29), None, datetime.date(1900, 1, 1)],
    'tags': [['a', None], [], None],
    'point': [{'x': 1.0, 'y': 2.5}, None, {'x': -0.5, 'y': None}],
    'attrs': [[('k', 1)], None, [('a', None), ('b', 2)]],
    'guid': [bytes.fromhex('f81d4fae7dec11d0a76500a0c91e6bf6'), None, bytes(16)],
    'text': ['ünï', None, 'x'],
}, schema=schema)
pq.write_table(table, sys.argv[1], row_group_size=2)
`);
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'order_id', required: true, type: 'long' },
        { id: 2, name: 'quantity', required: false, type: 'long' },
        { id: 3, name: 'amount', required: false, type: 'decimal(12, 2)' },
        { id: 4, name: 'ts', required: false, type: 'timestamptz' },
        { id: 5, name: 'nanos', required: false, type: 'timestamp' },
        { id: 6, name: 'day', required: false, type: 'date' },
        { id: 7, name: 'tags', required: false, type: { type: 'list', 'element-id': 8, element: 'string', 'element-required': false } },
        {
          id: 9,
          name: 'point',
          required: false,
          type: {
            type: 'struct',
            fields: [
              { id: 10, name: 'x', required: true, type: 'double' },
              { id: 11, name: 'y', required: false, type: 'double' },
            ],
          },
        },
        { id: 12, name: 'attrs', required: false, type: { type: 'map', 'key-id': 13, key: 'string', 'value-id': 14, value: 'long', 'value-required': false } },
        { id: 15, name: 'guid', required: false, type: 'fixed[16]' },
        { id: 16, name: 'text', required: false, type: 'string' },
      ],
    };
    const table = await readParquet(bytes, schema);
    const micros = table.getChild('nanos')!.data.flatMap((data) => Array.from(data.values as BigInt64Array));
    expect([micros[0], micros[2]]).toEqual([1_714_566_600_123_456n, -1n]); // nanoseconds floored to microseconds
    const rows = arrowToRows(table, schema);
    expect(rows).toEqual([
      {
        order_id: 10n,
        quantity: 1n,
        amount: '-1.25',
        ts: new Date('2024-05-01T12:30:00.123Z'),
        nanos: new Date('2024-05-01T12:30:00.123Z'),
        day: '2024-02-29',
        tags: ['a', null],
        point: { x: 1, y: 2.5 },
        attrs: new Map([['k', 1n]]),
        guid: Uint8Array.from(Buffer.from('f81d4fae7dec11d0a76500a0c91e6bf6', 'hex')),
        text: 'ünï',
      },
      { order_id: 11n, quantity: null, amount: null, ts: null, nanos: null, day: null, tags: [], point: null, attrs: null, guid: null, text: null },
      {
        order_id: 12n,
        quantity: -3n,
        amount: '99999999.99',
        ts: new Date('1960-01-01T00:00:00Z'),
        nanos: new Date(-1),
        day: '1900-01-01',
        tags: null,
        point: { x: -0.5, y: null },
        attrs: new Map([
          ['a', null],
          ['b', 2n],
        ]),
        guid: new Uint8Array(16),
        text: 'x',
      },
    ]);
  });

  it('matches by name when the file carries no field ids at all', async () => {
    const bytes = await pyarrowFile(`
pq.write_table(pa.table({'a': pa.array([1, 2], pa.int32()), 'b': ['x', None]}), sys.argv[1])
`);
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 5, name: 'b', required: false, type: 'string' },
        { id: 6, name: 'a', required: true, type: 'long' },
        { id: 7, name: 'c', required: false, type: 'string' },
      ],
    };
    expect(arrowToRows(await readParquet(bytes, schema), schema)).toEqual([
      { b: 'x', a: 1n, c: null },
      { b: null, a: 2n, c: null },
    ]);
  });
});
