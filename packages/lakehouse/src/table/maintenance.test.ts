import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localObjectStore } from '@tributary/connectors/s3';
import { InvalidOptionsError } from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitConflictError, CommitStateUnknownError } from '../catalog/catalog.js';
import type { Catalog } from '../catalog/catalog.js';
import type { TableUpdate } from '../metadata/table-update.js';
import { storageCatalog } from '../catalog/storage-catalog.js';
import { EntryStatus, FileContent, readManifest, readManifestList } from '../metadata/manifest.js';
import type { Snapshot } from '../metadata/table-metadata.js';
import type { IcebergSchema, Row } from '../schema/types.js';
import { buildPartitionSpec } from '../spec/partition-spec.js';
import { compactTable, expireSnapshots, removeOrphanFiles } from './maintenance.js';
import { liveEntries } from './snapshot-producer.js';
import { Table } from './table.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'region', required: true, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'int' },
  ],
};

let root: string;
let catalog: Catalog;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-maintenance-'));
  catalog = storageCatalog({ store: localObjectStore({ root }) });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const uniqueName = () => `maint.t_${randomUUID().replaceAll('-', '')}`;

function rows(from: number, count: number, region: (id: number) => string = (id) => (id % 2 === 0 ? 'eu' : 'us')): Row[] {
  return Array.from({ length: count }, (_, i) => ({ id: BigInt(from + i), region: region(from + i), amount: (from + i) % 97 }));
}

const byId = (list: readonly Row[]) => [...list].sort((a, b) => Number((a.id as bigint) - (b.id as bigint)));

async function liveFiles(table: Table) {
  const { entries } = await liveEntries(table.state, table.currentSnapshot());
  const files = entries.map((e) => e.entry.dataFile);
  return { data: files.filter((f) => f.content === FileContent.Data), deletes: files.filter((f) => f.content !== FileContent.Data) };
}

/** Every file a snapshot references, read independently of the code under test. */
async function referencedBy(table: Table, snapshot: Snapshot): Promise<{ all: Set<string>; live: Set<string> }> {
  const io = table.state.io;
  const all = new Set<string>([snapshot['manifest-list']]);
  const live = new Set<string>([snapshot['manifest-list']]);
  for (const manifest of readManifestList(await io.read(snapshot['manifest-list']))) {
    all.add(manifest.manifestPath);
    live.add(manifest.manifestPath);
    for (const entry of readManifest(await io.read(manifest.manifestPath), manifest)) {
      all.add(entry.dataFile.filePath);
      if (entry.status !== EntryStatus.Deleted) live.add(entry.dataFile.filePath);
    }
  }
  return { all, live };
}

/** A catalog that runs `hook` once, just before the first commit whose new snapshot has `operation`. */
function interceptCommit(inner: Catalog, operation: string, hook: () => Promise<void>): Catalog {
  let fired = false;
  return {
    ...inner,
    async commitTable(id, requirements, updates) {
      const snapshot = updates.find((u): u is Extract<TableUpdate, { action: 'add-snapshot' }> => u.action === 'add-snapshot')?.snapshot;
      if (!fired && snapshot?.summary.operation === operation) {
        fired = true;
        await hook();
      }
      return inner.commitTable(id, requirements, updates);
    },
  };
}

async function ageTree(dir: string, ageMs: number): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), when, when);
  }
}

describe('options', () => {
  it('are validated eagerly, naming the field', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema });
    await expect(compactTable(table, { minInputFiles: 0 })).rejects.toThrow(InvalidOptionsError);
    await expect(compactTable(table, { minInputFiles: 0 })).rejects.toThrow(/minInputFiles/);
    await expect(compactTable(table, { bogus: 1 } as never)).rejects.toThrow(/bogus/);
    await expect(expireSnapshots(table, { retainLast: 0 })).rejects.toThrow(/retainLast/);
    await expect(expireSnapshots(table, { snapshotIds: ['x1'] })).rejects.toThrow(/snapshotIds/);
    await expect(removeOrphanFiles(table, { dryRun: 'yes' as never })).rejects.toThrow(/dryRun/);
  });
});

