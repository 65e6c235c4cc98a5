import { randomUUID } from 'node:crypto';
import { SchemaViolationError } from '../arrow/schema-violation-error.js';
import type { FileIO } from '../catalog/file-io.js';
import { LakehouseError } from '../errors.js';
import { FileContent, POSITION_DELETE_SCHEMA } from '../metadata/manifest.js';
import type { DataFile } from '../metadata/manifest.js';
import { writeParquet } from '../parquet/write-parquet.js';
import type { ParquetCompression } from '../parquet/write-parquet.js';
import type { ColumnMetrics, IcebergSchema, PrimitiveType, Row } from '../schema/types.js';
import { partitionPath, partitionValues } from '../spec/partition-spec.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import { serializeValue, truncateLowerBound, truncateUpperBound } from '../spec/single-value.js';

/**
 * How data files are written; read from table properties by {@link writerSettings}.
 *
 * @example
 * ```ts
 * const settings: WriterSettings = { targetFileSizeBytes: 128 * 1024 * 1024, compression: 'zstd', rowGroupRows: 1_048_576 };
 * ```
 */
export interface WriterSettings {
  /** `write.target-file-size-bytes`: files are cut near this size. */
  readonly targetFileSizeBytes: number;
  /** `write.parquet.compression-codec`. */
  readonly compression: ParquetCompression;
  /** Rows per Parquet row group. */
  readonly rowGroupRows: number;
}

/**
 * Writer settings from table properties, with Tributary's defaults (128 MiB files, zstd, row groups of up to 1,048,576 rows — one per file of a streaming commit, which compresses best).
 *
 * @example
 * ```ts
 * const settings = writerSettings(metadata.properties);
 * ```
 */
export function writerSettings(properties: Readonly<Record<string, string>>): WriterSettings {
  const codec = (properties['write.parquet.compression-codec'] ?? 'zstd').toLowerCase();
  const compression: ParquetCompression =
    codec === 'snappy' || codec === 'gzip' || codec === 'uncompressed' || codec === 'zstd' ? codec : 'zstd';
  return {
    targetFileSizeBytes: Number(properties['write.target-file-size-bytes'] ?? 128 * 1024 * 1024),
    compression,
    rowGroupRows: Number(properties['write.parquet.row-group-rows'] ?? 1_048_576),
  };
}

/**
 * Writes one file of a table, turning a storage failure into a `FILE_WRITE_FAILED` error that names the table and
 * the file (the object store's own error names only its key). Retriable when the storage error is.
 *
 * @example
 * ```ts
 * await writeTableFile(io, uri, bytes, 'silver.orders', 'data file');
 * ```
 */
export async function writeTableFile(io: FileIO, uri: string, bytes: Uint8Array | string, table: string | undefined, kind: string): Promise<void> {
  try {
    await io.write(uri, bytes);
  } catch (error) {
    const retriable = (error as { retriable?: unknown }).retriable === true;
    throw new LakehouseError(
      'FILE_WRITE_FAILED',
      `Writing ${kind} ${uri} of table ${table ?? '(unnamed)'} failed: ${(error as Error).message}. Nothing was committed; ` +
        `the table is still at its previous snapshot. ${retriable ? 'Retry the write.' : 'Check the storage, then retry the write.'}`,
      { ...(table === undefined ? {} : { table }), file: uri, cause: error, retriable },
    );
  }
}

/** Removes files of a write that failed before its commit; best effort, the original error is what matters. */
async function removeWritten(io: FileIO, uris: readonly string[]): Promise<void> {
  if (uris.length > 0) await io.deleteMany(uris).catch(() => undefined);
}

/** Where each written row landed: file URI and position, in input order. */
export interface RowLocation {
  readonly file: string;
  readonly pos: number;
}

/** What {@link writeDataFiles} produced. */
export interface WrittenDataFiles {
  readonly files: DataFile[];
  /** Per input row (same index), its file and position: position deletes of later upserts point there. */
  readonly locations: RowLocation[];
}

const primitiveOf = (schema: IcebergSchema): Map<number, PrimitiveType> => {
  const types = new Map<number, PrimitiveType>();
  for (const field of schema.fields) if (typeof field.type === 'string') types.set(field.id, field.type);
  return types;
};

