import { RecordBatch, Schema, Struct, Table, makeData } from 'apache-arrow';
import type { Data, DataType, Field, List, Map_ } from 'apache-arrow';
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import type { IcebergSchema, IcebergType, ListType, MapType, NestedField, Row, StructType } from '../schema/types.js';
import { toArrowField } from './arrow-schema.js';
import { childFields, fieldType } from './arrow-types.js';
import { dateToMicros, parseDate, parseDecimal, parseTime, parseTimestamp, writeInt128, writeUuid } from './iceberg-values.js';
import { isPrimitive, parsePrimitive } from './primitive-type.js';
import type { ParsedPrimitive } from './primitive-type.js';
import { SchemaViolationError } from './schema-violation-error.js';

export { arrowToRows } from './arrow-to-rows.js';

const rowsToArrowOptionsSchema = z.strictObject({
  /** Table the rows are for; named in errors. */
  table: z.string().optional(),
});

/**
 * Options of {@link rowsToArrow}.
 *
 * @interface
 */
export type RowsToArrowOptions = z.input<typeof rowsToArrowOptionsSchema>;

/**
 * Converts rows of write-side JavaScript values (the table in `schema/types.ts`) into one Arrow record batch whose
 * schema is {@link toArrowSchema} of `schema`, validating every value. Properties of a row that the schema does not
 * name are ignored; a missing property is null.
 *
 * Nested values: a struct is a plain object, a list an array, a map a `Map` (any key type) or a plain object (string
 * keys). A required field inside a null struct needs no value.
 *
 * Each column is built straight into typed arrays and offsets (no per-value Arrow builder), so a million rows of ten
 * flat columns convert in well under a second on one core.
 *
 * @param options `table` — named in errors (default none)
 * @throws SchemaViolationError (code `SCHEMA_VIOLATION`) naming the column, field id, row index and the offending
 *   value; nothing is converted.
 *
 * @example
 * ```ts
 * const table = rowsToArrow(schema, [
 *   { order_id: 1n, amount: '19.99', placed_at: new Date('2024-05-01T12:00:00Z') },
 *   { order_id: 2, amount: null, placed_at: '2024-05-01T12:00:00.123456Z' },
 * ]);
 * table.numRows; // 2
 * ```
 */
export function rowsToArrow(schema: IcebergSchema, rows: readonly Row[], options: RowsToArrowOptions = {}): Table {
  const { table } = parseOptions(rowsToArrowOptionsSchema, 'rowsToArrow', options);
  // Checked through `unknown`: Array.isArray would narrow the declared type to any[].
  const given: unknown = rows;
  if (!Array.isArray(given)) {
    throw new LakehouseError(
      'SCHEMA_VIOLATION',
      `Rows must be an array of row objects${table === undefined ? '' : ` for table ${table}`}, got ${describeValue(rows)}. Collect the rows into an array (or pass an Arrow table to writeParquet).`,
      table === undefined ? {} : { table },
    );
  }
  const length = rows.length;
  for (let index = 0; index < length; index++) {
    const row = rows[index];
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new LakehouseError(
        'SCHEMA_VIOLATION',
        `Row ${index} is ${describeValue(row)}, not an object of column values${table === undefined ? '' : ` for table ${table}`}. Pass one plain object per row.`,
        table === undefined ? {} : { table },
      );
    }
  }
  const fields: Field[] = [];
  const children: Data[] = [];
  for (const field of schema.fields) {
    const arrowField = toArrowField(field);
    fields.push(arrowField);
    const source: Source = { values: rows, key: field.name, length, parentNull: undefined, rowOf: undefined };
    children.push(buildColumn(field, field.name, fieldType(arrowField), source, table));
  }
  const arrowSchema = new Schema(fields);
  const data = makeData({ type: new Struct(fields), length, nullCount: 0, children });
  return new Table(arrowSchema, new RecordBatch(arrowSchema, data));
}

/** Where a column's values come from: `values[i][key]` (top level) or `values[i]` (nested, `key` undefined). */
interface Source {
  readonly values: readonly unknown[];
  readonly key: string | undefined;
  readonly length: number;
  /** 1 where an enclosing struct is null: the slot holds no value and a required field there needs none. */
  readonly parentNull: Uint8Array | undefined;
  /** Row of the batch each slot belongs to (list elements, map entries); identity when undefined. */
  readonly rowOf: Int32Array | undefined;
}

