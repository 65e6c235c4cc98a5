/**
 * Table maintenance, in-process: compaction of small files (with the position deletes that only pointed at them),
 * snapshot expiry (metadata first, then the files no retained snapshot reaches), and removal of orphan files (files
 * under the table location that no metadata references).
 *
 * Safety rules every function here keeps:
 * - nothing is deleted before the metadata commit that makes it unreachable has succeeded, and nothing at all when
 *   the commit outcome is unknown (`CommitStateUnknownError`);
 * - a compaction never brings deleted rows back: a concurrent commit that deletes rows of a file being rewritten
 *   makes the compaction fail with `CONFLICTING_CHANGE` instead;
 * - orphan removal only deletes files older than a threshold, so files other writers are still writing (not yet
 *   committed) survive.
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { arrowToRows } from '../arrow/rows-to-arrow.js';
import { CommitConflictError } from '../catalog/catalog.js';
import type { LoadedTable } from '../catalog/catalog.js';
import type { FileIO } from '../catalog/file-io.js';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { EntryStatus, FileContent, POSITION_DELETE_SCHEMA, readManifest, readManifestList } from '../metadata/manifest.js';
import type { DataFile, ManifestEntry, ManifestFile } from '../metadata/manifest.js';
import { ancestors, currentSchema, currentSnapshot, specById } from '../metadata/table-metadata.js';
import type { Snapshot, TableMetadata } from '../metadata/table-metadata.js';
import { readParquet } from '../parquet/read-parquet.js';
import type { Row } from '../schema/types.js';
import { writeDataFiles, writerSettings } from './data-writer.js';
import type { Expression } from './expression.js';
import { commitChange, liveEntries } from './snapshot-producer.js';
import type { LiveEntry, TableChange } from './snapshot-producer.js';
import { planScan, readTask } from './table-scan.js';
import type { FileScanTask } from './table-scan.js';
import type { Table } from './table.js';

const DAY_MS = 86_400_000;

const expressionSchema = z.custom<Expression>(
  (value) => typeof value === 'object' && value !== null && typeof (value as { op?: unknown }).op === 'string',
  'must be a filter Expression (eq(...), and(...), ...)',
);

const retrySchema = z.strictObject({
  /** Attempts after the first. Default: table property `commit.retry.num-retries`, else `10`. */
  retries: z.int('must be an integer').nonnegative('must be 0 or more').optional(),
  /** First backoff in ms, doubled each retry with jitter. Default `25`. */
  minWaitMs: z.number('must be a number of milliseconds').nonnegative('must be 0 or more').optional(),
  /** Longest backoff in ms. Default `2000`. */
  maxWaitMs: z.number('must be a number of milliseconds').nonnegative('must be 0 or more').optional(),
});

// ---------------------------------------------------------------------------------------------------------------------
// compaction

const compactOptionsSchema = z.strictObject({
  /**
   * Size the rewritten files aim at, in bytes. Default: table property `write.target-file-size-bytes`, else 128 MiB.
   */
  targetFileSizeBytes: z.int('must be an integer').positive('must be a positive number of bytes').optional(),
  /** Data files smaller than this are "small" and get rewritten. Default: 75% of `targetFileSizeBytes`. */
  minFileSizeBytes: z.int('must be an integer').nonnegative('must be 0 or more').optional(),
  /** A partition is compacted only when it has at least this many small files. Default `5`. */
  minInputFiles: z.int('must be an integer').positive('must be a positive integer').default(5),
  /**
   * A data file with at least this many delete files applying to it is rewritten whatever its size (which folds
   * its deletes in), and its partition is compacted even below `minInputFiles`. Default: never (size only).
   */
  deleteFileThreshold: z.int('must be an integer').positive('must be a positive integer').optional(),
  /**
   * Most data files rewritten by one commit; more are compacted in several `replace` commits (each one atomic, so a
   * failure keeps the earlier ones). Default: no limit, one commit.
   */
  maxFilesPerCommit: z.int('must be an integer').positive('must be a positive integer').optional(),
  /** Only compact files that may hold rows matching this filter (e.g. one partition). Default: the whole table. */
  filter: expressionSchema.optional(),
  /** Retries of each commit when other writers commit first. Default: see {@link CommitRetryOptions}. */
  retry: retrySchema.optional(),
});

/**
 * Options of {@link compactTable}. Every field is optional.
 *
 * @example
 * ```ts
 * const options: CompactTableOptions = { targetFileSizeBytes: 64 * 1024 * 1024, minInputFiles: 10, filter: eq('region', 'eu') };
 * ```
 *
 * @interface
 */
