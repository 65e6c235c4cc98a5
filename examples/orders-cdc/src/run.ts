import { Table } from '@tributary/lakehouse';
import type { Catalog } from '@tributary/lakehouse';
import { ordersJob, TABLES } from './topology.ts';

/** What the job reports per Iceberg table it wrote. */
export interface TableSummary {
  metadata_location: string;
  rows: number;
  snapshots: number;
}

export interface OrdersJobSummary {
  events_in: number;
  records_out: number;
  dead_letters: number;
  late: number;
  windows_emitted: number;
  deletes: number;
  duplicates_dropped: number;
  checkpoints: number;
  /** Dead letters still carrying a raw e-mail address (must be 0: mask runs before anything leaves). */
  raw_emails_in_dead_letters: number;
  elapsed_ms: number;
  /** Per table (when run with a catalog): where its metadata is, its row count and snapshot count. */
  tables?: Record<string, TableSummary>;
}

/** Runs the orders job over `events` to the end of the input and summarises what came out. */
export async function runOrdersJob(
  events: readonly unknown[],
  salt = 'orders-demo-salt',
  lakehouse?: { catalog: Catalog },
): Promise<OrdersJobSummary> {
  const started = performance.now();
  const job = ordersJob(events, salt, lakehouse);
  await job.runtime.start();
  await job.runtime.done;
  const status = job.runtime.status();
  const labels = { topology: 'orders-cdc', step: 'dedupe-orders' };
  const dedupeIn = job.metrics.value('tributary_records_in_total', labels) ?? 0;
  const dedupeOut = job.metrics.value('tributary_records_out_total', labels) ?? 0;
  const rawEmails = job.deadLetters.committed.filter((record) => JSON.stringify(record.value).includes('@example.com')).length;
  let tables: Record<string, TableSummary> | undefined;
  if (lakehouse !== undefined) {
    tables = {};
    for (const name of [TABLES.silver, TABLES.gold]) {
      const table = await Table.load(lakehouse.catalog, name);
      tables[name] = {
        metadata_location: table.metadataLocation,
        rows: Number(table.currentSnapshot()?.summary['total-records'] ?? 0) - Number(table.currentSnapshot()?.summary['total-position-deletes'] ?? 0),
        snapshots: table.metadata.snapshots.length,
      };
    }
  }
  return {
    events_in: status.recordsPolled,
    records_out: job.windows.committed.length + job.deletes.committed.length,
    dead_letters: job.deadLetters.committed.length,
    late: job.late.committed.length,
    windows_emitted: job.windows.committed.length,
    deletes: job.deletes.committed.length,
    duplicates_dropped: dedupeIn - dedupeOut,
    checkpoints: status.checkpoints,
    raw_emails_in_dead_letters: rawEmails,
    elapsed_ms: Math.round(performance.now() - started),
    ...(tables === undefined ? {} : { tables }),
  };
}