interface Column {
  readonly path: string;
  readonly id: number;
  readonly required: boolean;
  readonly typeName: string;
  readonly table: string | undefined;
}

function buildColumn(field: NestedField, path: string, type: DataType, source: Source, table: string | undefined): Data {
  return buildValue(field.type, { path, id: field.id, required: field.required, typeName: typeName(field.type), table }, type, source);
}

function typeName(type: IcebergType): string {
  return isPrimitive(type) ? type : type.type;
}

function buildValue(icebergType: IcebergType, column: Column, type: DataType, source: Source): Data {
  if (isPrimitive(icebergType)) return buildPrimitive(parsePrimitive(icebergType, column.path), column, type, source);
  switch (icebergType.type) {
    case 'struct':
      return buildStruct(icebergType, column, type as Struct, source);
    case 'list':
      return buildList(icebergType, column, type as List, source);
    case 'map':
      return buildMap(icebergType, column, type as Map_, source);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

const MAX_SHOWN = 60;

/** A short, safe rendering of an offending value for error messages. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value)}${value.length > MAX_SHOWN ? ` (${value.length} characters)` : ''}`;
    case 'number':
      return `number ${String(value)}`;
    case 'bigint':
      return `bigint ${String(value)}n`;
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
    case 'symbol':
      return typeof value;
    default:
      break;
  }
  if (value === null) return 'null';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : `Date ${value.toISOString()}`;
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length} bytes)`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Map) return `a Map of ${value.size}`;
  let text: string;
  try {
    text = JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'bigint' ? `${inner}n` : inner)) ?? 'an object';
  } catch {
    text = 'an object';
  }
  return `object ${text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text}`;
}

function rowIndex(source: Source, slot: number): number {
  return source.rowOf === undefined ? slot : source.rowOf[slot]!;
}

function violation(column: Column, source: Source, slot: number, value: unknown, expected: string, todo: string): SchemaViolationError {
  const row = rowIndex(source, slot);
  return new SchemaViolationError(
    `Row ${row}, column "${column.path}" (field id ${column.id}, ${column.typeName})${column.table === undefined ? '' : ` of table ${column.table}`}: ` +
      `expected ${expected}, got ${describeValue(value)}. ${todo}`,
    { column: column.path, fieldId: column.id, rowIndex: row, ...(column.table === undefined ? {} : { table: column.table }) },
  );
}

function requiredNull(column: Column, source: Source, slot: number, value: unknown): SchemaViolationError {
  const row = rowIndex(source, slot);
  return new SchemaViolationError(
    `Row ${row}, column "${column.path}" (field id ${column.id}, ${column.typeName})${column.table === undefined ? '' : ` of table ${column.table}`}: ` +
      `the column is required but the value is ${value === null ? 'null' : 'missing'}. Give every row a value, or make the column optional (schema evolution).`,
    { column: column.path, fieldId: column.id, rowIndex: row, ...(column.table === undefined ? {} : { table: column.table }) },
  );
}

const CONVERT = 'Convert the value before writing it, or fix the schema.';

// ---------------------------------------------------------------------------------------------------------------
// Assembly helpers

interface Buffers {
  readonly data?: ArrayBufferView;
  readonly valueOffsets?: Int32Array;
  readonly child?: Data;
  readonly children?: Data[];
}

/** The one place a Data is made from a runtime `DataType`: makeData's overloads need a static type. */
function assemble(type: DataType, column: Column, length: number, nulls: number, bitmap: Uint8Array, buffers: Buffers): Data {
  const nullable = !column.required;
  const props = {
    type,
    length,
    nullCount: nullable ? nulls : 0,
    ...(nullable && nulls > 0 ? { nullBitmap: bitmap } : {}),
    ...buffers,
  };
  return (makeData as (props: unknown) => Data)(props);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 4_294_967_296;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map)
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Primitive columns: one specialised loop per type, writing typed arrays directly.

function buildPrimitive(primitive: ParsedPrimitive, column: Column, type: DataType, source: Source): Data {
  switch (primitive.kind) {
    case 'boolean':
      return buildBoolean(column, type, source);
    case 'int':
      return buildInt(column, type, source);
    case 'long':
      return buildLong(column, type, source);
    case 'float':
    case 'double':
      return buildFloat(column, type, source, primitive.kind === 'float');
    case 'decimal':
      return buildDecimal(column, type, source, primitive.precision, primitive.scale);
    case 'date':
      return buildDate(column, type, source);
    case 'time':
      return buildTime(column, type, source);
    case 'timestamp':
    case 'timestamptz':
      return buildTimestamp(column, type, source);
    case 'string':
      return buildString(column, type, source);
    case 'uuid':
      return buildFixed(column, type, source, 16, true);
    case 'fixed':
      return buildFixed(column, type, source, primitive.length, false);
    case 'binary':
      return buildBinary(column, type, source);
  }
}

function buildBoolean(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const bits = new Uint8Array((length + 7) >> 3);
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    if (typeof value !== 'boolean') throw violation(column, source, index, value, 'a boolean', CONVERT);
    if (value) bits[index >> 3]! |= 1 << (index & 7);
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: bits });
}

