import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommitConflictError, CommitStateUnknownError, formatIdentifier } from '../catalog/catalog.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import { LakehouseError } from '../errors.js';
import {
  EntryStatus,
  FileContent,
  readManifest,
  readManifestList,
  writeManifest,
  writeManifestList,
} from '../metadata/manifest.js';
import type { DataFile, ManifestEntry, ManifestFile, PartitionFieldSummary } from '../metadata/manifest.js';
import { currentSnapshot, schemaById, specById } from '../metadata/table-metadata.js';
import type { Snapshot, SnapshotOperation, TableMetadata } from '../metadata/table-metadata.js';
import type { TableRequirement, TableUpdate } from '../metadata/table-update.js';
import type { PrimitiveType } from '../schema/types.js';
import { partitionType } from '../spec/partition-spec.js';
import { serializeValue } from '../spec/single-value.js';
import { writeTableFile } from './data-writer.js';

/**
 * One atomic change to a table's data: files added, files removed, and what the snapshot summary records besides the
 * counts (Tributary stores the source positions a commit covers there).
 *
 * @example
 * ```ts
 * const change: TableChange = { operation: 'append', addedDataFiles: files, addedDeleteFiles: [], removedFiles: [], summary: {} };
 * ```
 */
export interface TableChange {
  readonly operation: SnapshotOperation;
  readonly addedDataFiles: readonly DataFile[];
  readonly addedDeleteFiles: readonly DataFile[];
  /** Data or delete files this change replaces (compaction, copy-on-write); they must still be live when it commits. */
  readonly removedFiles: readonly DataFile[];
  /** Extra summary properties. */
  readonly summary: Readonly<Record<string, string>>;
  /**
   * Data files whose rows the added position deletes point at: if a concurrent commit removed one of them (e.g. a
   * compaction), the deletes would miss their rows, so the commit fails instead of silently keeping old rows.
   */
  readonly referencedDataFiles?: readonly string[] | undefined;
  /**
   * On a retry, called with the entries other writers added since this change was computed; throw a
   * `CONFLICTING_CHANGE` error when they overlap what this change does (e.g. rows with the same primary key).
   */
  readonly conflictCheck?: ((added: readonly LiveEntry[], loaded: LoadedTable) => Promise<void>) | undefined;
}

/** How a commit retries when another writer wins the race. */
export interface CommitRetryOptions {
  /** Attempts after the first. Default: table property `commit.retry.num-retries`, else `10`. */
  readonly retries?: number | undefined;
  /** First backoff in ms, doubled each retry with jitter. Default `25`. */
  readonly minWaitMs?: number | undefined;
  /** Longest backoff in ms. Default `2000`. */
  readonly maxWaitMs?: number | undefined;
}

/** A manifest entry with the manifest it came from. */
export interface LiveEntry {
  readonly manifest: ManifestFile;
  readonly entry: ManifestEntry;
}

/**
 * Every live entry (data and delete files) of a snapshot, read from its manifests.
 *
 * @example
 * ```ts
 * const { entries } = await liveEntries(loaded, snapshot);
 * ```
 */
export async function liveEntries(
  loaded: LoadedTable,
  snapshot: Snapshot | undefined,
): Promise<{ manifests: ManifestFile[]; entries: LiveEntry[] }> {
  if (snapshot === undefined) return { manifests: [], entries: [] };
  const list = snapshot['manifest-list'];
  const manifests = readManifestList(await loaded.io.read(list), list);
  const perManifest = await Promise.all(
    manifests.map(async (manifest) => {
      const entries = readManifest(await loaded.io.read(manifest.manifestPath), manifest);
      return entries.filter((e) => e.status !== EntryStatus.Deleted).map((entry) => ({ manifest, entry }));
    }),
  );
  // Commit order (data sequence number; the sort is stable, so manifest order within one commit): a manifest list
  // starts with the newest manifests, but whoever replays the entries — the key index resolving which row of a key is
  // live, a conflict check — must see a key's newest row last, or a position delete of an older row erases it.
  const entries = perManifest.flat().sort((a, b) => (a.entry.sequenceNumber ?? 0) - (b.entry.sequenceNumber ?? 0));
  return { manifests, entries };
}

async function manifestsOf(loaded: LoadedTable, snapshot: Snapshot | undefined): Promise<ManifestFile[]> {
  if (snapshot === undefined) return [];
  const list = snapshot['manifest-list'];
  return readManifestList(await loaded.io.read(list), list);
}

function newSnapshotId(): bigint {
  // Positive and within 2^53 so that readers parsing JSON numbers as doubles see it exactly.
  return BigInt(randomInt(1, 2 ** 47)) * 64n + BigInt(randomInt(0, 64));
}

