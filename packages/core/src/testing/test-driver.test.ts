import { describe, expect, it } from 'vitest';
import { defineOperator } from '../operators/define-operator.js';
import type { Operator } from '../operators/define-operator.js';
import { map } from '../operators/map.js';
import { toSink } from '../operators/to-sink.js';
import { memorySink } from '../sinks/memory-sink.js';
import { TestDriver } from './test-driver.js';
import { VirtualClock } from './virtual-clock.js';

/** A stateful step: running count per key, kept in step state, emitted with every record. */
function runningCount(): Operator<{ key: string }, { key: string; count: number }> {
  return defineOperator('running-count', 'counts', (context) => ({
    data(records, emit) {
      emit.data(
        records.map((record) => {
          const state = context.state<number>(record.position.partition);
          const count = (state.get(record.value.key) ?? 0) + 1;
          state.set(record.value.key, count);
          return { ...record, value: { key: record.value.key, count } };
        }),
      );
    },
  }));
}

/** Emits the watermarks it sees, so tests can observe event time moving. */
function watermarkProbe(seen: number[]): Operator<unknown, unknown> {
  return defineOperator('probe', 'probe', () => ({
    data(records, emit) {
      emit.data(records);
    },
    watermark(time) {
      seen.push(time);
    },
  }));
}

describe('TestDriver', () => {
  it('drives records at chosen event times and shows sink output, dead letters and committed positions', async () => {
    const sink = memorySink<number>();
    const driver = new TestDriver<number>({
      name: 'doubler',
      pipeline: (s) =>
        s.pipe(
          map(
            (n: number) => {
              if (n < 0) throw new Error('negative');
              return n * 2;
            },
            { name: 'double' },
          ),
          toSink(sink),
        ),
    });
    await driver.send(1, { eventTime: 1_000 });
    await driver.send(-1, { eventTime: 2_000 });
    await driver.send(3, { eventTime: 3_000, partition: 'p1' });
    expect(sink.written.map((record) => record.value)).toEqual([2, 6]);
    expect(driver.deadLetters).toHaveLength(1);
    expect(driver.deadLetters[0]).toMatchObject({ stage: 'double', record: { position: { partition: 'p0', offset: 1 } } });
    expect(driver.committedPositions).toEqual({});
    await driver.checkpoint();
    expect(sink.committed.map((record) => record.value)).toEqual([2, 6]);
    expect(driver.committedPositions).toEqual({ p0: 2, p1: 1 });
  });

  it('moves the watermark only when told to, or from the records with autoWatermark', async () => {
    const manual: number[] = [];
    const driver = new TestDriver<number>({ name: 'wm', pipeline: (s) => s.pipe(watermarkProbe(manual), toSink(memorySink())) });
    await driver.send(1, { eventTime: 10_000 });
    expect(manual).toEqual([]);
    await driver.advanceWatermark(5_000);
    expect(manual).toEqual([5_000]);
    expect(driver.watermark).toBe(5_000);

    const auto: number[] = [];
    const autoDriver = new TestDriver<number>(
      { name: 'wm-auto', pipeline: (s) => s.pipe(watermarkProbe(auto), toSink(memorySink())) },
      { autoWatermarkOutOfOrdernessMs: 1_000 },
    );
    await autoDriver.send(1, { eventTime: 10_000 });
    await autoDriver.send(2, { eventTime: 8_000 });
    await autoDriver.send(3, { eventTime: 12_000 });
    expect(auto).toEqual([9_000, 11_000]);
  });

  it('advances processing time virtually, firing timers in order', async () => {
    const clock = new VirtualClock(1_000);
    const fired: number[] = [];
    clock.setTimer(500, () => fired.push(clock.now()));
    clock.setTimer(100, () => {
      fired.push(clock.now());
      clock.setTimer(100, () => fired.push(clock.now()));
    });
    const driver = new TestDriver<number>({ name: 'time', pipeline: (s) => s.pipe(toSink(memorySink())) }, { clock });
    await driver.advanceTime(300);
    expect(fired).toEqual([1_100, 1_200]);
    await driver.advanceTime(300);
    expect(fired).toEqual([1_100, 1_200, 1_500]);
    expect(clock.now()).toBe(1_600);
  });

  it('after a crash, restores step state from the last checkpoint and replays what followed: no loss, no double counting', async () => {
    const sink = memorySink<{ key: string; count: number }>({ exactlyOnce: true });
    const driver = new TestDriver<{ key: string }>({ name: 'counting', pipeline: (s) => s.pipe(runningCount(), toSink(sink)) });
    for (const key of ['a', 'b', 'a']) await driver.send({ key }, { eventTime: 0 });
    await driver.checkpoint();
    expect(driver.state('counts').get('a')).toBe(2);
    for (const key of ['a', 'b']) await driver.send({ key }, { eventTime: 0 });
    expect(driver.state('counts').get('a')).toBe(3);
    await driver.crash();
    // The uncommitted writes are gone; the restart restores counts {a: 2, b: 1} and replays offsets 3 and 4.
    expect(sink.committed).toHaveLength(3);
    await driver.restart();
    await driver.checkpoint();
    expect(sink.committed.map((record) => `${record.value.key}${record.value.count}`)).toEqual(['a1', 'b1', 'a2', 'a3', 'b2']);
    expect(driver.state('counts').get('a')).toBe(3);
    expect(driver.committedPositions).toEqual({ p0: 5 });
  });
});
