import type { Data, Table } from 'apache-arrow';
import { formatDate, formatDecimal, formatUuid, readInt128 } from '../arrow/iceberg-values.js';
import { childData, offsetsOf } from '../arrow/arrow-types.js';
import { isPrimitive, parsePrimitive } from '../arrow/primitive-type.js';
import type { ParsedPrimitive } from '../arrow/primitive-type.js';
import type { ColumnMetrics, IcebergSchema, IcebergType } from '../schema/types.js';

/** Bounds compared in a physical form: numbers, bigints (64/128-bit and time values), bytes, booleans. */
type Comparable = number | bigint | boolean | Uint8Array;

interface Accumulator {
  readonly fieldId: number;
  readonly primitive: ParsedPrimitive;
  readonly bounds: boolean;
  valueCount: number;
  nullCount: number;
  nanCount: number;
  lower: Comparable | undefined;
  upper: Comparable | undefined;
}

/**
 * Iceberg column metrics of every leaf field of `schema`, computed from the Arrow data that is written (not read back
 * from the Parquet footer): value and null counts with Parquet's level semantics (a null or empty list counts one null
 * value for each of its leaves), NaN counts for float and double, and lower/upper bounds except for leaves inside a
 * list or map (Iceberg's own writer keeps none there either). The table's columns must be in the schema's field order,
 * as {@link rowsToArrow} and the write path produce them.
 */
export function columnMetrics(schema: IcebergSchema, table: Table): ColumnMetrics[] {
  const accumulators = new Map<number, Accumulator>();
  const ordered: Accumulator[] = [];
  const register = (fieldId: number, type: IcebergType, bounds: boolean, path: string): void => {
    if (isPrimitive(type)) {
      const accumulator: Accumulator = {
        fieldId,
        primitive: parsePrimitive(type, path),
        bounds,
        valueCount: 0,
        nullCount: 0,
        nanCount: 0,
        lower: undefined,
        upper: undefined,
      };
      accumulators.set(fieldId, accumulator);
      ordered.push(accumulator);
      return;
    }
    switch (type.type) {
      case 'struct':
        for (const child of type.fields) register(child.id, child.type, bounds, `${path}.${child.name}`);
        return;
      case 'list':
        register(type['element-id'], type.element, false, `${path}.element`);
        return;
      case 'map':
        register(type['key-id'], type.key, false, `${path}.key`);
        register(type['value-id'], type.value, false, `${path}.value`);
        return;
    }
  };
  for (const field of schema.fields) register(field.id, field.type, true, field.name);

  for (const batch of table.batches) {
    schema.fields.forEach((field, column) => {
      walk(field.id, field.type, batch.data.children[column]!, undefined, 0, accumulators);
    });
  }
  return ordered.map(finish);
}

