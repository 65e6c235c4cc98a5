import { RecordBatch, Schema, Struct, Table, isArrowTable, makeData, tableToIPC } from 'apache-arrow';
import type { Data, DataType, Field } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import type { FileMetaData, SchemaElement } from 'hyparquet';
import { z } from 'zod';
import { fieldIdOf, toArrowField } from '../arrow/arrow-schema.js';
import { childData, childFields, fieldType, typeText } from '../arrow/arrow-types.js';
import { rowsToArrow } from '../arrow/rows-to-arrow.js';
import { sameArrowType } from '../arrow/same-arrow-type.js';
import { SchemaViolationError } from '../arrow/schema-violation-error.js';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import type { ColumnMetrics, IcebergSchema, IcebergType, NestedField, Row } from '../schema/types.js';
import { annotateUuidColumns } from './annotate-uuid-columns.js';
import { columnMetrics } from './column-metrics.js';
import { loadParquetWasm } from './parquet-wasm.js';

/**
 * Parquet page compression codecs: `zstd` (default), `snappy`, `gzip`, `uncompressed`.
 *
 * @example
 * ```ts
 * const compression: ParquetCompression = 'snappy';
 * ```
 */
export type ParquetCompression = 'zstd' | 'snappy' | 'gzip' | 'uncompressed';

const writeParquetOptionsSchema = z.strictObject({
  /** Page compression. Default `zstd`: the smallest files at a write speed close to snappy's (see decision 0010). */
  compression: z.enum(['zstd', 'snappy', 'gzip', 'uncompressed']).default('zstd'),
  /**
   * Most rows in one row group. Default 1,048,576: a streaming commit's file is then one row group, which compresses
   * best (measured: 100,000-row groups doubled the file) and is what Iceberg's split planning expects of small files.
   */
  rowGroupRows: z.number().int().positive().default(1_048_576),
  /** Most bytes (in memory, before encoding) of one row group. Default 128 MiB, Iceberg's `write.parquet.row-group-size-bytes`. */
  targetRowGroupBytes: z.number().int().positive().default(128 * 1024 * 1024),
  /**
   * Dictionary-encode columns. Default `false`: on CDC-shaped data (mostly distinct ids, amounts and timestamps) the
   * dictionary made encoding about 3x slower and the zstd-compressed file larger (bench:lakehouse profile).
   */
  dictionary: z.boolean().default(false),
  /** Table the file is for; named in errors. */
  table: z.string().optional(),
  /** Where the file will be stored; named in errors. */
  file: z.string().optional(),
});

/**
 * Options of {@link writeParquet}.
 *
 * @interface
 */
export type WriteParquetOptions = z.input<typeof writeParquetOptionsSchema>;

/**
 * A Parquet data file in memory, with what an Iceberg manifest entry needs to describe it.
 *
 * `columns` has one entry per leaf field id (struct children, list elements, map keys and values; not the struct,
 * list or map fields themselves), in schema order. Its bounds are computed from the data written, and typed for the
 * manifest writer, which serialises them per Iceberg's single-value binary form:
 *
 * | Iceberg type | `lower` / `upper` |
 * |---|---|
 * | `boolean` | `boolean` |
 * | `int`, `float`, `double` | `number` (NaN never a bound; -0 orders below 0) |
 * | `long` | `bigint` |
 * | `decimal(P, S)` | `string` with exactly S decimals |
 * | `date` | `string` `YYYY-MM-DD` |
 * | `time` | `bigint` microseconds of the day (not the read-side string: bounds stay exact and need no parsing) |
 * | `timestamp`, `timestamptz` | `bigint` microseconds since the epoch (not a `Date`, which would drop the microseconds) |
 * | `string` | `string`, whole (truncation to the table's metrics mode is the manifest writer's job), ordered by UTF-8 bytes |
 * | `uuid` | `string` (canonical lower case), ordered by its 16 bytes |
 * | `binary`, `fixed[L]` | `Uint8Array`, whole, ordered as unsigned bytes |
 *
 * Leaves inside a list or map carry counts but no bounds. `nanCount` is present for `float` and `double` columns
 * only. `valueCount` includes nulls; a null or empty list counts one null for each of its leaves (Parquet's levels).
 * `sizeBytes` is the compressed size of the column's chunks from the file footer.
 *
 * @example
 * ```ts
 * const file: ParquetFile = await writeParquet(schema, rows);
 * const key = file.columns.find((metric) => metric.fieldId === 1);
 * console.log(file.rowCount, file.splitOffsets, key?.lower, key?.upper); // 2 [4] 1n 2n
 * ```
 */
