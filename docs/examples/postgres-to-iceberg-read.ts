/**
 * docs/guides/postgres-to-iceberg.md — reading the table back, time travel, incremental reads, what a snapshot
 * records, and schema evolution.
 */
import { addColumn, compactTable, eq, expireSnapshots, LakehouseError, positionsSummaryKey, removeOrphanFiles, Table, widenColumn } from '@tributary/lakehouse';
import type { Positions } from '@tributary/core';
import type { Catalog, Row } from '@tributary/lakehouse';

export async function readOrders(catalog: Catalog): Promise<void> {
  const table = await Table.load(catalog, 'silver.orders');

  // The current state, deletes applied. Filters prune partitions and files by their column bounds.
  const paid = await table.read({ filter: eq('status', 'paid'), columns: ['id', 'amount', 'updated_at'] });

  // Every commit of the sink is one snapshot of `main`, oldest first.
  const history = table.history();
  const previous = history.at(-2);

  // Time travel: by snapshot id, or the snapshot that was current at a time.
  const before = previous === undefined ? [] : await table.read({ snapshotId: previous['snapshot-id'] });
  let atMidnight: Row[] = [];
  try {
    atMidnight = await table.read({ asOfTimestampMs: new Date().setUTCHours(0, 0, 0, 0) });
  } catch (error) {
    if (!(error instanceof LakehouseError && error.code === 'SNAPSHOT_NOT_FOUND')) throw error; // the table is younger
  }

  // Incremental read: rows that appeared and disappeared since a snapshot (an update is one of each).
  const { added, deleted } = await table.changes(previous?.['snapshot-id']);

  console.log(paid.length, before.length, atMidnight.length, added.length, deleted.length);
}

/** Where the sink stands: the source positions recorded with the newest snapshot it committed. */
export async function recordedPositions(catalog: Catalog): Promise<Positions | undefined> {
  const table = await Table.load(catalog, 'silver.orders');
  const key = positionsSummaryKey('silver-orders'); // 'tributary.silver-orders.positions'
  const snapshot = table.history().findLast((candidate) => candidate.summary[key] !== undefined);
  // e.g. { "shop.public.orders:0": 1042, "shop.public.orders:1": 977 }: the next offset to read, per partition.
  return snapshot === undefined ? undefined : (JSON.parse(snapshot.summary[key]!) as Positions);
}

/**
 * PostgreSQL: `ALTER TABLE public.orders ADD COLUMN channel text` and `ALTER COLUMN amount TYPE numeric(14,2)`. Run
 * this with the pipeline stopped, before the database change; then deploy the pipeline that writes `channel`.
 */
export async function evolveOrders(catalog: Catalog): Promise<void> {
  const table = await Table.load(catalog, 'silver.orders');
  await table.evolveSchema((current) => widenColumn(addColumn(current, 'channel', 'string'), 'amount', 'decimal(14, 2)'));
  // Rows written before read `channel` as null; time travel reads old snapshots with the schema they were written with.
}

/**
 * Nightly maintenance, in-process: fold small files (and the position deletes that point at them) into larger ones,
 * expire snapshots older than a week (keeping the last 10), then delete files no snapshot references that are older
 * than three days (leftovers of crashed commits).
 */
export async function maintainOrders(catalog: Catalog): Promise<void> {
  const table = await Table.load(catalog, 'silver.orders');
  const compacted = await compactTable(table, { targetFileSizeBytes: 128 * 1024 * 1024 });
  const expired = await expireSnapshots(table, { olderThanMs: Date.now() - 7 * 86_400_000, retainLast: 10 });
  const orphans = await removeOrphanFiles(table, { olderThanMs: Date.now() - 3 * 86_400_000 });
  console.log(compacted.rewrittenDataFiles.length, expired.expiredSnapshotIds.length, orphans.orphanFiles.length);
}
