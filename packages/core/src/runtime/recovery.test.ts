import { describe, expect, it } from 'vitest';
import { defineOperator } from '../operators/define-operator.js';
import type { Operator } from '../operators/define-operator.js';
import { map } from '../operators/map.js';
import { toSink } from '../operators/to-sink.js';
import { window } from '../operators/window.js';
import { count } from '../operators/window-aggregates.js';
import { tumbling } from '../operators/window-assigners.js';
import { memorySink } from '../sinks/memory-sink.js';
import type { Sink } from '../sinks/sink.js';
import { memorySource } from '../sources/memory-source.js';
import { TestDriver } from '../testing/test-driver.js';
import { createRuntime } from './runtime.js';
import { defineTopology } from './topology.js';
import { WatermarkTracker } from './watermark-tracker.js';

/** Running count per key in step state. */
function runningCount(): Operator<{ key: string }, { key: string; count: number }> {
  return defineOperator('running-count', 'counts', (context) => ({
    data(records, emit) {
      emit.data(
        records.map((record) => {
          const state = context.state<number>(record.position.partition);
          const next = (state.get(record.value.key) ?? 0) + 1;
          state.set(record.value.key, next);
          return { ...record, value: { key: record.value.key, count: next } };
        }),
      );
    },
  }));
}

describe('recovery', () => {
  it('survives repeated crashes: checkpoint ids keep growing, so the restored state is always the latest committed', async () => {
    const sink = memorySink<{ key: string; count: number }>({ exactlyOnce: true });
    const driver = new TestDriver<{ key: string }>({ name: 'twice', pipeline: (s) => s.pipe(runningCount(), toSink(sink)) });
    for (let round = 1; round <= 4; round++) {
      await driver.send({ key: 'a' }, { eventTime: 0 });
      await driver.checkpoint();
      await driver.send({ key: 'a' }, { eventTime: 0 }); // uncommitted: replayed after the crash
      await driver.crash();
      await driver.restart();
    }
    await driver.checkpoint();
    expect(sink.committed.map((record) => record.value.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('never restores state from a checkpoint whose sink commit failed', async () => {
    const inner = memorySink<{ key: string; count: number }>();
    let failCommits = false;
    const flaky: Sink<{ key: string; count: number }> = {
      name: 'flaky',
      write: (records) => inner.write(records),
      commit: (checkpoint) => {
        if (failCommits) throw new Error('commit refused');
        return inner.commit(checkpoint);
      },
      abort: () => inner.abort(),
    };
    const driver = new TestDriver<{ key: string }>({ name: 'uncommitted', pipeline: (s) => s.pipe(runningCount(), toSink(flaky)) });
    await driver.send({ key: 'a' }, { eventTime: 0 });
    await driver.checkpoint();
    await driver.send({ key: 'a' }, { eventTime: 0 });
    failCommits = true;
    await expect(driver.checkpoint()).rejects.toThrow(/commit refused/);
    await driver.crash();
    failCommits = false;
    await driver.restart();
    await driver.checkpoint();
    // The failed checkpoint's state (a=2) is not restored: offset 1 is replayed onto a=1.
    expect(inner.committed.map((record) => record.value.count)).toEqual([1, 2]);
  });

  it('an exactly-once sink still receives a window that was open across a restart', async () => {
    const sink = memorySink<{ key: string; start: number; values: { orders: number } }>({ exactlyOnce: true });
    const driver = new TestDriver<{ merchant: string }>({
      name: 'open-window',
      pipeline: (s) =>
        s.pipe(window({ name: 'per-minute', key: (order) => order.merchant, window: tumbling(60_000), aggregate: { orders: count() } }), toSink(sink)),
    });
    await driver.send({ merchant: 'm' }, { eventTime: 1_000 });
    await driver.send({ merchant: 'm' }, { eventTime: 2_000 });
    await driver.checkpoint();
    await driver.crash();
    await driver.restart();
    await driver.advanceWatermark(60_000);
    await driver.checkpoint();
    expect(sink.committed.map((record) => record.value.values.orders)).toEqual([2]);
  });

  it('commits what steps emit when a bounded input completes', async () => {
    const sink = memorySink<string>();
    const flushOnComplete = defineOperator<string, string>('flush', 'flush', () => {
      const held: Parameters<Parameters<typeof defineOperator<string, string>>[2]>[0] extends never ? never : unknown[] = [];
      return {
        data(records) {
          held.push(...records);
        },
        complete(emit) {
          emit.data(held as never);
        },
      };
    });
    const runtime = createRuntime(defineTopology({ name: 'flush', source: memorySource(['a', 'b']), pipeline: (s) => s.pipe(flushOnComplete, toSink(sink)) }));
    await runtime.start();
    await runtime.done;
    expect(sink.committed.map((record) => record.value)).toEqual(['a', 'b']);
  });

  it('numbers default step names in pipeline order, and sinks with the same name get distinct step names', async () => {
    const first = memorySink<number>();
    const driver = new TestDriver<number>({
      name: 'names',
      pipeline: (s) => s.pipe(map((n: number) => n + 1), map((n: number) => n * 2), toSink(first)),
    });
    await driver.send(1, { eventTime: 0 });
    expect(driver.steps).toEqual(['map-1', 'map-2', 'memory']);
    expect(first.written.map((record) => record.value)).toEqual([4]);

    const job = defineTopology({
      name: 'dupes',
      source: memorySource([1]),
      pipeline: (s) => s.pipe(map((n: number) => n, { name: 'same' }), map((n: number) => n, { name: 'same' }), toSink(memorySink())),
    });
    await expect(createRuntime(job).start()).rejects.toThrow(/Two steps are named "same"/);
  });

  it('holds the watermark when every partition is idle', () => {
    const tracker = new WatermarkTracker({ outOfOrdernessMs: 0, idleTimeoutMs: 1_000 });
    tracker.assign(['a', 'b'], 0);
    tracker.observe('a', 10_000, 0);
    tracker.observe('b', 5_000, 0);
    expect(tracker.advance(0)).toBe(5_000);
    tracker.observe('a', 20_000, 500);
    expect(tracker.advance(1_200)).toBe(20_000); // b idle, a active
    expect(tracker.advance(5_000)).toBeUndefined(); // both idle: no jump
    tracker.observe('b', 6_000, 5_000);
    expect(tracker.advance(5_000)).toBeUndefined(); // b woke up behind: the watermark does not go back, b is not late by a jump
    expect(tracker.current).toBe(20_000);
  });
});
