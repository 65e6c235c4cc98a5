import type { LoadedTable } from '../catalog/catalog.js';
import { formatIdentifier } from '../catalog/catalog.js';
import { arrowToRows } from '../arrow/rows-to-arrow.js';
import { LakehouseError } from '../errors.js';
import { EntryStatus, FileContent, POSITION_DELETE_SCHEMA, readManifest, readManifestList } from '../metadata/manifest.js';
import type { DataFile, ManifestEntry } from '../metadata/manifest.js';
import { currentSnapshot, schemaById, snapshotAsOf, snapshotById, specById } from '../metadata/table-metadata.js';
import type { Snapshot, TableMetadata } from '../metadata/table-metadata.js';
import { readParquet } from '../parquet/read-parquet.js';
import type { IcebergSchema, Row } from '../schema/types.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import { bindExpression, canContainFile, canContainPartition, evaluateRow } from './expression.js';
import type { BoundExpression, Expression } from './expression.js';

/**
 * What to read: which snapshot (current by default; time travel by id or by time), which rows, which columns.
 *
 * @example
 * ```ts
 * const options: ScanOptions = { asOfTimestampMs: Date.parse('2026-11-01T00:00:00Z'), filter: eq('status', 'open') };
 * ```
 */
export interface ScanOptions {
  /** Read this snapshot. Default: the current one. */
  readonly snapshotId?: bigint | undefined;
  /** Read the snapshot that was current at this time (ms since the epoch). */
  readonly asOfTimestampMs?: number | undefined;
  /** Only rows matching this filter; files and partitions that cannot match are skipped unread. */
  readonly filter?: Expression | undefined;
  /** Only these columns (by name, in the snapshot's schema). Default: all. */
  readonly columns?: readonly string[] | undefined;
  /** Stop after this many rows. */
  readonly limit?: number | undefined;
}

/**
 * One data file to read, with the delete files that apply to it.
 *
 * @example
 * ```ts
 * for (const task of plan.tasks) console.log(task.dataFile.filePath, task.deletes.length);
 * ```
 */
export interface FileScanTask {
  readonly dataFile: DataFile;
  readonly dataSequenceNumber: number;
  readonly spec: PartitionSpec;
  readonly deletes: readonly DataFile[];
}

/**
 * The files a scan reads, after partition and min/max pruning.
 *
 * @example
 * ```ts
 * const plan = await planScan(loaded, { filter: eq('order_id', 42) });
 * console.log(`${plan.tasks.length} of ${plan.totalDataFiles} files`);
 * ```
 */
export interface ScanPlan {
  readonly snapshot: Snapshot | undefined;
  /** Schema rows are read with: the snapshot's schema (time travel reads the columns as they were). */
  readonly schema: IcebergSchema;
  readonly tasks: readonly FileScanTask[];
  /** Live data files before pruning. */
  readonly totalDataFiles: number;
}

/**
 * The snapshot a scan reads.
 *
 * @example
 * ```ts
 * const snapshot = resolveSnapshot(metadata, { snapshotId: 42n });
 * ```
 */
export function resolveSnapshot(metadata: TableMetadata, options: Pick<ScanOptions, 'snapshotId' | 'asOfTimestampMs'>): Snapshot | undefined {
  if (options.snapshotId !== undefined) return snapshotById(metadata, options.snapshotId);
  if (options.asOfTimestampMs !== undefined) return snapshotAsOf(metadata, options.asOfTimestampMs);
  return currentSnapshot(metadata);
}

/**
 * Plans a scan: reads the snapshot's manifest list and manifests, drops data files whose partition or column bounds
 * cannot match the filter, and attaches to each remaining file the delete files that apply to it (position deletes
 * with a sequence number at or above the file's; equality deletes strictly above).
 *
 * @example
 * ```ts
 * const plan = await planScan(loaded, { snapshotId: 42n });
 * ```
 */
export async function planScan(loaded: LoadedTable, options: ScanOptions = {}): Promise<ScanPlan> {
  const metadata = loaded.metadata;
  const snapshot = resolveSnapshot(metadata, options);
  const schema = schemaById(metadata, snapshot?.['schema-id'] ?? metadata['current-schema-id']);
  if (snapshot === undefined) return { snapshot, schema, tasks: [], totalDataFiles: 0 };
  const bound = options.filter === undefined ? undefined : bindExpression(options.filter, schema);
  const list = snapshot['manifest-list'];
  const manifests = readManifestList(await loaded.io.read(list), list);
  const specOf = new Map<ManifestEntry, number>();
  const entries: ManifestEntry[] = (
    await Promise.all(
      manifests.map(async (m) => {
        const read = readManifest(await loaded.io.read(m.manifestPath), m);
        for (const entry of read) specOf.set(entry, m.partitionSpecId);
        return read;
      }),
    )
  )
    .flat()
    .filter((e) => e.status !== EntryStatus.Deleted);
  const data = entries.filter((e) => e.dataFile.content === FileContent.Data);
  const deletes = entries.filter((e) => e.dataFile.content !== FileContent.Data);
  const tasks: FileScanTask[] = [];
  for (const entry of data) {
    const spec = specById(metadata, specOf.get(entry) ?? metadata['default-spec-id']);
    if (bound !== undefined && !fileMayMatch(bound, entry.dataFile, spec, schema)) continue;
    const sequence = entry.sequenceNumber ?? 0;
    const applicable = deletes
      .filter((d) => {
        const deleteSequence = d.sequenceNumber ?? 0;
        if (d.dataFile.content === FileContent.PositionDeletes) {
          if (deleteSequence < sequence) return false;
          return d.dataFile.referencedDataFile === undefined || d.dataFile.referencedDataFile === entry.dataFile.filePath;
        }
        return deleteSequence > sequence;
      })
      .map((d) => d.dataFile);
    tasks.push({ dataFile: entry.dataFile, dataSequenceNumber: sequence, spec, deletes: applicable });
  }
  return { snapshot, schema, tasks, totalDataFiles: data.length };
}

