import { DateUnit, Precision, RecordBatch, Schema, Struct, Table, Type, makeData, tableFromIPC } from 'apache-arrow';
import type { Data, DataType, Date_, Decimal, Field, FixedSizeBinary, Float, Int, Timestamp } from 'apache-arrow';
import { z } from 'zod';
import { FIELD_ID_KEY, fieldIdOf, toArrowField, toArrowType } from '../arrow/arrow-schema.js';
import { childData, childFields, fieldType, typeText } from '../arrow/arrow-types.js';
import { isPrimitive, parsePrimitive } from '../arrow/primitive-type.js';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import type { IcebergSchema, IcebergType, NestedField, PrimitiveType } from '../schema/types.js';
import { loadParquetWasm } from './parquet-wasm.js';

const readParquetOptionsSchema = z.strictObject({
  /** Field ids of the top-level columns to return (in schema order); default all of the schema's columns. */
  columns: z.array(z.number().int()).readonly().optional(),
  /** Table the file belongs to; named in errors. */
  table: z.string().optional(),
  /** Where the file was read from; named in errors. */
  file: z.string().optional(),
});

/**
 * Options of {@link readParquet}.
 *
 * @interface
 */
export type ReadParquetOptions = z.input<typeof readParquetOptionsSchema>;

/** Rows decoded per Arrow record batch: large enough that batch overhead vanishes, small enough to bound the copies. */
const BATCH_ROWS = 65_536;

/**
 * Reads a Parquet data file into an Arrow table shaped by an Iceberg schema (as {@link toArrowSchema} makes it),
 * matching columns **by field id**, never by name — the rules Iceberg readers follow across schema evolution:
 *
 * - a renamed column is found by its id and comes back under the schema's name;
 * - a column the file lacks (added to the table after the file was written) comes back all null;
 * - a widened type is promoted: `int` → `long`, `float` → `double`, `decimal(P, S)` → `decimal(P', S)`;
 * - columns of the file that the schema no longer has (dropped) are ignored.
 *
 * The same holds inside structs, lists and maps. Rows come out in file order, so a row's index is its position for
 * Iceberg position deletes. Only the file's columns that the (projected) schema needs are decoded. Files written by pyarrow/pyiceberg, Spark or Tributary are read alike. A file whose
 * columns carry no field ids at all (not written for Iceberg) is matched by name instead.
 *
 * @param options `columns` — field ids of the top-level columns to return (default all); `table`, `file` — named in
 *   errors
 * @throws LakehouseError `CORRUPT_PARQUET` when the bytes are not a readable Parquet file; `SCHEMA_MISMATCH` when a
 *   column's type cannot be read as the schema's type, or a required column is missing
 *
 * @example
 * ```ts
 * const table = await readParquet(await store.get('data/00000-0-a1b2.parquet'), schema, { columns: [1, 2] });
 * const rows = arrowToRows(table, projectedSchema);
 * ```
 */
export async function readParquet(bytes: Uint8Array, schema: IcebergSchema, options: ReadParquetOptions = {}): Promise<Table> {
  const parsed = parseOptions(readParquetOptionsSchema, 'readParquet', options);
  const context = { ...(parsed.table === undefined ? {} : { table: parsed.table }), ...(parsed.file === undefined ? {} : { file: parsed.file }) };
  const where = `${parsed.file === undefined ? 'Parquet file' : `Parquet file ${parsed.file}`}${parsed.table === undefined ? '' : ` of table ${parsed.table}`}`;
  let fields: readonly NestedField[] = schema.fields;
  if (parsed.columns !== undefined) {
    const wanted = new Set(parsed.columns);
    for (const id of wanted) {
      if (!schema.fields.some((field) => field.id === id)) {
        throw new LakehouseError('SCHEMA_MISMATCH', `Column projection names field id ${id}, which is not a top-level field of the schema. Project top-level field ids.`, context);
      }
    }
    fields = schema.fields.filter((field) => wanted.has(field.id));
  }

  const wasm = await loadParquetWasm();
  const corrupt = (error: unknown): LakehouseError =>
    new LakehouseError('CORRUPT_PARQUET', `Cannot read ${where} (${bytes.length} bytes): ${String(error)}. The file is damaged or not Parquet.`, {
      ...context,
      cause: error,
    });
  let fileFields: readonly Field[];
  try {
    fileFields = tableFromIPC(wasm.readSchema(bytes).intoIPCStream()).schema.fields;
  } catch (error) {
    throw corrupt(error);
  }
  const matchByName = !hasFieldIds(fileFields);
  const sources = fields.map((field) => findField(fileFields, field, matchByName));
  const wanted = [...new Set(sources.filter((source) => source !== undefined))].map((source) => fileFields[source]!.name);

  let file: Table;
  try {
    file = await decode(bytes, wanted, fileFields.length);
  } catch (error) {
    throw corrupt(error);
  }

  const targetFields = fields.map((field) => toArrowField(field));
  const targetSchema = new Schema(targetFields);
  const columns = sources.map((source) => (source === undefined ? undefined : file.schema.fields.findIndex((field) => field.name === fileFields[source]!.name)));
  const batches = file.batches.map((batch) => {
    const children = fields.map((field, position) => {
      const column = columns[position];
      const path = field.name;
      if (column === undefined) return missingColumn(field, path, batch.numRows, where, context);
      return project(childData(batch.data, column), fieldType(file.schema.fields[column]!), field.type, fieldType(targetFields[position]!), path, matchByName, where, context);
    });
    return new RecordBatch(targetSchema, makeData({ type: new Struct(targetFields), length: batch.numRows, nullCount: 0, children }));
  });
  if (batches.length === 0) {
    // Zero rows: still check that every required column is there.
    fields.forEach((field, position) => {
      if (sources[position] === undefined) missingColumn(field, field.name, 0, where, context);
    });
  }
  return new Table(targetSchema, batches);
}