describe('compactTable', () => {
  it('leaves partitions with fewer small files than minInputFiles alone', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema });
    for (let i = 0; i < 4; i++) await table.append(rows(i * 10, 10));
    const result = await compactTable(table);
    expect(result.snapshot).toBeUndefined();
    expect(result.rewrittenDataFiles).toEqual([]);
    expect(table.metadata.snapshots).toHaveLength(4);
    const again = await compactTable(table, { minInputFiles: 4 });
    expect(again.rewrittenDataFiles).toHaveLength(4);
    expect(again.addedDataFiles).toHaveLength(1);
    expect(byId(await table.read())).toEqual(byId(rows(0, 40)));
  });

  it('compacts per partition, drops deletes that only hit rewritten files and keeps one that also hits a kept file', async () => {
    const spec = buildPartitionSpec(schema, [{ column: 'region', transform: 'identity' }]);
    const table = await Table.create(catalog, uniqueName(), { schema, partitionSpec: spec });
    await table.append(rows(0, 3000, () => 'eu'));
    const [big] = (await liveFiles(table)).data;
    for (let i = 0; i < 6; i++) await table.append(rows(10_000 + i * 10, 10));
    // One upsert deletes a row of the big eu file and one of a small eu file (one delete file naming both), and a
    // row of a small us file (a delete file naming only it).
    await table.upsert([
      { id: 5n, region: 'eu', amount: -1 },
      { id: 10_000n, region: 'eu', amount: -2 },
      { id: 10_001n, region: 'us', amount: -3 },
    ]);
    const before = await liveFiles(table);
    expect(before.data).toHaveLength(1 + 12 + 2);
    expect(before.deletes).toHaveLength(2);
    const expected = byId(await table.read());
    const preCompaction = table.currentSnapshot()!['snapshot-id'];
    expect(before.data.filter((f) => f.filePath !== big!.filePath).every((f) => f.fileSizeInBytes < big!.fileSizeInBytes)).toBe(true);

    const result = await compactTable(table, { minFileSizeBytes: big!.fileSizeInBytes });

    expect(result.rewrittenDataFiles).toHaveLength(14);
    expect(result.rewrittenDataFiles).not.toContain(big!.filePath);
    expect(result.addedDataFiles).toHaveLength(2);
    const usDelete = before.deletes.find((f) => f.partition.region === 'us')!;
    const euDelete = before.deletes.find((f) => f.partition.region === 'eu')!;
    expect(result.rewrittenDeleteFiles).toEqual([usDelete.filePath]);
    const after = await liveFiles(table);
    expect(after.data.map((f) => f.filePath).sort()).toEqual([big!.filePath, ...result.addedDataFiles].sort());
    expect(after.deletes.map((f) => f.filePath)).toEqual([euDelete.filePath]);
    expect(byId(await table.read())).toEqual(expected);
    expect(result.snapshot?.summary.operation).toBe('replace');
    expect(result.snapshot?.summary['deleted-data-files']).toBe('14');
    expect(result.snapshot?.summary['removed-delete-files']).toBe('1');
    // Counters count physical rows: the two rows deleted from small files are no longer written; the us delete is gone.
    expect(result.snapshot?.summary['total-records']).toBe('3061');
    expect(result.snapshot?.summary['total-position-deletes']).toBe('2');
    // Time travel still reads the old files; the incremental read sees no change.
    expect(byId(await table.read({ snapshotId: preCompaction }))).toEqual(expected);
    const changes = await table.changes(preCompaction);
    expect(changes.added).toEqual([]);
    expect(changes.deleted).toEqual([]);
    // The next upsert finds its keys in the compacted files.
    await table.upsert([{ id: 10_002n, region: 'eu', amount: 7 }]);
    const rowsNow = await table.read();
    expect(rowsNow.filter((r) => r.id === 10_002n)).toEqual([{ id: 10_002n, region: 'eu', amount: 7 }]);
    expect(rowsNow).toHaveLength(expected.length);
  });

  it('splits the work into several replace commits with maxFilesPerCommit', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema });
    for (let i = 0; i < 8; i++) await table.append(rows(i * 5, 5));
    const result = await compactTable(table, { maxFilesPerCommit: 3 });
    expect(result.snapshots.map((s) => s.summary['deleted-data-files'])).toEqual(['3', '3', '2']);
    expect(result.snapshots.every((s) => s.summary.operation === 'replace')).toBe(true);
    expect((await liveFiles(table)).data).toHaveLength(3);
    expect(byId(await table.read())).toEqual(byId(rows(0, 40)));
  });

  it('only compacts files that may match the filter', async () => {
    const spec = buildPartitionSpec(schema, [{ column: 'region', transform: 'identity' }]);
    const table = await Table.create(catalog, uniqueName(), { schema, partitionSpec: spec });
    for (let i = 0; i < 5; i++) await table.append(rows(i * 10, 10));
    const result = await compactTable(table, { filter: { op: '=', column: 'region', value: 'us' } });
    expect(result.rewrittenDataFiles).toHaveLength(5);
    const live = await liveFiles(table);
    expect(live.data.filter((f) => f.partition.region === 'eu')).toHaveLength(5);
    expect(live.data.filter((f) => f.partition.region === 'us')).toHaveLength(1);
  });

  it('carries source positions forward, also those a sink commits while the compaction runs', async () => {
    const name = uniqueName();
    const table = await Table.create(catalog, name, { schema });
    const positions = 'tributary.orders-sink.positions';
    await table.append(rows(0, 5), { summary: { [positions]: '{"orders:0":5}', 'tributary.orders-sink.checkpoint-id': '1' } });
    for (let i = 1; i < 5; i++) await table.append(rows(i * 5, 5), { summary: { 'tributary.note': 'not carried' } });
    const sinkSide = await Table.load(catalog, name);
    const racing = await Table.load(
      interceptCommit(catalog, 'replace', async () => {
        await sinkSide.append(rows(100, 1), { summary: { [positions]: '{"orders:0":6}', 'tributary.orders-sink.checkpoint-id': '2' } });
      }),
      name,
    );
    const result = await compactTable(racing);
    expect(result.snapshot?.summary[positions]).toBe('{"orders:0":6}');
    expect(result.snapshot?.summary['tributary.orders-sink.checkpoint-id']).toBe('2');
    expect(result.snapshot?.summary['tributary.note']).toBeUndefined();
    expect(result.snapshot?.['parent-snapshot-id']).toBe(sinkSide.currentSnapshot()!['snapshot-id']);
    expect(byId(await racing.read())).toEqual(byId([...rows(0, 25), ...rows(100, 1)]));
  });

  it('fails with CONFLICTING_CHANGE when a concurrent delete hits a rewritten file, and cleans up its files', async () => {
    const name = uniqueName();
    const table = await Table.create(catalog, name, { schema });
    for (let i = 0; i < 5; i++) await table.append(rows(i * 5, 5));
    const other = await Table.load(catalog, name);
    const racing = await Table.load(interceptCommit(catalog, 'replace', async () => void (await other.delete([{ id: 3n }]))), name);
    const error = await compactTable(racing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'CONFLICTING_CHANGE' });
    expect((error as Error).message).toMatch(/deleted rows of .*bring those rows back/);
    await racing.refresh();
    expect(racing.metadata.snapshots.some((s) => s.summary.operation === 'replace')).toBe(false);
    expect(byId(await racing.read())).toEqual(byId(rows(0, 25).filter((r) => r.id !== 3n)));
    // The compacted files it wrote were deleted: only the live files and the delete file remain under data/.
    const dataDir = join(fileURLToPath(racing.metadata.location), 'data');
    const live = await liveFiles(racing);
    expect((await readdir(dataDir)).sort()).toEqual([...live.data, ...live.deletes].map((f) => f.filePath.split('/').at(-1)).sort());
  });

  it('a writer holding the pre-compaction state recomputes its deletes instead of losing them', async () => {
    const name = uniqueName();
    const table = await Table.create(catalog, name, { schema });
    for (let i = 0; i < 5; i++) await table.append(rows(i * 5, 5));
    const stale = await Table.load(catalog, name);
    await stale.upsert([{ id: 1n, region: 'us', amount: 1 }]); // builds its key index on the old files
    await compactTable(table, { minInputFiles: 2 });
    await stale.upsert([{ id: 2n, region: 'eu', amount: 500 }]);
    await stale.delete([{ id: 4n }]);
    const read = byId(await stale.read());
    expect(read).toHaveLength(24);
    expect(read.find((r) => r.id === 2n)).toEqual({ id: 2n, region: 'eu', amount: 500 });
    expect(read.find((r) => r.id === 4n)).toBeUndefined();
  });
});

