import type { Data, Field, Table } from 'apache-arrow';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema, IcebergType, Row } from '../schema/types.js';
import { fieldIdOf, toArrowType } from './arrow-schema.js';
import { formatDate, formatDecimal, formatTime, formatUuid, readInt128 } from './iceberg-values.js';
import { isPrimitive, parsePrimitive } from './primitive-type.js';
import { fieldType, typeText } from './arrow-types.js';
import { sameArrowType } from './same-arrow-type.js';

/**
 * Rows of read-side JavaScript values (the table in `schema/types.ts`: `long` → bigint, `decimal` → string with
 * exactly S decimals, `date` → `YYYY-MM-DD`, `time` → `HH:MM:SS.ffffff`, timestamps → `Date` (milliseconds), `uuid`
 * → string; structs → objects, lists → arrays, maps → `Map`) from an Arrow table, in table order. Columns are found
 * by `PARQUET:field_id` metadata, else by name, and must have the Arrow types of {@link toArrowSchema} — as
 * {@link rowsToArrow} and {@link readParquet} produce them. Every schema field is a property of every row; nulls are
 * `null`.
 *
 * @example
 * ```ts
 * const rows = arrowToRows(await readParquet(bytes, schema), schema);
 * rows[0]; // { order_id: 1n, amount: '19.99', placed_at: 2024-05-01T12:00:00.000Z }
 * ```
 */
export function arrowToRows(table: Table, schema: IcebergSchema): Row[] {
  const columns = schema.fields.map((field) => {
    const byId = table.schema.fields.findIndex((candidate: Field) => fieldIdOf(candidate) === field.id);
    const index = byId >= 0 ? byId : table.schema.fields.findIndex((candidate: Field) => candidate.name === field.name);
    if (index < 0) {
      throw new LakehouseError(
        'SCHEMA_MISMATCH',
        `The Arrow table has no column for field ${field.id} ("${field.name}"). Read the file with readParquet(bytes, schema), which adds missing columns as nulls.`,
      );
    }
    const actual = fieldType(table.schema.fields[index]!);
    const expected = toArrowType(field.type, field.name);
    if (!sameArrowType(actual, expected)) {
      throw new LakehouseError(
        'SCHEMA_MISMATCH',
        `Column "${field.name}" (field id ${field.id}) is ${typeText(actual)} in the Arrow table, but the schema's type ${typeLabel(field.type)} reads from ${typeText(expected)}. Read the file with readParquet(bytes, schema), which promotes widened types.`,
      );
    }
    return index;
  });
  const rows: Record<string, unknown>[] = new Array<Record<string, unknown>>(table.numRows);
  let base = 0;
  for (const batch of table.batches) {
    const length = batch.numRows;
    for (let row = 0; row < length; row++) rows[base + row] = {};
    schema.fields.forEach((field, position) => {
      const values = readValues(field.type, batch.data.children[columns[position]!]!, field.name);
      const name = field.name;
      for (let row = 0; row < length; row++) rows[base + row]![name] = values[row];
    });
    base += length;
  }
  return rows;
}

function typeLabel(type: IcebergType): string {
  return isPrimitive(type) ? type : type.type;
}