function buildInt(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const out = new Int32Array(length);
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    if (typeof value !== 'number' || (value | 0) !== value) {
      const todo = typeof value === 'number' && Number.isInteger(value) ? 'Widen the column to long (schema evolution).' : CONVERT;
      throw violation(column, source, index, value, 'a 32-bit integer number (-2147483648..2147483647)', todo);
    }
    out[index] = value;
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: out });
}

/** Writes a safe integer into slot `index` of a BigInt64Array seen as 32-bit words, without allocating a bigint. */
function writeSafeInt64(words: Uint32Array, index: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  words[index * 2] = value - high * TWO_32;
  words[index * 2 + 1] = high;
}

function writeInt64(out: BigInt64Array, words: Uint32Array, index: number, value: number | bigint): void {
  if (typeof value === 'bigint') out[index] = value;
  else if (LITTLE_ENDIAN) writeSafeInt64(words, index, value);
  else out[index] = BigInt(value);
}

function buildLong(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const out = new BigInt64Array(length);
  const words = new Uint32Array(out.buffer);
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) {
        const todo = Number.isInteger(value) ? 'Pass integers beyond ±2^53 as bigint: this number may already have lost digits.' : CONVERT;
        throw violation(column, source, index, value, 'a safe integer number or a bigint', todo);
      }
      writeInt64(out, words, index, value);
    } else if (typeof value === 'bigint') {
      if (value < INT64_MIN || value > INT64_MAX) throw violation(column, source, index, value, 'a 64-bit integer', 'Values beyond 64 bits need a decimal(38, 0) column.');
      out[index] = value;
    } else {
      throw violation(column, source, index, value, 'a safe integer number or a bigint', CONVERT);
    }
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: out });
}

const FLOAT_MAX = 3.4028234663852886e38;

function buildFloat(column: Column, type: DataType, source: Source, single: boolean): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const out = single ? new Float32Array(length) : new Float64Array(length);
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    if (typeof value !== 'number') throw violation(column, source, index, value, 'a number', CONVERT);
    if (single && (value > FLOAT_MAX || value < -FLOAT_MAX) && Number.isFinite(value) && !Number.isFinite(Math.fround(value))) {
      throw violation(column, source, index, value, 'a number within the 32-bit float range (±3.4e38)', 'Widen the column to double (schema evolution).');
    }
    out[index] = value;
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: out });
}