describe('expireSnapshots', () => {
  it('deletes only what no retained snapshot reaches', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema });
    const s1 = await table.append(rows(0, 10));
    const s2 = await table.append(rows(10, 10));
    const s3 = await table.upsert([{ id: 1n, region: 'us', amount: 0 }]);
    const retainedBefore = [await referencedBy(table, s2), await referencedBy(table, s3)];

    const result = await expireSnapshots(table, { snapshotIds: [s1['snapshot-id']] });

    // s1's only file of its own is its manifest list: its data file and manifest live on in s2 and s3.
    expect(result.expiredSnapshotIds).toEqual([s1['snapshot-id']]);
    expect(result.deletedFiles).toEqual([s1['manifest-list']]);
    for (const { all } of retainedBefore) for (const path of all) expect(await table.state.io.exists(path)).toBe(true);
    expect(table.metadata.snapshots.map((s) => s['snapshot-id'])).toEqual([s2['snapshot-id'], s3['snapshot-id']]);
    await expect(table.read({ snapshotId: s1['snapshot-id'] })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    expect(byId(await table.read({ snapshotId: s2['snapshot-id'] }))).toEqual(byId(rows(0, 20)));
  });

  it('expires by age, keeping the newest retainLast, and deletes files removed by a compaction', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema });
    for (let i = 0; i < 5; i++) await table.append(rows(i * 10, 10));
    await table.upsert([{ id: 3n, region: 'us', amount: 0 }]);
    const expected = byId(await table.read());
    const compacted = await compactTable(table);
    await table.append(rows(100, 1));

    expect((await expireSnapshots(table)).expiredSnapshotIds).toEqual([]); // nothing is 5 days old
    const history = table.metadata.snapshots;
    const result = await expireSnapshots(table, { olderThanMs: Date.now() + 1, retainLast: 2 });

    expect(result.expiredSnapshotIds).toEqual(history.slice(0, -2).map((s) => s['snapshot-id']));
    const retained = await Promise.all(history.slice(-2).map((s) => referencedBy(table, s)));
    const reachable = new Set(retained.flatMap((r) => [...r.live]));
    for (const path of reachable) expect(await table.state.io.exists(path)).toBe(true);
    for (const path of [...compacted.rewrittenDataFiles, ...compacted.rewrittenDeleteFiles]) {
      expect(result.deletedFiles).toContain(path);
      expect(await table.state.io.exists(path)).toBe(false);
    }
    for (const snapshot of history.slice(0, -2)) expect(result.deletedFiles).toContain(snapshot['manifest-list']);
    expect(result.deletedFiles.every((path) => !reachable.has(path))).toBe(true);
    expect(byId(await table.read())).toEqual(byId([...expected, ...rows(100, 1)]));
  });

  it('refuses to expire a branch head or an unknown snapshot', async () => {
    const table = await Table.create(catalog, uniqueName(), { schema });
    await table.append(rows(0, 1));
    const head = await table.append(rows(1, 1));
    await expect(expireSnapshots(table, { snapshotIds: [head['snapshot-id']] })).rejects.toMatchObject({ code: 'SNAPSHOT_IN_USE' });
    await expect(expireSnapshots(table, { snapshotIds: [12345n] })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    expect(table.metadata.snapshots).toHaveLength(2);
  });

  it('deletes nothing when the commit outcome is unknown, and retries a conflict', async () => {
    const name = uniqueName();
    const table = await Table.create(catalog, name, { schema });
    for (let i = 0; i < 3; i++) await table.append(rows(i * 10, 10));
    await compactTable(table, { minInputFiles: 3 });
    const snapshots = table.metadata.snapshots;
    const files = new Set<string>();
    for (const snapshot of snapshots) for (const path of (await referencedBy(table, snapshot)).all) files.add(path);

    const unknown = await Table.load(
      {
        ...catalog,
        commitTable: () => Promise.reject(new CommitStateUnknownError('lost response', { table: name })),
      },
      name,
    );
    await expect(expireSnapshots(unknown, { olderThanMs: Date.now() + 1 })).rejects.toBeInstanceOf(CommitStateUnknownError);
    for (const path of files) expect(await table.state.io.exists(path)).toBe(true);

    let conflicts = 0;
    const flaky = await Table.load(
      {
        ...catalog,
        commitTable: (id, requirements, updates) =>
          conflicts++ === 0 ? Promise.reject(new CommitConflictError('raced', { table: name })) : catalog.commitTable(id, requirements, updates),
      },
      name,
    );
    const result = await expireSnapshots(flaky, { olderThanMs: Date.now() + 1 });
    expect(conflicts).toBe(2);
    expect(result.expiredSnapshotIds).toHaveLength(3);
    expect(result.deletedFiles.length).toBeGreaterThan(0);
  });
});

