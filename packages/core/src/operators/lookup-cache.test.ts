import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import { LookupCache } from './lookup-cache.js';

/** A clock that only moves when told to. Timers are not needed by the cache. */
const manualClock = (start = 1_000): Clock & { time: number } => ({
  time: start,
  now() {
    return this.time;
  },
  setTimer: () => () => undefined,
});

describe('LookupCache', () => {
  it('returns stored values and tells a cached miss from an unknown key', () => {
    const cache = new LookupCache<number>({ clock: manualClock() });
    cache.set('one', 1);
    cache.set('absent', undefined);
    expect(cache.get('one')).toMatchObject({ value: 1 });
    expect(cache.get('absent')).toMatchObject({ value: undefined });
    expect(cache.get('never-seen')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('serves an entry until ttlMs of processing time passed since it was written, then forgets it', () => {
    const clock = manualClock();
    const cache = new LookupCache<string>({ ttlMs: 100, clock });
    cache.set('k', 'v');
    clock.time += 99;
    expect(cache.get('k')?.value).toBe('v');
    clock.time += 1;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('counts the TTL from the latest write, not from reads', () => {
    const clock = manualClock();
    const cache = new LookupCache<string>({ ttlMs: 100, clock });
    cache.set('k', 'old');
    clock.time += 60;
    expect(cache.get('k')?.value).toBe('old');
    clock.time += 60; // 120 ms after the write: reading it earlier did not extend its life
    expect(cache.get('k')).toBeUndefined();
    cache.set('k', 'new');
    clock.time += 99;
    expect(cache.get('k')?.value).toBe('new');
  });

  it('judges freshness by an explicit `now` when given', () => {
    const clock = manualClock(0);
    const cache = new LookupCache<string>({ ttlMs: 10, clock });
    cache.set('k', 'v', 500);
    expect(cache.get('k', 509)?.value).toBe('v');
    expect(cache.get('k', 510)).toBeUndefined();
  });

  it('evicts the least recently used entry when maxEntries is exceeded', () => {
    const cache = new LookupCache<string>({ maxEntries: 3, clock: manualClock() });
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    expect(cache.get('a')?.value).toBe('A'); // a becomes the most recently used; b is now the oldest
    cache.set('d', 'D');
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((key) => cache.get(key)?.value)).toEqual(['A', 'C', 'D']);
  });

  it('rewriting a held key neither grows the cache nor evicts another entry', () => {
    const cache = new LookupCache<number>({ maxEntries: 2, clock: manualClock() });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('b')?.value).toBe(2);
    expect(cache.get('a')?.value).toBe(3);
  });

  it('deletes and clears', () => {
    const cache = new LookupCache<number>({ clock: manualClock() });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    expect(cache.get('a')).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('works on the system clock by default', () => {
    const cache = new LookupCache<number>();
    cache.set('a', 1);
    expect(cache.get('a')?.value).toBe(1);
    expect(cache.ttlMs).toBe(60_000);
    expect(cache.maxEntries).toBe(10_000);
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => new LookupCache({ ttlMs: 0 })).toThrow(/ttlMs/);
    expect(() => new LookupCache({ maxEntries: 1.5 })).toThrow(/maxEntries/);
    expect(() => new LookupCache({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new LookupCache({ clock: {} as never })).toThrow(/clock/);
    expect(() => new LookupCache({ ttl: 5 } as never)).toThrow(/ttl/);
    expect(() => new LookupCache({ ttlMs: -1 })).toThrow(InvalidOptionsError);
  });
});
