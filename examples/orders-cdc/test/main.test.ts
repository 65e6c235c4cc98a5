import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localObjectStore } from '@tributary/connectors/s3';
import { storageCatalog } from '@tributary/lakehouse';
import { describe, expect, it } from 'vitest';
import { pyicebergRead } from '../../../packages/lakehouse/test/support/pyiceberg.ts';
import { generateOrderEvents } from '../src/generate.ts';
import type { OrderChangeEvent } from '../src/generate.ts';
import { runOrdersJob } from '../src/run.ts';
import { OrderChange, ordersJob, TABLES } from '../src/topology.ts';

describe('orders-cdc main job', () => {
  const input = generateOrderEvents({ events: 20_000, merchants: 25, seed: 7, start: Date.UTC(2026, 0, 1) });

  it('reports numbers consistent with its generated input', async () => {
    const { truth } = input;
    expect(truth.invalid).toBeGreaterThan(0);
    expect(truth.duplicates).toBeGreaterThan(0);
    expect(truth.late).toBeGreaterThan(0);
    const summary = await runOrdersJob(input.events);
    expect(summary.events_in).toBe(truth.events);
    expect(summary.dead_letters).toBe(truth.invalid);
    expect(summary.late).toBe(truth.late);
    expect(summary.duplicates_dropped).toBe(truth.duplicates);
    expect(summary.deletes).toBe(truth.deletes);
    expect(summary.records_out).toBe(summary.windows_emitted + summary.deletes);
    expect(summary.raw_emails_in_dead_letters).toBe(0);
    // Every event is accounted for exactly once.
    expect(summary.dead_letters + summary.duplicates_dropped + summary.late + summary.deletes + truth.windowed.length).toBe(summary.events_in);
  });

  it('windows equal a brute-force aggregation of the valid, first-seen, on-time inserts and updates', async () => {
    const job = ordersJob(input.events, 'salt');
    await job.runtime.start();
    await job.runtime.done;
    const expected = new Map<string, { orders: number; revenue: number; smallest: number; largest: number }>();
    for (const event of input.truth.windowed) {
      const start = Math.floor(event.source.ts_ms / 60_000) * 60_000;
      const id = `${event.after!.merchant_id}@${start}`;
      const amount = event.after!.amount;
      const entry = expected.get(id) ?? { orders: 0, revenue: 0, smallest: Infinity, largest: -Infinity };
      entry.orders += 1;
      entry.revenue += amount;
      entry.smallest = Math.min(entry.smallest, amount);
      entry.largest = Math.max(entry.largest, amount);
      expected.set(id, entry);
    }
    // Last revision per window wins (late-but-allowed records re-emit a window).
    const actual = new Map<string, (typeof job.windows.committed)[number]['value']>();
    for (const record of job.windows.committed) actual.set(`${record.value.key}@${record.value.start}`, record.value);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, want] of expected) {
      const got = actual.get(id)!;
      expect(got.values.orders, id).toBe(want.orders);
      expect(got.values.revenue, id).toBeCloseTo(want.revenue, 6);
      expect(got.values.average, id).toBeCloseTo(want.revenue / want.orders, 6);
      expect(got.values.smallest, id).toBe(want.smallest);
      expect(got.values.largest, id).toBe(want.largest);
    }
  });

  it('masks e-mail addresses in dead letters and outputs', async () => {
    const job = ordersJob(input.events, 'salt');
    await job.runtime.start();
    await job.runtime.done;
    const letters = job.deadLetters.committed.map((record) => record.value);
    expect(letters.length).toBeGreaterThan(0);
    for (const letter of letters) {
      expect(letter.stage).toBe('validate-orders');
      const after = (letter.record.value as { after?: { customer_email?: string } }).after;
      expect(after?.customer_email).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(JSON.stringify(job.deletes.committed)).not.toContain('@example.com');
  });

  it('writes the silver and gold Iceberg tables, and pyiceberg reads exactly the expected rows', async () => {
    const warehouse = await mkdtemp(join(tmpdir(), 'orders-cdc-'));
    try {
      const catalog = storageCatalog({ store: localObjectStore({ root: warehouse }) });
      const summary = await runOrdersJob(input.events, 'salt', { catalog });
      // Expected silver: the final state of every order after the valid, first-seen changes (lateness does not matter here).
      const expected = new Map<string, OrderChangeEvent>();
      const seen = new Set<number>();
      for (const raw of input.events) {
        if (!OrderChange.safeParse(raw).success) continue;
        const event = raw as OrderChangeEvent;
        if (seen.has(event.source.lsn)) continue;
        seen.add(event.source.lsn);
        if (event.op === 'd') expected.delete(event.before!.order_id);
        else expected.set(event.after!.order_id, event);
      }
      const silver = summary.tables![TABLES.silver]!;
      expect(silver.rows).toBe(expected.size);
      const read = await pyicebergRead(silver.metadata_location);
      const got = new Map(read.rows.map((row) => [row.order_id as string, row]));
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [id, event] of expected) {
        const row = got.get(id)!;
        expect(row.status, id).toBe(event.after!.status);
        expect(Number(row.amount), id).toBeCloseTo(event.after!.amount, 2);
        expect(row.customer_email_hash, id).toMatch(/^[0-9a-f]{64}$/);
        expect(row.created_at, id).toBe(String(BigInt(event.after!.created_at) * 1000n));
      }
      // Gold: one row per merchant-minute window, holding the last revision the job emitted.
      const job = ordersJob(input.events, 'salt');
      await job.runtime.start();
      await job.runtime.done;
      const lastRevision = new Map<string, (typeof job.windows.committed)[number]['value']>();
      for (const record of job.windows.committed) lastRevision.set(`${record.value.key}@${record.value.start * 1000}`, record.value);
      const gold = await pyicebergRead(summary.tables![TABLES.gold]!.metadata_location);
      expect(gold.rows).toHaveLength(lastRevision.size);
      for (const row of gold.rows) {
        const want = lastRevision.get(`${String(row.merchant_id)}@${String(row.window_start)}`);
        expect(want, `${String(row.merchant_id)}@${String(row.window_start)}`).toBeDefined();
        expect(row.orders).toBe(String(want!.values.orders));
        expect(row.revenue as number).toBeCloseTo(want!.values.revenue, 6);
      }
    } finally {
      await rm(warehouse, { recursive: true, force: true });
    }
  });

  it('prints one JSON summary as its last line when run as a program', () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const out = execFileSync(process.execPath, [main, '--events', '3000', '--warehouse', join(tmpdir(), `orders-cdc-main-${process.pid}`)], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const last = out.trim().split('\n').at(-1)!;
    const summary = JSON.parse(last) as Record<string, number>;
    for (const field of ['events_in', 'records_out', 'dead_letters', 'late', 'windows_emitted']) expect(typeof summary[field]).toBe('number');
    expect(summary.events_in).toBe(3_000);
    const tables = summary.tables as unknown as Record<string, { metadata_location: string; rows: number; snapshots: number }>;
    expect(Object.keys(tables).sort()).toEqual([TABLES.gold, TABLES.silver]);
    for (const table of Object.values(tables)) {
      expect(table.metadata_location).toMatch(/^file:\/\/\/.+\/metadata\/v\d+\.metadata\.json$/);
      expect(table.rows).toBeGreaterThan(0);
      expect(table.snapshots).toBeGreaterThan(0);
    }
  });
});