describe('removeOrphanFiles', () => {
  it('keeps the files of a commit that lands while it lists the table location', async () => {
    const name = uniqueName();
    const table = await Table.create(catalog, name, { schema });
    await table.append(rows(0, 5));
    const writer = await Table.load(catalog, name);
    let armed = false;
    const racing = await Table.load(
      {
        ...catalog,
        async loadTable(id) {
          const loaded = await catalog.loadTable(id);
          if (armed) {
            armed = false;
            // The commit lands after the metadata was loaded, and its files look old: only a second look saves them.
            await writer.append(rows(5, 5));
            await ageTree(fileURLToPath(loaded.metadata.location), 10 * 86_400_000);
          }
          return loaded;
        },
      },
      name,
    );
    armed = true;
    const { orphanFiles } = await removeOrphanFiles(racing);
    expect(orphanFiles).toEqual([]);
    expect(byId(await (await Table.load(catalog, name)).read())).toEqual(byId(rows(0, 10)));
  });

  it('deletes old unreferenced files only, never metadata, fresh files or another table sharing the name prefix', async () => {
    const name = uniqueName();
    const table = await Table.create(catalog, name, { schema });
    const neighbour = await Table.create(catalog, `${name}x`, { schema });
    for (let i = 0; i < 5; i++) await table.append(rows(i * 10, 10));
    await table.upsert([{ id: 3n, region: 'us', amount: 0 }]);
    await compactTable(table);
    await neighbour.append(rows(0, 1));
    const location = fileURLToPath(table.metadata.location);
    await mkdir(join(location, 'data', 'stray'), { recursive: true });
    await writeFile(join(location, 'data', 'stray', 'crashed-writer.parquet'), 'old');
    await writeFile(join(location, 'metadata', 'crashed-m0.avro'), 'old');
    // Everything, including every referenced file, is older than the threshold: only references protect it.
    await ageTree(join(location, '..'), 10 * 86_400_000);
    await writeFile(join(location, 'data', 'in-flight.parquet'), 'fresh');
    const expected = byId(await table.read());

    const dry = await removeOrphanFiles(table, { dryRun: true });
    expect(dry.orphanFiles.map((uri) => uri.slice(uri.indexOf('/data/') >= 0 ? uri.indexOf('/data/') : uri.indexOf('/metadata/'))).sort()).toEqual([
      '/data/stray/crashed-writer.parquet',
      '/metadata/crashed-m0.avro',
    ]);
    expect(await table.state.io.exists(dry.orphanFiles[0]!)).toBe(true);

    const removed = await removeOrphanFiles(table);
    expect([...removed.orphanFiles].sort()).toEqual([...dry.orphanFiles].sort());
    for (const uri of removed.orphanFiles) expect(await table.state.io.exists(uri)).toBe(false);
    expect(await table.state.io.exists(`${table.metadata.location}/data/in-flight.parquet`)).toBe(true);
    const reloaded = await Table.load(catalog, name);
    expect(byId(await reloaded.read())).toEqual(expected);
    expect(byId(await reloaded.read({ snapshotId: reloaded.metadata.snapshots[0]!['snapshot-id'] }))).toEqual(byId(rows(0, 10)));
    expect(await (await Table.load(catalog, `${name}x`)).read()).toHaveLength(1);
    expect((await removeOrphanFiles(table)).orphanFiles).toEqual([]);
  });
});
