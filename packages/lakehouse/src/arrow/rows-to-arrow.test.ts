import { InvalidOptionsError } from '@tributary/core';
import { Field, Int32, RecordBatch, Schema, Struct, Table, makeData, makeVector } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema, IcebergType, Row } from '../schema/types.js';
import { FIELD_ID_KEY } from './arrow-schema.js';
import { arrowToRows, describeValue, rowsToArrow } from './rows-to-arrow.js';
import { SchemaViolationError } from './schema-violation-error.js';

function single(type: IcebergType, required = false): IcebergSchema {
  return { type: 'struct', 'schema-id': 0, fields: [{ id: 7, name: 'v', required, type }] };
}

/** Converts values of one column and reads them back as read-side values. */
function roundTrip(type: IcebergType, values: readonly unknown[], required = false): unknown[] {
  const schema = single(type, required);
  return arrowToRows(
    rowsToArrow(
      schema,
      values.map((v) => ({ v })),
    ),
    schema,
  ).map((row) => row.v);
}

function violation(type: IcebergType, values: readonly unknown[], required = false): SchemaViolationError {
  try {
    rowsToArrow(
      single(type, required),
      values.map((v) => ({ v })),
      { table: 'silver.orders' },
    );
  } catch (error) {
    expect(error).toBeInstanceOf(SchemaViolationError);
    expect((error as SchemaViolationError).code).toBe('SCHEMA_VIOLATION');
    expect((error as SchemaViolationError).table).toBe('silver.orders');
    return error as SchemaViolationError;
  }
  throw new Error(`expected a schema violation for ${type as string}`);
}

