import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import { stateStoreContract } from '../testing/state-store-contract.js';
import { MemoryStateStore } from './memory-state-store.js';

/** A processing-time clock that only moves when told to. */
function virtualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimer: () => () => undefined,
    advance(ms: number) {
      now += ms;
    },
  };
}

async function scanAll(store: MemoryStateStore, scope: string, prefix?: string): Promise<[string, unknown][]> {
  const entries: [string, unknown][] = [];
  for await (const [key, value] of store.scan(scope, prefix)) entries.push([key, value]);
  return entries;
}

describe('MemoryStateStore', () => {
  describe('contract (virtual clock)', () => {
    for (const c of stateStoreContract(() => {
      const clock = virtualClock();
      const store = new MemoryStateStore({ clock });
      return Promise.resolve({ store, clock, cleanup: () => store.close() });
    })) {
      it(c.name, c.run);
    }
  });

  describe('contract (system clock, real TTL)', () => {
    const ttlCase = stateStoreContract(() => Promise.resolve({ store: new MemoryStateStore() }), { realTtlMs: 60 }).find((c) =>
      c.name.includes('ttlMs'),
    )!;
    it(ttlCase.name, ttlCase.run);
  });

  it('survives a runtime restart when the same instance is reused: snapshots live in the store object', async () => {
    const store = new MemoryStateStore();
    await store.apply('dedupe-1/orders:0', [{ op: 'put', key: 'order-1', value: 100 }]);
    await store.snapshot('dedupe-1/orders:0', 7);
    await store.put('dedupe-1/orders:0', 'order-2', 200); // written after the checkpoint: must not survive
    await store.close(); // what a runtime may do on stop
    expect(await store.restore('dedupe-1/orders:0', 7)).toBe(true);
    expect(await scanAll(store, 'dedupe-1/orders:0')).toEqual([['order-1', 100]]);
    expect(await new MemoryStateStore().restore('dedupe-1/orders:0', 7)).toBe(false); // a new instance starts empty
  });

  it('a snapshot of an empty scope exists: restoring it returns true and yields an empty scope', async () => {
    const store = new MemoryStateStore();
    await store.snapshot('s', 1);
    await store.put('s', 'k', 1);
    expect(await store.restore('s', 1)).toBe(true);
    expect(await scanAll(store, 's')).toEqual([]);
    expect(await store.scopes()).toEqual(['s']);
  });

  it('restored entries keep their original expiry time', async () => {
    const clock = virtualClock();
    const store = new MemoryStateStore({ clock });
    await store.put('s', 'k', 1, { ttlMs: 1000 });
    await store.snapshot('s', 1);
    clock.advance(1000);
    expect(await store.restore('s', 1)).toBe(true);
    expect(await store.get('s', 'k')).toBeUndefined();
  });

  it('expired entries do not keep a scope listed', async () => {
    const clock = virtualClock();
    const store = new MemoryStateStore({ clock });
    await store.put('s', 'k', 1, { ttlMs: 10 });
    expect(await store.scopes()).toEqual(['s']);
    clock.advance(10);
    expect(await store.scopes()).toEqual([]);
  });

  it('scan iterates over a copy taken when it started', async () => {
    const store = new MemoryStateStore();
    await store.put('s', 'a', 1);
    await store.put('s', 'b', 2);
    const seen: string[] = [];
    for await (const [key] of store.scan('s')) {
      seen.push(key);
      if (key === 'a') {
        await store.delete('s', 'b');
        await store.put('s', 'aa', 3);
      }
    }
    expect(seen).toEqual(['a', 'b']);
    expect(await scanAll(store, 's')).toEqual([
      ['a', 1],
      ['aa', 3],
    ]);
  });

  it('rejects values JSON cannot represent, naming the key and the offending part', async () => {
    const store = new MemoryStateStore();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    const bad: [unknown, RegExp][] = [
      [undefined, /value is undefined/],
      [{ at: new Date(0) }, /value\.at is a Date/],
      [{ seen: new Map() }, /value\.seen is a Map/],
      [[1, new Set([1])], /value\[1\] is a Set/],
      [{ n: Number.NaN }, /value\.n is NaN/],
      [{ n: Infinity }, /Infinity/],
      [BigInt(1), /bigint/],
      [() => 1, /function/],
      [{ nested: { missing: undefined } }, /value\.nested\.missing is undefined/],
      [cyclic, /cycle/],
      [new Array(2), /hole/],
      [Symbol('x'), /symbol/],
    ];
    for (const [value, message] of bad) {
      const error = await store.put('s', 'order-1', value).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(error, `put of ${String(message)}`).toBeInstanceOf(TributaryError);
      expect((error as TributaryError).code).toBe('STATE_VALUE_NOT_JSON');
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('"order-1"');
    }
    expect(await store.scopes()).toEqual([]);
    // Objects without a prototype are plain enough.
    await store.put('s', 'bare', Object.assign(Object.create(null) as object, { a: 1 }));
    expect(await store.get('s', 'bare')).toEqual({ a: 1 });
  });

  it('apply refuses a batch with an invalid change without applying any of it', async () => {
    const store = new MemoryStateStore();
    await store.put('s', 'a', 1);
    const batches: unknown[] = [
      [{ op: 'put', key: 'a', value: 2 }, { op: 'upsert', key: 'b', value: 1 }],
      [{ op: 'put', key: 'a', value: 2 }, { op: 'put', key: 7, value: 1 }],
      [{ op: 'delete', key: 'a' }, { op: 'put', key: 'b', value: 1, ttlMs: -5 }],
      [{ op: 'delete', key: 'a' }, null],
      'not an array',
    ];
    for (const batch of batches) {
      await expect(store.apply('s', batch as never), JSON.stringify(batch)).rejects.toBeInstanceOf(Error);
      expect(await scanAll(store, 's')).toEqual([['a', 1]]);
    }
  });

  it('rejects a non-positive or non-finite ttlMs', async () => {
    const store = new MemoryStateStore();
    for (const ttlMs of [0, -1, Number.NaN, Infinity]) {
      await expect(store.put('s', 'k', 1, { ttlMs })).rejects.toThrow(/ttlMs/);
    }
  });

  it('TTL expiry follows the injected clock: an entry is gone exactly ttlMs after its write', async () => {
    const clock = virtualClock();
    const store = new MemoryStateStore({ clock });
    await store.put('s', 'k', 'v', { ttlMs: 100 });
    clock.advance(99);
    expect(await store.get('s', 'k')).toBe('v');
    clock.advance(1);
    expect(await store.get('s', 'k')).toBeUndefined();
  });

  it('has a name, defaulting to memory', () => {
    expect(new MemoryStateStore().name).toBe('memory');
    expect(new MemoryStateStore({ name: 'local' }).name).toBe('local');
  });

  it('rejects invalid options at construction, naming the field', () => {
    expect(() => new MemoryStateStore({ name: '' })).toThrow(InvalidOptionsError);
    expect(() => new MemoryStateStore({ name: '' })).toThrow(/name: must be a non-empty string/);
    expect(() => new MemoryStateStore({ clock: { now: () => 1 } as never })).toThrow(/clock: must be a Clock/);
    expect(() => new MemoryStateStore({ ttl: 5 } as never)).toThrow(/ttl/);
  });
});