function buildDecimal(column: Column, type: DataType, source: Source, precision: number, scale: number): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const words = new Uint32Array(length * 4);
  const limit = 10n ** BigInt(precision);
  const numberLimit = Math.min(10 ** precision, SAFE_LIMIT);
  const expected = `a decimal(${precision}, ${scale}): a string such as "${scale > 0 ? `12.${'3'.repeat(scale)}` : '12'}", a number, or a bigint unscaled value`;
  const todo = `Round the value to ${scale} decimals and at most ${precision} digits, or widen the column's precision (schema evolution).`;
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    let unscaled: number | bigint;
    // Plain notation within 15 digits is parsed without allocating (the common case).
    const plain = typeof value === 'string' ? plainUnscaled(value, scale, numberLimit) : Number.NaN;
    if (!Number.isNaN(plain)) {
      unscaled = plain;
    } else if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
      const parsed = parseDecimal(typeof value === 'string' ? value : String(value), precision, scale);
      if ('problem' in parsed) throw violation(column, source, index, value, expected, `The value ${parsed.problem}. ${todo}`);
      unscaled = parsed.unscaled;
    } else if (typeof value === 'bigint') {
      if (value >= limit || value <= -limit) throw violation(column, source, index, value, expected, `The unscaled value has more than ${precision} digits. ${todo}`);
      unscaled = value;
    } else {
      throw violation(column, source, index, value, expected, CONVERT);
    }
    writeInt128(unscaled, words, index * 4);
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: words });
}

const SAFE_LIMIT = 2 ** 53;

/**
 * The unscaled value of plain decimal text (`-123.45`) when it is exact below `limit` and has at most `scale`
 * decimals; NaN otherwise, leaving the verdict (and the message) to {@link parseDecimal}.
 */
function plainUnscaled(text: string, scale: number, limit: number): number {
  const length = text.length;
  if (length === 0 || length > 17) return Number.NaN;
  let index = 0;
  let negative = false;
  if (text.charCodeAt(0) === 45) {
    negative = true;
    index = 1;
  }
  let accumulated = 0;
  let digits = 0;
  let decimals = -1;
  for (; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 48 && code <= 57) {
      if (decimals >= 0) {
        if (decimals === scale) return Number.NaN;
        decimals++;
      }
      accumulated = accumulated * 10 + (code - 48);
      digits++;
    } else if (code === 46 && decimals < 0) {
      decimals = 0;
    } else {
      return Number.NaN;
    }
  }
  if (digits === 0) return Number.NaN;
  for (let place = decimals < 0 ? 0 : decimals; place < scale; place++) accumulated *= 10;
  if (accumulated >= limit) return Number.NaN;
  return negative ? -accumulated : accumulated;
}

const DAY_MILLIS = 86_400_000;

function buildDate(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const out = new Int32Array(length);
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    let days: number | undefined;
    if (typeof value === 'string') days = parseDate(value);
    else if (value instanceof Date) {
      const millis = value.getTime();
      days = Number.isNaN(millis) ? undefined : Math.floor(millis / DAY_MILLIS);
    } else if (typeof value === 'number' && (value | 0) === value) days = value;
    if (days === undefined) {
      throw violation(column, source, index, value, 'a date: a "YYYY-MM-DD" string, a Date (its UTC day) or a number of days since 1970-01-01', CONVERT);
    }
    out[index] = days;
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: out });
}

function buildTime(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const out = new BigInt64Array(length);
  const words = new Uint32Array(out.buffer);
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    let micros: number | bigint | undefined;
    if (typeof value === 'string') micros = parseTime(value);
    else if (typeof value === 'bigint' && value >= 0n && value < 86_400_000_000n) micros = value;
    if (micros === undefined) {
      throw violation(column, source, index, value, 'a time of day: an "HH:MM:SS[.ffffff]" string or a bigint of microseconds (0 ≤ µs < 86400000000)', CONVERT);
    }
    writeInt64(out, words, index, micros);
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: out });
}

function buildTimestamp(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const out = new BigInt64Array(length);
  const words = new Uint32Array(out.buffer);
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    let micros: number | bigint | undefined;
    if (value instanceof Date) micros = dateToMicros(value);
    else if (typeof value === 'string') micros = parseTimestamp(value);
    else if (typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX) micros = value;
    if (micros === undefined || (typeof micros === 'bigint' && (micros < INT64_MIN || micros > INT64_MAX))) {
      throw violation(
        column,
        source,
        index,
        value,
        'a timestamp: a Date, an ISO-8601 string such as "2024-05-01T12:30:00.123456Z", or a bigint of microseconds since 1970-01-01T00:00:00Z',
        typeof value === 'number' ? 'Numbers are ambiguous (seconds? milliseconds?): pass new Date(millis) or BigInt(micros).' : CONVERT,
      );
    }
    writeInt64(out, words, index, micros);
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: out });
}

