import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { manualClock, testSourceContext } from '../internal/test-source-context.js';
import type { StreamRecord } from '../record/stream-record.js';
import { iterableSource } from './iterable-source.js';
import type { Source } from './source.js';

const signal = () => new AbortController().signal;

async function drain<V>(source: Source<V>, maxRecords = 1000): Promise<StreamRecord<V>[]> {
  const out: StreamRecord<V>[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const batch = await source.poll(maxRecords, signal());
    if (batch === null) return out;
    out.push(...batch);
  }
  throw new Error('source never ended');
}

const settledSoon = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  return settled;
};

/** An async iterable the test feeds by hand; counts how many items were pulled. */
function channel<T>() {
  const queue: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | undefined;
  let ended = false;
  let pulled = 0;
  let returned = false;
  return {
    push(...values: T[]) {
      for (const value of values) {
        if (waiting) {
          const resolve = waiting;
          waiting = undefined;
          resolve({ value, done: false });
        } else queue.push(value);
      }
    },
    end() {
      ended = true;
      waiting?.({ value: undefined, done: true });
    },
    get pulled() {
      return pulled;
    },
    get returned() {
      return returned;
    },
    iterable: {
      [Symbol.asyncIterator](): AsyncIterator<T> {
        return {
          next() {
            pulled++;
            if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
            if (ended) return Promise.resolve({ value: undefined, done: true });
            return new Promise((resolve) => (waiting = resolve));
          },
          return() {
            returned = true;
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    } as AsyncIterable<T>,
  };
}

describe('iterableSource', () => {
  it('reads an array in batches; offsets are item indexes; null at the end', async () => {
    const source = iterableSource(['a', 'b', 'c', 'd', 'e'], { eventTime: (_v, offset) => offset * 10, key: (v) => v.toUpperCase(), batchSize: 2 });
    const context = testSourceContext();
    await source.open(context);
    expect(context.assignedCalls).toEqual([['iterable']]);
    expect(source.partitions()).toEqual(['iterable']);
    const first = await source.poll(1000, signal());
    expect(first!.map((r) => [r.value, r.key, r.eventTime, r.position])).toEqual([
      ['a', 'A', 0, { partition: 'iterable', offset: 0 }],
      ['b', 'B', 10, { partition: 'iterable', offset: 1 }],
    ]);
    expect((await source.poll(1, signal()))!.map((r) => r.value)).toEqual(['c']);
    expect((await drain(source)).map((r) => r.position.offset)).toEqual([3, 4]);
    expect(await source.poll(10, signal())).toBeNull();
  });

  it('defaults event time to the context clock and uses the configured partition', async () => {
    const clock = manualClock(5_000);
    const source = iterableSource(new Set([1, 2]), { partition: 'numbers' });
    await source.open(testSourceContext({ clock }));
    const batch = await source.poll(10, signal());
    expect(batch!.map((r) => [r.eventTime, r.key, r.position.partition])).toEqual([
      [5_000, null, 'numbers'],
      [5_000, null, 'numbers'],
    ]);
  });

  it('reads a sync generator lazily, never pulling more than a batch', async () => {
    let pulled = 0;
    function* numbers() {
      for (let i = 0; i < 10; i++) {
        pulled++;
        yield i;
      }
    }
    const source = iterableSource(numbers(), { eventTime: (v) => v, batchSize: 3 });
    await source.open(testSourceContext());
    expect(pulled).toBe(0);
    expect((await source.poll(1000, signal()))!.map((r) => r.value)).toEqual([0, 1, 2]);
    expect(pulled).toBe(3);
    expect((await drain(source)).map((r) => r.value)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it('resumes a re-creatable input at the position context.assigned returns, skipping earlier items', async () => {
    let created = 0;
    const factory = function* () {
      created++;
      yield* ['a', 'b', 'c', 'd'];
    };
    const source = iterableSource(factory, { eventTime: () => 0 });
    expect(source.replayable).toBe(true);
    await source.open(testSourceContext({ resumeAt: { iterable: 2 } }));
    expect((await drain(source)).map((r) => [r.value, r.position.offset])).toEqual([
      ['c', 2],
      ['d', 3],
    ]);

    const array = iterableSource([1, 2, 3], { eventTime: () => 0 });
    await array.open(testSourceContext({ resumeAt: { iterable: 1 } }));
    expect((await drain(array)).map((r) => r.value)).toEqual([2, 3]);
    expect(created).toBe(1);
  });

  it('resuming past the end of the input finds nothing left', async () => {
    const generated = iterableSource(function* () {
      yield* [1, 2];
    });
    await generated.open(testSourceContext({ resumeAt: { iterable: 5 } }));
    expect(await generated.poll(10, signal())).toBeNull();
    async function* two() {
      for (const item of [1, 2]) yield await Promise.resolve(item);
    }
    const asynchronous = iterableSource(() => two());
    await asynchronous.open(testSourceContext({ resumeAt: { iterable: 3 } }));
    expect(await asynchronous.poll(10, signal())).toBeNull();
    const array = iterableSource([1, 2]);
    await array.open(testSourceContext({ resumeAt: { iterable: 9 } }));
    expect(await array.poll(10, signal())).toBeNull();
  });

  it('commit() records the position; reopening resumes from it (crash and restart)', async () => {
    const source = iterableSource(() => [10, 11, 12, 13], { eventTime: () => 0 });
    await source.open(testSourceContext());
    await source.poll(3, signal());
    expect(source.committed).toEqual({});
    await source.commit({ iterable: 2, other: 99 });
    expect(source.committed).toEqual({ iterable: 2 });
    // crash: offset 2 was polled but not committed; a new session re-reads from 2
    const context = testSourceContext();
    await source.open(context);
    expect(context.assignedCommitted).toEqual([{ iterable: 2 }]);
    expect((await drain(source)).map((r) => r.value)).toEqual([12, 13]);
  });

  it('a one-shot iterator cannot resume: clear error at open', async () => {
    function* once() {
      yield 1;
      yield 2;
    }
    const resumed = iterableSource(once(), { eventTime: () => 0 });
    expect(resumed.replayable).toBe(false);
    const error = await resumed.open(testSourceContext({ resumeAt: { iterable: 1 } })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: 'SOURCE_NOT_REPLAYABLE', message: expect.stringMatching(/offset 1.*function that creates the iterable/) });

    // Starting over after it was consumed would silently skip records: refused too.
    const consumed = iterableSource(once(), { eventTime: () => 0 });
    await consumed.open(testSourceContext());
    await consumed.poll(1, signal());
    await expect(consumed.open(testSourceContext())).rejects.toMatchObject({ code: 'SOURCE_NOT_REPLAYABLE' });
  });

  it('an eventTime that throws fails the next poll, after the records before it were delivered', async () => {
    const source = iterableSource([1, 2, 3], {
      eventTime: (v) => {
        if (v === 3) throw new Error('no time for 3');
        return v;
      },
    });
    await source.open(testSourceContext());
    expect((await source.poll(10, signal()))!.map((r) => r.value)).toEqual([1, 2]);
    const error = await source.poll(10, signal()).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'SOURCE_FAILED', message: expect.stringContaining('iterable@2: no time for 3') });

    const nan = iterableSource([1], { eventTime: () => Number.NaN });
    await nan.open(testSourceContext());
    await expect(nan.poll(10, signal())).rejects.toThrow(/finite number/);
  });

  describe('async iterables', () => {
    it('waits on the context clock for the first item, then returns what arrived', async () => {
      const clock = manualClock();
      const feed = channel<string>();
      const source = iterableSource(feed.iterable, { eventTime: () => 1, pollIntervalMs: 50 });
      await source.open(testSourceContext({ clock }));

      const idle = source.poll(10, signal());
      expect(await settledSoon(idle)).toBe(false);
      clock.advance(50);
      expect(await idle).toEqual([]);

      const immediate = source.poll(10, signal());
      clock.advance(50); // the timer is set within the poll() call
      expect(await immediate).toEqual([]);

      const woken = source.poll(10, signal());
      expect(await settledSoon(woken)).toBe(false);
      feed.push('x');
      expect((await woken)!.map((r) => [r.value, r.position.offset])).toEqual([['x', 0]]);
      expect(clock.pendingTimers).toBe(0);

      feed.push('y', 'z');
      feed.end();
      expect((await drain(source)).map((r) => [r.value, r.position.offset])).toEqual([
        ['y', 1],
        ['z', 2],
      ]);
    });

    it('prefetches at most batchSize items between polls, and takes what is buffered without waiting', async () => {
      const feed = channel<number>();
      feed.push(...Array.from({ length: 20 }, (_, i) => i));
      const source = iterableSource(feed.iterable, { eventTime: () => 0, batchSize: 4 });
      await source.open(testSourceContext());
      const first = await source.poll(1000, signal());
      expect(first!.length).toBeGreaterThanOrEqual(1);
      await new Promise((resolve) => setTimeout(resolve, 10)); // let the prefetch run
      // Read ahead, but bounded: 4 in the buffer plus the one pending next() at most.
      expect(feed.pulled - first!.length).toBeLessThanOrEqual(5);
      const second = await source.poll(1000, signal());
      expect(second).toHaveLength(4);
      expect(second!.map((r) => r.position.offset)).toEqual([0, 1, 2, 3].map((i) => i + first!.length));
    });

    it('pause() stops the prefetch; resume() restarts it', async () => {
      const clock = manualClock();
      const feed = channel<number>();
      const source = iterableSource(feed.iterable, { eventTime: () => 0, batchSize: 100 });
      await source.open(testSourceContext({ clock }));
      source.pause();
      expect(source.paused).toBe(true);
      feed.push(1, 2, 3);
      const whilePaused = source.poll(10, signal());
      expect(await settledSoon(whilePaused)).toBe(false);
      clock.advance(100);
      expect(await whilePaused).toEqual([]);
      expect(feed.pulled).toBe(0);
      source.resume();
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect((await source.poll(10, signal()))!.map((r) => r.value)).toEqual([1, 2, 3]);
    });

    it('resumes a factory of async iterables by skipping to the offset', async () => {
      async function* letters() {
        for (const letter of ['a', 'b', 'c']) yield await Promise.resolve(letter);
      }
      const source = iterableSource(() => letters(), { eventTime: () => 0, pollIntervalMs: 10 });
      await source.open(testSourceContext({ clock: manualClock(), resumeAt: { iterable: 2 } }));
      expect((await drain(source)).map((r) => [r.value, r.position.offset])).toEqual([['c', 2]]);
    });

    it('a failing async iterable fails the poll with the offset, after buffered records', async () => {
      async function* broken() {
        yield 1;
        await Promise.resolve();
        throw new Error('cursor lost');
      }
      const source = iterableSource(broken(), { eventTime: () => 0 });
      await source.open(testSourceContext({ clock: manualClock() }));
      const delivered: number[] = [];
      let failure: unknown;
      for (let i = 0; i < 5 && failure === undefined; i++) {
        try {
          const batch = await source.poll(10, signal());
          delivered.push(...(batch ?? []).map((r) => r.value));
        } catch (error) {
          failure = error;
        }
      }
      expect(delivered).toEqual([1]);
      expect(failure).toMatchObject({ code: 'SOURCE_FAILED', message: expect.stringContaining('iterable@1: cursor lost') });
    });

    it('close() releases the iterator and ends a waiting poll', async () => {
      const clock = manualClock();
      const feed = channel<number>();
      const source = iterableSource(feed.iterable, { eventTime: () => 0 });
      await source.open(testSourceContext({ clock }));
      const waiting = source.poll(10, signal());
      await new Promise((resolve) => setTimeout(resolve, 5));
      await source.close();
      expect(await waiting).toEqual([]);
      expect(feed.returned).toBe(true);
      expect(source.partitions()).toEqual([]);
      await expect(source.poll(10, signal())).rejects.toMatchObject({ code: 'SOURCE_NOT_OPEN' });
    });
  });

  it('a factory returning something that is not iterable fails at open', async () => {
    const source = iterableSource((() => 42) as never);
    await expect(source.open(testSourceContext())).rejects.toMatchObject({ code: 'INVALID_SOURCE_INPUT' });
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => iterableSource([1], { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => iterableSource([1], { partition: '' })).toThrow(/partition/);
    expect(() => iterableSource([1], { eventTime: 'ts' as never })).toThrow(/eventTime: must be a function/);
    expect(() => iterableSource([1], { key: 1 as never })).toThrow(/key: must be a function/);
    expect(() => iterableSource([1], { pollIntervalMs: Number.POSITIVE_INFINITY })).toThrow(/pollIntervalMs/);
    expect(() => iterableSource([1], { start: 3 } as never)).toThrow(InvalidOptionsError);
    expect(() => iterableSource(42 as never)).toThrow(/input: must be an iterable/);
  });
});
