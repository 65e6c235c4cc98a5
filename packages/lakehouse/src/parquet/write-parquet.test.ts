import { InvalidOptionsError } from '@tributary/core';
import { Field, Int32, Int64, RecordBatch, Schema, Struct, Table, makeData } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../../../test/support/services.js';
import { rowsToArrow } from '../arrow/rows-to-arrow.js';
import { arrowToRows } from '../arrow/rows-to-arrow.js';
import { SchemaViolationError } from '../arrow/schema-violation-error.js';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema, Row } from '../schema/types.js';
import { readParquet } from './read-parquet.js';
import { writeParquet } from './write-parquet.js';

const run = promisify(execFile);

/**
 * pyarrow, the independent reader: the file's Arrow schema with every field's `PARQUET:field_id` (nested ones
 * included), the rows as canonical JSON (ints and decimals as strings, temporal values ISO with microseconds, bytes
 * hex, NaN as "NaN"), and per row group the Parquet column statistics and codec.
 */
const INSPECT = `
import json, sys, math, decimal, datetime, uuid
import pyarrow as pa, pyarrow.parquet as pq
path = sys.argv[1]
def canon(v):
    if v is None or isinstance(v, bool): return v
    if isinstance(v, int): return str(v)
    if isinstance(v, float): return 'NaN' if math.isnan(v) else v
    if isinstance(v, decimal.Decimal): return str(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)): return v.isoformat()
    if isinstance(v, (bytes, bytearray)): return bytes(v).hex()
    if isinstance(v, uuid.UUID): return str(v)
    if isinstance(v, dict): return {k: canon(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)): return [canon(x) for x in v]
    return str(v)
def fields(field, prefix):
    name = prefix + field.name
    out = [[name, (field.metadata or {}).get(b'PARQUET:field_id', b'').decode(), field.nullable, str(field.type)]]
    t = field.type
    if pa.types.is_struct(t):
        for i in range(t.num_fields): out += fields(t.field(i), name + '.')
    elif pa.types.is_map(t):
        out += fields(t.key_field, name + '.'); out += fields(t.item_field, name + '.')
    elif pa.types.is_list(t):
        out += fields(t.value_field, name + '.')
    return out
schema = pq.read_schema(path)
top = [[schema.field(i).name, schema.field(i).metadata[b'PARQUET:field_id'].decode()] for i in range(len(schema))]
nested = [f for i in range(len(schema)) for f in fields(schema.field(i), '')]
meta = pq.ParquetFile(path).metadata
groups = []
for g in range(meta.num_row_groups):
    rg = meta.row_group(g)
    cols = []
    for c in range(rg.num_columns):
        col = rg.column(c)
        s = col.statistics
        cols.append({'path': col.path_in_schema, 'codec': col.compression, 'nulls': s.null_count if s is not None and s.has_null_count else None,
                     'min': canon(s.min) if s is not None and s.has_min_max else None, 'max': canon(s.max) if s is not None and s.has_min_max else None,
                     'logical': str(meta.schema.column(c).logical_type)})
    groups.append({'rows': rg.num_rows, 'columns': cols})
rows = [canon(r) for r in pq.read_table(path).to_pylist()]
for r in rows:
    for k, v in list(r.items()):
        if isinstance(v, list) and v and isinstance(v[0], (list, tuple)) and len(v[0]) == 2: r[k] = [[a, b] for a, b in v]
print(json.dumps({'top': top, 'fields': nested, 'groups': groups, 'rows': rows}))
`;

interface Inspection {
  top: [string, string][];
  fields: [string, string, boolean, string][];
  groups: { rows: number; columns: { path: string; codec: string; nulls: number | null; min: unknown; max: unknown; logical: string }[] }[];
  rows: Record<string, unknown>[];
}

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tributary-write-parquet-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function inspect(bytes: Uint8Array): Promise<Inspection> {
  const path = join(directory, `${randomUUID()}.parquet`);
  await writeFile(path, bytes);
  try {
    const { stdout } = await run(services.pythonBin, ['-c', INSPECT, path], { maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout) as Inspection;
  } catch (error) {
    throw new Error(`pyarrow could not read the file: ${(error as { stderr?: string }).stderr ?? String(error)}`, { cause: error });
  }
}

const allTypes: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'flag', required: false, type: 'boolean' },
    { id: 3, name: 'qty', required: false, type: 'int' },
    { id: 4, name: 'ratio', required: false, type: 'float' },
    { id: 5, name: 'score', required: false, type: 'double' },
    { id: 6, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 7, name: 'big', required: false, type: 'decimal(38, 6)' },
    { id: 8, name: 'day', required: false, type: 'date' },
    { id: 9, name: 'at', required: false, type: 'time' },
    { id: 10, name: 'local_ts', required: false, type: 'timestamp' },
    { id: 11, name: 'utc_ts', required: false, type: 'timestamptz' },
    { id: 12, name: 'name', required: false, type: 'string' },
    { id: 13, name: 'guid', required: false, type: 'uuid' },
    { id: 14, name: 'code', required: false, type: 'fixed[2]' },
    { id: 15, name: 'blob', required: false, type: 'binary' },
  ],
};