function boundsOf(columns: readonly ColumnMetrics[], types: Map<number, PrimitiveType>, truncate = true) {
  const lower = new Map<number, Uint8Array>();
  const upper = new Map<number, Uint8Array>();
  for (const column of columns) {
    const type = types.get(column.fieldId);
    if (type === undefined) continue;
    if (column.lower !== undefined) {
      const value = truncate ? truncateLowerBound(type, column.lower) : column.lower;
      if (value !== undefined) lower.set(column.fieldId, serializeValue(type, value));
    }
    if (column.upper !== undefined) {
      const value = truncate ? truncateUpperBound(type, column.upper) : column.upper;
      if (value !== undefined) upper.set(column.fieldId, serializeValue(type, value));
    }
  }
  return { lower, upper };
}

/**
 * Encodes rows as Parquet data files under `<location>/data/<partition path>/`, split by partition and cut near the
 * target file size, and returns them as manifest-ready {@link DataFile}s (statistics and bounds by field id).
 * Nothing is committed: the files are invisible until a snapshot references them. When a row violates the schema
 * (`SCHEMA_VIOLATION`, `rowIndex` counted in `rows`) or a write fails (`FILE_WRITE_FAILED`), the files this call
 * already wrote are removed before the error is thrown.
 *
 * @example
 * ```ts
 * const { files } = await writeDataFiles(io, metadata.location, schema, spec, rows, writerSettings(metadata.properties));
 * ```
 */
export async function writeDataFiles(
  io: FileIO,
  location: string,
  schema: IcebergSchema,
  spec: PartitionSpec,
  rows: readonly Row[],
  settings: WriterSettings,
  table?: string,
): Promise<WrittenDataFiles> {
  const locations: RowLocation[] = new Array<RowLocation>(rows.length);
  const files: DataFile[] = [];
  const groups = new Map<string, { values: unknown[]; indexes: number[] }>();
  if (spec.fields.length === 0) {
    groups.set('', { values: [], indexes: rows.map((_, i) => i) });
  } else {
    for (let i = 0; i < rows.length; i++) {
      let values: unknown[];
      try {
        values = partitionValues(spec, schema, rows[i]!);
      } catch (error) {
        throw new LakehouseError('SCHEMA_VIOLATION', `Row ${i} cannot be partitioned: ${(error as Error).message}`, {
          table,
          cause: error,
        });
      }
      const path = partitionPath(spec, schema, values);
      let group = groups.get(path);
      if (group === undefined) groups.set(path, (group = { values, indexes: [] }));
      group.indexes.push(i);
    }
  }
  const types = primitiveOf(schema);
  const operation = randomUUID();
  let fileCount = 0;
  let bytesPerRow = 64; // First guess; refined by every file written.
  const written: string[] = [];
  try {
    for (const [path, group] of groups) {
      let start = 0;
      while (start < group.indexes.length) {
        const rowsPerFile = Math.max(1000, Math.floor(settings.targetFileSizeBytes / bytesPerRow));
        const indexes = group.indexes.slice(start, start + rowsPerFile);
        start += indexes.length;
        const fileRows = indexes.map((i) => rows[i]!);
        fileCount++;
        const name = `00000-${fileCount}-${operation}-${String(fileCount).padStart(5, '0')}.parquet`;
        const uri = `${location}/data/${path === '' ? '' : `${path}/`}${name}`;
        let parquet: Awaited<ReturnType<typeof writeParquet>>;
        try {
          parquet = await writeParquet(schema, fileRows, {
            compression: settings.compression,
            rowGroupRows: settings.rowGroupRows,
            ...(table === undefined ? {} : { table }),
          });
        } catch (error) {
          throw error instanceof SchemaViolationError ? inBatch(error, indexes[error.rowIndex] ?? error.rowIndex) : error;
        }
        await writeTableFile(io, uri, parquet.bytes, table, 'data file');
        written.push(uri);
        bytesPerRow = Math.max(1, parquet.bytes.byteLength / Math.max(1, parquet.rowCount));
        for (let pos = 0; pos < indexes.length; pos++) locations[indexes[pos]!] = { file: uri, pos };
        const { lower, upper } = boundsOf(parquet.columns, types);
        const partition: Record<string, unknown> = {};
        spec.fields.forEach((field, i) => (partition[field.name] = group.values[i] ?? null));
        files.push({
          content: FileContent.Data,
          filePath: uri,
          fileFormat: 'PARQUET',
          partition,
          recordCount: parquet.rowCount,
          fileSizeInBytes: parquet.bytes.byteLength,
          columnSizes: new Map(parquet.columns.filter((c) => c.sizeBytes !== undefined).map((c) => [c.fieldId, c.sizeBytes!])),
          valueCounts: new Map(parquet.columns.map((c) => [c.fieldId, c.valueCount])),
          nullValueCounts: new Map(parquet.columns.map((c) => [c.fieldId, c.nullCount])),
          nanValueCounts: new Map(parquet.columns.filter((c) => c.nanCount !== undefined).map((c) => [c.fieldId, c.nanCount!])),
          lowerBounds: lower,
          upperBounds: upper,
          splitOffsets: parquet.splitOffsets,
          sortOrderId: 0,
        });
      }
    }
  } catch (error) {
    await removeWritten(io, written);
    throw error;
  }
  return { files, locations };
}

