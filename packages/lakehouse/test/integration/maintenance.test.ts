/**
 * Table maintenance against pyiceberg (the independent reader): compaction keeps every row and reduces the file count,
 * time travel works until snapshots are expired, expiry deletes exactly the files no retained snapshot reaches, orphan
 * removal deletes only old unreferenced files, and a compaction racing an upsert fails instead of resurrecting rows.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localObjectStore } from '@tributary/connectors/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/catalog/catalog.js';
import { storageCatalog } from '../../src/catalog/storage-catalog.js';
import { EntryStatus, FileContent, readManifest, readManifestList } from '../../src/metadata/manifest.js';
import type { Snapshot } from '../../src/metadata/table-metadata.js';
import type { TableUpdate } from '../../src/metadata/table-update.js';
import type { IcebergSchema, Row } from '../../src/schema/types.js';
import { buildPartitionSpec } from '../../src/spec/partition-spec.js';
import { compactTable, expireSnapshots, removeOrphanFiles } from '../../src/table/maintenance.js';
import { liveEntries } from '../../src/table/snapshot-producer.js';
import { Table } from '../../src/table/table.js';
import { canonicalRows, pyicebergRead, sortRows } from '../support/pyiceberg.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'region', required: true, type: 'string' },
    { id: 3, name: 'customer', required: false, type: 'string' },
    { id: 4, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 5, name: 'created_at', required: false, type: 'timestamptz' },
  ],
};
const REGIONS = ['eu', 'us', 'apac'];
const spec = buildPartitionSpec(schema, [{ column: 'region', transform: 'identity' }]);

function order(id: number, version = 0): Row {
  return {
    order_id: id,
    region: REGIONS[id % REGIONS.length]!,
    customer: id % 11 === 0 ? null : `customer-${id % 17}-v${version}`,
    amount: `${(id * 7 + version) % 1000}.${String(id % 100).padStart(2, '0')}`,
    created_at: new Date(Date.UTC(2026, 0, 1) + id * 60_000 + version),
  };
}

/** The table as a model: order id -> row. */
class Model {
  readonly rows = new Map<number, Row>();
  apply(upserts: readonly Row[], deletes: readonly number[] = []): void {
    for (const row of upserts) this.rows.set(row.order_id as number, row);
    for (const id of deletes) this.rows.delete(id);
  }
  canonical(): Record<string, unknown>[] {
    return canonicalRows(schema, [...this.rows.values()], 'order_id');
  }
}

let root: string;
let catalog: Catalog;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-maintenance-it-'));
  catalog = storageCatalog({ store: localObjectStore({ root }) });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const uniqueName = () => `maintenance.t_${randomUUID().replaceAll('-', '')}`;

/** Many small commits: appends, then upserts (position deletes) and a delete. */
async function smallCommits(table: Table, model: Model): Promise<void> {
  for (let batch = 0; batch < 6; batch++) {
    const rows = Array.from({ length: 30 }, (_, i) => order(batch * 30 + i));
    await table.append(rows);
    model.apply(rows);
  }
  for (let round = 1; round <= 2; round++) {
    const rows = Array.from({ length: 12 }, (_, i) => order((i * 19 + round * 7) % 180, round));
    await table.upsert(rows);
    model.apply(rows);
  }
  const gone = [1, 50, 99, 170];
  await table.delete(gone.map((id) => ({ order_id: id })));
  model.apply([], gone);
}

async function liveFiles(table: Table): Promise<{ data: string[]; deletes: string[] }> {
  const { entries } = await liveEntries(table.state, table.currentSnapshot());
  const files = entries.map((e) => e.entry.dataFile);
  return {
    data: files.filter((f) => f.content === FileContent.Data).map((f) => f.filePath),
    deletes: files.filter((f) => f.content !== FileContent.Data).map((f) => f.filePath),
  };
}