function summarize(files: readonly DataFile[], fieldCount: number, types: readonly PrimitiveType[]): PartitionFieldSummary[] {
  const summaries: PartitionFieldSummary[] = [];
  for (let i = 0; i < fieldCount; i++) {
    let containsNull = false;
    let lower: Uint8Array | undefined;
    let upper: Uint8Array | undefined;
    let lowerValue: unknown;
    let upperValue: unknown;
    const type = types[i]!;
    for (const file of files) {
      const value = Object.values(file.partition)[i];
      if (value === null || value === undefined) {
        containsNull = true;
        continue;
      }
      if (lowerValue === undefined || compare(value, lowerValue) < 0) lowerValue = value;
      if (upperValue === undefined || compare(value, upperValue) > 0) upperValue = value;
    }
    if (lowerValue !== undefined) lower = serializeValue(type, lowerValue);
    if (upperValue !== undefined) upper = serializeValue(type, upperValue);
    summaries.push({ containsNull, containsNan: false, lowerBound: lower, upperBound: upper });
  }
  return summaries;
}

function compare(a: unknown, b: unknown): number {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  }
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

const sum = (files: readonly DataFile[], pick: (f: DataFile) => number): number => files.reduce((t, f) => t + pick(f), 0);

function summaryOf(change: TableChange, parent: Snapshot | undefined, removedByContent: { data: DataFile[]; deletes: DataFile[] }) {
  const previous = (key: string): number => Number(parent?.summary[key] ?? '0');
  const addedRecords = sum(change.addedDataFiles, (f) => f.recordCount);
  const addedPositionDeletes = sum(
    change.addedDeleteFiles.filter((f) => f.content === FileContent.PositionDeletes),
    (f) => f.recordCount,
  );
  const addedEqualityDeletes = sum(
    change.addedDeleteFiles.filter((f) => f.content === FileContent.EqualityDeletes),
    (f) => f.recordCount,
  );
  const removedRecords = sum(removedByContent.data, (f) => f.recordCount);
  const removedPositionDeletes = sum(
    removedByContent.deletes.filter((f) => f.content === FileContent.PositionDeletes),
    (f) => f.recordCount,
  );
  const addedSize = sum([...change.addedDataFiles, ...change.addedDeleteFiles], (f) => f.fileSizeInBytes);
  const removedSize = sum([...removedByContent.data, ...removedByContent.deletes], (f) => f.fileSizeInBytes);
  const summary: Record<string, string> = {
    ...change.summary,
    operation: change.operation,
    'added-data-files': String(change.addedDataFiles.length),
    'added-records': String(addedRecords),
    'added-files-size': String(addedSize),
    'added-delete-files': String(change.addedDeleteFiles.length),
    'added-position-deletes': String(addedPositionDeletes),
    'added-equality-deletes': String(addedEqualityDeletes),
    'deleted-data-files': String(removedByContent.data.length),
    'deleted-records': String(removedRecords),
    'removed-delete-files': String(removedByContent.deletes.length),
    'removed-position-deletes': String(removedPositionDeletes),
    'removed-files-size': String(removedSize),
    'total-records': String(previous('total-records') + addedRecords - removedRecords),
    'total-data-files': String(previous('total-data-files') + change.addedDataFiles.length - removedByContent.data.length),
    'total-delete-files': String(previous('total-delete-files') + change.addedDeleteFiles.length - removedByContent.deletes.length),
    'total-position-deletes': String(previous('total-position-deletes') + addedPositionDeletes - removedPositionDeletes),
    'total-equality-deletes': String(previous('total-equality-deletes') + addedEqualityDeletes),
    'total-files-size': String(previous('total-files-size') + addedSize - removedSize),
  };
  return summary as Snapshot['summary'];
}

/**
 * Commits a change as a new snapshot of `main`, retrying on concurrent commits: each retry reloads the table, keeps
 * the manifests of the files this change added (their sequence numbers are inherited, so they stay valid), rewrites
 * only the manifest list on top of the new parent, and re-checks that the files it removes or whose rows it deletes
 * are still live. On a definite failure the files of this change are deleted; when the outcome is unknown, nothing is.
 *
 * @example
 * ```ts
 * const committed = await commitChange(catalog, loaded, change);
 * ```
 */