const MAX_OFFSET = 2_147_483_647;

function tooLarge(column: Column): LakehouseError {
  return new LakehouseError(
    'BATCH_TOO_LARGE',
    `Column "${column.path}" (field id ${column.id}) holds more than 2 GiB in one batch, beyond Arrow's 32-bit offsets. Write the rows in smaller batches.`,
    column.table === undefined ? {} : { table: column.table },
  );
}

const encoder = new TextEncoder();
/** Strings are encoded in runs: one native call per run beats a call, or a JavaScript loop, per string. */
const STRING_RUN = 1024;

function buildString(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const offsets = new Int32Array(length + 1);
  let bytes = new Uint8Array(Math.max(1024, length * 16));
  let position = 0;
  let nulls = 0;
  for (let runStart = 0; runStart < length; runStart += STRING_RUN) {
    const runEnd = Math.min(length, runStart + STRING_RUN);
    let joined = '';
    // Offsets as if every character were one byte; right when the run is ASCII, redone otherwise.
    let end = position;
    for (let index = runStart; index < runEnd; index++) {
      const value = key === undefined ? values[index] : (values[index] as Row)[key];
      if (value === null || value === undefined) {
        if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
        nulls++;
      } else {
        if (typeof value !== 'string') throw violation(column, source, index, value, 'a string', CONVERT);
        joined += value;
        end += value.length;
        bitmap[index >> 3]! |= 1 << (index & 7);
      }
      offsets[index + 1] = end;
    }
    const needed = position + joined.length * 3;
    if (needed > bytes.length) {
      if (needed > MAX_OFFSET) throw tooLarge(column);
      const grown = new Uint8Array(Math.min(MAX_OFFSET, Math.max(needed, bytes.length * 2)));
      grown.set(bytes.subarray(0, position));
      bytes = grown;
    }
    const { written } = encoder.encodeInto(joined, bytes.subarray(position));
    if (written === joined.length) {
      position += written;
      continue;
    }
    // Some character took more than one byte: encode the run string by string for exact offsets.
    for (let index = runStart; index < runEnd; index++) {
      const value = key === undefined ? values[index] : (values[index] as Row)[key];
      if (typeof value === 'string') position += encoder.encodeInto(value, bytes.subarray(position)).written;
      offsets[index + 1] = position;
    }
  }
  if (position > MAX_OFFSET) throw tooLarge(column);
  return assemble(type, column, length, nulls, bitmap, { valueOffsets: offsets, data: bytes.subarray(0, position) });
}

function buildBinary(column: Column, type: DataType, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const offsets = new Int32Array(length + 1);
  let total = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      continue;
    }
    if (!(value instanceof Uint8Array)) throw violation(column, source, index, value, 'a Uint8Array', CONVERT);
    total += value.length;
    if (total > MAX_OFFSET) throw tooLarge(column);
  }
  const bytes = new Uint8Array(total);
  let position = 0;
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = (key === undefined ? values[index] : (values[index] as Row)[key]) as Uint8Array | null | undefined;
    if (value === null || value === undefined) {
      nulls++;
    } else {
      bytes.set(value, position);
      position += value.length;
      bitmap[index >> 3]! |= 1 << (index & 7);
    }
    offsets[index + 1] = position;
  }
  return assemble(type, column, length, nulls, bitmap, { valueOffsets: offsets, data: bytes });
}

function buildFixed(column: Column, type: DataType, source: Source, width: number, uuid: boolean): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const bytes = new Uint8Array(length * width);
  const expected = uuid ? 'a UUID: a string in the canonical 8-4-4-4-12 hex form, or 16 bytes' : `a Uint8Array of exactly ${width} bytes`;
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      continue;
    }
    if (value instanceof Uint8Array && value.length === width) bytes.set(value, index * width);
    else if (!(uuid && typeof value === 'string' && writeUuid(value, bytes, index * width))) throw violation(column, source, index, value, expected, CONVERT);
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  return assemble(type, column, length, nulls, bitmap, { data: bytes });
}

// ---------------------------------------------------------------------------------------------------------------
// Nested columns: gather the children's values, then build them as columns of their own.