describe('rowsToArrow + arrowToRows', () => {
  it('round-trips booleans, ints and floats with nulls, NaN and -0', () => {
    expect(roundTrip('boolean', [true, false, null, undefined])).toEqual([true, false, null, null]);
    expect(roundTrip('int', [0, -1, 2_147_483_647, -2_147_483_648, null])).toEqual([0, -1, 2_147_483_647, -2_147_483_648, null]);
    expect(roundTrip('double', [1.5, Number.NaN, -0, Number.POSITIVE_INFINITY, null])).toEqual([1.5, Number.NaN, -0, Number.POSITIVE_INFINITY, null]);
    expect(Object.is(roundTrip('double', [-0])[0], -0)).toBe(true);
    expect(roundTrip('float', [0.5, Number.NaN, 3.4e38])).toEqual([0.5, Number.NaN, Math.fround(3.4e38)]);
  });

  it('reads longs back as bigint from safe numbers and bigints, at the int64 limits', () => {
    expect(roundTrip('long', [1, -1, Number.MAX_SAFE_INTEGER, -(2n ** 63n), 2n ** 63n - 1n, null])).toEqual([
      1n,
      -1n,
      BigInt(Number.MAX_SAFE_INTEGER),
      -(2n ** 63n),
      2n ** 63n - 1n,
      null,
    ]);
  });

  it('keeps decimals exact: strings, numbers and unscaled bigints, negative, 38 digits', () => {
    expect(roundTrip('decimal(12, 2)', ['12.3', '-0.05', '-12.30', 19.99, -7, 1234n, '1e3', '0', '12.300', null])).toEqual([
      '12.30',
      '-0.05',
      '-12.30',
      '19.99',
      '-7.00',
      '12.34',
      '1000.00',
      '0.00',
      '12.30',
      null,
    ]);
    const big = '-1234567890123456789012345678.0123456789';
    expect(roundTrip('decimal(38, 10)', [big, '99999999999999999999999999999999999999'.slice(0, 28) + '.9999999999'])).toEqual([
      big,
      '9999999999999999999999999999.9999999999',
    ]);
    expect(roundTrip('decimal(5, 0)', ['-99999', 99999n])).toEqual(['-99999', '99999']);
  });

  it('converts dates, times and timestamps, keeping microseconds', () => {
    expect(roundTrip('date', ['2024-02-29', new Date(Date.UTC(1969, 11, 31, 23, 59)), 0, -1, '0001-01-01', null])).toEqual([
      '2024-02-29',
      '1969-12-31',
      '1970-01-01',
      '1969-12-31',
      '0001-01-01',
      null,
    ]);
    expect(roundTrip('time', ['00:00:00', '23:59:59.999999', '12:30:00.5', 1n, '01:02:03.123456789'])).toEqual([
      '00:00:00.000000',
      '23:59:59.999999',
      '12:30:00.500000',
      '00:00:00.000001',
      '01:02:03.123456',
    ]);
    const schema = single('timestamptz');
    const table = rowsToArrow(schema, [
      { v: '2024-05-01T12:30:00.123456Z' },
      { v: '2024-05-01T14:30:00.123456+02:00' },
      { v: '2024-05-01 12:30:00.123456' },
      { v: new Date('2024-05-01T12:30:00.123Z') },
      { v: -1n },
      { v: '1969-12-31T23:59:59.999999Z' },
      { v: '2500-01-01T00:00:00.000001Z' },
      { v: null },
    ]);
    const micros = Array.from(table.getChildAt(0)!.data[0]!.values as BigInt64Array);
    const expected = 1_714_566_600_123_456n;
    expect(micros.slice(0, 7)).toEqual([expected, expected, expected, expected - 456n, -1n, -1n, 16_725_225_600_000_001n]);
    const rows = arrowToRows(table, schema).map((row) => row.v);
    expect(rows[0]).toEqual(new Date('2024-05-01T12:30:00.123Z'));
    expect(rows[4]).toEqual(new Date(-1)); // -1 µs is in the millisecond before the epoch
    expect(rows[6]).toEqual(new Date('2500-01-01T00:00:00.000Z'));
    expect(rows[7]).toBeNull();
  });

  it('encodes strings as UTF-8 (multi-byte, astral, lone surrogates as U+FFFD) across encoding runs', () => {
    const values: (string | null)[] = [];
    for (let index = 0; index < 3000; index++) {
      values.push(index % 1000 === 999 ? `ünïcödé ${index} 🚀` : index % 7 === 0 ? null : `row-${index}`);
    }
    values.push('x'.repeat(5000), '', 'lone \ud800 surrogate');
    const back = roundTrip('string', values);
    expect(back.slice(0, 3000)).toEqual(values.slice(0, 3000));
    expect(back.slice(3000)).toEqual(['x'.repeat(5000), '', 'lone \ufffd surrogate']);
  });

  it('converts uuid, fixed and binary values', () => {
    expect(roundTrip('uuid', ['F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6', new Uint8Array(16).fill(255), null])).toEqual([
      'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      null,
    ]);
    expect(roundTrip('fixed[3]', [new Uint8Array([1, 2, 3]), null])).toEqual([new Uint8Array([1, 2, 3]), null]);
    expect(roundTrip('binary', [new Uint8Array([]), Buffer.from('hi'), null])).toEqual([new Uint8Array([]), new Uint8Array([104, 105]), null]);
  });

  it('converts structs, lists and maps; a required child of a null struct needs no value', () => {
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        {
          id: 1,
          name: 'address',
          required: false,
          type: { type: 'struct', fields: [{ id: 4, name: 'city', required: true, type: 'string' }] },
        },
        { id: 2, name: 'tags', required: false, type: { type: 'list', 'element-id': 5, element: 'long', 'element-required': false } },
        {
          id: 3,
          name: 'attributes',
          required: false,
          type: { type: 'map', 'key-id': 6, key: 'string', 'value-id': 7, value: 'decimal(4, 1)', 'value-required': false },
        },
      ],
    };
    const rows: Row[] = [
      { address: { city: 'Paris' }, tags: [1, 2n, null], attributes: new Map([['a', '1.5']]) },
      { address: null, tags: [], attributes: { b: null, c: 2 } },
      {},
    ];
    expect(arrowToRows(rowsToArrow(schema, rows), schema)).toEqual([
      { address: { city: 'Paris' }, tags: [1n, 2n, null], attributes: new Map([['a', '1.5']]) },
      { address: null, tags: [], attributes: new Map<string, unknown>([['b', null], ['c', '2.0']]) },
      { address: null, tags: null, attributes: null },
    ]);
  });

  it('ignores properties the schema does not name and handles empty batches', () => {
    const schema = single('int');
    expect(arrowToRows(rowsToArrow(schema, [{ v: 1, extra: 'x' }]), schema)).toEqual([{ v: 1 }]);
    expect(rowsToArrow(schema, []).numRows).toBe(0);
  });
});