function isValid(data: Data, index: number): boolean {
  if (data.nullCount === 0) return true;
  const bitmap = data.nullBitmap;
  if (bitmap === undefined || bitmap.length === 0) return data.nullCount !== data.length;
  const bit = data.offset + index;
  return ((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 1;
}

/**
 * Visits one column: `positions` are the slots of `data` whose ancestors are all present (all slots when undefined);
 * `placeholders` counts the level entries where an ancestor was null or an empty list, which Parquet stores as a null
 * of every leaf below.
 */
function walk(fieldId: number, type: IcebergType, data: Data, positions: Int32Array | undefined, placeholders: number, accumulators: Map<number, Accumulator>): void {
  if (isPrimitive(type)) {
    accumulate(accumulators.get(fieldId)!, data, positions, placeholders);
    return;
  }
  const count = positions === undefined ? data.length : positions.length;
  switch (type.type) {
    case 'struct': {
      let childPositions = positions;
      let childPlaceholders = placeholders;
      if (data.nullCount > 0) {
        const present: number[] = [];
        for (let slot = 0; slot < count; slot++) {
          const position = positions === undefined ? slot : positions[slot]!;
          if (isValid(data, position)) present.push(position);
        }
        childPositions = Int32Array.from(present);
        childPlaceholders += count - present.length;
      }
      type.fields.forEach((child, index) => walk(child.id, child.type, childData(data, index), childPositions, childPlaceholders, accumulators));
      return;
    }
    case 'list':
    case 'map': {
      const offsets = offsetsOf(data);
      const present: number[] = [];
      let childPlaceholders = placeholders;
      for (let slot = 0; slot < count; slot++) {
        const position = positions === undefined ? slot : positions[slot]!;
        const start = offsets[position]!;
        const end = offsets[position + 1]!;
        if (!isValid(data, position) || start === end) {
          childPlaceholders++;
          continue;
        }
        for (let element = start; element < end; element++) present.push(element);
      }
      const childPositions = Int32Array.from(present);
      if (type.type === 'list') {
        walk(type['element-id'], type.element, data.children[0]!, childPositions, childPlaceholders, accumulators);
      } else {
        const entries = data.children[0]!;
        walk(type['key-id'], type.key, entries.children[0]!, childPositions, childPlaceholders, accumulators);
        walk(type['value-id'], type.value, entries.children[1]!, childPositions, childPlaceholders, accumulators);
      }
      return;
    }
  }
}

function accumulate(accumulator: Accumulator, data: Data, positions: Int32Array | undefined, placeholders: number): void {
  const count = positions === undefined ? data.length : positions.length;
  accumulator.valueCount += count + placeholders;
  const kind = accumulator.primitive.kind;
  const { nulls, nans, lowest, highest } =
    kind === 'int' || kind === 'date' || kind === 'float' || kind === 'double'
      ? numberExtremes(data, positions, count, accumulator.bounds)
      : slotExtremes(data, positions, count, accumulator.bounds, slotComparator(kind, data));
  accumulator.nullCount += nulls + placeholders;
  accumulator.nanCount += nans;
  if (lowest < 0) return;
  const low = materialise(kind, data, lowest, accumulator.primitive);
  const high = materialise(kind, data, highest, accumulator.primitive);
  if (accumulator.lower === undefined || compareComparable(low, accumulator.lower) < 0) accumulator.lower = low;
  if (accumulator.upper === undefined || compareComparable(high, accumulator.upper) > 0) accumulator.upper = high;
}

interface Extremes {
  readonly nulls: number;
  readonly nans: number;
  /** Position of the smallest value, -1 when there is none (or bounds are not wanted). */
  readonly lowest: number;
  readonly highest: number;
}

/** Int32 / float columns: compared as numbers in one tight loop (the common case, so no comparator calls). */
function numberExtremes(data: Data, positions: Int32Array | undefined, count: number, bounds: boolean): Extremes {
  const values = data.values as Int32Array | Float32Array | Float64Array;
  const bitmap = validityOf(data);
  const offset = data.offset;
  let nulls = 0;
  let nans = 0;
  let lowest = -1;
  let highest = -1;
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let slot = 0; slot < count; slot++) {
    const position = positions === undefined ? slot : positions[slot]!;
    if (bitmap !== undefined && ((bitmap[(offset + position) >> 3]! >> ((offset + position) & 7)) & 1) === 0) {
      nulls++;
      continue;
    }
    const value = values[position]!;
    if (value !== value) {
      nans++;
      continue;
    }
    if (!bounds) continue;
    // The first value seeds both ends (so infinities count); -0 orders below +0.
    if (lowest < 0 || value < low || (value === 0 && low === 0 && Object.is(value, -0))) {
      low = value;
      lowest = position;
    }
    if (highest < 0 || value > high || (value === 0 && high === 0 && Object.is(high, -0) && !Object.is(value, -0))) {
      high = value;
      highest = position;
    }
  }
  return { nulls, nans, lowest, highest };
}

/** The validity bitmap when some slots are null (all-null columns get an all-zero one), else undefined. */
function validityOf(data: Data): Uint8Array | undefined {
  if (data.nullCount === 0) return undefined;
  const bitmap = data.nullBitmap;
  return bitmap === undefined || bitmap.length === 0 ? new Uint8Array((data.offset + data.length + 7) >> 3) : bitmap;
}

function slotExtremes(data: Data, positions: Int32Array | undefined, count: number, bounds: boolean, compare: (a: number, b: number) => number): Extremes {
  const bitmap = validityOf(data);
  const offset = data.offset;
  let nulls = 0;
  let lowest = -1;
  let highest = -1;
  for (let slot = 0; slot < count; slot++) {
    const position = positions === undefined ? slot : positions[slot]!;
    if (bitmap !== undefined && ((bitmap[(offset + position) >> 3]! >> ((offset + position) & 7)) & 1) === 0) {
      nulls++;
      continue;
    }
    if (!bounds) continue;
    if (lowest < 0) {
      lowest = position;
      highest = position;
    } else {
      if (compare(position, lowest) < 0) lowest = position;
      if (compare(position, highest) > 0) highest = position;
    }
  }
  return { nulls, nans: 0, lowest, highest };
}

/** Compares two slots of one Data in its physical form, without allocating. */
function slotComparator(kind: ParsedPrimitive['kind'], data: Data): (a: number, b: number) => number {
  switch (kind) {
    case 'boolean':
      return (a, b) => Number(bit(data, a)) - Number(bit(data, b));
    case 'int':
    case 'date': {
      const values = data.values as Int32Array;
      return (a, b) => values[a]! - values[b]!;
    }
    case 'float':
    case 'double': {
      const values = data.values as Float32Array | Float64Array;
      return (a, b) => compareNumbers(values[a]!, values[b]!);
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const values = data.values as BigInt64Array;
      const words = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
      const highs = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
      return (a, b) => highs[a * 2 + 1]! - highs[b * 2 + 1]! || words[a * 2]! - words[b * 2]!;
    }
    case 'decimal': {
      const words = data.values as Uint32Array;
      const highs = new Int32Array(words.buffer, words.byteOffset, words.length);
      return (a, b) =>
        highs[a * 4 + 3]! - highs[b * 4 + 3]! ||
        words[a * 4 + 2]! - words[b * 4 + 2]! ||
        words[a * 4 + 1]! - words[b * 4 + 1]! ||
        words[a * 4]! - words[b * 4]!;
    }
    case 'string':
    case 'binary': {
      const bytes = data.values as Uint8Array;
      const offsets = data.valueOffsets as Int32Array;
      return (a, b) => compareBytes(bytes, offsets[a]!, offsets[a + 1]!, bytes, offsets[b]!, offsets[b + 1]!);
    }
    case 'uuid':
    case 'fixed': {
      const bytes = data.values as Uint8Array;
      const width = (data.type as unknown as { byteWidth: number }).byteWidth;
      return (a, b) => compareBytes(bytes, a * width, a * width + width, bytes, b * width, b * width + width);
    }
  }
}

function bit(data: Data, position: number): boolean {
  const bits = data.values as Uint8Array;
  const index = data.offset + position;
  return ((bits[index >> 3]! >> (index & 7)) & 1) === 1;
}

/** Float order with -0 below +0, as Iceberg's comparators (Java's Float.compare) order them. */
function compareNumbers(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === 0 && b === 0) return Object.is(a, -0) === Object.is(b, -0) ? 0 : Object.is(a, -0) ? -1 : 1;
  return 0;
}

