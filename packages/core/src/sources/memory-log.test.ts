import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { manualClock } from '../internal/test-source-context.js';
import { MemoryLog } from './memory-log.js';

describe('MemoryLog', () => {
  it('creates numbered or named partitions up front, and new ones on first append', () => {
    expect(new MemoryLog({ name: 'orders', partitions: 3 }).partitions()).toEqual(['orders:0', 'orders:1', 'orders:2']);
    const log = new MemoryLog<number>({ partitions: ['a', 'b'] });
    log.append('c', { value: 1, eventTime: 0 });
    expect(log.partitions()).toEqual(['a', 'b', 'c']);
    expect(new MemoryLog().partitions()).toEqual([]);
  });

  it('appends at consecutive offsets per partition, with key, event time and headers', () => {
    const log = new MemoryLog<string>({ name: 't' });
    const first = log.append(0, [
      { value: 'a', eventTime: 10, key: 'k1' },
      { value: 'b', eventTime: 20, headers: { h: 'x' } },
    ]);
    log.append('t:1', { value: 'z', eventTime: 5 });
    const second = log.append(0, { value: 'c', eventTime: 30 });
    expect(first.map((r) => r.position)).toEqual([
      { partition: 't:0', offset: 0 },
      { partition: 't:0', offset: 1 },
    ]);
    expect(second[0]!.position).toEqual({ partition: 't:0', offset: 2 });
    expect(log.records('t:0').map((r) => [r.value, r.key, r.eventTime, r.headers])).toEqual([
      ['a', 'k1', 10, {}],
      ['b', null, 20, { h: 'x' }],
      ['c', null, 30, {}],
    ]);
    expect(log.records(1).map((r) => r.position)).toEqual([{ partition: 't:1', offset: 0 }]);
    expect(log.endOffset(0)).toBe(3);
    expect(log.endOffset('unknown')).toBe(0);
  });

  it('stamps entries without an event time with the log clock, like a producer timestamp', () => {
    const clock = manualClock(1_000);
    const log = new MemoryLog<number>({ clock });
    log.append(0, { value: 1 });
    clock.advance(500);
    log.appendValues(0, [2, 3]);
    expect(log.records(0).map((r) => r.eventTime)).toEqual([1_000, 1_500, 1_500]);
  });

  it('appendValues derives event time and key', () => {
    const log = new MemoryLog<{ id: string; at: number }>();
    log.appendValues('p', [{ id: 'x', at: 7 }, { id: 'y', at: 9 }], { eventTime: (v) => v.at, key: (v) => v.id });
    expect(log.records('p').map((r) => [r.key, r.eventTime, r.position.offset])).toEqual([
      ['x', 7, 0],
      ['y', 9, 1],
    ]);
  });

  it('reads slices from an offset', () => {
    const log = new MemoryLog<number>();
    log.appendValues('p', [0, 1, 2, 3, 4], { eventTime: (v) => v });
    expect(log.read('p', 1, 2).map((r) => r.value)).toEqual([1, 2]);
    expect(log.read('p', 4, 10).map((r) => r.value)).toEqual([4]);
    expect(log.read('p', 5, 10)).toEqual([]);
    expect(log.read('nope', 0, 10)).toEqual([]);
  });

  it('rejects a bad entry without storing any of the batch', () => {
    const log = new MemoryLog<number>();
    expect(() => log.append('p', [{ value: 1, eventTime: 1 }, { value: 2, eventTime: Number.NaN }])).toThrow(/entries\.1\.eventTime/);
    expect(() => log.append('p', { value: 1, eventTime: 1, key: 5 as never })).toThrow(/entries\.0\.key/);
    expect(log.partitions()).toEqual([]);
    expect(log.endOffset('p')).toBe(0);
  });

  it('keeps committed positions per consumer group, merged per partition', () => {
    const log = new MemoryLog<number>();
    expect(log.committed('g')).toEqual({});
    log.commit('g', { a: 3, b: 1 });
    log.commit('g', { b: 2 });
    log.commit('other', { a: 9 });
    expect(log.committed('g')).toEqual({ a: 3, b: 2 });
    expect(log.committed('other')).toEqual({ a: 9 });
    expect(log.committed()).toEqual({});
    expect(() => log.commit('g', { a: -1 })).toThrow(InvalidOptionsError);
    expect(() => log.commit('g', { a: 1.5 })).toThrow(/a: offset must be a non-negative integer/);
  });

  it('end() makes it bounded: further appends fail', () => {
    const log = new MemoryLog<number>();
    log.append('p', { value: 1, eventTime: 0 });
    expect(log.ended).toBe(false);
    log.end();
    expect(log.ended).toBe(true);
    const error = (() => {
      try {
        log.append('p', { value: 2, eventTime: 0 });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: 'MEMORY_LOG_ENDED' });
  });

  it('notifies watchers on append and end until unwatched', () => {
    const log = new MemoryLog<number>();
    let calls = 0;
    const unwatch = log.watch(() => calls++);
    log.append('p', { value: 1, eventTime: 0 });
    unwatch();
    log.append('p', { value: 2, eventTime: 0 });
    expect(calls).toBe(1);
    log.watch(() => calls++);
    log.end();
    expect(calls).toBe(2);
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => new MemoryLog({ partitions: 0 })).toThrow(/partitions/);
    expect(() => new MemoryLog({ partitions: ['a', 'a'] })).toThrow(/partitions: must not repeat/);
    expect(() => new MemoryLog({ name: '' })).toThrow(/name/);
    expect(() => new MemoryLog({ clock: {} as never })).toThrow(/clock: must be a Clock/);
    expect(() => new MemoryLog({ partitionCount: 2 } as never)).toThrow(InvalidOptionsError);
    expect(() => new MemoryLog<number>().append(-1, [])).toThrow(/partition: must be a non-negative integer/);
  });
});