function isValid(data: Data, index: number): boolean {
  if (data.nullCount === 0) return true;
  const bitmap = data.nullBitmap;
  if (bitmap === undefined || bitmap.length === 0) return data.nullCount !== data.length;
  const bit = data.offset + index;
  return ((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 1;
}

const TWO_32 = 4_294_967_296;
const decoder = new TextDecoder();

/** Values of one Data (all its slots, in order) as read-side JavaScript values. */
function readValues(type: IcebergType, data: Data, path: string): unknown[] {
  const length = data.length;
  const out = new Array<unknown>(length);
  if (isPrimitive(type)) {
    const primitive = parsePrimitive(type, path);
    switch (primitive.kind) {
      case 'boolean': {
        const bits = data.values as Uint8Array;
        for (let index = 0; index < length; index++) {
          const bit = data.offset + index;
          out[index] = isValid(data, index) ? ((bits[bit >> 3]! >> (bit & 7)) & 1) === 1 : null;
        }
        return out;
      }
      case 'int':
      case 'float':
      case 'double': {
        const values = data.values as ArrayLike<number>;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? values[index] : null;
        return out;
      }
      case 'long': {
        const values = data.values as BigInt64Array;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? values[index] : null;
        return out;
      }
      case 'decimal': {
        const words = data.values as Uint32Array;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? formatDecimal(readInt128(words, index * 4), primitive.scale) : null;
        return out;
      }
      case 'date': {
        const values = data.values as Int32Array;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? formatDate(values[index]!) : null;
        return out;
      }
      case 'time': {
        const { low, high } = int64Words(data.values as BigInt64Array);
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? formatTime(high[index * 2 + 1]! * TWO_32 + low[index * 2]!) : null;
        return out;
      }
      case 'timestamp':
      case 'timestamptz': {
        const values = data.values as BigInt64Array;
        const { low, high: highs } = int64Words(values);
        for (let index = 0; index < length; index++) {
          if (!isValid(data, index)) {
            out[index] = null;
            continue;
          }
          const high = highs[index * 2 + 1]!;
          // Within ±2^52 µs (about ±142 years around 1970) the double is exact; beyond, go through bigint.
          if (high < 0x100000 && high >= -0x100000) out[index] = new Date(Math.floor((high * TWO_32 + low[index * 2]!) / 1000));
          else out[index] = microsToDateExact(values[index]!);
        }
        return out;
      }
      case 'string': {
        const bytes = data.values as Uint8Array;
        const offsets = data.valueOffsets as Int32Array;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? decodeUtf8(bytes, offsets[index]!, offsets[index + 1]!) : null;
        return out;
      }
      case 'binary': {
        const bytes = data.values as Uint8Array;
        const offsets = data.valueOffsets as Int32Array;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? bytes.slice(offsets[index], offsets[index + 1]) : null;
        return out;
      }
      case 'uuid': {
        const bytes = data.values as Uint8Array;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? formatUuid(bytes, index * 16) : null;
        return out;
      }
      case 'fixed': {
        const bytes = data.values as Uint8Array;
        const width = primitive.length;
        for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? bytes.slice(index * width, index * width + width) : null;
        return out;
      }
    }
  }
  switch (type.type) {
    case 'struct': {
      const children = type.fields.map((field, position) => readValues(field.type, data.children[position]!, `${path}.${field.name}`));
      for (let index = 0; index < length; index++) {
        if (!isValid(data, index)) {
          out[index] = null;
          continue;
        }
        const value: Record<string, unknown> = {};
        type.fields.forEach((field, position) => {
          value[field.name] = children[position]![index];
        });
        out[index] = value;
      }
      return out;
    }
    case 'list': {
      const elements = readValues(type.element, data.children[0]!, `${path}.element`);
      const offsets = data.valueOffsets as Int32Array;
      for (let index = 0; index < length; index++) out[index] = isValid(data, index) ? elements.slice(offsets[index], offsets[index + 1]) : null;
      return out;
    }
    case 'map': {
      const entries = data.children[0]!;
      const keys = readValues(type.key, entries.children[0]!, `${path}.key`);
      const values = readValues(type.value, entries.children[1]!, `${path}.value`);
      const offsets = data.valueOffsets as Int32Array;
      for (let index = 0; index < length; index++) {
        if (!isValid(data, index)) {
          out[index] = null;
          continue;
        }
        const map = new Map<unknown, unknown>();
        for (let entry = offsets[index]!; entry < offsets[index + 1]!; entry++) map.set(keys[entry], values[entry]);
        out[index] = map;
      }
      return out;
    }
  }
}

/** 64-bit values seen as 32-bit words: `low[2i]` unsigned, `high[2i + 1]` signed (little-endian platforms). */
function int64Words(values: BigInt64Array): { readonly low: Uint32Array; readonly high: Int32Array } {
  return {
    low: new Uint32Array(values.buffer, values.byteOffset, values.length * 2),
    high: new Int32Array(values.buffer, values.byteOffset, values.length * 2),
  };
}

function microsToDateExact(micros: bigint): Date {
  const millis = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
  return new Date(Number(millis));
}

/** Short ASCII strings are built directly: a TextDecoder call costs more than the copy. */
function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 24) {
    let text = '';
    for (let index = start; index < end; index++) {
      const byte = bytes[index]!;
      if (byte >= 0x80) return decoder.decode(bytes.subarray(start, end));
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return decoder.decode(bytes.subarray(start, end));
}