describe('rowsToArrow schema violations', () => {
  it('a null or missing value in a required column', () => {
    const missing = violation('long', [1, undefined], true);
    expect(missing.message).toBe(
      'Row 1, column "v" (field id 7, long) of table silver.orders: the column is required but the value is missing. Give every row a value, or make the column optional (schema evolution).',
    );
    expect([missing.rowIndex, missing.column, missing.fieldId]).toEqual([1, 'v', 7]);
    expect(violation('string', [null], true).message).toContain('the column is required but the value is null');
  });

  it('values of the wrong JavaScript type', () => {
    expect(violation('int', [1, '2']).message).toBe(
      'Row 1, column "v" (field id 7, int) of table silver.orders: expected a 32-bit integer number (-2147483648..2147483647), got string "2". Convert the value before writing it, or fix the schema.',
    );
    expect(violation('boolean', [1]).message).toContain('expected a boolean, got number 1.');
    expect(violation('string', [42n]).message).toContain('expected a string, got bigint 42n.');
    expect(violation('double', [{ amount: 1 }]).message).toContain('expected a number, got object {"amount":1}.');
    expect(violation('binary', ['abc']).message).toContain('expected a Uint8Array, got string "abc".');
    expect(violation({ type: 'list', 'element-id': 8, element: 'int', 'element-required': false }, ['x']).message).toContain('expected an array');
  });

  it('integers out of range, unsafe longs and float overflow', () => {
    expect(violation('int', [2_147_483_648]).message).toContain('got number 2147483648. Widen the column to long (schema evolution).');
    expect(violation('int', [1.5]).message).toContain('got number 1.5. Convert the value');
    expect(violation('long', [2 ** 53]).message).toContain('got number 9007199254740992. Pass integers beyond ±2^53 as bigint');
    expect(violation('long', [2n ** 63n]).message).toContain('expected a 64-bit integer, got bigint 9223372036854775808n.');
    expect(violation('float', [1e39]).message).toContain('Widen the column to double');
  });

  it('decimals with too many decimals or digits', () => {
    const scale = violation('decimal(12, 2)', ['1.5', '123.456']);
    expect(scale.rowIndex).toBe(1);
    expect(scale.message).toBe(
      'Row 1, column "v" (field id 7, decimal(12, 2)) of table silver.orders: expected a decimal(12, 2): a string such as "12.33", a number, or a bigint unscaled value, got string "123.456". ' +
        "The value has 3 decimal places, more than the scale 2. Round the value to 2 decimals and at most 12 digits, or widen the column's precision (schema evolution).",
    );
    expect(violation('decimal(12, 2)', [0.1 + 0.2]).message).toContain('got number 0.30000000000000004. The value has 17 decimal places');
    expect(violation('decimal(4, 2)', ['123.4']).message).toContain('has 5 significant digits, more than the precision 4');
    expect(violation('decimal(4, 2)', [10000n]).message).toContain('The unscaled value has more than 4 digits');
    expect(violation('decimal(4, 2)', ['12,5']).message).toContain('got string "12,5". The value is not a decimal number.');
    expect(violation('decimal(4, 2)', [Number.NaN]).message).toContain('got number NaN. Convert the value');
  });

  it('dates, times, timestamps and uuids that do not parse', () => {
    expect(violation('date', ['2023-02-29']).message).toContain(
      'expected a date: a "YYYY-MM-DD" string, a Date (its UTC day) or a number of days since 1970-01-01, got string "2023-02-29".',
    );
    expect(violation('date', [new Date('nope')]).message).toContain('got an invalid Date.');
    expect(violation('time', ['24:00:00']).message).toContain('got string "24:00:00"');
    expect(violation('time', [86_400_000_000n]).message).toContain('got bigint 86400000000n');
    expect(violation('timestamp', [1_714_566_600_000]).message).toContain(
      'got number 1714566600000. Numbers are ambiguous (seconds? milliseconds?): pass new Date(millis) or BigInt(micros).',
    );
    expect(violation('timestamptz', ['yesterday']).message).toContain('got string "yesterday"');
    expect(violation('uuid', ['f81d4fae7dec11d0a76500a0c91e6bf6']).message).toContain(
      'expected a UUID: a string in the canonical 8-4-4-4-12 hex form, or 16 bytes, got string "f81d4fae7dec11d0a76500a0c91e6bf6".',
    );
    expect(violation('fixed[4]', [new Uint8Array(3)]).message).toContain('expected a Uint8Array of exactly 4 bytes, got Uint8Array(3 bytes).');
  });

  it('names the path and the batch row of a bad value inside a list, map or struct', () => {
    const list = violation({ type: 'list', 'element-id': 8, element: 'int', 'element-required': true }, [[1], [2, null]]);
    expect([list.column, list.fieldId, list.rowIndex]).toEqual(['v.element', 8, 1]);
    const map = violation({ type: 'map', 'key-id': 8, key: 'int', 'value-id': 9, value: 'string', 'value-required': false }, [{ a: 'x' }]);
    expect(map.message).toContain('column "v.key" (field id 8, int)');
    expect(map.message).toContain('got string "a"');
    const struct = violation({ type: 'struct', fields: [{ id: 8, name: 'city', required: true, type: 'string' }] }, [{ city: 'x' }, {}]);
    expect([struct.column, struct.rowIndex]).toEqual(['v.city', 1]);
  });

  it('truncates long offending values in the message', () => {
    const error = violation('int', ['y'.repeat(500)]);
    expect(error.message).toContain(`got string "${'y'.repeat(60)}…" (500 characters).`);
    expect(error.message.length).toBeLessThan(400);
  });

  it('rejects rows that are not objects, and unknown options', () => {
    expect(() => rowsToArrow(single('int'), [{ v: 1 }, null as unknown as Row])).toThrow(
      new LakehouseError('SCHEMA_VIOLATION', 'Row 1 is null, not an object of column values. Pass one plain object per row.'),
    );
    expect(() => rowsToArrow(single('int'), [], { tabel: 'x' } as never)).toThrow(InvalidOptionsError);
    expect(() => rowsToArrow(single('int'), new Set([{ v: 1 }]) as never)).toThrow(/Rows must be an array of row objects, got object \{\}/);
  });

  it('describes values safely', () => {
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(new Map([[1, 2]]))).toBe('a Map of 1');
    expect(describeValue([1, 2, 3])).toBe('an array of 3');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe('object an object');
  });
});

describe('arrowToRows', () => {
  it('finds columns by field id, so a table with another column name still reads', () => {
    const field = new Field('old_name', new Int32(), true, new Map([[FIELD_ID_KEY, '7']]));
    const schema = new Schema([field]);
    const data = makeData({ type: new Struct([field]), length: 2, nullCount: 0, children: [makeVector(new Int32Array([5, 6])).data[0]!] });
    const table = new Table(schema, new RecordBatch(schema, data));
    expect(arrowToRows(table, single('int'))).toEqual([{ v: 5 }, { v: 6 }]);
  });

  it('refuses a column whose Arrow type does not read as the schema type', () => {
    const schema = single('int');
    const table = rowsToArrow(schema, [{ v: 1 }]);
    expect(() => arrowToRows(table, single('long'))).toThrow(/Column "v" \(field id 7\) is Int32 in the Arrow table, but the schema's type long reads from Int64/);
    expect(() => arrowToRows(table, { ...schema, fields: [{ id: 8, name: 'w', required: false, type: 'int' }] })).toThrow(/no column for field 8/);
  });
});