/** Unsigned lexicographic byte order: Iceberg orders strings by UTF-8 bytes, not UTF-16 code units. */
function compareBytes(left: Uint8Array, leftStart: number, leftEnd: number, right: Uint8Array, rightStart: number, rightEnd: number): number {
  const length = Math.min(leftEnd - leftStart, rightEnd - rightStart);
  for (let index = 0; index < length; index++) {
    const difference = left[leftStart + index]! - right[rightStart + index]!;
    if (difference !== 0) return difference;
  }
  return leftEnd - leftStart - (rightEnd - rightStart);
}

function compareComparable(a: Comparable, b: Comparable): number {
  if (typeof a === 'number' && typeof b === 'number') return compareNumbers(a, b);
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, 0, a.length, b, 0, b.length);
  return 0;
}

function materialise(kind: ParsedPrimitive['kind'], data: Data, position: number, primitive: ParsedPrimitive): Comparable {
  switch (kind) {
    case 'boolean':
      return bit(data, position);
    case 'int':
    case 'date':
    case 'float':
    case 'double':
      return (data.values as ArrayLike<number>)[position]!;
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return (data.values as BigInt64Array)[position]!;
    case 'decimal':
      return readInt128(data.values as Uint32Array, position * 4);
    case 'string':
    case 'binary': {
      const offsets = data.valueOffsets as Int32Array;
      return (data.values as Uint8Array).slice(offsets[position], offsets[position + 1]);
    }
    case 'uuid':
    case 'fixed': {
      const width = primitive.kind === 'fixed' ? primitive.length : 16;
      return (data.values as Uint8Array).slice(position * width, position * width + width);
    }
  }
}

const decoder = new TextDecoder();

/** The bound as the metrics' consumers take it (see `ParquetFile.columns`). */
function present(value: Comparable, primitive: ParsedPrimitive): unknown {
  switch (primitive.kind) {
    case 'date':
      return formatDate(value as number);
    case 'decimal':
      return formatDecimal(value as bigint, primitive.scale);
    case 'string':
      return decoder.decode(value as Uint8Array);
    case 'uuid':
      return formatUuid(value as Uint8Array);
    default:
      return value;
  }
}

function finish(accumulator: Accumulator): ColumnMetrics {
  const floating = accumulator.primitive.kind === 'float' || accumulator.primitive.kind === 'double';
  return {
    fieldId: accumulator.fieldId,
    valueCount: accumulator.valueCount,
    nullCount: accumulator.nullCount,
    ...(floating ? { nanCount: accumulator.nanCount } : {}),
    ...(accumulator.lower === undefined ? {} : { lower: present(accumulator.lower, accumulator.primitive) }),
    ...(accumulator.upper === undefined ? {} : { upper: present(accumulator.upper, accumulator.primitive) }),
  };
}