export interface ParquetFile {
  /** The whole file. */
  readonly bytes: Uint8Array;
  /** Rows in the file. */
  readonly rowCount: number;
  /** Metrics per leaf field id (see above). */
  readonly columns: readonly ColumnMetrics[];
  /** Byte offset of each row group, ascending: Iceberg's `split_offsets`. */
  readonly splitOffsets: readonly number[];
}

/**
 * Writes rows (write-side JavaScript values, validated) or an Arrow table as one Parquet file that Iceberg readers
 * accept: every column, nested ones included, carries its Iceberg field id; required fields are `REQUIRED`; Parquet
 * column statistics are written. Returns the bytes with the metrics for the manifest.
 *
 * An Arrow `input` must have the schema's columns (matched by `PARQUET:field_id` metadata, else by name) with the
 * Arrow types of {@link toArrowSchema}; its values are trusted. Encoding runs in parquet-wasm (arrow-rs), loaded on
 * the first call.
 *
 * @param options `compression` — `zstd` (default) | `snappy` | `gzip` | `uncompressed`; `rowGroupRows` — most rows
 *   per row group (default 1,048,576); `targetRowGroupBytes` — most bytes per row group (default 128 MiB);
 *   `dictionary` — dictionary encoding (default `false`); `table`,
 *   `file` — named in errors
 * @throws SchemaViolationError (code `SCHEMA_VIOLATION`) when a value does not fit the schema
 *
 * @example
 * ```ts
 * const file = await writeParquet(schema, [{ order_id: 1n, amount: '19.99' }], { compression: 'zstd' });
 * await store.put('data/00000-0-a1b2.parquet', file.bytes);
 * file.columns[0]; // { fieldId: 1, valueCount: 1, nullCount: 0, lower: 1n, upper: 1n, sizeBytes: 61 }
 * ```
 */
export async function writeParquet(schema: IcebergSchema, input: Table | readonly Row[], options: WriteParquetOptions = {}): Promise<ParquetFile> {
  const parsed = parseOptions(writeParquetOptionsSchema, 'writeParquet', options);
  const context = { ...(parsed.table === undefined ? {} : { table: parsed.table }), ...(parsed.file === undefined ? {} : { file: parsed.file }) };
  // isArrowTable, not instanceof: a table built with another copy of apache-arrow is still a table.
  const table = isArrowTable(input) ? conformTable(schema, input, parsed.table) : rowsToArrow(schema, input, parsed.table === undefined ? {} : { table: parsed.table });
  const metrics = columnMetrics(schema, table);

  const wasm = await loadParquetWasm();
  let bytes: Uint8Array;
  try {
    const properties = new wasm.WriterPropertiesBuilder()
      .setCompression(COMPRESSION[parsed.compression])
      .setMaxRowGroupSize(parsed.rowGroupRows)
      .setMaxRowGroupBytes(parsed.targetRowGroupBytes)
      .setDictionaryEnabled(parsed.dictionary)
      .build();
    bytes = wasm.writeParquet(wasm.Table.fromIPCStream(tableToIPC(table, 'stream')), properties);
  } catch (error) {
    throw new LakehouseError('PARQUET_WRITE_FAILED', `Encoding ${table.numRows} rows as Parquet failed: ${String(error)}. This is a bug; please report it with the schema.`, {
      ...context,
      cause: error,
    });
  }

  bytes = annotateUuidColumns(bytes, uuidFieldIds(schema.fields));
  const footer = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const sizes = chunkSizesByFieldId(footer);
  return {
    bytes,
    rowCount: Number(footer.num_rows),
    columns: metrics.map((metric) => ({ ...metric, sizeBytes: sizes.get(metric.fieldId) ?? 0 })),
    splitOffsets: footer.row_groups.map((group) => {
      const first = group.columns[0]?.meta_data;
      return Number(first?.dictionary_page_offset ?? first?.data_page_offset ?? group.file_offset ?? 4n);
    }),
  };
}

const COMPRESSION = { zstd: 5, snappy: 1, gzip: 2, uncompressed: 0 } as const;

function uuidFieldIds(fields: readonly NestedField[], into = new Set<number>()): Set<number> {
  const visit = (id: number, type: IcebergType): void => {
    if (type === 'uuid') into.add(id);
    else if (typeof type === 'string') return;
    else if (type.type === 'struct') uuidFieldIds(type.fields, into);
    else if (type.type === 'list') visit(type['element-id'], type.element);
    else {
      visit(type['key-id'], type.key);
      visit(type['value-id'], type.value);
    }
  };
  for (const field of fields) visit(field.id, field.type);
  return into;
}

