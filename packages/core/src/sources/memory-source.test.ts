import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { manualClock, testSourceContext } from '../internal/test-source-context.js';
import type { StreamRecord } from '../record/stream-record.js';
import { MemoryLog } from './memory-log.js';
import { memorySource } from './memory-source.js';
import type { Source } from './source.js';

/** Polls until the source returns null, collecting every record. */
async function drain<V>(source: Source<V>, maxRecords = 1000): Promise<StreamRecord<V>[]> {
  const out: StreamRecord<V>[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const batch = await source.poll(maxRecords, new AbortController().signal);
    if (batch === null) return out;
    out.push(...batch);
  }
  throw new Error('source never ended');
}

const settledSoon = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return settled;
};

describe('memorySource', () => {
  it('reads an array as a bounded input, in order, then returns null', async () => {
    const source = memorySource([{ id: 'a', t: 5 }, { id: 'b', t: 7 }, { id: 'c', t: 6 }], { eventTime: (v) => v.t, key: (v) => v.id });
    const context = testSourceContext();
    await source.open(context);
    expect(context.assignedCalls).toEqual([['memory:0']]);
    expect(source.partitions()).toEqual(['memory:0']);
    const records = await drain(source);
    expect(records.map((r) => [r.value.id, r.key, r.eventTime, r.position.partition, r.position.offset])).toEqual([
      ['a', 'a', 5, 'memory:0', 0],
      ['b', 'b', 7, 'memory:0', 1],
      ['c', 'c', 6, 'memory:0', 2],
    ]);
    expect(await source.poll(10, new AbortController().signal)).toBeNull();
  });

  it('stamps processing time from the context clock when an array has no eventTime', async () => {
    const clock = manualClock(42_000);
    const source = memorySource([1, 2]);
    await source.open(testSourceContext({ clock }));
    const batch = await source.poll(10, new AbortController().signal);
    expect(batch!.map((r) => r.eventTime)).toEqual([42_000, 42_000]);
    expect(source.log.records(0).map((r) => r.eventTime)).toEqual([0, 0]);
  });

  it('returns at most min(batchSize, maxRecords) records per poll', async () => {
    const values = Array.from({ length: 10 }, (_, i) => i);
    const source = memorySource(values, { eventTime: (v) => v, batchSize: 4 });
    await source.open(testSourceContext());
    const signal = new AbortController().signal;
    expect((await source.poll(1000, signal))!.map((r) => r.value)).toEqual([0, 1, 2, 3]);
    expect((await source.poll(2, signal))!.map((r) => r.value)).toEqual([4, 5]);
    expect((await source.poll(0, signal))!).toEqual([]);
    expect((await drain(source)).map((r) => r.value)).toEqual([6, 7, 8, 9]);
  });

  it('spreads keyed values by key hash (one key, one partition) and reads partitions fairly', async () => {
    const values = Array.from({ length: 40 }, (_, i) => ({ key: `k${i % 8}`, i }));
    const source = memorySource(values, { eventTime: (v) => v.i, key: (v) => v.key, partitions: 4, batchSize: 5 });
    expect(source.log.partitions()).toEqual(['memory:0', 'memory:1', 'memory:2', 'memory:3']);
    const partitionOfKey = new Map<string, string>();
    for (const partition of source.log.partitions()) {
      for (const record of source.log.records(partition)) {
        expect(partitionOfKey.get(record.key!) ?? partition).toBe(partition);
        partitionOfKey.set(record.key!, partition);
      }
    }
    expect(new Set(partitionOfKey.values()).size).toBeGreaterThan(1);

    await source.open(testSourceContext());
    const all = await drain(source);
    expect(all).toHaveLength(40);
    // Offsets stay in order within each partition.
    for (const partition of source.log.partitions()) {
      const offsets = all.filter((r) => r.position.partition === partition).map((r) => r.position.offset);
      expect(offsets).toEqual(source.log.records(partition).map((_, offset) => offset));
    }
  });

  it('starts each poll at the next partition, so a busy partition cannot starve the others', async () => {
    const log = new MemoryLog<number>({ partitions: ['busy', 'quiet'] });
    log.appendValues('busy', Array.from({ length: 100 }, (_, i) => i), { eventTime: () => 0 });
    log.appendValues('quiet', [1, 2, 3], { eventTime: () => 0 });
    const source = memorySource(log, { batchSize: 10 });
    await source.open(testSourceContext());
    const first = await source.poll(1000, new AbortController().signal);
    const second = await source.poll(1000, new AbortController().signal);
    expect(first!.map((r) => r.position.partition)).toEqual(Array(10).fill('busy'));
    expect(second!.map((r) => r.position.partition)).toEqual([...Array(3).fill('quiet'), ...Array(7).fill('busy')]);
  });

  it('values without key go round-robin over partitions', () => {
    const source = memorySource([1, 2, 3, 4], { eventTime: () => 0, partitions: 2 });
    expect(source.log.records(0).map((r) => r.value)).toEqual([1, 3]);
    expect(source.log.records(1).map((r) => r.value)).toEqual([2, 4]);
  });

  it('commits positions to the log for its group; a new source of the group resumes there (crash and restart)', async () => {
    const log = new MemoryLog<number>({ name: 'orders', partitions: 2 });
    log.appendValues(0, [0, 1, 2, 3], { eventTime: (v) => v });
    log.appendValues(1, [10, 11], { eventTime: (v) => v });
    log.end();

    const first = memorySource(log, { group: 'billing' });
    await first.open(testSourceContext());
    await first.poll(1000, new AbortController().signal);
    await first.commit({ 'orders:0': 2, 'orders:1': 1 });
    expect(log.committed('billing')).toEqual({ 'orders:0': 2, 'orders:1': 1 });
    expect(first.committed).toEqual({ 'orders:0': 2, 'orders:1': 1 });
    // crash: no close, no further commit

    const second = memorySource(log, { group: 'billing' });
    const secondContext = testSourceContext();
    await second.open(secondContext);
    // The runtime is told the group's committed positions (to restore the matching state) ...
    expect(secondContext.assignedCommitted).toEqual([{ 'orders:0': 2, 'orders:1': 1 }]);
    // ... and the source resumes there.
    expect(second.positions).toEqual({ 'orders:0': 2, 'orders:1': 1 });
    expect((await drain(second)).map((r) => r.value).sort((a, b) => a - b)).toEqual([2, 3, 11]);

    // Another group has its own positions.
    const other = memorySource(log, { group: 'audit' });
    await other.open(testSourceContext());
    expect(await drain(other)).toHaveLength(6);
  });

  it('seeks to the positions returned by context.assigned (exactly-once resume) over the committed ones', async () => {
    const log = new MemoryLog<number>({ partitions: 2 });
    log.appendValues(0, [0, 1, 2, 3], { eventTime: (v) => v });
    log.appendValues(1, [10, 11, 12], { eventTime: (v) => v });
    log.end();
    log.commit('default', { 'memory:0': 1, 'memory:1': 1 });
    const source = memorySource(log);
    await source.open(testSourceContext({ resumeAt: { 'memory:0': 3 } }));
    expect(source.positions).toEqual({ 'memory:0': 3, 'memory:1': 1 });
    expect((await drain(source)).map((r) => r.value).sort((a, b) => a - b)).toEqual([3, 11, 12]);
  });

  it("startAt 'latest' skips what was there at open when the group has no commit", async () => {
    const log = new MemoryLog<number>({ partitions: 1 });
    log.appendValues(0, [1, 2], { eventTime: (v) => v });
    const source = memorySource(log, { startAt: 'latest', pollIntervalMs: 0 });
    await source.open(testSourceContext());
    expect(await source.poll(10, new AbortController().signal)).toEqual([]);
    log.appendValues(0, [3], { eventTime: (v) => v });
    log.end();
    expect((await drain(source)).map((r) => r.value)).toEqual([3]);

    log.commit('g', { 'memory:0': 1 });
    const committedGroup = memorySource(log, { group: 'g', startAt: 'latest' });
    await committedGroup.open(testSourceContext());
    expect((await drain(committedGroup)).map((r) => r.value)).toEqual([2, 3]);
  });

  it('waits on the context clock for appends: an append wakes the poll, otherwise it returns [] after pollIntervalMs', async () => {
    const clock = manualClock();
    const log = new MemoryLog<string>({ partitions: 1 });
    const source = memorySource(log, { pollIntervalMs: 250 });
    await source.open(testSourceContext({ clock }));

    const idle = source.poll(10, new AbortController().signal);
    expect(await settledSoon(idle)).toBe(false); // real time passing does not end the wait
    clock.advance(249);
    expect(await settledSoon(idle)).toBe(false);
    clock.advance(1);
    expect(await idle).toEqual([]);
    expect(clock.pendingTimers).toBe(0);

    const woken = source.poll(10, new AbortController().signal);
    expect(await settledSoon(woken)).toBe(false);
    log.append(0, { value: 'late arrival', eventTime: 1 });
    expect((await woken)!.map((r) => r.value)).toEqual(['late arrival']);
    expect(clock.pendingTimers).toBe(0); // the timer was cancelled

    // The timer is set within the poll() call: advancing right after calling it ends the wait.
    const immediate = source.poll(10, new AbortController().signal);
    clock.advance(250);
    expect(await immediate).toEqual([]);

    const ended = source.poll(10, new AbortController().signal);
    log.end();
    expect(await ended).toBeNull();
  });

  it('an aborted signal ends a waiting poll with []', async () => {
    const clock = manualClock();
    const source = memorySource(new MemoryLog<number>({ partitions: 1 }));
    const context = testSourceContext({ clock });
    await source.open(context);
    const controller = new AbortController();
    const waiting = source.poll(10, controller.signal);
    controller.abort();
    expect(await waiting).toEqual([]);
    expect(clock.pendingTimers).toBe(0);

    const viaContext = source.poll(10, new AbortController().signal);
    context.controller.abort();
    expect(await viaContext).toEqual([]);
  });

  it('pause() stops handing out records until resume(); both are observable', async () => {
    const clock = manualClock();
    const log = new MemoryLog<number>({ partitions: 1 });
    log.appendValues(0, [1, 2, 3], { eventTime: (v) => v });
    const source = memorySource(log, { batchSize: 1 });
    await source.open(testSourceContext({ clock }));
    expect((await source.poll(10, new AbortController().signal))!.map((r) => r.value)).toEqual([1]);

    source.pause();
    expect(source.paused).toBe(true);
    expect(source.pauseCount).toBe(1);
    const whilePaused = source.poll(10, new AbortController().signal);
    expect(await settledSoon(whilePaused)).toBe(false);
    log.appendValues(0, [4], { eventTime: (v) => v }); // an append does not bypass the pause
    expect(await settledSoon(whilePaused)).toBe(false);
    clock.advance(100);
    expect(await whilePaused).toEqual([]);

    const resumed = source.poll(10, new AbortController().signal);
    source.resume();
    expect(source.paused).toBe(false);
    expect(source.resumeCount).toBe(1);
    expect((await resumed)!.map((r) => r.value)).toEqual([2]);
  });

  it('assigns partitions that appear in the log after open, reading them from offset 0', async () => {
    const log = new MemoryLog<number>({ partitions: ['a'] });
    const source = memorySource(log, { startAt: 'latest', pollIntervalMs: 0 });
    const context = testSourceContext();
    await source.open(context);
    log.append('b', [{ value: 1, eventTime: 0 }, { value: 2, eventTime: 0 }]);
    log.end();
    expect((await drain(source)).map((r) => r.value)).toEqual([1, 2]);
    expect(context.assignedCalls).toEqual([['a'], ['b']]);
    expect(source.partitions()).toEqual(['a', 'b']);
  });

  it('can be reopened after close, resuming from the committed positions', async () => {
    const source = memorySource([1, 2, 3], { eventTime: () => 0 });
    await source.open(testSourceContext());
    await source.poll(2, new AbortController().signal);
    await source.commit({ 'memory:0': 2 });
    await source.close();
    await expect(source.poll(1, new AbortController().signal)).rejects.toMatchObject({ code: 'SOURCE_NOT_OPEN' });
    await source.open(testSourceContext());
    expect((await drain(source)).map((r) => r.value)).toEqual([3]);
  });

  it('poll before open fails with a TributaryError', async () => {
    await expect(memorySource([1]).poll(1, new AbortController().signal)).rejects.toBeInstanceOf(TributaryError);
  });

  it('invalid options fail at construction naming the option', () => {
    const log = new MemoryLog<number>();
    expect(() => memorySource(log, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => memorySource(log, { batchSize: 1.5 })).toThrow(/batchSize/);
    expect(() => memorySource(log, { pollIntervalMs: -1 })).toThrow(/pollIntervalMs/);
    expect(() => memorySource(log, { startAt: 'middle' as never })).toThrow(/startAt/);
    expect(() => memorySource(log, { group: '' })).toThrow(/group/);
    expect(() => memorySource(log, { eventTime: () => 0 } as never)).toThrow(InvalidOptionsError);
    expect(() => memorySource([1], { partitions: 0 })).toThrow(/partitions/);
    expect(() => memorySource([1], { eventTime: 5 as never })).toThrow(/eventTime: must be a function/);
    expect(() => memorySource([1], { key: 'id' as never })).toThrow(/key: must be a function/);
    expect(() => memorySource('nope' as never)).toThrow(/input/);
  });
});