function fileMayMatch(bound: BoundExpression, file: DataFile, spec: PartitionSpec, schema: IcebergSchema): boolean {
  if (spec.fields.length > 0) {
    const values = spec.fields.map((field) => file.partition[field.name]);
    if (!canContainPartition(bound, spec, schema, values)) return false;
  }
  return canContainFile(bound, {
    recordCount: file.recordCount,
    valueCounts: file.valueCounts,
    nullValueCounts: file.nullValueCounts,
    nanValueCounts: file.nanValueCounts,
    lowerBounds: file.lowerBounds,
    upperBounds: file.upperBounds,
  });
}

/**
 * Reads the rows of one task: the data file (columns matched by field id), minus deleted positions and rows matched
 * by equality deletes, filtered by the scan's expression.
 *
 * @example
 * ```ts
 * const rows = await readTask(loaded, plan.schema, plan.tasks[0]!);
 * ```
 */
export async function readTask(
  loaded: LoadedTable,
  schema: IcebergSchema,
  task: FileScanTask,
  bound?: BoundExpression,
): Promise<Row[]> {
  const table = formatIdentifier(loaded.identifier);
  const deletedPositions = new Set<number>();
  const equalityDeletes: { ids: readonly number[]; keys: Set<string> }[] = [];
  for (const deleteFile of task.deletes) {
    const bytes = await readFile(loaded, deleteFile.filePath, table);
    if (deleteFile.content === FileContent.PositionDeletes) {
      const rows = arrowToRows(await readParquet(bytes, POSITION_DELETE_SCHEMA), POSITION_DELETE_SCHEMA);
      for (const row of rows) if (row.file_path === task.dataFile.filePath) deletedPositions.add(Number(row.pos));
    } else {
      const ids = deleteFile.equalityIds ?? [];
      const deleteSchema: IcebergSchema = { ...schema, fields: schema.fields.filter((f) => ids.includes(f.id)) };
      const rows = arrowToRows(await readParquet(bytes, deleteSchema), deleteSchema);
      equalityDeletes.push({ ids, keys: new Set(rows.map((row) => keyOf(deleteSchema, row))) });
    }
  }
  const bytes = await readFile(loaded, task.dataFile.filePath, table);
  const rows = arrowToRows(await readParquet(bytes, schema), schema);
  const out: Row[] = [];
  for (let pos = 0; pos < rows.length; pos++) {
    if (deletedPositions.has(pos)) continue;
    const row = rows[pos]!;
    if (equalityDeletes.some((d) => d.keys.has(keyOf({ ...schema, fields: schema.fields.filter((f) => d.ids.includes(f.id)) }, row)))) {
      continue;
    }
    if (bound !== undefined && !evaluateRow(bound, row)) continue;
    out.push(row);
  }
  return out;
}

async function readFile(loaded: LoadedTable, uri: string, table: string): Promise<Uint8Array> {
  try {
    return await loaded.io.read(uri);
  } catch (error) {
    throw new LakehouseError('FILE_READ_FAILED', `Cannot read ${uri} of table ${table}: ${(error as Error).message}`, {
      table,
      file: uri,
      cause: error,
      retriable: (error as { retriable?: boolean }).retriable ?? false,
    });
  }
}

/**
 * A stable string for the values of some columns of a row (the key of upserts, deletes and equality deletes).
 *
 * @example
 * ```ts
 * keyOf(schemaOfKeyColumns, { order_id: 42n }); // '42'
 * ```
 */
export function keyOf(keySchema: IcebergSchema, row: Row): string {
  return keySchema.fields.map((field) => keyPart(row[field.name])).join('\u0001');
}

function keyPart(value: unknown): string {
  if (value === null || value === undefined) return '\u0000';
  if (value instanceof Date) return String(value.getTime());
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * Reads a whole scan to rows (deletes applied).
 *
 * @example
 * ```ts
 * const rows = await scanRows(loaded, { snapshotId: 42n, columns: ['order_id', 'status'] });
 * ```
 */
export async function scanRows(loaded: LoadedTable, options: ScanOptions = {}): Promise<{ plan: ScanPlan; rows: Row[] }> {
  const plan = await planScan(loaded, options);
  const bound = options.filter === undefined ? undefined : bindExpression(options.filter, plan.schema);
  const rows: Row[] = [];
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  for (const task of plan.tasks) {
    if (rows.length >= limit) break;
    for (const row of await readTask(loaded, plan.schema, task, bound)) {
      if (rows.length >= limit) break;
      rows.push(options.columns === undefined ? row : project(row, options.columns));
    }
  }
  return { plan, rows };
}

function project(row: Row, columns: readonly string[]): Row {
  const out: Record<string, unknown> = {};
  for (const column of columns) out[column] = row[column];
  return out;
}
