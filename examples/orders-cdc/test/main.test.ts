import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateOrderEvents } from '../src/generate.ts';
import { runOrdersJob } from '../src/run.ts';
import { ordersJob } from '../src/topology.ts';

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

  it('prints one JSON summary as its last line when run as a program', () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const out = execFileSync(process.execPath, [main, '--events', '3000'], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const last = out.trim().split('\n').at(-1)!;
    const summary = JSON.parse(last) as Record<string, number>;
    for (const field of ['events_in', 'records_out', 'dead_letters', 'late', 'windows_emitted']) expect(typeof summary[field]).toBe('number');
    expect(summary.events_in).toBe(3_000);
  });
});