export async function commitChange(
  catalog: Catalog,
  start: LoadedTable,
  change: TableChange,
  retry: CommitRetryOptions = {},
): Promise<{ loaded: LoadedTable; snapshot: Snapshot }> {
  const table = formatIdentifier(start.identifier);
  const retries = retry.retries ?? Number(start.metadata.properties['commit.retry.num-retries'] ?? '10');
  const snapshotId = newSnapshotId();
  const written: string[] = [];
  const metadataDir = `${start.metadata.location}/metadata`;
  const specId = start.metadata['default-spec-id'];

  // Manifests of added files: written once, valid for every attempt (sequence numbers inherited).
  const newManifests: ManifestFile[] = [];
  const writeNewManifest = async (files: readonly DataFile[], content: 'data' | 'deletes', base: TableMetadata) => {
    if (files.length === 0) return;
    const schema = schemaById(base, base['current-schema-id']);
    const spec = specById(base, specId);
    const type = partitionType(spec, schema);
    const path = `${metadataDir}/${randomUUID()}-m${newManifests.length}.avro`;
    const bytes = writeManifest(
      { schema, spec, partitionType: type, content },
      files.map((dataFile) => ({ status: EntryStatus.Added, snapshotId, dataFile })),
    );
    await writeTableFile(start.io, path, bytes, table, 'manifest');
    written.push(path);
    newManifests.push({
      manifestPath: path,
      manifestLength: bytes.byteLength,
      partitionSpecId: specId,
      content: content === 'data' ? 0 : 1,
      sequenceNumber: 0,
      minSequenceNumber: 0,
      addedSnapshotId: snapshotId,
      addedFilesCount: files.length,
      existingFilesCount: 0,
      deletedFilesCount: 0,
      addedRowsCount: sum(files, (f) => f.recordCount),
      existingRowsCount: 0,
      deletedRowsCount: 0,
      partitions: summarize(files, type.fields.length, type.fields.map((f) => f.type as PrimitiveType)),
    });
  };

  let loaded = start;
  let attempt = 0;
  // Files of the current attempt, and of attempts that lost the race: nothing can ever reference the latter.
  let attemptFiles: string[] = [];
  const superseded: string[] = [];
  try {
    await writeNewManifest(change.addedDataFiles, 'data', start.metadata);
    await writeNewManifest(change.addedDeleteFiles, 'deletes', start.metadata);
    for (;;) {
      attempt++;
      superseded.push(...attemptFiles);
      attemptFiles = [];
      const base = loaded.metadata;
      const parent = currentSnapshot(base);
      const sequenceNumber = base['last-sequence-number'] + 1;
      // A plain append depends on nothing in the parent: carry its manifests unread. Reading every manifest on every
      // attempt made an attempt as slow as the table is long, so under contention writers ran out of retries.
      const needsEntries =
        change.removedFiles.length > 0 ||
        (change.referencedDataFiles?.length ?? 0) > 0 ||
        (attempt > 1 && change.conflictCheck !== undefined);
      const { manifests: parentManifests, entries } = needsEntries
        ? await liveEntries(loaded, parent)
        : { manifests: await manifestsOf(loaded, parent), entries: [] };

      // Re-check what this change depends on against the (possibly new) parent.
      const livePaths = new Set(entries.map((e) => e.entry.dataFile.filePath));
      const missing = [...change.removedFiles.map((f) => f.filePath), ...(change.referencedDataFiles ?? [])].filter(
        (path) => !livePaths.has(path),
      );
      if (missing.length > 0) {
        throw new LakehouseError(
          'CONFLICTING_CHANGE',
          `Cannot commit to ${table}: ${missing.length} file(s) this change replaces or deletes rows from are no longer in the ` +
            `table (a concurrent commit removed them), e.g. ${missing[0]}. Re-run the change on the current table.`,
          { table, file: missing[0] },
        );
      }

      if (attempt > 1 && change.conflictCheck !== undefined) {
        const since = start.metadata['last-sequence-number'];
        await change.conflictCheck(
          entries.filter((e) => (e.entry.sequenceNumber ?? 0) > since),
          loaded,
        );
      }

      // Manifests holding removed files are rewritten: the removed entries as DELETED, the rest as EXISTING.
      const removed = new Set(change.removedFiles.map((f) => f.filePath));
      const carried: ManifestFile[] = [];
      const removedByContent = { data: [] as DataFile[], deletes: [] as DataFile[] };
      for (const manifest of parentManifests) {
        const own = entries.filter((e) => e.manifest === manifest);
        if (!own.some((e) => removed.has(e.entry.dataFile.filePath))) {
          carried.push(manifest);
          continue;
        }
        const schema = schemaById(base, base['current-schema-id']);
        const spec = specById(base, manifest.partitionSpecId);
        const type = partitionType(spec, schema);
        const rewritten: ManifestEntry[] = own.map(({ entry }) => {
          const gone = removed.has(entry.dataFile.filePath);
          if (gone) (entry.dataFile.content === FileContent.Data ? removedByContent.data : removedByContent.deletes).push(entry.dataFile);
          return { ...entry, status: gone ? EntryStatus.Deleted : EntryStatus.Existing, snapshotId: gone ? snapshotId : entry.snapshotId };
        });
        const path = `${metadataDir}/${randomUUID()}-m-rewrite.avro`;
        const bytes = writeManifest({ schema, spec, partitionType: type, content: manifest.content === 0 ? 'data' : 'deletes' }, rewritten);
        await writeTableFile(loaded.io, path, bytes, table, 'manifest');
        written.push(path);
        attemptFiles.push(path);
        const keep = rewritten.filter((e) => e.status === EntryStatus.Existing);
        const gone = rewritten.filter((e) => e.status === EntryStatus.Deleted);
        carried.push({
          manifestPath: path,
          manifestLength: bytes.byteLength,
          partitionSpecId: manifest.partitionSpecId,
          content: manifest.content,
          sequenceNumber,
          minSequenceNumber: Math.min(...rewritten.map((e) => e.sequenceNumber ?? sequenceNumber)),
          addedSnapshotId: snapshotId,
          addedFilesCount: 0,
          existingFilesCount: keep.length,
          deletedFilesCount: gone.length,
          addedRowsCount: 0,
          existingRowsCount: sum(keep.map((e) => e.dataFile), (f) => f.recordCount),
          deletedRowsCount: sum(gone.map((e) => e.dataFile), (f) => f.recordCount),
          partitions: summarize(
            rewritten.map((e) => e.dataFile),
            type.fields.length,
            type.fields.map((f) => f.type as PrimitiveType),
          ),
        });
      }

      const manifests = [
        ...newManifests.map((m) => ({ ...m, sequenceNumber, minSequenceNumber: sequenceNumber })),
        ...carried,
      ];
      const listPath = `${metadataDir}/snap-${snapshotId}-${attempt}-${randomUUID()}.avro`;
      await writeTableFile(
        loaded.io,
        listPath,
        writeManifestList(manifests, { snapshotId, parentSnapshotId: parent?.['snapshot-id'], sequenceNumber }),
        table,
        'manifest list',
      );
      written.push(listPath);
      attemptFiles.push(listPath);

      const snapshot: Snapshot = {
        'snapshot-id': snapshotId,
        ...(parent === undefined ? {} : { 'parent-snapshot-id': parent['snapshot-id'] }),
        'sequence-number': sequenceNumber,
        'timestamp-ms': Math.max(Date.now(), base['last-updated-ms'] + 1),
        'manifest-list': listPath,
        summary: summaryOf(change, parent, removedByContent),
        'schema-id': base['current-schema-id'],
      };
      const requirements: TableRequirement[] = [
        { type: 'assert-table-uuid', uuid: base['table-uuid'] },
        { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parent?.['snapshot-id'] ?? null },
      ];
      const updates: TableUpdate[] = [
        { action: 'add-snapshot', snapshot },
        { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
      ];
      try {
        const committed = await catalog.commitTable(loaded.identifier, requirements, updates);
        // Best effort: a leftover manifest list is harmless garbage, not worth failing a commit that landed.
        if (superseded.length > 0) await start.io.deleteMany(superseded).catch(() => undefined);
        return { loaded: committed, snapshot };
      } catch (error) {
        if (!(error instanceof CommitConflictError) || attempt > retries) throw error;
        const wait = Math.min(retry.maxWaitMs ?? 2000, (retry.minWaitMs ?? 25) * 2 ** (attempt - 1));
        await sleep(wait / 2 + Math.random() * (wait / 2));
        loaded = await catalog.loadTable(loaded.identifier);
        // A metadata write that failed and was read back as absent can still land afterwards (the request reached the
        // server after its answer was lost). Then this snapshot is already in the table: committing it again would
        // fail, and the clean-up would delete files the table references. (Its attempt's files are left alone.)
        const landed = loaded.metadata.snapshots.find((s) => s['snapshot-id'] === snapshotId);
        if (landed !== undefined) return { loaded, snapshot: landed };
      }
    }
  } catch (error) {
    if (!(error instanceof CommitStateUnknownError)) {
      // Definitely not committed: remove what this change wrote (data files included), so no orphans stay behind.
      const files = [...written, ...change.addedDataFiles.map((f) => f.filePath), ...change.addedDeleteFiles.map((f) => f.filePath)];
      await start.io.deleteMany(files).catch(() => undefined);
    }
    throw error;
  }
}