export type CompactTableOptions = z.input<typeof compactOptionsSchema>;

/**
 * What {@link compactTable} did. File lists hold absolute URIs; rewritten files stay on storage (older snapshots
 * still read them) until {@link expireSnapshots} removes the snapshots that reference them.
 *
 * @example
 * ```ts
 * const { rewrittenDataFiles, addedDataFiles } = await compactTable(table);
 * console.log(`${rewrittenDataFiles.length} files -> ${addedDataFiles.length}`);
 * ```
 */
export interface CompactTableResult {
  /** Data files replaced by the compacted ones. */
  readonly rewrittenDataFiles: readonly string[];
  /** Position delete files dropped because every row they delete was in a rewritten (or already removed) file. */
  readonly rewrittenDeleteFiles: readonly string[];
  /** The compacted data files. */
  readonly addedDataFiles: readonly string[];
  /** The last `replace` snapshot committed, or `undefined` when there was nothing to compact. */
  readonly snapshot: Snapshot | undefined;
  /** Every snapshot committed (more than one with `maxFilesPerCommit`). */
  readonly snapshots: readonly Snapshot[];
}

/**
 * Compacts small data files: per partition, the data files below `minFileSizeBytes` (when there are at least
 * `minInputFiles` of them) are read with their deletes applied and written again as files near the target size, in
 * one `replace` snapshot that removes the old files and the position delete files that only pointed at them. The
 * table's rows do not change; readers of older snapshots keep working (the old files stay until expired).
 *
 * Concurrency: the commit retries when other writers commit first, as every write does. If one of them deleted rows
 * of a file this compaction rewrites (a position delete, e.g. an upsert), or wrote equality deletes, the compaction
 * fails with `CONFLICTING_CHANGE` and deletes the files it wrote — committing would bring those rows back. Run it
 * again. Writers whose deletes point at files a compaction removed recompute them (`Table` does this by itself).
 *
 * Exactly-once: source positions recorded by Tributary sinks in snapshot summaries are carried into the `replace`
 * snapshot, so expiring the sink's own snapshots later does not lose them.
 *
 * Memory: the rows of one output file (about `targetFileSizeBytes` of Parquet) are held decoded at a time.
 *
 * @param table the table (refreshed first, and again after the commit)
 * @param options see {@link CompactTableOptions}
 * @throws InvalidOptionsError naming the bad option
 * @throws LakehouseError `CONFLICTING_CHANGE` when a concurrent commit deleted rows in a file being rewritten, or
 *   removed one of those files
 *
 * @example
 * ```ts
 * import { compactTable, Table } from '@tributary/lakehouse';
 *
 * const table = await Table.load(catalog, 'silver.orders');
 * const result = await compactTable(table, { minInputFiles: 10 });
 * console.log(`${result.rewrittenDataFiles.length} small files became ${result.addedDataFiles.length}`);
 * ```
 */
export async function compactTable(table: Table, options: CompactTableOptions = {}): Promise<CompactTableResult> {
  const parsed = parseOptions(compactOptionsSchema, 'compactTable', options);
  await table.refresh();
  let loaded = table.state;
  const settings = writerSettings(loaded.metadata.properties);
  const target = parsed.targetFileSizeBytes ?? settings.targetFileSizeBytes;
  const minFileSize = parsed.minFileSizeBytes ?? Math.floor(target * 0.75);
  const scanOptions = parsed.filter === undefined ? {} : { filter: parsed.filter };

  const plan = await planScan(loaded, scanOptions);
  const batches = planBatches(plan.tasks, {
    target,
    minFileSize,
    minInputFiles: parsed.minInputFiles,
    deleteFileThreshold: parsed.deleteFileThreshold,
    maxFilesPerCommit: parsed.maxFilesPerCommit,
  });

  const result = { rewrittenDataFiles: [] as string[], rewrittenDeleteFiles: [] as string[], addedDataFiles: [] as string[], snapshots: [] as Snapshot[] };
  let tasks = new Map(plan.tasks.map((task) => [task.dataFile.filePath, task]));
  for (let i = 0; i < batches.length; i++) {
    if (i > 0) {
      // Plan again on the state our previous commit produced, so the deletes read are the current ones.
      tasks = new Map((await planScan(loaded, scanOptions)).tasks.map((task) => [task.dataFile.filePath, task]));
    }
    const committed = await compactBatch(table, loaded, batches[i]!, tasks, { ...settings, targetFileSizeBytes: target }, parsed.retry);
    loaded = committed.loaded;
    result.rewrittenDataFiles.push(...committed.rewrittenDataFiles);
    result.rewrittenDeleteFiles.push(...committed.rewrittenDeleteFiles);
    result.addedDataFiles.push(...committed.addedDataFiles);
    result.snapshots.push(committed.snapshot);
  }
  if (result.snapshots.length > 0) await table.refresh();
  return { ...result, snapshot: result.snapshots.at(-1) };
}