/** Compressed bytes per leaf field id, summed over row groups. */
function chunkSizesByFieldId(footer: FileMetaData): Map<number, number> {
  const leaves = leafFieldIds(footer.schema);
  const sizes = new Map<number, number>();
  for (const group of footer.row_groups) {
    for (const chunk of group.columns) {
      const path = chunk.meta_data?.path_in_schema.join('\u0000');
      const fieldId = path === undefined ? undefined : leaves.get(path);
      if (fieldId === undefined) continue;
      sizes.set(fieldId, (sizes.get(fieldId) ?? 0) + Number(chunk.meta_data?.total_compressed_size ?? 0n));
    }
  }
  return sizes;
}

/** Leaf path (names joined by NUL) to the field id of the leaf, from the flattened Parquet schema. */
export function leafFieldIds(elements: readonly SchemaElement[]): Map<string, number> {
  const leaves = new Map<string, number>();
  let next = 1;
  const visit = (path: readonly string[]): void => {
    const element = elements[next++]!;
    const childPath = [...path, element.name];
    const children = element.num_children ?? 0;
    if (children === 0) {
      if (element.field_id !== undefined) leaves.set(childPath.join('\u0000'), element.field_id);
      return;
    }
    for (let child = 0; child < children; child++) visit(childPath);
  };
  const roots = elements[0]?.num_children ?? 0;
  for (let root = 0; root < roots; root++) visit([]);
  return leaves;
}

/**
 * An Arrow table relabelled with the schema's Arrow fields (so every column carries its field id), after checking
 * each column's type and that required columns hold no nulls.
 */
function conformTable(schema: IcebergSchema, input: Table, table: string | undefined): Table {
  const expected = schema.fields.map((field) => toArrowField(field));
  const columnOf = expected.map((field, position) => {
    const icebergField = schema.fields[position]!;
    const byId = input.schema.fields.findIndex((candidate: Field) => fieldIdOf(candidate) === icebergField.id);
    const index = byId >= 0 ? byId : input.schema.fields.findIndex((candidate: Field) => candidate.name === field.name && fieldIdOf(candidate) === undefined);
    if (index < 0) {
      throw new LakehouseError(
        'SCHEMA_VIOLATION',
        `The Arrow table has no column for field ${icebergField.id} ("${icebergField.name}")${table === undefined ? '' : ` of table ${table}`}. Add the column (all nulls if optional) or write rows instead.`,
        table === undefined ? {} : { table },
      );
    }
    const actual = input.schema.fields[index]!;
    if (!sameArrowType(fieldType(actual), fieldType(field))) {
      throw new LakehouseError(
        'SCHEMA_VIOLATION',
        `Column "${field.name}" (field id ${icebergField.id}) of the Arrow table is ${typeText(fieldType(actual))}, but the schema needs ${typeText(fieldType(field))}. Build the table with toArrowSchema(schema) or write rows instead.`,
        table === undefined ? {} : { table },
      );
    }
    return index;
  });
  const arrowSchema = new Schema(expected);
  const batches = input.batches.map((batch) => {
    const children = expected.map((field, position) => {
      const data = batch.data.children[columnOf[position]!]!;
      if (!field.nullable && data.nullCount > 0) {
        let row = 0;
        while (row < data.length && data.getValid(row)) row++;
        const icebergField = schema.fields[position]!;
        throw new SchemaViolationError(
          `Column "${field.name}" (field id ${icebergField.id}) is required but the Arrow table has a null in it (row ${row} of its batch). Fill the nulls or make the column optional.`,
          { column: field.name, fieldId: icebergField.id, rowIndex: row, ...(table === undefined ? {} : { table }) },
        );
      }
      return relabel(data, fieldType(field));
    });
    return new RecordBatch(arrowSchema, makeData({ type: new Struct(expected), length: batch.numRows, nullCount: 0, children }));
  });
  return new Table(arrowSchema, batches);
}

/** The same buffers under the schema's type, so nested fields carry their ids too. */
function relabel(data: Data, type: DataType): Data {
  const children = childFields(type).map((child, index) => relabel(childData(data, index), fieldType(child)));
  return data.clone(type, data.offset, data.length, data.nullCount, undefined, children);
}