/** Files a snapshot references (read here, independently of the code under test); `live` leaves out DELETED entries. */
async function referencedBy(table: Table, snapshot: Snapshot): Promise<{ all: string[]; live: string[] }> {
  const io = table.state.io;
  const all = [snapshot['manifest-list']];
  const live = [snapshot['manifest-list']];
  for (const manifest of readManifestList(await io.read(snapshot['manifest-list']))) {
    all.push(manifest.manifestPath);
    live.push(manifest.manifestPath);
    for (const entry of readManifest(await io.read(manifest.manifestPath), manifest)) {
      all.push(entry.dataFile.filePath);
      if (entry.status !== EntryStatus.Deleted) live.push(entry.dataFile.filePath);
    }
  }
  return { all, live };
}

async function expectPyiceberg(metadataLocation: string, expected: Record<string, unknown>[], snapshotId?: bigint) {
  const read = await pyicebergRead(metadataLocation, snapshotId === undefined ? {} : { snapshotId });
  expect(sortRows(read.rows, 'order_id')).toEqual(expected);
  return read;
}

describe('table maintenance, read back by pyiceberg', () => {
  it('compaction reduces the file count and pyiceberg reads the same rows before and after; expire-snapshots removes only unreachable files', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema, partitionSpec: spec });
    const model = new Model();
    await smallCommits(table, model);
    const before = await liveFiles(table);
    const preSnapshot = table.currentSnapshot()!['snapshot-id'];
    expect(before.data.length).toBeGreaterThanOrEqual(20);
    expect(before.deletes.length).toBeGreaterThanOrEqual(6);

    const result = await compactTable(table);

    const after = await liveFiles(table);
    expect(after.data).toHaveLength(REGIONS.length);
    expect(after.deletes).toEqual([]); // every delete only pointed at rewritten files
    expect(result.rewrittenDataFiles.length).toBe(before.data.length);
    expect([...result.rewrittenDeleteFiles].sort()).toEqual([...before.deletes].sort());
    expect(result.snapshot?.summary.operation).toBe('replace');
    const expected = model.canonical();
    expect(canonicalRows(schema, await table.read(), 'order_id')).toEqual(expected);
    // Before (time travel from the new metadata to the pre-compaction snapshot) and after.
    const [readBefore, readAfter] = await Promise.all([
      expectPyiceberg(table.metadataLocation, expected, preSnapshot),
      expectPyiceberg(table.metadataLocation, expected),
    ]);
    expect(readBefore.files).toBe(before.data.length);
    expect(readAfter.files).toBe(REGIONS.length);
    expect(readAfter.snapshots.at(-1)?.operation).toBe('replace');

    const extra = order(1000);
    await table.append([extra]);
    model.apply([extra]);
    const history = table.metadata.snapshots;
    const referenced = new Map(await Promise.all(history.map(async (s) => [s['snapshot-id'], await referencedBy(table, s)] as const)));

    const expiry = await expireSnapshots(table, { olderThanMs: Date.now() + 1, retainLast: 2 });

    const retained = history.slice(-2);
    const expired = history.slice(0, -2);
    expect(expiry.expiredSnapshotIds).toEqual(expired.map((s) => s['snapshot-id']));
    expect(table.metadata.snapshots.map((s) => s['snapshot-id'])).toEqual(retained.map((s) => s['snapshot-id']));
    const reachable = new Set(retained.flatMap((s) => referenced.get(s['snapshot-id'])!.live));
    const unreachable = new Set(expired.flatMap((s) => referenced.get(s['snapshot-id'])!.all).filter((path) => !reachable.has(path)));
    expect([...expiry.deletedFiles].sort()).toEqual([...unreachable].sort());
    for (const path of reachable) expect(await table.state.io.exists(path), `retained file ${path}`).toBe(true);
    for (const path of unreachable) expect(await table.state.io.exists(path), `expired file ${path}`).toBe(false);
    for (const path of result.rewrittenDataFiles) expect(unreachable.has(path)).toBe(true);
    await expect(table.read({ snapshotId: preSnapshot })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await expectPyiceberg(table.metadataLocation, model.canonical());
  });

  it('orphan removal deletes a stray file older than the threshold and keeps a fresh one', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema, partitionSpec: spec });
    const model = new Model();
    const large = Array.from({ length: 300 }, (_, i) => order(i));
    await table.append(large);
    model.apply(large);
    const largeFiles = (await liveEntries(table.state, table.currentSnapshot())).entries.map((e) => e.entry.dataFile);
    for (let batch = 0; batch < 3; batch++) {
      const rows = Array.from({ length: 10 }, (_, i) => order(300 + batch * 10 + i));
      await table.append(rows);
      model.apply(rows);
    }
    // One delete file (eu) names a row of a large file and one of a small file: compaction must keep it.
    await table.upsert([order(3, 1), order(303, 1)]);
    model.apply([order(3, 1), order(303, 1)]);
    const minFileSizeBytes = Math.min(...largeFiles.map((f) => f.fileSizeInBytes));
    const compacted = await compactTable(table, { minInputFiles: 2, minFileSizeBytes });
    expect(compacted.rewrittenDataFiles).toHaveLength(3 * 3 + 1);
    expect((await liveFiles(table)).deletes).toHaveLength(1);
    await expireSnapshots(table, { olderThanMs: Date.now() + 1 });
    const location = fileURLToPath(table.metadata.location);
    const stray = join(location, 'data', 'region=eu', '00000-0-crashed-writer.parquet');
    const fresh = join(location, 'data', 'region=eu', '00000-0-in-flight.parquet');
    await writeFile(stray, 'a data file whose commit never happened');
    // Every file of the table is 4 days old: only the references keep the table's own files alive.
    const fourDaysAgo = new Date(Date.now() - 4 * 86_400_000);
    for (const entry of await readdir(location, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), fourDaysAgo, fourDaysAgo);
    }
    await writeFile(fresh, 'a data file of a commit in flight');

    const { orphanFiles } = await removeOrphanFiles(table);

    expect(orphanFiles.map((uri) => fileURLToPath(uri))).toEqual([stray]);
    expect(await table.state.io.exists(orphanFiles[0]!)).toBe(false);
    expect(await table.state.io.exists(`${table.metadata.location}/data/region=eu/00000-0-in-flight.parquet`)).toBe(true);
    await expectPyiceberg(table.metadataLocation, model.canonical());
  });

  it('a concurrent upsert during compaction makes it fail clearly, and no delete is lost', async () => {
    const name = uniqueName();
    const table = await Table.create(catalog, name, { schema, partitionSpec: spec });
    const model = new Model();
    for (let batch = 0; batch < 5; batch++) {
      const rows = Array.from({ length: 30 }, (_, i) => order(batch * 30 + i));
      await table.append(rows);
      model.apply(rows);
    }
    const writer = await Table.load(catalog, name);
    const updates = [3, 33, 63, 93, 123].map((id) => order(id, 9));
    let hookRan = false;
    // Runs the upsert after the compaction planned and wrote its files, just before its commit.
    const racingCatalog: Catalog = {
      ...catalog,
      async commitTable(id, requirements, changes) {
        const snapshot = changes.find((u): u is Extract<TableUpdate, { action: 'add-snapshot' }> => u.action === 'add-snapshot')?.snapshot;
        if (!hookRan && snapshot?.summary.operation === 'replace') {
          hookRan = true;
          await writer.upsert(updates);
          await writer.delete([{ order_id: 4 }]);
        }
        return catalog.commitTable(id, requirements, changes);
      },
    };
    const compacting = await Table.load(racingCatalog, name);
    model.apply(updates, [4]);

    const error = await compactTable(compacting).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );

    expect(hookRan).toBe(true);
    expect(error?.code).toBe('CONFLICTING_CHANGE');
    expect(error?.message).toMatch(/Compaction of .* aborted: concurrent snapshot \d+ deleted rows of .*\.parquet/);
    await compacting.refresh();
    expect(compacting.metadata.snapshots.map((s) => s.summary.operation)).not.toContain('replace');
    expect(canonicalRows(schema, await compacting.read(), 'order_id')).toEqual(model.canonical());

    // Run again on the new state: it folds the upsert's deletes in.
    const retried = await compactTable(compacting);
    expect(retried.snapshot?.summary.operation).toBe('replace');
    const after = await liveFiles(compacting);
    expect(after.data).toHaveLength(REGIONS.length);
    expect(after.deletes).toEqual([]);
    await expectPyiceberg(compacting.metadataLocation, model.canonical());
  });
});
