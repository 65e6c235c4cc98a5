import { ordersJob } from './topology.ts';

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
}

/** Runs the orders job over `events` to the end of the input and summarises what came out. */
export async function runOrdersJob(events: readonly unknown[], salt = 'orders-demo-salt'): Promise<OrdersJobSummary> {
  const started = performance.now();
  const job = ordersJob(events, salt);
  await job.runtime.start();
  await job.runtime.done;
  const status = job.runtime.status();
  const labels = { topology: 'orders-cdc', step: 'dedupe-orders' };
  const dedupeIn = job.metrics.value('tributary_records_in_total', labels) ?? 0;
  const dedupeOut = job.metrics.value('tributary_records_out_total', labels) ?? 0;
  const rawEmails = job.deadLetters.committed.filter((record) => JSON.stringify(record.value).includes('@example.com')).length;
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
  };
}