/** The violation with its row counted in the whole batch (the encoder counts within one file's rows). */
function inBatch(error: SchemaViolationError, rowIndex: number): SchemaViolationError {
  if (rowIndex === error.rowIndex) return error;
  const prefix = `Row ${error.rowIndex},`;
  const message = error.message.startsWith(prefix)
    ? `Row ${rowIndex},${error.message.slice(prefix.length)}`
    : `${error.message} (row ${rowIndex} of the batch)`;
  return new SchemaViolationError(message, {
    column: error.column,
    fieldId: error.fieldId,
    rowIndex,
    ...(error.table === undefined ? {} : { table: error.table }),
    cause: error,
  });
}

/**
 * Writes position delete files: for each data file, the positions of its rows that are deleted. One delete file per
 * partition, rows sorted by file path then position as the spec requires.
 *
 * @example
 * ```ts
 * const deleteFiles = await writePositionDeletes(io, location, [{ dataFile, positions: [3, 17] }], settings);
 * ```
 */
export async function writePositionDeletes(
  io: FileIO,
  location: string,
  deletes: readonly { readonly dataFile: DataFile; readonly partitionPath: string; readonly positions: readonly number[] }[],
  settings: WriterSettings,
  table?: string,
): Promise<DataFile[]> {
  const byPartition = new Map<string, typeof deletes[number][]>();
  for (const item of deletes) {
    if (item.positions.length === 0) continue;
    const list = byPartition.get(item.partitionPath) ?? [];
    list.push(item);
    byPartition.set(item.partitionPath, list);
  }
  const files: DataFile[] = [];
  const operation = randomUUID();
  let count = 0;
  const written: string[] = [];
  try {
    for (const [path, items] of byPartition) {
      const sorted = [...items].sort((a, b) => (a.dataFile.filePath < b.dataFile.filePath ? -1 : a.dataFile.filePath > b.dataFile.filePath ? 1 : 0));
      const rows: Row[] = [];
      for (const item of sorted) {
        for (const pos of [...item.positions].sort((a, b) => a - b)) rows.push({ file_path: item.dataFile.filePath, pos });
      }
      const parquet = await writeParquet(POSITION_DELETE_SCHEMA, rows, { compression: settings.compression, rowGroupRows: settings.rowGroupRows });
      count++;
      const uri = `${location}/data/${path === '' ? '' : `${path}/`}00000-${count}-${operation}-deletes.parquet`;
      await writeTableFile(io, uri, parquet.bytes, table, 'position delete file');
      written.push(uri);
      const types = primitiveOf(POSITION_DELETE_SCHEMA);
      // Full file_path bounds (no truncation): readers use them to tell which data files a delete file touches.
      const { lower, upper } = boundsOf(parquet.columns, types, false);
      files.push({
        content: FileContent.PositionDeletes,
        filePath: uri,
        fileFormat: 'PARQUET',
        partition: sorted[0]!.dataFile.partition,
        recordCount: parquet.rowCount,
        fileSizeInBytes: parquet.bytes.byteLength,
        valueCounts: new Map(parquet.columns.map((c) => [c.fieldId, c.valueCount])),
        nullValueCounts: new Map(parquet.columns.map((c) => [c.fieldId, c.nullCount])),
        lowerBounds: lower,
        upperBounds: upper,
        ...(sorted.length === 1 ? { referencedDataFile: sorted[0]!.dataFile.filePath } : {}),
      });
    }
  } catch (error) {
    await removeWritten(io, written);
    throw error;
  }
  return files;
}