/**
 * Decodes the named top-level columns of the file. All of them: the synchronous reader. Some: the file-handle reader,
 * the one whose `columns` option parquet-wasm 0.8 honours (`readParquet` ignores it, parquet-wasm#81), so unwanted
 * column chunks are not even decompressed. None: one batch of the file's row count with no columns.
 */
async function decode(bytes: Uint8Array, names: readonly string[], fileColumns: number): Promise<Table> {
  const wasm = await loadParquetWasm();
  if (names.length === fileColumns) return tableFromIPC(wasm.readParquet(bytes, { batchSize: BATCH_ROWS }).intoIPCStream());
  const handle = await wasm.ParquetFile.fromFile(new Blob([bytes]));
  try {
    if (names.length === 0) {
      const rows = handle.metadata().fileMetadata().numRows();
      const empty = new Schema([]);
      return new Table(empty, rows === 0 ? [] : [new RecordBatch(empty, makeData({ type: new Struct([]), length: rows, nullCount: 0, children: [] }))]);
    }
    return tableFromIPC((await handle.read({ columns: [...names], batchSize: BATCH_ROWS })).intoIPCStream());
  } finally {
    handle.free();
  }
}

type ErrorContext = { table?: string; file?: string };

function hasFieldIds(fields: readonly Field[]): boolean {
  return fields.some((field) => field.metadata.has(FIELD_ID_KEY) || hasFieldIds(childFields(fieldType(field))));
}

function findField(candidates: readonly Field[], field: NestedField, matchByName: boolean): number | undefined {
  const index = matchByName
    ? candidates.findIndex((candidate) => candidate.name === field.name)
    : candidates.findIndex((candidate) => fieldIdOf(candidate) === field.id);
  return index < 0 ? undefined : index;
}

function missingColumn(field: NestedField, path: string, length: number, where: string, context: ErrorContext): Data {
  if (field.required) {
    throw new LakehouseError(
      'SCHEMA_MISMATCH',
      `${where} has no column with field id ${field.id} ("${path}"), which the schema requires. A required column cannot be added to existing files; make it optional.`,
      context,
    );
  }
  return nullData(toArrowType(field.type, path), length);
}

/** A column of `length` nulls with correctly sized (zeroed) buffers, so it can be encoded again. */
export function nullData(type: DataType, length: number): Data {
  const nullBitmap = new Uint8Array((length + 7) >> 3);
  const base = { type, length, nullCount: length, nullBitmap };
  const build = makeData as (props: unknown) => Data;
  switch (type.typeId) {
    case Type.Bool:
      return build({ ...base, data: new Uint8Array((length + 7) >> 3) });
    case Type.Int:
    case Type.Date:
    case Type.Float:
    case Type.Time:
    case Type.Timestamp:
    case Type.Decimal:
    case Type.FixedSizeBinary: {
      const ArrayType = type.ArrayType as new (size: number) => ArrayBufferView;
      const stride = type.typeId === Type.Decimal ? 4 : type.typeId === Type.FixedSizeBinary ? (type as FixedSizeBinary).byteWidth : 1;
      return build({ ...base, data: new ArrayType(length * stride) });
    }
    case Type.Utf8:
    case Type.Binary:
      return build({ ...base, valueOffsets: new Int32Array(length + 1), data: new Uint8Array(0) });
    case Type.Struct:
      return build({ ...base, children: childFields(type).map((child) => nullData(fieldType(child), length)) });
    case Type.List:
    case Type.Map:
      return build({ ...base, valueOffsets: new Int32Array(length + 1), child: nullData(fieldType(childFields(type)[0]!), 0) });
    default:
      throw new LakehouseError('SCHEMA_MISMATCH', `Cannot make a null column of Arrow type ${typeText(type)}.`);
  }
}