function buildStruct(icebergType: StructType, column: Column, type: Struct, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const childNull = new Uint8Array(length);
  const fields = icebergType.fields;
  const childValues = fields.map(() => new Array<unknown>(length));
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
      childNull[index] = 1;
      continue;
    }
    if (!isPlainObject(value)) throw violation(column, source, index, value, 'an object of the struct fields', CONVERT);
    for (let child = 0; child < fields.length; child++) childValues[child]![index] = value[fields[child]!.name];
    bitmap[index >> 3]! |= 1 << (index & 7);
  }
  const children = fields.map((field, child) =>
    buildColumn(
      field,
      `${column.path}.${field.name}`,
      fieldType(childFields(type)[child]!),
      { values: childValues[child]!, key: undefined, length, parentNull: childNull, rowOf: source.rowOf },
      column.table,
    ),
  );
  return assemble(type, column, length, nulls, bitmap, { children });
}

function buildList(icebergType: ListType, column: Column, type: List, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const offsets = new Int32Array(length + 1);
  const elements: unknown[] = [];
  const rows: number[] = [];
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
    } else {
      if (!Array.isArray(value)) throw violation(column, source, index, value, 'an array', CONVERT);
      const row = rowIndex(source, index);
      for (const element of value as unknown[]) {
        elements.push(element);
        rows.push(row);
      }
      bitmap[index >> 3]! |= 1 << (index & 7);
    }
    offsets[index + 1] = elements.length;
  }
  const elementField: NestedField = { id: icebergType['element-id'], name: 'element', required: icebergType['element-required'], type: icebergType.element };
  const child = buildColumn(
    elementField,
    `${column.path}.element`,
    fieldType(childFields(type)[0]!),
    { values: elements, key: undefined, length: elements.length, parentNull: undefined, rowOf: Int32Array.from(rows) },
    column.table,
  );
  return assemble(type, column, length, nulls, bitmap, { valueOffsets: offsets, child });
}

function buildMap(icebergType: MapType, column: Column, type: Map_, source: Source): Data {
  const { values, key, length, parentNull } = source;
  const bitmap = new Uint8Array((length + 7) >> 3);
  const offsets = new Int32Array(length + 1);
  const keys: unknown[] = [];
  const items: unknown[] = [];
  const rows: number[] = [];
  let nulls = 0;
  for (let index = 0; index < length; index++) {
    const value = key === undefined ? values[index] : (values[index] as Row)[key];
    if (value === null || value === undefined) {
      if (column.required && parentNull?.[index] !== 1) throw requiredNull(column, source, index, value);
      nulls++;
    } else {
      const row = rowIndex(source, index);
      if (value instanceof Map) {
        for (const [entryKey, entryValue] of value as Map<unknown, unknown>) {
          keys.push(entryKey);
          items.push(entryValue);
          rows.push(row);
        }
      } else if (isPlainObject(value)) {
        for (const entryKey of Object.keys(value)) {
          keys.push(entryKey);
          items.push(value[entryKey]);
          rows.push(row);
        }
      } else {
        throw violation(column, source, index, value, 'a Map or a plain object', CONVERT);
      }
      bitmap[index >> 3]! |= 1 << (index & 7);
    }
    offsets[index + 1] = keys.length;
  }
  const entries = type.children[0]!.type as Struct;
  const rowOf = Int32Array.from(rows);
  const entryCount = keys.length;
  const keyField: NestedField = { id: icebergType['key-id'], name: 'key', required: true, type: icebergType.key };
  const valueField: NestedField = { id: icebergType['value-id'], name: 'value', required: icebergType['value-required'], type: icebergType.value };
  const keyData = buildColumn(keyField, `${column.path}.key`, fieldType(childFields(entries)[0]!), { values: keys, key: undefined, length: entryCount, parentNull: undefined, rowOf }, column.table);
  const valueData = buildColumn(
    valueField,
    `${column.path}.value`,
    fieldType(childFields(entries)[1]!),
    { values: items, key: undefined, length: entryCount, parentNull: undefined, rowOf },
    column.table,
  );
  const entriesData = makeData({ type: entries, length: entryCount, nullCount: 0, children: [keyData, valueData] });
  return assemble(type, column, length, nulls, bitmap, { valueOffsets: offsets, child: entriesData });
}