const allRows: Row[] = [
  {
    id: 1n,
    flag: true,
    qty: -5,
    ratio: 0.5,
    score: Number.NaN,
    amount: '-1234.56',
    big: '-12345678901234567890123456789012.123456',
    day: '2024-02-29',
    at: '13:14:15.161718',
    local_ts: '2024-05-01T12:30:00.123456',
    utc_ts: '2024-05-01T12:30:00.654321Z',
    name: 'Zoë',
    guid: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    code: new Uint8Array([0, 255]),
    blob: new Uint8Array([1, 2, 3]),
  },
  {
    id: 2,
    flag: false,
    qty: 7,
    ratio: -0.25,
    score: -0,
    amount: '0.05',
    big: '7',
    day: '1969-12-31',
    at: '00:00:00',
    local_ts: new Date('1969-12-31T23:59:59.999Z'),
    utc_ts: -1n,
    name: 'apple',
    guid: '00000000-0000-0000-0000-000000000001',
    code: new Uint8Array([1, 1]),
    blob: new Uint8Array([]),
  },
  { id: 3 },
];

describe('writeParquet', () => {
  it('round-trips every primitive type with nulls, NaN, negative decimals, microsecond timestamps and uuids', async () => {
    const file = await writeParquet(allTypes, allRows);
    const back = arrowToRows(await readParquet(file.bytes, allTypes), allTypes);
    expect(back[0]).toEqual({
      id: 1n,
      flag: true,
      qty: -5,
      ratio: 0.5,
      score: Number.NaN,
      amount: '-1234.56',
      big: '-12345678901234567890123456789012.123456',
      day: '2024-02-29',
      at: '13:14:15.161718',
      local_ts: new Date('2024-05-01T12:30:00.123Z'),
      utc_ts: new Date('2024-05-01T12:30:00.654Z'),
      name: 'Zoë',
      guid: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      code: new Uint8Array([0, 255]),
      blob: new Uint8Array([1, 2, 3]),
    });
    expect(Object.is(back[1]!.score, -0)).toBe(true);
    expect(back[1]).toMatchObject({ id: 2n, amount: '0.05', big: '7.000000', day: '1969-12-31', at: '00:00:00.000000', utc_ts: new Date(-1) });
    expect(Object.values(back[2]!).filter((value) => value !== null)).toEqual([3n]);
    // Microseconds survive in the Arrow read (the row form is Date, milliseconds by the convention).
    const table = await readParquet(file.bytes, allTypes);
    expect(Array.from(table.getChild('utc_ts')!.data[0]!.values as BigInt64Array).slice(0, 2)).toEqual([1_714_566_600_654_321n, -1n]);
  });

  it('writes field ids and values that pyarrow reads independently', async () => {
    const file = await writeParquet(allTypes, allRows);
    const seen = await inspect(file.bytes);
    expect(seen.top).toEqual(allTypes.fields.map((field) => [field.name, String(field.id)]));
    expect(seen.fields.map(([name, , nullable, type]) => `${name}${nullable ? '?' : ''} ${type}`)).toEqual([
      'id int64',
      'flag? bool',
      'qty? int32',
      'ratio? float',
      'score? double',
      'amount? decimal128(12, 2)',
      'big? decimal128(38, 6)',
      'day? date32[day]',
      'at? time64[us]',
      'local_ts? timestamp[us]',
      'utc_ts? timestamp[us, tz=UTC]',
      'name? string',
      'guid? extension<arrow.uuid>', // pyarrow recognises the Parquet UUID logical type
      'code? fixed_size_binary[2]',
      'blob? binary',
    ]);
    expect(seen.rows[0]).toEqual({
      id: '1',
      flag: true,
      qty: '-5',
      ratio: 0.5,
      score: 'NaN',
      amount: '-1234.56',
      big: '-12345678901234567890123456789012.123456',
      day: '2024-02-29',
      at: '13:14:15.161718',
      local_ts: '2024-05-01T12:30:00.123456',
      utc_ts: '2024-05-01T12:30:00.654321+00:00',
      name: 'Zoë',
      guid: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      code: '00ff',
      blob: '010203',
    });
    expect(seen.rows[1]).toMatchObject({ local_ts: '1969-12-31T23:59:59.999000', utc_ts: '1969-12-31T23:59:59.999999+00:00', big: '7.000000' });
    expect(seen.rows[2]).toMatchObject({ id: '3', amount: null, utc_ts: null, guid: null });
    // Parquet logical types per the Iceberg spec's mapping, UUID included.
    const logical = Object.fromEntries(seen.groups[0]!.columns.map((column) => [column.path, column.logical]));
    expect(logical).toMatchObject({ guid: 'UUID', amount: 'Decimal(precision=12, scale=2)', day: 'Date', name: 'String' });
    expect(logical.utc_ts).toMatch(/Timestamp\(isAdjustedToUTC=true, timeUnit=microseconds/);
    expect(logical.local_ts).toMatch(/Timestamp\(isAdjustedToUTC=false, timeUnit=microseconds/);
    expect(logical.at).toMatch(/Time\(isAdjustedToUTC=false, timeUnit=microseconds/);
    // Parquet column statistics are written.
    const stats = Object.fromEntries(seen.groups[0]!.columns.map((column) => [column.path, column]));
    expect(stats.id).toMatchObject({ codec: 'ZSTD', nulls: 0, min: '1', max: '3' });
    expect(stats.amount).toMatchObject({ nulls: 1, min: '-1234.56', max: '0.05' });
  });

  it('puts field ids on nested fields and counts nested values with Parquet level semantics', async () => {
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'id', required: true, type: 'int' },
        {
          id: 2,
          name: 'address',
          required: false,
          type: {
            type: 'struct',
            fields: [
              { id: 5, name: 'city', required: true, type: 'string' },
              { id: 6, name: 'zip', required: false, type: 'int' },
            ],
          },
        },
        { id: 3, name: 'tags', required: false, type: { type: 'list', 'element-id': 7, element: 'string', 'element-required': false } },
        {
          id: 4,
          name: 'attrs',
          required: false,
          type: { type: 'map', 'key-id': 8, key: 'string', 'value-id': 9, value: 'double', 'value-required': false },
        },
      ],
    };
    const rows: Row[] = [
      { id: 1, address: { city: 'Paris', zip: 75001 }, tags: ['a', null, 'b'], attrs: new Map([['x', 1.5], ['y', Number.NaN]]) },
      { id: 2, address: null, tags: [], attrs: { z: null } },
      { id: 3, address: { city: 'Rome' }, tags: null, attrs: null },
    ];
    const file = await writeParquet(schema, rows);
    const seen = await inspect(file.bytes);
    expect(seen.fields.map(([name, id, nullable]) => `${name}:${id}:${nullable ? 'optional' : 'required'}`)).toEqual([
      'id:1:required',
      'address:2:optional',
      'address.city:5:required',
      'address.zip:6:optional',
      'tags:3:optional',
      'tags.element:7:optional',
      'attrs:4:optional',
      'attrs.key:8:required',
      'attrs.value:9:optional',
    ]);
    expect(seen.rows[0]).toEqual({ id: '1', address: { city: 'Paris', zip: '75001' }, tags: ['a', null, 'b'], attrs: [['x', 1.5], ['y', 'NaN']] });
    expect(seen.rows[1]).toEqual({ id: '2', address: null, tags: [], attrs: [['z', null]] });
    expect(file.columns.map(({ sizeBytes, ...metric }) => (expect(sizeBytes).toBeGreaterThan(0), metric))).toEqual([
      { fieldId: 1, valueCount: 3, nullCount: 0, lower: 1, upper: 3 },
      { fieldId: 5, valueCount: 3, nullCount: 1, lower: 'Paris', upper: 'Rome' },
      { fieldId: 6, valueCount: 3, nullCount: 2, lower: 75001, upper: 75001 },
      // 3 elements + one entry for the empty list + one for the null list; 1 null element + those 2.
      { fieldId: 7, valueCount: 5, nullCount: 3 },
      { fieldId: 8, valueCount: 4, nullCount: 1 },
      { fieldId: 9, valueCount: 4, nullCount: 2, nanCount: 1 },
    ]);
  });

  it('computes metrics: counts, NaN counts and read-side bounds (bigint micros for timestamps, UTF-8 order for strings)', async () => {
    const file = await writeParquet(allTypes, [...allRows, { id: 4, name: '\u{1F600}', score: 2.5, ratio: -0 }, { id: 5, name: '\uFFFF' }]);
    const byId = new Map(file.columns.map((metric) => [metric.fieldId, metric]));
    expect(file.rowCount).toBe(5);
    expect(file.columns.map((metric) => metric.fieldId)).toEqual(allTypes.fields.map((field) => field.id));
    expect(byId.get(1)).toMatchObject({ valueCount: 5, nullCount: 0, lower: 1n, upper: 5n });
    expect(byId.get(2)).toMatchObject({ nullCount: 3, lower: false, upper: true });
    expect(byId.get(4)).toMatchObject({ lower: -0.25, upper: 0.5, nanCount: 0 });
    expect(byId.get(5)).toMatchObject({ valueCount: 5, nullCount: 2, nanCount: 1, upper: 2.5 });
    expect(Object.is(byId.get(5)!.lower, -0)).toBe(true);
    expect(byId.get(6)).toMatchObject({ lower: '-1234.56', upper: '0.05' });
    expect(byId.get(7)).toMatchObject({ lower: '-12345678901234567890123456789012.123456', upper: '7.000000' });
    expect(byId.get(8)).toMatchObject({ lower: '1969-12-31', upper: '2024-02-29' });
    expect(byId.get(9)).toMatchObject({ lower: 0n, upper: 47_655_161_718n });
    expect(byId.get(10)).toMatchObject({ lower: -1000n, upper: 1_714_566_600_123_456n });
    expect(byId.get(11)).toMatchObject({ lower: -1n, upper: 1_714_566_600_654_321n });
    // UTF-8 byte order: U+FFFF (EF BF BF) sorts below U+1F600 (F0 9F 98 80), unlike UTF-16 code units.
    expect(byId.get(12)).toMatchObject({ lower: 'Zoë', upper: '\u{1F600}' });
    expect(byId.get(13)).toMatchObject({ lower: '00000000-0000-0000-0000-000000000001', upper: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6' });
    expect(byId.get(14)).toMatchObject({ lower: new Uint8Array([0, 255]), upper: new Uint8Array([1, 1]) });
    expect(byId.get(15)).toMatchObject({ lower: new Uint8Array([]), upper: new Uint8Array([1, 2, 3]) });
    expect(byId.get(3)!.nanCount).toBeUndefined();
    const allNull = (await writeParquet(allTypes, [{ id: 1 }])).columns.find((metric) => metric.fieldId === 12)!;
    expect(allNull).toEqual({ fieldId: 12, valueCount: 1, nullCount: 1, sizeBytes: expect.any(Number) as unknown });
  });

  it('splits row groups and reports their offsets; honours each codec', async () => {
    const schema: IcebergSchema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'n', required: true, type: 'long' }] };
    const rows = Array.from({ length: 10 }, (_, n) => ({ n }));
    const file = await writeParquet(schema, rows, { rowGroupRows: 4, compression: 'snappy' });
    const footer = parquetMetadata(file.bytes.slice().buffer);
    expect(footer.row_groups.map((group) => Number(group.num_rows))).toEqual([4, 4, 2]);
    expect(file.splitOffsets).toEqual(footer.row_groups.map((group) => Number(group.columns[0]!.meta_data!.dictionary_page_offset ?? group.columns[0]!.meta_data!.data_page_offset)));
    expect(file.splitOffsets[0]).toBe(4);
    expect([...file.splitOffsets].sort((a, b) => a - b)).toEqual(file.splitOffsets);
    expect(new Set(file.splitOffsets).size).toBe(3);
    const seen = await inspect(file.bytes);
    expect(seen.groups.map((group) => [group.rows, group.columns[0]!.codec])).toEqual([
      [4, 'SNAPPY'],
      [4, 'SNAPPY'],
      [2, 'SNAPPY'],
    ]);
    for (const [compression, codec] of [
      ['gzip', 'GZIP'],
      ['uncompressed', 'UNCOMPRESSED'],
      ['zstd', 'ZSTD'],
    ] as const) {
      const written = await writeParquet(schema, rows, { compression });
      expect(parquetMetadata(written.bytes.slice().buffer).row_groups[0]!.columns[0]!.meta_data!.codec).toBe(codec);
      expect(arrowToRows(await readParquet(written.bytes, schema), schema)).toEqual(rows.map(({ n }) => ({ n: BigInt(n) })));
    }
  });

  it('takes an Arrow table: adds field ids to a table without them, checks types and required nulls', async () => {
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 10, name: 'a', required: true, type: 'int' },
        { id: 11, name: 'b', required: false, type: 'long' },
      ],
    };
    const plain = (nullable: boolean, bType: Int32 | Int64 = new Int64()): Table => {
      const fields = [new Field('a', new Int32(), nullable), new Field('b', bType, true)];
      const arrowSchema = new Schema(fields);
      const a = makeData({ type: new Int32(), length: 2, nullCount: nullable ? 1 : 0, nullBitmap: nullable ? new Uint8Array([1]) : null, data: new Int32Array([1, 0]) });
      const b =
        bType instanceof Int64
          ? makeData({ type: new Int64(), length: 2, nullCount: 0, data: new BigInt64Array([5n, 6n]) })
          : makeData({ type: new Int32(), length: 2, nullCount: 0, data: new Int32Array([5, 6]) });
      return new Table(arrowSchema, new RecordBatch(arrowSchema, makeData({ type: new Struct(fields), length: 2, nullCount: 0, children: [a, b] })));
    };
    const file = await writeParquet(schema, plain(false));
    expect((await inspect(file.bytes)).top).toEqual([
      ['a', '10'],
      ['b', '11'],
    ]);
    expect(arrowToRows(await readParquet(file.bytes, schema), schema)).toEqual([
      { a: 1, b: 5n },
      { a: 0, b: 6n },
    ]);
    expect(file.columns[0]).toMatchObject({ fieldId: 10, lower: 0, upper: 1 });
    await expect(writeParquet(schema, plain(true))).rejects.toThrow(SchemaViolationError);
    await expect(writeParquet(schema, plain(true))).rejects.toThrow(/Column "a" \(field id 10\) is required but the Arrow table has a null in it \(row 1 of its batch\)/);
    await expect(writeParquet(schema, plain(false, new Int32()))).rejects.toThrow(/Column "b" \(field id 11\) of the Arrow table is Int32, but the schema needs Int64/);
    const missing = { ...schema, fields: [...schema.fields, { id: 12, name: 'c', required: false, type: 'string' as const }] };
    await expect(writeParquet(missing, plain(false))).rejects.toThrow(/no column for field 12 \("c"\)/);
    // The same table, converted from rows, is accepted as it is.
    const converted = rowsToArrow(schema, [{ a: 1, b: 5n }]);
    expect((await writeParquet(schema, converted)).rowCount).toBe(1);
  });

  it('rejects schema violations and bad options before encoding anything', async () => {
    const error = await writeParquet(allTypes, [{ id: 1 }, { id: null }], { table: 'bronze.events' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SchemaViolationError);
    expect(error).toMatchObject({ code: 'SCHEMA_VIOLATION', rowIndex: 1, column: 'id', table: 'bronze.events' });
    await expect(writeParquet(allTypes, [], { compression: 'lz4' } as never)).rejects.toThrow(InvalidOptionsError);
    await expect(writeParquet(allTypes, [], { rowGroupRows: 0 })).rejects.toThrow(/rowGroupRows/);
  });

  it('writes an empty file that readers accept', async () => {
    const file = await writeParquet(allTypes, []);
    expect(file.rowCount).toBe(0);
    expect(file.columns.every((metric) => metric.valueCount === 0 && metric.lower === undefined)).toBe(true);
    expect((await inspect(file.bytes)).rows).toEqual([]);
    expect((await readParquet(file.bytes, allTypes)).numRows).toBe(0);
  });

  it('is a LakehouseError family throughout', () => {
    expect(new SchemaViolationError('x', { column: 'a', fieldId: 1, rowIndex: 0 })).toBeInstanceOf(LakehouseError);
  });
});
