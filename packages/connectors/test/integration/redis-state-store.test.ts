/**
 * RedisStateStore against the real Redis: core's state-store contract (with a virtual clock and with real time),
 * then what the contract cannot see — the key layout, persistence across instances, scope names with the characters
 * the layout escapes, expired-entry cleanup, and paged scans.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRuntime, dedupe, defineTopology, memorySink, memorySource, MemoryLog, toSink } from '@tributary/core';
import { stateStoreContract, VirtualClock } from '@tributary/core/testing';
import { RedisStateStore } from '@tributary/connectors/redis';
import { connectAdmin, deleteUnder, keysUnder, prefixesFor, redisUrl } from './redis-test-support.js';

let admin: Redis;
const prefixes = prefixesFor('state');

beforeAll(async () => {
  admin = await connectAdmin();
});

afterAll(async () => {
  if (admin === undefined) return;
  await deleteUnder(admin, prefixes.root);
  admin.disconnect();
});

function newStore(options: { clock?: VirtualClock; scanPageSize?: number; keyPrefix?: string } = {}): { store: RedisStateStore; prefix: string } {
  const prefix = options.keyPrefix ?? prefixes.next('store');
  const store = new RedisStateStore({
    url: redisUrl,
    keyPrefix: prefix,
    name: 'redis-under-test',
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.scanPageSize === undefined ? {} : { scanPageSize: options.scanPageSize }),
  });
  return { store, prefix };
}

describe('RedisStateStore: the state-store contract, TTL in virtual time', () => {
  for (const contractCase of stateStoreContract(() => {
    const clock = new VirtualClock(1_700_000_000_000);
    const { store } = newStore({ clock });
    return Promise.resolve({
      store,
      clock,
      cleanup: () => store.close(), // the unique prefix keeps cases apart; afterAll deletes every key
    });
  })) {
    it(contractCase.name, contractCase.run);
  }
});

describe('RedisStateStore: the state-store contract, TTL in real time', () => {
  // Only the TTL case differs without a clock; running the whole list again costs well under a second.
  for (const contractCase of stateStoreContract(() => {
    const { store } = newStore();
    return Promise.resolve({
      store,
      cleanup: () => store.close(), // the unique prefix keeps cases apart; afterAll deletes every key
    });
  })) {
    it(contractCase.name, contractCase.run);
  }
});

describe('RedisStateStore: beyond the contract', () => {
  it('keeps a documented key layout, and leaves no key behind once a scope holds nothing', async () => {
    const { store, prefix } = newStore();
    try {
      await store.put('dedupe/orders:0', 'a', 1);
      await store.put('dedupe/orders:0', 'b', 2, { ttlMs: 60_000 });
      await store.snapshot('dedupe/orders:0', 7);
      expect(await keysUnder(admin, prefix)).toEqual(
        [
          `${prefix}scopes`,
          `${prefix}{dedupe/orders:0}:k`,
          `${prefix}{dedupe/orders:0}:v`,
          `${prefix}{dedupe/orders:0}:x`,
          `${prefix}{dedupe/orders:0}:snapshots`,
          `${prefix}{dedupe/orders:0}:snapshot:7:k`,
          `${prefix}{dedupe/orders:0}:snapshot:7:v`,
          `${prefix}{dedupe/orders:0}:snapshot:7:x`,
        ].sort(),
      );
      expect(await admin.hgetall(`${prefix}{dedupe/orders:0}:v`)).toEqual({ a: '1', b: '2' });
      await store.apply('dedupe/orders:0', [
        { op: 'delete', key: 'a' },
        { op: 'delete', key: 'b' },
      ]);
      await store.discardSnapshotsBefore('dedupe/orders:0', 8);
      expect(await store.scopes()).toEqual([]);
      expect(await keysUnder(admin, prefix)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('survives the process: a new instance on the same prefix reads entries and restores snapshots', async () => {
    const first = newStore();
    await first.store.put('window/orders:1', 'w:1000', { count: 3 });
    await first.store.snapshot('window/orders:1', 4);
    await first.store.put('window/orders:1', 'w:1000', { count: 9 });
    await first.store.close();
    const { store: second } = newStore({ keyPrefix: first.prefix });
    try {
      expect(await second.get('window/orders:1', 'w:1000')).toEqual({ count: 9 });
      expect(await second.restore('window/orders:1', 4)).toBe(true);
      expect(await second.get('window/orders:1', 'w:1000')).toEqual({ count: 3 });
      expect(await second.scopes()).toEqual(['window/orders:1']);
    } finally {
      await second.close();
    }
  });

  it('keeps scopes apart whose names contain the characters the key layout escapes', async () => {
    const { store } = newStore();
    const scopes = ['a{b}', 'a%7Bb%7D', 'a}:v', 'a', '%', '{', '}', 'ä/日本/🚀'];
    try {
      for (const [index, scope] of scopes.entries()) await store.put(scope, 'k', index);
      for (const [index, scope] of scopes.entries()) expect(await store.get(scope, 'k')).toBe(index);
      for (const [index, scope] of scopes.entries()) expect(await collect(store.scan(scope))).toEqual([['k', index]]);
      expect(await store.scopes()).toEqual([...scopes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      await store.snapshot('a{b}', 1);
      await store.put('a{b}', 'k', 'changed');
      expect(await store.restore('a{b}', 1)).toBe(true);
      expect(await store.get('a{b}', 'k')).toBe(0);
      expect(await store.get('a%7Bb%7D', 'k')).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('scans page by page in key order, skipping expired entries that straddle page boundaries', async () => {
    const clock = new VirtualClock(1_000_000);
    const { store } = newStore({ clock, scanPageSize: 3 });
    const scope = 'step/p:0';
    try {
      const keys = Array.from({ length: 20 }, (_, index) => `key:${String(index).padStart(2, '0')}`);
      await store.apply(
        scope,
        keys.map((key, index) => ({ op: 'put' as const, key, value: index, ...(index % 3 === 1 ? { ttlMs: 100 } : {}) })),
      );
      await store.put(scope, 'other:1', 'x');
      await store.put(scope, 'ключ', 'unicode');
      expect((await collect(store.scan(scope, 'key:'))).map(([key]) => key)).toEqual(keys);
      clock.advance(100);
      const live = keys.filter((_, index) => index % 3 !== 1);
      expect(await collect(store.scan(scope, 'key:'))).toEqual(live.map((key) => [key, keys.indexOf(key)]));
      expect((await collect(store.scan(scope))).map(([key]) => key)).toEqual([...live, 'other:1', 'ключ']);
      expect(await collect(store.scan(scope, 'к'))).toEqual([['ключ', 'unicode']]);
    } finally {
      await store.close();
    }
  });

  it('deletes expired entries for real: purgeExpired() and writes clean up, not only reads hiding them', async () => {
    const clock = new VirtualClock(5_000);
    const { store, prefix } = newStore({ clock });
    const values = `${prefix}{s}:v`;
    try {
      await store.apply('s', Array.from({ length: 10 }, (_, index) => ({ op: 'put' as const, key: `k${index}`, value: index, ttlMs: 1_000 })));
      await store.put('s', 'kept', true);
      await store.put('gone-entirely', 'only', 1, { ttlMs: 1_000 });
      clock.advance(1_000);
      expect(await admin.hlen(values)).toBe(11);
      expect(await store.get('s', 'k1')).toBeUndefined();
      expect(await admin.hlen(values)).toBe(11); // reads only hide
      expect(await store.purgeExpired()).toBe(11);
      expect(await admin.hlen(values)).toBe(1);
      expect(await store.scopes()).toEqual(['s']);
      await store.put('s', 'short', 1, { ttlMs: 10 });
      clock.advance(10);
      await store.put('s', 'next', 2); // a write purges what expired in its scope
      expect(await admin.hkeys(values)).toEqual(expect.arrayContaining(['kept', 'next']));
      expect(await admin.hexists(values, 'short')).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('rejects what Redis could not give back unchanged, before touching Redis', async () => {
    const { store, prefix } = newStore();
    try {
      await expect(store.put('s', 'k', new Date(0))).rejects.toMatchObject({ code: 'STATE_VALUE_NOT_JSON' });
      await expect(store.put('s', 'k', { n: Number.NaN })).rejects.toMatchObject({ code: 'STATE_VALUE_NOT_JSON' });
      await expect(store.put('s', '\uD800', 1)).rejects.toMatchObject({ code: 'INVALID_STATE_CHANGE' });
      await expect(store.put('\uDC00', 'k', 1)).rejects.toMatchObject({ code: 'INVALID_STATE_CHANGE' });
      await expect(store.put('s', 'k', 1, { ttlMs: 0 })).rejects.toMatchObject({ code: 'INVALID_STATE_CHANGE' });
      await expect(store.snapshot('s', Number.NaN)).rejects.toMatchObject({ code: 'INVALID_STATE_CHANGE' });
      expect(await keysUnder(admin, prefix)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('applies and snapshots a checkpoint of 50 000 changes in one atomic step (more arguments than a call can spread)', async () => {
    const { store } = newStore({ scanPageSize: 5_000 });
    try {
      const changes = Array.from({ length: 50_000 }, (_, index) => ({ op: 'put' as const, key: `k${String(index).padStart(5, '0')}`, value: { index } }));
      await store.apply('big/p:0', changes);
      await store.snapshot('big/p:0', 1);
      await store.apply('big/p:0', [{ op: 'delete', key: 'k00000' }]);
      expect(await store.restore('big/p:0', 1)).toBe(true);
      let count = 0;
      for await (const [key, value] of store.scan('big/p:0')) {
        expect(value).toEqual({ index: count });
        expect(key).toBe(`k${String(count).padStart(5, '0')}`);
        count++;
      }
      expect(count).toBe(50_000);
    } finally {
      await store.close();
    }
  });

  it('fails operations after close with a clear error', async () => {
    const { store } = newStore();
    await store.put('s', 'k', 1);
    await store.close();
    await expect(store.get('s', 'k')).rejects.toMatchObject({ code: 'REDIS_CLOSED', connector: 'redis' });
  });
});

describe('RedisStateStore under a runtime', () => {
  interface Event {
    id: number;
  }

  /** Runs dedupe with the store, crashes after a checkpoint, restarts on a new store instance; returns the ids delivered. */
  async function crashAndRestart(restartPrefix: (firstPrefix: string) => string): Promise<number[]> {
    const log = new MemoryLog<Event>({ name: 'events', partitions: 2 });
    const sink = memorySink<Event>();
    const topology = (stateStore: RedisStateStore) =>
      createRuntime(
        defineTopology({
          name: 'dedupe-redis',
          source: memorySource(log, { group: 'g' }),
          pipeline: (events) => events.pipe(dedupe({ name: 'dedupe', key: (event: Event) => String(event.id), within: { ttlMs: 3_600_000, time: 'processing' } }), toSink(sink)),
        }),
        { stateStore, checkpointIntervalMs: 3_600_000, maxBatch: 20 },
      );
    const append = (ids: number[]) => {
      for (const id of ids) log.append(id % 2, { value: { id }, key: String(id), eventTime: 1_000 + id });
    };
    const first = newStore();
    const run1 = topology(first.store);
    await run1.start();
    append(range(0, 50));
    await waitForRuntime(() => run1.status().recordsPolled === 50 && run1.status().inFlight === 0, 'run 1 to handle 50 records');
    await run1.checkpoint();
    append(range(50, 60)); // polled, deduplicated, then lost with the crash: replayed after the restart
    await waitForRuntime(() => run1.status().recordsPolled === 60 && run1.status().inFlight === 0, 'run 1 to handle 60 records');
    await run1.abort();
    await first.store.close();

    const { store: second } = newStore({ keyPrefix: restartPrefix(first.prefix) });
    const run2 = topology(second);
    append([...range(0, 60), ...range(60, 100)]); // every id from 0 to 59 again, then new ones
    log.end();
    await run2.start();
    await run2.done;
    await second.close();
    return sink.values.map((event) => event.id);
  }

  it('restores dedupe state from Redis after a crash: duplicates across the restart are dropped (scenario 9)', async () => {
    const delivered = await crashAndRestart((prefix) => prefix);
    expect([...delivered].sort((a, b) => a - b)).toEqual(range(0, 100));
  });

  it('control: restarting on an empty store lets the duplicates through (so the test above can fail)', async () => {
    const delivered = await crashAndRestart(() => prefixes.next('state-control'));
    expect(delivered.length).toBeGreaterThan(100);
  });
});

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, index) => from + index);

async function waitForRuntime(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function collect(iterable: AsyncIterable<readonly [string, unknown]>): Promise<[string, unknown][]> {
  const entries: [string, unknown][] = [];
  for await (const [key, value] of iterable) entries.push([key, value]);
  return entries;
}