function mismatch(path: string, fileType: DataType, icebergType: IcebergType, where: string, context: ErrorContext): LakehouseError {
  const expected = isPrimitive(icebergType) ? icebergType : icebergType.type;
  return new LakehouseError(
    'SCHEMA_MISMATCH',
    `Column "${path}" of ${where} is ${typeText(fileType)}, which cannot be read as ${expected} (Iceberg promotes only int → long, float → double and decimal precision). Check that the file belongs to this table and schema.`,
    context,
  );
}

/** The file's column `data` (of Arrow type `fileType`) as the schema's type `target`: promoted, relabelled, nested fields matched by id. */
function project(data: Data, fileType: DataType, icebergType: IcebergType, target: DataType, path: string, matchByName: boolean, where: string, context: ErrorContext): Data {
  if (isPrimitive(icebergType)) return projectPrimitive(data, fileType, icebergType, target, path, where, context);
  switch (icebergType.type) {
    case 'struct': {
      if (fileType.typeId !== Type.Struct) throw mismatch(path, fileType, icebergType, where, context);
      const fileChildren = childFields(fileType);
      const targetChildren = childFields(target);
      const children = icebergType.fields.map((field, position) => {
        const childPath = `${path}.${field.name}`;
        const source = findField(fileChildren, field, matchByName);
        if (source === undefined) return missingColumn(field, childPath, data.length, where, context);
        return project(childData(data, source), fieldType(fileChildren[source]!), field.type, fieldType(targetChildren[position]!), childPath, matchByName, where, context);
      });
      return data.clone(target, data.offset, data.length, data.nullCount, undefined, children);
    }
    case 'list': {
      if (fileType.typeId !== Type.List) throw mismatch(path, fileType, icebergType, where, context);
      const element = project(
        childData(data, 0),
        fieldType(childFields(fileType)[0]!),
        icebergType.element,
        fieldType(childFields(target)[0]!),
        `${path}.element`,
        matchByName,
        where,
        context,
      );
      return data.clone(target, data.offset, data.length, data.nullCount, undefined, [element]);
    }
    case 'map': {
      if (fileType.typeId !== Type.Map) throw mismatch(path, fileType, icebergType, where, context);
      const entries = childData(data, 0);
      const fileEntries = childFields(fieldType(childFields(fileType)[0]!));
      const targetEntriesType = fieldType(childFields(target)[0]!);
      const targetEntries = childFields(targetEntriesType);
      const key = project(childData(entries, 0), fieldType(fileEntries[0]!), icebergType.key, fieldType(targetEntries[0]!), `${path}.key`, matchByName, where, context);
      const value = project(childData(entries, 1), fieldType(fileEntries[1]!), icebergType.value, fieldType(targetEntries[1]!), `${path}.value`, matchByName, where, context);
      const entriesData = entries.clone(targetEntriesType, entries.offset, entries.length, entries.nullCount, undefined, [key, value]);
      return data.clone(target, data.offset, data.length, data.nullCount, undefined, [entriesData]);
    }
  }
}

