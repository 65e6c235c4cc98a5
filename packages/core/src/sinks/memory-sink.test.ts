import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { testRecord } from '../internal/run-operator.js';
import { manualClock, testSinkContext } from '../internal/test-source-context.js';
import type { Checkpoint } from '../record/chunk.js';
import { memorySink } from './memory-sink.js';
import type { Sink } from './sink.js';

const checkpoint = (id: number, positions: Record<string, number>): Checkpoint => ({ id, positions, reason: 'interval' });

const settledSoon = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  return settled;
};

describe('memorySink', () => {
  it('stages writes and makes them durable on commit, recording the checkpoint', async () => {
    const sink = memorySink<string>();
    sink.open(testSinkContext());
    expect(sink.write([testRecord('a', 0), testRecord('b', 1)])).toBeUndefined(); // synchronous without a delay
    expect(sink.written.map((r) => r.value)).toEqual(['a', 'b']);
    expect(sink.values).toEqual([]);
    await sink.commit(checkpoint(1, { p0: 2 }));
    void sink.write([testRecord('c', 2)]);
    expect(sink.values).toEqual(['a', 'b']);
    expect(sink.committed.map((r) => r.position.offset)).toEqual([0, 1]);
    expect(sink.written.map((r) => r.value)).toEqual(['c']);
    expect(sink.commits).toEqual([checkpoint(1, { p0: 2 })]);
  });

  it('abort() loses what was not committed; the sink outlives the runtime and can be opened again', async () => {
    const sink = memorySink<number>();
    sink.open(testSinkContext());
    void sink.write([testRecord(1, 0)]);
    await sink.commit(checkpoint(1, { p0: 1 }));
    void sink.write([testRecord(2, 1)]);
    sink.abort(); // crash
    expect(sink.written).toEqual([]);
    expect(sink.values).toEqual([1]);

    sink.open(testSinkContext()); // the next runtime
    void sink.write([testRecord(2, 1), testRecord(3, 2)]);
    await sink.commit(checkpoint(2, { p0: 3 }));
    await sink.close();
    expect(sink.values).toEqual([1, 2, 3]);
    expect(sink.openCount).toBe(2);
    expect(sink.closed).toBe(true);
  });

  it('at-least-once by default: no committedPositions, as the Sink contract requires', () => {
    const sink: Sink<number> = memorySink<number>();
    expect('committedPositions' in sink && typeof sink.committedPositions === 'function').toBe(false);
  });

  it('exactly-once stores the checkpoint positions atomically with the records it commits', async () => {
    const sink = memorySink<number>({ exactlyOnce: true });
    sink.open(testSinkContext());
    expect(sink.exactlyOnce).toBe(true);
    expect(await sink.committedPositions!()).toBeUndefined();
    void sink.write([testRecord(1, 0, 0, null, 'a')]);
    await sink.commit(checkpoint(4, { a: 1, b: 7 }));
    void sink.write([testRecord(2, 1, 0, null, 'a')]);
    expect(await sink.committedPositions!()).toEqual({ checkpointId: 4, positions: { a: 1, b: 7 } });
    await sink.commit(checkpoint(5, { a: 2 }));
    // Partitions a checkpoint does not mention keep their last position.
    expect(await sink.committedPositions!()).toEqual({ checkpointId: 5, positions: { a: 2, b: 7 } });

    // A failed commit moves neither records nor positions.
    void sink.write([testRecord(3, 2, 0, null, 'a')]);
    sink.failNextCommit();
    await expect(sink.commit(checkpoint(6, { a: 3 }))).rejects.toMatchObject({ code: 'SINK_COMMIT_FAILED', retriable: true });
    expect(await sink.committedPositions!()).toEqual({ checkpointId: 5, positions: { a: 2, b: 7 } });
    expect(sink.values).toEqual([1, 2]);
    expect(sink.commits.map((c) => c.id)).toEqual([4, 5]);
    sink.abort();
    expect(sink.values).toEqual([1, 2]);
  });

  it('failNextWrite() makes exactly one write throw without staging it', () => {
    const sink = memorySink<number>();
    const boom = new Error('disk full');
    sink.failNextWrite(boom);
    expect(() => sink.write([testRecord(1, 0)])).toThrow(boom);
    void sink.write([testRecord(2, 1)]);
    expect(sink.written.map((r) => r.value)).toEqual([2]);
  });

  it('writeDelayMs: writes settle in order after the delay on the context clock; commit waits for them', async () => {
    const clock = manualClock();
    const sink = memorySink<number>({ writeDelayMs: 100 });
    sink.open(testSinkContext(clock));
    const first = sink.write([testRecord(1, 0)]) as Promise<void>;
    const second = sink.write([testRecord(2, 1)]) as Promise<void>;
    expect(first).toBeInstanceOf(Promise);
    expect(sink.inFlightWrites).toBe(2);
    expect(await settledSoon(first)).toBe(false); // real time does not move it
    const commit = sink.commit(checkpoint(1, { p0: 2 }));

    clock.advance(100);
    await first;
    expect(await settledSoon(second)).toBe(false); // the second write starts after the first
    expect(sink.written.map((r) => r.value)).toEqual([1]);
    expect(await settledSoon(commit)).toBe(false);

    clock.advance(100);
    await second;
    await commit;
    expect(sink.values).toEqual([1, 2]);
    expect(sink.inFlightWrites).toBe(0);

    // Advancing by several delays at once completes every write queued behind each other.
    const third = sink.write([testRecord(3, 2)]) as Promise<void>;
    const fourth = sink.write([testRecord(4, 3)]) as Promise<void>;
    clock.advance(200);
    await Promise.all([third, fourth]);
    expect(sink.written.map((r) => r.value)).toEqual([3, 4]);
  });

  it('writeDelayMs: abort drops delayed writes still in flight; an aborted context rejects them', async () => {
    const clock = manualClock();
    const sink = memorySink<number>({ writeDelayMs: 10 });
    const context = testSinkContext(clock);
    sink.open(context);
    const pending = sink.write([testRecord(1, 0)]) as Promise<void>;
    sink.abort();
    clock.advance(10);
    await pending;
    expect(sink.written).toEqual([]);

    const stopped = sink.write([testRecord(2, 1)]) as Promise<void>;
    context.controller.abort();
    await expect(stopped).rejects.toBeInstanceOf(TributaryError);
    expect(sink.written).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => memorySink({ writeDelayMs: -5 })).toThrow(/writeDelayMs/);
    expect(() => memorySink({ exactlyOnce: 'yes' as never })).toThrow(/exactlyOnce/);
    expect(() => memorySink({ name: '' })).toThrow(/name/);
    expect(() => memorySink({ failCommitAfter: 2 } as never)).toThrow(InvalidOptionsError);
  });
});