interface BatchLimits {
  readonly target: number;
  readonly minFileSize: number;
  readonly minInputFiles: number;
  readonly deleteFileThreshold: number | undefined;
  readonly maxFilesPerCommit: number | undefined;
}

/** A batch is a list of bins; each bin's files are rewritten together (into about one target-size file). */
type Batch = readonly (readonly string[])[];

function planBatches(tasks: readonly FileScanTask[], limits: BatchLimits): Batch[] {
  const maxFiles = limits.maxFilesPerCommit ?? Number.POSITIVE_INFINITY;
  const groups = new Map<string, FileScanTask[]>();
  const deleteHeavy = (task: FileScanTask) => limits.deleteFileThreshold !== undefined && task.deletes.length >= limits.deleteFileThreshold;
  for (const task of tasks) {
    // readTask reads Parquet only; files of other formats (written by other engines) are left alone.
    if (task.dataFile.fileFormat !== 'PARQUET') continue;
    if (task.dataFile.fileSizeInBytes >= limits.minFileSize && !deleteHeavy(task)) continue;
    const key = `${task.spec['spec-id']}|${partitionKey(task.dataFile.partition)}`;
    const group = groups.get(key) ?? [];
    group.push(task);
    groups.set(key, group);
  }
  const bins: string[][] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!;
    if (group.length < limits.minInputFiles && !group.some(deleteHeavy)) continue;
    // Oldest first, so rows keep roughly their write order.
    group.sort((a, b) => a.dataSequenceNumber - b.dataSequenceNumber || compareText(a.dataFile.filePath, b.dataFile.filePath));
    let bin: FileScanTask[] = [];
    let binBytes = 0;
    const close = () => {
      // A lone file is only worth rewriting when that folds deletes into it.
      if (bin.length > 1 || (bin.length === 1 && bin[0]!.deletes.length > 0)) bins.push(bin.map((t) => t.dataFile.filePath));
      bin = [];
      binBytes = 0;
    };
    for (const task of group) {
      if (bin.length > 0 && (binBytes + task.dataFile.fileSizeInBytes > limits.target || bin.length >= maxFiles)) close();
      bin.push(task);
      binBytes += task.dataFile.fileSizeInBytes;
    }
    close();
  }
  const batches: string[][][] = [];
  let batch: string[][] = [];
  let files = 0;
  for (const bin of bins) {
    if (batch.length > 0 && files + bin.length > maxFiles) {
      batches.push(batch);
      batch = [];
      files = 0;
    }
    batch.push(bin);
    files += bin.length;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

async function compactBatch(
  table: Table,
  loaded: LoadedTable,
  bins: Batch,
  tasks: ReadonlyMap<string, FileScanTask>,
  settings: ReturnType<typeof writerSettings>,
  retry: z.output<typeof retrySchema> | undefined,
): Promise<{ loaded: LoadedTable; snapshot: Snapshot; rewrittenDataFiles: string[]; rewrittenDeleteFiles: string[]; addedDataFiles: string[] }> {
  const name = table.name;
  const metadata = loaded.metadata;
  const schema = currentSchema(metadata);
  const spec = specById(metadata);
  const rewritten = new Set(bins.flat());
  const missing = [...rewritten].find((path) => !tasks.has(path));
  if (missing !== undefined) {
    throw new LakehouseError(
      'CONFLICTING_CHANGE',
      `Compaction of ${name} stopped: data file ${missing} was removed by a concurrent commit after the compaction was planned. ` +
        'Earlier compaction commits of this run are kept; run the compaction again.',
      { table: name, file: missing, retriable: true },
    );
  }

  const added: DataFile[] = [];
  try {
    for (const bin of bins) {
      const rows: Row[] = [];
      for (const path of bin) for (const row of await readTask(loaded, schema, tasks.get(path)!)) rows.push(row);
      for (const file of (await writeDataFiles(loaded.io, metadata.location, schema, spec, rows, settings, name)).files) added.push(file);
    }
  } catch (error) {
    await loaded.io.deleteMany(added.map((f) => f.filePath)).catch(() => undefined);
    throw error;
  }

  // Position delete files that only delete rows of rewritten files (or of files no longer in the table) go too.
  const referenced = new Map<string, Promise<ReadonlySet<string>>>();
  const { entries } = await liveEntries(loaded, currentSnapshot(metadata));
  const liveData = new Set(entries.filter((e) => e.entry.dataFile.content === FileContent.Data).map((e) => e.entry.dataFile.filePath));
  const candidates = new Map<string, DataFile>();
  for (const path of rewritten) {
    for (const file of tasks.get(path)!.deletes) if (file.content === FileContent.PositionDeletes) candidates.set(file.filePath, file);
  }
  const removedDeletes: DataFile[] = [];
  for (const file of candidates.values()) {
    const paths = await referencedDataFiles(loaded.io, file, referenced);
    if ([...paths].every((path) => rewritten.has(path) || !liveData.has(path))) removedDeletes.push(file);
  }

  // Mutable on purpose: commitChange reads it when it builds each attempt's snapshot, after the conflict check below
  // has refreshed it against that attempt's parent.
  const summary: Record<string, string> = carriedSummary(metadata);
  const change: TableChange = {
    operation: 'replace',
    addedDataFiles: added,
    addedDeleteFiles: [],
    removedFiles: [...[...rewritten].map((path) => tasks.get(path)!.dataFile), ...removedDeletes],
    summary,
    conflictCheck: async (since: readonly LiveEntry[], latest: LoadedTable) => {
      await checkCompactionConflicts(name, since, latest, rewritten, referenced);
      for (const key of Object.keys(summary)) delete summary[key];
      Object.assign(summary, carriedSummary(latest.metadata));
    },
  };
  const committed = await commitChange(table.catalog, loaded, change, retry);
  return {
    loaded: committed.loaded,
    snapshot: committed.snapshot,
    rewrittenDataFiles: [...rewritten],
    rewrittenDeleteFiles: removedDeletes.map((f) => f.filePath),
    addedDataFiles: added.map((f) => f.filePath),
  };
}

async function checkCompactionConflicts(
  table: string,
  since: readonly LiveEntry[],
  latest: LoadedTable,
  rewritten: ReadonlySet<string>,
  referenced: Map<string, Promise<ReadonlySet<string>>>,
): Promise<void> {
  for (const { entry } of since) {
    const file = entry.dataFile;
    if (file.content === FileContent.EqualityDeletes) {
      // Rewritten files get a newer sequence number than these deletes, so they would no longer apply to the rows.
      throw new LakehouseError(
        'CONFLICTING_CHANGE',
        `Compaction of ${table} aborted: concurrent snapshot ${String(entry.snapshotId)} wrote equality deletes (${file.filePath}) ` +
          'that the compacted files would escape, bringing deleted rows back. Nothing was committed; run the compaction again.',
        { table, file: file.filePath, snapshotId: String(entry.snapshotId), retriable: true },
      );
    }
    if (file.content !== FileContent.PositionDeletes) continue;
    const hit = [...(await referencedDataFiles(latest.io, file, referenced))].find((path) => rewritten.has(path));
    if (hit !== undefined) {
      throw new LakehouseError(
        'CONFLICTING_CHANGE',
        `Compaction of ${table} aborted: concurrent snapshot ${String(entry.snapshotId)} deleted rows of ${hit}, which this ` +
          'compaction rewrote from an older state; committing would bring those rows back. Nothing was committed; run the compaction again.',
        { table, file: hit, snapshotId: String(entry.snapshotId), retriable: true },
      );
    }
  }
}

/** Data files whose rows a position delete file deletes: its `referenced_data_file`, else the paths it holds. */
function referencedDataFiles(io: FileIO, file: DataFile, cache: Map<string, Promise<ReadonlySet<string>>>): Promise<ReadonlySet<string>> {
  if (file.referencedDataFile !== undefined) return Promise.resolve(new Set([file.referencedDataFile]));
  let found = cache.get(file.filePath);
  if (found === undefined) {
    found = (async () => {
      const rows = arrowToRows(await readParquet(await io.read(file.filePath), POSITION_DELETE_SCHEMA), POSITION_DELETE_SCHEMA);
      return new Set(rows.map((row) => String(row.file_path)));
    })();
    cache.set(file.filePath, found);
  }
  return found;
}

const POSITIONS_KEY = /^tributary\..+\.(positions|checkpoint-id)$/;

/** The newest value of each source-position summary key along main (what a sink resumes from). */
function carriedSummary(metadata: TableMetadata): Record<string, string> {
  const carried: Record<string, string> = {};
  for (const snapshot of ancestors(metadata, currentSnapshot(metadata)?.['snapshot-id'])) {
    for (const [key, value] of Object.entries(snapshot.summary)) {
      if (POSITIONS_KEY.test(key) && !(key in carried)) carried[key] = value;
    }
  }
  return carried;
}

function partitionKey(partition: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.entries(partition), (_key, value: unknown) => {
    if (typeof value === 'bigint') return `${value}n`;
    if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
    return value;
  });
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------------------------------------------------
// snapshot expiry

const snapshotIdSchema = z
  .union([z.bigint(), z.int(), z.string().regex(/^\d+$/)], 'must be a snapshot id (bigint, integer or decimal string)')
  .transform((value) => BigInt(value));

const expireOptionsSchema = z.strictObject({
  /**
   * Expire snapshots created before this time (ms since the epoch). Default, when `snapshotIds` is not given:
   * now minus table property `history.expire.max-snapshot-age-ms`, else now minus 5 days.
   */
  olderThanMs: z.number('must be a time in ms since the epoch').optional(),
  /**
   * The newest snapshots of each branch (`main` included) that are kept whatever their age. Default: table property
   * `history.expire.min-snapshots-to-keep`, else `1`.
   */
  retainLast: z.int('must be an integer').positive('must be 1 or more').optional(),
  /** Expire exactly these snapshots (besides those `olderThanMs` selects, if given). Branch and tag heads are refused. */
  snapshotIds: z.array(snapshotIdSchema).optional(),
  /** Commit attempts after the first when another writer commits in between. Default `5`. */
  retries: z.int('must be an integer').nonnegative('must be 0 or more').default(5),
});

/**
 * Options of {@link expireSnapshots}.
 *
 * @example
 * ```ts
 * const options: ExpireSnapshotsOptions = { olderThanMs: Date.now() - 7 * 86_400_000, retainLast: 10 };
 * ```
 *
 * @interface
 */
export type ExpireSnapshotsOptions = z.input<typeof expireOptionsSchema>;

/**
 * What {@link expireSnapshots} did.
 *
 * @example
 * ```ts
 * const { expiredSnapshotIds, deletedFiles } = await expireSnapshots(table, { retainLast: 5 });
 * ```
 */
export interface ExpireSnapshotsResult {
  /** Snapshots removed from the table metadata. */
  readonly expiredSnapshotIds: readonly bigint[];
  /** Files deleted (absolute URIs): data and delete files, manifests and manifest lists no retained snapshot reaches. */
  readonly deletedFiles: readonly string[];
}

/**
 * Expires snapshots: removes them from the table metadata (one `remove-snapshots` commit, conditional on `main` not
 * having moved; retried on a fresh state if it did), then deletes the files that only they reached — data files,
 * delete files, manifests and manifest lists. A file still reachable from any retained snapshot (of any branch or
 * tag) is kept. Time travel to an expired snapshot fails with `SNAPSHOT_NOT_FOUND` afterwards.
 *
 * Which snapshots: those older than `olderThanMs`, except the heads of branches and tags and the `retainLast` newest
 * of each branch; plus the ones listed in `snapshotIds`. Nothing is deleted unless the metadata commit succeeded; if
 * its outcome is unknown (`CommitStateUnknownError`), the error is rethrown and every file is kept. Files left behind
 * by an interrupted cleanup are found later by {@link removeOrphanFiles}.
 *
 * Metadata JSON files of older versions are not deleted here (they are the table's metadata log).
 *
 * @param table the table (refreshed first, and again after the commit)
 * @param options see {@link ExpireSnapshotsOptions}
 * @throws LakehouseError `SNAPSHOT_NOT_FOUND` for an unknown id in `snapshotIds`, `SNAPSHOT_IN_USE` for a branch or
 *   tag head in it
 *
 * @example
 * ```ts
 * import { expireSnapshots } from '@tributary/lakehouse';
 *
 * // Keep a week of history, and at least the last 10 snapshots.
 * const { expiredSnapshotIds, deletedFiles } = await expireSnapshots(table, {
 *   olderThanMs: Date.now() - 7 * 86_400_000,
 *   retainLast: 10,
 * });
 * ```
 */
export async function expireSnapshots(table: Table, options: ExpireSnapshotsOptions = {}): Promise<ExpireSnapshotsResult> {
  const parsed = parseOptions(expireOptionsSchema, 'expireSnapshots', options);
  const now = Date.now();
  let base: LoadedTable;
  let committed: LoadedTable;
  let expired: Snapshot[];
  for (let attempt = 0; ; attempt++) {
    await table.refresh();
    base = table.state;
    expired = selectExpired(base.metadata, parsed, now, table.name);
    if (expired.length === 0) return { expiredSnapshotIds: [], deletedFiles: [] };
    try {
      committed = await table.catalog.commitTable(
        base.identifier,
        [
          { type: 'assert-table-uuid', uuid: base.metadata['table-uuid'] },
          { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': currentSnapshot(base.metadata)?.['snapshot-id'] ?? null },
        ],
        [{ action: 'remove-snapshots', 'snapshot-ids': expired.map((s) => s['snapshot-id']) }],
      );
      break;
    } catch (error) {
      // CommitStateUnknownError lands here too and is rethrown: with an unknown outcome, nothing may be deleted.
      if (!(error instanceof CommitConflictError) || attempt >= parsed.retries) throw error;
      await sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }
  await table.refresh();

  let deletedFiles: string[];
  try {
    deletedFiles = await deleteUnreachable(committed, expired);
  } catch (error) {
    throw new LakehouseError(
      'CLEANUP_FAILED',
      `Snapshots ${expired.map((s) => String(s['snapshot-id'])).join(', ')} of ${table.name} were expired, but deleting their ` +
        `files failed: ${(error as Error).message}. The table is consistent; removeOrphanFiles() deletes the leftovers later.`,
      { table: table.name, cause: error, retriable: true },
    );
  }
  return { expiredSnapshotIds: expired.map((s) => s['snapshot-id']), deletedFiles };
}

function selectExpired(metadata: TableMetadata, options: z.output<typeof expireOptionsSchema>, now: number, table: string): Snapshot[] {
  const retainLast = options.retainLast ?? Number(metadata.properties['history.expire.min-snapshots-to-keep'] ?? '1');
  const heads = new Set(Object.values(metadata.refs).map((ref) => ref['snapshot-id']));
  const protectedIds = new Set(heads);
  for (const ref of Object.values(metadata.refs)) {
    if (ref.type !== 'branch') continue;
    for (const snapshot of ancestors(metadata, ref['snapshot-id']).slice(0, retainLast)) protectedIds.add(snapshot['snapshot-id']);
  }
  const expire = new Set<bigint>();
  for (const id of options.snapshotIds ?? []) {
    if (!metadata.snapshots.some((s) => s['snapshot-id'] === id)) {
      throw new LakehouseError(
        'SNAPSHOT_NOT_FOUND',
        `Cannot expire snapshot ${id} of ${table}: it is not in the table (never existed or already expired).`,
        { table, snapshotId: String(id) },
      );
    }
    if (heads.has(id)) {
      const names = Object.entries(metadata.refs).filter(([, ref]) => ref['snapshot-id'] === id).map(([name]) => name);
      throw new LakehouseError(
        'SNAPSHOT_IN_USE',
        `Cannot expire snapshot ${id} of ${table}: it is the head of ${names.join(', ')}. Remove the ref or commit past it first.`,
        { table, snapshotId: String(id) },
      );
    }
    expire.add(id);
  }
  const maxAge = Number(metadata.properties['history.expire.max-snapshot-age-ms'] ?? String(5 * DAY_MS));
  const olderThan = options.olderThanMs ?? (options.snapshotIds === undefined ? now - maxAge : undefined);
  if (olderThan !== undefined) {
    for (const snapshot of metadata.snapshots) {
      if (snapshot['timestamp-ms'] < olderThan && !protectedIds.has(snapshot['snapshot-id'])) expire.add(snapshot['snapshot-id']);
    }
  }
  return metadata.snapshots.filter((s) => expire.has(s['snapshot-id']));
}

async function deleteUnreachable(committed: LoadedTable, expired: readonly Snapshot[]): Promise<string[]> {
  const reader = new ManifestReader(committed.io);
  const retained = await reader.filesOf(committed.metadata.snapshots, { liveOnly: true });
  const candidates = await reader.filesOf(expired, { liveOnly: false, tolerateMissing: true });
  const unreachable = (paths: ReadonlySet<string>) => [...paths].filter((path) => !retained.all.has(canonicalUri(path)));
  // Data first, manifest lists last: an interruption leaves unreferenced files, never a list pointing at nothing.
  const groups = [unreachable(candidates.dataFiles), unreachable(candidates.manifests), unreachable(candidates.manifestLists)];
  for (const group of groups) if (group.length > 0) await committed.io.deleteMany(group);
  return groups.flat();
}

interface ReachableFiles {
  readonly manifestLists: Set<string>;
  readonly manifests: Set<string>;
  /** Data and delete files. */
  readonly dataFiles: Set<string>;
  /** All of the above, in canonical form (for membership tests). */
  readonly all: Set<string>;
}

/** Reads manifest lists and manifests once each, however many snapshots share them. */
class ManifestReader {
  private readonly lists = new Map<string, Promise<ManifestFile[] | undefined>>();
  private readonly manifests = new Map<string, Promise<ManifestEntry[] | undefined>>();

  constructor(private readonly io: FileIO) {}

  async filesOf(
    snapshots: readonly Snapshot[],
    options: { readonly liveOnly: boolean; readonly tolerateMissing?: boolean },
  ): Promise<ReachableFiles> {
    const found: ReachableFiles = { manifestLists: new Set(), manifests: new Set(), dataFiles: new Set(), all: new Set() };
    const add = (set: Set<string>, path: string) => {
      set.add(path);
      found.all.add(canonicalUri(path));
    };
    for (const snapshot of snapshots) {
      const listPath = snapshot['manifest-list'];
      add(found.manifestLists, listPath);
      const manifests = await this.read(this.lists, listPath, (bytes) => readManifestList(bytes, listPath), options.tolerateMissing);
      if (manifests === undefined) continue;
      await Promise.all(
        manifests.map(async (manifest) => {
          add(found.manifests, manifest.manifestPath);
          const entries = await this.read(this.manifests, manifest.manifestPath, (bytes) => readManifest(bytes, manifest), options.tolerateMissing);
          for (const entry of entries ?? []) {
            if (options.liveOnly && entry.status === EntryStatus.Deleted) continue;
            add(found.dataFiles, entry.dataFile.filePath);
          }
        }),
      );
    }
    return found;
  }

  private read<T>(
    cache: Map<string, Promise<T | undefined>>,
    path: string,
    decode: (bytes: Uint8Array) => T,
    tolerateMissing = false,
  ): Promise<T | undefined> {
    let pending = cache.get(path);
    if (pending === undefined) {
      pending = this.io.read(path).then(decode, (error: unknown) => {
        // Only a file already gone may be skipped (an earlier cleanup was interrupted); any other failure stops us.
        if ((error as { code?: string }).code === 'OBJECT_NOT_FOUND') return undefined;
        throw error;
      });
      cache.set(path, pending);
    }
    return pending.then((value) => {
      if (value === undefined && !tolerateMissing) {
        throw new LakehouseError('FILE_READ_FAILED', `Cannot compute reachable files: ${path} is missing.`, { file: path });
      }
      return value;
    });
  }
}

/** One spelling per file: `file:/x`, `file:///x` and percent-encoded forms of the same path compare equal. */
function canonicalUri(uri: string): string {
  const normalized = uri.replace(/^file:\/*/, 'file:///').replace(/^s3[an]:\/\//, 's3://');
  try {
    return decodeURIComponent(normalized);
  } catch {
    return normalized;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// orphan files

const orphanOptionsSchema = z.strictObject({
  /**
   * Only files last modified before this time (ms since the epoch) are removed, so that files other writers are
   * still writing, not yet committed, survive. Default: 3 days ago. Never set it closer to now than your longest
   * write (and commit retries) may take.
   */
  olderThanMs: z.number('must be a time in ms since the epoch').optional(),
  /** Only report the orphan files, delete nothing. Default `false`. */
  dryRun: z.boolean('must be true or false').default(false),
});

/**
 * Options of {@link removeOrphanFiles}.
 *
 * @example
 * ```ts
 * const options: RemoveOrphanFilesOptions = { olderThanMs: Date.now() - 7 * 86_400_000, dryRun: true };
 * ```
 *
 * @interface
 */
export type RemoveOrphanFilesOptions = z.input<typeof orphanOptionsSchema>;

/**
 * What {@link removeOrphanFiles} found (and deleted, unless `dryRun`).
 *
 * @example
 * ```ts
 * const { orphanFiles } = await removeOrphanFiles(table, { dryRun: true });
 * ```
 */
export interface RemoveOrphanFilesResult {
  /** Absolute URIs of the orphan files. */
  readonly orphanFiles: readonly string[];
}

/**
 * Deletes orphan files: files under the table location that no metadata references — not a data or delete file of
 * any manifest (of any snapshot still in the metadata, whatever the entry's status), not a manifest or manifest list,
 * not the current metadata file or one in the metadata log, not `version-hint.text`, not a statistics file. Such
 * files are left by writers that crashed before committing, or by an interrupted {@link expireSnapshots} cleanup.
 *
 * Only files older than `olderThanMs` are deleted (default: 3 days ago): a file another writer wrote a moment ago
 * may belong to a commit still in flight. Commits that land while the location is listed are taken into account (the
 * metadata is loaded again after listing), and a metadata file at or past the current version is never deleted. If a
 * manifest or manifest list cannot be read, nothing is deleted.
 *
 * @param table the table (refreshed first)
 * @param options see {@link RemoveOrphanFilesOptions}
 * @throws LakehouseError `FILE_READ_FAILED` when metadata the reachability check needs is missing or unreadable
 *
 * @example
 * ```ts
 * import { removeOrphanFiles } from '@tributary/lakehouse';
 *
 * const { orphanFiles } = await removeOrphanFiles(table, { dryRun: true });
 * console.log(`${orphanFiles.length} orphan files`);
 * ```
 */
export async function removeOrphanFiles(table: Table, options: RemoveOrphanFilesOptions = {}): Promise<RemoveOrphanFilesResult> {
  const parsed = parseOptions(orphanOptionsSchema, 'removeOrphanFiles', options);
  const olderThan = parsed.olderThanMs ?? Date.now() - 3 * DAY_MS;
  await table.refresh();
  const location = table.metadata.location.replace(/\/+$/, '');
  const reader = new ManifestReader(table.state.io);
  const reachable = new Set<string>([canonicalUri(`${location}/metadata/version-hint.text`)]);
  const seenMetadata = new Set<string>();
  const addReachable = async (loaded: LoadedTable) => {
    seenMetadata.add(loaded.metadataLocation);
    for (const path of (await reader.filesOf(loaded.metadata.snapshots, { liveOnly: false })).all) reachable.add(path);
    reachable.add(canonicalUri(loaded.metadataLocation));
    for (const entry of loaded.metadata['metadata-log']) reachable.add(canonicalUri(entry['metadata-file']));
    for (const statistics of [...(loaded.metadata.statistics ?? []), ...(loaded.metadata['partition-statistics'] ?? [])]) {
      const path = (statistics as { 'statistics-path'?: unknown })['statistics-path'];
      if (typeof path === 'string') reachable.add(canonicalUri(path));
    }
  };
  await addReachable(table.state);

  const listed: { uri: string; lastModified: Date }[] = [];
  for await (const file of table.state.io.list(`${location}/`)) {
    if (file.lastModified.getTime() < olderThan) listed.push(file);
  }
  // A commit that landed while we listed references files we must not take for orphans: look again until the
  // metadata holds still. (Files of commits still in flight are protected by their age alone.)
  for (let round = 0; round < 5; round++) {
    await table.refresh();
    if (seenMetadata.has(table.metadataLocation)) break;
    await addReachable(table.state);
  }
  const currentVersion = metadataVersion(table.metadataLocation);
  const orphanFiles = listed
    .filter((file) => !reachable.has(canonicalUri(file.uri)))
    .filter((file) => !isNewerMetadataFile(file.uri, currentVersion))
    .map((file) => file.uri);
  if (!parsed.dryRun && orphanFiles.length > 0) await table.state.io.deleteMany(orphanFiles);
  return { orphanFiles };
}

/** Version number of a metadata file (`v12.metadata.json`, `00012-<uuid>.metadata.json`), if it has one. */
function metadataVersion(uri: string): number | undefined {
  const match = /\/v?(\d+)[-.][^/]*metadata\.json$/.exec(uri);
  return match === null ? undefined : Number(match[1]);
}

/** A metadata file at or past the current version may be a commit newer than what we loaded: never an orphan. */
function isNewerMetadataFile(uri: string, currentVersion: number | undefined): boolean {
  if (!uri.endsWith('.metadata.json')) return false;
  const version = metadataVersion(uri);
  return version === undefined || currentVersion === undefined || version >= currentVersion;
}