function projectPrimitive(data: Data, fileType: DataType, icebergType: PrimitiveType, target: DataType, path: string, where: string, context: ErrorContext): Data {
  const primitive = parsePrimitive(icebergType, path);
  const fail = (): LakehouseError => mismatch(path, fileType, icebergType, where, context);
  const relabel = (): Data => data.clone(target);
  switch (primitive.kind) {
    case 'boolean':
      if (fileType.typeId !== Type.Bool) throw fail();
      return relabel();
    case 'int':
      if (!isInt(fileType, 32)) throw fail();
      return relabel();
    case 'long':
      if (isInt(fileType, 64)) return relabel();
      if (isInt(fileType, 32)) return widen(data, target, new BigInt64Array(data.length), (out, values, index) => ((out as BigInt64Array)[index] = BigInt((values as Int32Array)[index]!)));
      throw fail();
    case 'float':
      if (!isFloat(fileType, Precision.SINGLE)) throw fail();
      return relabel();
    case 'double':
      if (isFloat(fileType, Precision.DOUBLE)) return relabel();
      if (isFloat(fileType, Precision.SINGLE)) return widen(data, target, new Float64Array(data.length), (out, values, index) => ((out as Float64Array)[index] = (values as Float32Array)[index]!));
      throw fail();
    case 'decimal': {
      // Widening the precision keeps the unscaled 128-bit values as they are.
      const decimal = fileType as Decimal;
      if (fileType.typeId !== Type.Decimal || decimal.scale !== primitive.scale || decimal.precision > primitive.precision || decimal.bitWidth !== 128) throw fail();
      return relabel();
    }
    case 'date':
      // DateUnit.DAY: 32-bit days, as Parquet's DATE.
      if (!(fileType.typeId === Type.Date && (fileType as Date_).unit === DateUnit.DAY)) throw fail();
      return relabel();
    case 'time':
      return rescale(data, fileType, target, Type.Time, fail);
    case 'timestamp':
    case 'timestamptz':
      return rescale(data, fileType, target, Type.Timestamp, fail);
    case 'string':
      if (fileType.typeId === Type.Utf8) return relabel();
      if (fileType.typeId === Type.LargeUtf8) return narrowOffsets(data, target);
      throw fail();
    case 'binary':
      if (fileType.typeId === Type.Binary) return relabel();
      if (fileType.typeId === Type.LargeBinary) return narrowOffsets(data, target);
      throw fail();
    case 'uuid':
    case 'fixed': {
      const width = primitive.kind === 'fixed' ? primitive.length : 16;
      if (!(fileType.typeId === Type.FixedSizeBinary && (fileType as FixedSizeBinary).byteWidth === width)) throw fail();
      return relabel();
    }
  }
}

function isInt(type: DataType, bitWidth: number): boolean {
  return type.typeId === Type.Int && (type as Int).bitWidth === bitWidth && (type as Int).isSigned;
}

function isFloat(type: DataType, precision: Precision): boolean {
  return type.typeId === Type.Float && (type as Float).precision === precision;
}

function widen<T extends ArrayBufferView>(data: Data, target: DataType, out: T, convert: (out: T, values: ArrayLike<unknown>, index: number) => void): Data {
  const values = data.values as ArrayLike<unknown>;
  for (let index = 0; index < data.length; index++) convert(out, values, index);
  return (makeData as (props: unknown) => Data)({ type: target, offset: data.offset, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap, data: out });
}

const UNIT_MICROS = [1_000_000n, 1_000n, 1n, 0n];

/** Time and timestamp columns in another unit (pyarrow writes milliseconds or nanoseconds on request) become microseconds. */
function rescale(data: Data, fileType: DataType, target: DataType, typeId: Type, fail: () => LakehouseError): Data {
  if (fileType.typeId !== typeId) throw fail();
  const unit = (fileType as Timestamp).unit as number;
  if (unit === 2) return data.clone(target);
  const values = data.values as ArrayLike<number | bigint>;
  const out = new BigInt64Array(data.length);
  for (let index = 0; index < data.length; index++) {
    const value = BigInt(values[index]!);
    // Nanoseconds are floored to microseconds, as Iceberg's own readers do.
    out[index] = unit === 3 ? (value >= 0n ? value / 1000n : -((-value + 999n) / 1000n)) : value * UNIT_MICROS[unit]!;
  }
  return (makeData as (props: unknown) => Data)({ type: target, offset: data.offset, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap, data: out });
}

function narrowOffsets(data: Data, target: DataType): Data {
  const wide = data.valueOffsets as unknown as BigInt64Array | Int32Array;
  const offsets = new Int32Array(data.length + 1);
  const first = Number(wide[0]!);
  for (let index = 0; index <= data.length; index++) offsets[index] = Number(wide[index]!) - first;
  const bytes = (data.values as Uint8Array).subarray(first, first + offsets[data.length]!);
  return (makeData as (props: unknown) => Data)({
    type: target,
    offset: data.offset,
    length: data.length,
    nullCount: data.nullCount,
    nullBitmap: data.nullBitmap,
    valueOffsets: offsets,
    data: bytes,
  });
}
