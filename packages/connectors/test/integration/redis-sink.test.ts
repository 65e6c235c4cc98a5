/**
 * redisSink against the real Redis: what each option writes (values, hashes, sorted sets, TTLs, deletes), both
 * delivery modes under a runtime that crashes mid-stream and restarts, the fencing of a stale writer, the position
 * compare-and-set, and a lost commit reply that ioredis resends.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRuntime, defineTopology, memorySource, MemoryLog, toSink } from '@tributary/core';
import type { Checkpoint, MemorySource, Runtime, Source, StreamRecord } from '@tributary/core';
import { redisSink } from '@tributary/connectors/redis';
import type { RedisSink } from '@tributary/connectors/redis';
import { connectAdmin, deleteUnder, prefixesFor, keysUnder, redisHost, redisPort, redisUrl, waitFor } from './redis-test-support.js';

let admin: Redis;
const prefixes = prefixesFor('sink');

beforeAll(async () => {
  admin = await connectAdmin();
});

afterAll(async () => {
  if (admin === undefined) return;
  await deleteUnder(admin, prefixes.root);
  admin.disconnect();
});

const newPrefix = (what: string): string => prefixes.next(what);

let offsetCounter = 0;
function record<V>(value: V, options: { key?: string | null; eventTime?: number; partition?: string; offset?: number } = {}): StreamRecord<V> {
  return {
    key: options.key === undefined ? `k${offsetCounter}` : options.key,
    value,
    eventTime: options.eventTime ?? 1_700_000_000_000,
    position: { partition: options.partition ?? 'orders:0', offset: options.offset ?? offsetCounter++ },
    headers: {},
  };
}

const checkpoint = (id: number, positions: Record<string, number>): Checkpoint => ({ id, positions, reason: 'request' });

interface Customer {
  id: string;
  name: string | null;
  country: string;
  address?: { city: string; zip?: string };
  tags?: string[];
  since?: Date;
}

describe('redisSink: what it writes', () => {
  for (const exactlyOnce of [false, true]) {
    const mode = exactlyOnce ? 'exactly-once' : 'at-least-once';

    it(`${mode}: JSON values with TTLs, sorted sets by event time with maxLength, deletes on tombstones`, async () => {
      const prefix = newPrefix('sink-json');
      const sink = redisSink<Customer | null>({
        url: redisUrl,
        keyPrefix: prefix,
        key: (r) => `customer:${r.key}`,
        ttlMs: (r) => (r.value?.country === 'FR' ? 60_000 : undefined),
        sortedSets: [
          { key: (r) => (r.value === null ? 'recent' : `by-country:${r.value.country}`), maxLength: 2, ttlMs: 120_000 },
          { key: () => 'recent', member: (r) => `customer:${r.key}` },
        ],
        exactlyOnce,
      });
      await sink.open();
      try {
        await sink.write([
          record({ id: 'c1', name: 'Ada', country: 'FR' }, { key: 'c1', eventTime: 1_000 }),
          record({ id: 'c2', name: 'Bob', country: 'FR' }, { key: 'c2', eventTime: 2_000 }),
          record({ id: 'c3', name: 'Cy', country: 'FR' }, { key: 'c3', eventTime: 3_000 }),
          record({ id: 'c4', name: null, country: 'DE' }, { key: 'c4', eventTime: 4_000 }),
        ]);
        if (exactlyOnce) expect(await keysUnder(admin, prefix)).toEqual([`${prefix}tributary:offsets:redis`]); // buffered until commit
        await sink.commit(checkpoint(1, { 'orders:0': 100 }));
        expect(JSON.parse((await admin.get(`${prefix}customer:c1`))!)).toEqual({ id: 'c1', name: 'Ada', country: 'FR' });
        expect(JSON.parse((await admin.get(`${prefix}customer:c4`))!)).toEqual({ id: 'c4', name: null, country: 'DE' });
        const frTtl = await admin.pttl(`${prefix}customer:c1`);
        expect(frTtl).toBeGreaterThan(55_000);
        expect(frTtl).toBeLessThanOrEqual(60_000);
        expect(await admin.pttl(`${prefix}customer:c4`)).toBe(-1);
        // maxLength 2 keeps the two latest by event time.
        expect(await admin.zrange(`${prefix}by-country:FR`, '0', '-1', 'WITHSCORES')).toEqual(['customer:c2', '2000', 'customer:c3', '3000']); // the member defaults to the data key
        expect(await admin.pttl(`${prefix}by-country:FR`)).toBeGreaterThan(115_000);
        expect(await admin.zrange(`${prefix}recent`, '0', '-1')).toEqual(['customer:c1', 'customer:c2', 'customer:c3', 'customer:c4']);

        // A tombstone deletes the key and its members; a re-put without a TTL clears the old TTL.
        await sink.write([record(null, { key: 'c1' }), record({ id: 'c2', name: 'Bob', country: 'DE' }, { key: 'c2', eventTime: 5_000 })]);
        await sink.commit(checkpoint(2, { 'orders:0': 102 }));
        expect(await admin.exists(`${prefix}customer:c1`)).toBe(0);
        expect(await admin.zrange(`${prefix}recent`, '0', '-1')).toEqual(['customer:c3', 'customer:c4', 'customer:c2']); // c2 re-scored at 5000
        expect(await admin.pttl(`${prefix}customer:c2`)).toBe(-1);
        if (exactlyOnce) {
          expect(await admin.hgetall(`${prefix}tributary:offsets:redis`)).toMatchObject({ 'offset:orders:0': '102', checkpoint: '2', generation: '1' });
        }
      } finally {
        await sink.close();
      }
    });

    it(`${mode}: hashes of flattened fields, replaced or merged, and an operation function deciding upsert / delete / skip`, async () => {
      const prefix = newPrefix('sink-hash');
      type Change = { op: 'c' | 'u' | 'd' | 'r'; after: Customer | null; before: Customer | null };
      const common = {
        url: redisUrl,
        keyPrefix: prefix,
        format: 'hash' as const,
        key: (r: StreamRecord<Change>) => `customer:${(r.value.after ?? r.value.before)!.id}`,
        value: (r: StreamRecord<Change>) => r.value.after,
        operation: (r: StreamRecord<Change>) => (r.value.op === 'd' ? 'delete' : r.value.op === 'r' ? 'skip' : 'upsert'),
        exactlyOnce,
      };
      const replace = redisSink<Change>({ ...common, name: 'replace' });
      const merge = redisSink<Change>({ ...common, name: 'merge', hashWrite: 'merge', key: (r) => `merged:${(r.value.after ?? r.value.before)!.id}` });
      const full: Customer = { id: 'c1', name: 'Ada', country: 'FR', address: { city: 'Paris', zip: '75001' }, tags: ['vip', 'b2b'], since: new Date(Date.UTC(2020, 0, 2)) };
      const smaller: Customer = { id: 'c1', name: null, country: 'DE', address: { city: 'Berlin' } };
      for (const sink of [replace, merge]) await sink.open();
      try {
        for (const sink of [replace, merge]) {
          await sink.write([
            record<Change>({ op: 'c', after: full, before: null }),
            record<Change>({ op: 'c', after: { id: 'c2', name: 'Bob', country: 'UK' }, before: null }),
            record<Change>({ op: 'r', after: { id: 'c3', name: 'skipped', country: 'UK' }, before: null }),
          ]);
          await sink.commit(checkpoint(1, { 'orders:0': 10 }));
        }
        const flattened = { id: 'c1', name: 'Ada', country: 'FR', 'address.city': 'Paris', 'address.zip': '75001', tags: '["vip","b2b"]', since: '2020-01-02T00:00:00.000Z' };
        expect(await admin.hgetall(`${prefix}customer:c1`)).toEqual(flattened);
        expect(await admin.exists(`${prefix}customer:c3`)).toBe(0);
        for (const sink of [replace, merge]) {
          await sink.write([
            record<Change>({ op: 'u', after: smaller, before: full }),
            record<Change>({ op: 'd', after: null, before: { id: 'c2', name: 'Bob', country: 'UK' } }),
          ]);
          await sink.commit(checkpoint(2, { 'orders:0': 12 }));
        }
        expect(await admin.hgetall(`${prefix}customer:c1`)).toEqual({ id: 'c1', country: 'DE', 'address.city': 'Berlin' });
        // Merged: fields left out (zip, tags, since) keep their value, the null name is deleted.
        const { name: _deleted, ...unchanged } = flattened;
        expect(await admin.hgetall(`${prefix}merged:c1`)).toEqual({ ...unchanged, country: 'DE', 'address.city': 'Berlin' });
        expect(await admin.exists(`${prefix}customer:c2`, `${prefix}merged:c2`)).toBe(0);
      } finally {
        for (const sink of [replace, merge]) await sink.close();
      }
    });
  }

  it('fails a write naming the record when a record has no key, and never puts the value in the message', async () => {
    const sink = redisSink<{ secret: string }>({ url: redisUrl, keyPrefix: newPrefix('sink-nokey') });
    await sink.open();
    try {
      const error = await sink.write([record({ secret: 'card-4242' }, { key: null, partition: 'orders:3', offset: 77 })]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'REDIS_SINK_BAD_RECORD', connector: 'redis', offset: '77' });
      expect((error as Error).message).toContain('orders:3@77');
      expect((error as Error).message).not.toContain('card-4242');
    } finally {
      await sink.close();
    }
  });

  it('at-least-once: a failed command in a pipeline surfaces at commit', async () => {
    const prefix = newPrefix('sink-alos-fail');
    await admin.set(`${prefix}board`, 'not a sorted set');
    const sink = redisSink<number>({ url: redisUrl, keyPrefix: prefix, format: 'none', sortedSets: [{ key: () => 'board', member: (r) => String(r.value) }] });
    await sink.open();
    try {
      await sink.write([record(1)]);
      await expect(sink.commit(checkpoint(1, {}))).rejects.toMatchObject({ code: 'REDIS_SINK_WRITE_FAILED', message: expect.stringContaining('WRONGTYPE') });
    } finally {
      await sink.close();
    }
  });

  it('exactly-once: a key of the wrong type rejects the whole commit before anything is written', async () => {
    const prefix = newPrefix('sink-eos-type');
    await admin.set(`${prefix}board`, 'not a sorted set');
    const sink = redisSink<number>({
      url: redisUrl,
      keyPrefix: prefix,
      key: (r) => `value:${r.value}`,
      sortedSets: [{ key: (r) => (r.value === 2 ? 'board' : 'fine'), member: (r) => String(r.value) }],
      exactlyOnce: true,
    });
    await sink.open();
    try {
      await sink.write([record(1), record(2), record(3)]);
      await expect(sink.commit(checkpoint(1, { 'orders:0': 3 }))).rejects.toMatchObject({ code: 'REDIS_SINK_WRONG_TYPE', retriable: false });
      expect(await keysUnder(admin, prefix)).toEqual([`${prefix}board`, `${prefix}tributary:offsets:redis`]);
      expect(await admin.hget(`${prefix}tributary:offsets:redis`, 'offset:orders:0')).toBeNull();
      expect(await sink.committedPositions!()).toBeUndefined();
    } finally {
      await sink.close();
    }
  });
});

describe('redisSink: exactly-once guards (scenario 10)', () => {
  const counterSink = (prefix: string, options: { fencing?: boolean; url?: string; port?: number; host?: string } = {}) =>
    redisSink<number>({
      url: options.url ?? redisUrl,
      ...(options.port === undefined ? {} : { port: options.port, host: options.host }),
      keyPrefix: prefix,
      name: 'counts',
      key: (r) => `value:${r.value}`,
      commands: (r) => [['HINCRBY', `${prefix}applied`, String(r.value), 1]],
      exactlyOnce: true,
      ...(options.fencing === undefined ? {} : { fencing: options.fencing }),
    });

  it('fences a stale writer: the older generation cannot commit, and writes nothing', async () => {
    const prefix = newPrefix('sink-fence');
    const stale = counterSink(prefix);
    const current = counterSink(prefix);
    await stale.open();
    await stale.write([record(1, { offset: 0 })]);
    await stale.commit(checkpoint(1, { 'orders:0': 1 }));
    await current.open(); // a restarted job (or a failover) takes over
    try {
      expect(await current.committedPositions!()).toEqual({ checkpointId: 1, positions: { 'orders:0': 1 } });
      await stale.write([record(2, { offset: 1 })]);
      const rejected = await stale.commit(checkpoint(2, { 'orders:0': 2 })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(rejected).toMatchObject({ code: 'REDIS_SINK_FENCED', connector: 'redis', retriable: false });
      expect((rejected as Error).message).toMatch(/generation 2 .* holds 1/);
      expect(await admin.hgetall(`${prefix}applied`)).toEqual({ '1': '1' });
      expect(await admin.exists(`${prefix}value:2`)).toBe(0);
      await current.write([record(2, { offset: 1 })]);
      await current.commit(checkpoint(1, { 'orders:0': 2 }));
      expect(await admin.hgetall(`${prefix}applied`)).toEqual({ '1': '1', '2': '1' });
      expect(await admin.hgetall(`${prefix}tributary:offsets:counts`)).toMatchObject({ 'offset:orders:0': '2', generation: '2' });
    } finally {
      await stale.close();
      await current.close();
    }
  });

  it('without fencing, the per-partition compare-and-set still rejects a commit over positions another writer moved', async () => {
    const prefix = newPrefix('sink-cas');
    const first = counterSink(prefix, { fencing: false });
    const second = counterSink(prefix, { fencing: false });
    await first.open();
    await second.open();
    try {
      // Disjoint partitions: both commit.
      await first.write([record(1, { partition: 'orders:0', offset: 0 })]);
      await first.commit(checkpoint(1, { 'orders:0': 1 }));
      await second.write([record(100, { partition: 'orders:1', offset: 0 })]);
      await second.commit(checkpoint(1, { 'orders:1': 1 }));
      // The same partition from a writer that did not see the other's commit: refused, nothing written.
      await second.write([record(2, { partition: 'orders:0', offset: 0 })]);
      await expect(second.commit(checkpoint(2, { 'orders:0': 1 }))).rejects.toMatchObject({
        code: 'REDIS_SINK_POSITION_CONFLICT',
        message: expect.stringContaining('partition orders:0'),
      });
      expect(await admin.hgetall(`${prefix}applied`)).toEqual({ '1': '1', '100': '1' });
      expect(await admin.hgetall(`${prefix}tributary:offsets:counts`)).toMatchObject({ 'offset:orders:0': '1', 'offset:orders:1': '1' });
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('commits a checkpoint of 30 000 records (about half a million script arguments) in one script', async () => {
    const prefix = newPrefix('sink-big');
    const sink = counterSink(prefix);
    await sink.open();
    try {
      const batch = Array.from({ length: 30_000 }, (_, offset) => record(offset, { offset }));
      for (let start = 0; start < batch.length; start += 1_000) await sink.write(batch.slice(start, start + 1_000));
      await sink.commit(checkpoint(1, { 'orders:0': 30_000 }));
      expect(await admin.hlen(`${prefix}applied`)).toBe(30_000);
      expect(await admin.get(`${prefix}value:29999`)).toBe('29999');
      expect(await sink.committedPositions!()).toEqual({ checkpointId: 1, positions: { 'orders:0': 30_000 } });
    } finally {
      await sink.close();
    }
  });

  it('a commit whose reply is lost is resent by ioredis after the reconnect and acknowledged once, not applied twice', async () => {
    const prefix = newPrefix('sink-lost-reply');
    const proxy = await replyDroppingProxy(`${prefix}tributary:offsets:counts`);
    const sink = counterSink(prefix, { url: `redis://${redisHost}:${proxy.port}` });
    try {
      await sink.open();
      await sink.write([record(1, { offset: 0 }), record(2, { offset: 1 })]);
      proxy.armed = true;
      await sink.commit(checkpoint(1, { 'orders:0': 2 }));
      expect(proxy.dropped).toBe(1); // the reply of the first run really was lost, and the connection cut
      expect(await admin.hgetall(`${prefix}applied`)).toEqual({ '1': '1', '2': '1' });
      expect(await sink.committedPositions!()).toEqual({ checkpointId: 1, positions: { 'orders:0': 2 } });
      await sink.write([record(3, { offset: 2 })]);
      await sink.commit(checkpoint(2, { 'orders:0': 3 }));
      expect(await admin.hgetall(`${prefix}applied`)).toEqual({ '1': '1', '2': '1', '3': '1' });
    } finally {
      await sink.close();
      await proxy.close();
    }
  });
});

describe('redisSink under a runtime: crash mid-stream, restart', () => {
  interface Order {
    id: number;
    customer: string;
  }

  /** A memory source whose next commit fails on demand: a crash between the sink's commit and the source's. */
  function crashingSource(inner: MemorySource<Order>): Source<Order> & { failNextCommit: boolean } {
    const source = {
      name: inner.name,
      failNextCommit: false,
      open: (context: Parameters<Source<Order>['open']>[0]) => inner.open(context),
      poll: (maxRecords: number, signal: AbortSignal) => inner.poll(maxRecords, signal),
      commit: (positions: Parameters<Source<Order>['commit']>[0]) => {
        if (!source.failNextCommit) return inner.commit(positions);
        source.failNextCommit = false;
        return Promise.reject(new Error('injected crash between the sink commit and the source commit'));
      },
      partitions: () => inner.partitions(),
      pause: () => inner.pause(),
      resume: () => inner.resume(),
      close: () => inner.close(),
    };
    return source;
  }

  /**
   * Three runs over one log and consumer group, each with a fresh sink (a new process):
   * run 1 commits 100 records, then crashes after the sink committed 100 more but before the source did;
   * run 2 handles 100 new records (plus any replay) and is aborted before a checkpoint;
   * run 3 reads to the end of the log.
   */
  async function threeRuns(exactlyOnce: boolean): Promise<{ prefix: string; log: MemoryLog<Order>; afterRun2Keys: string[] }> {
    const prefix = newPrefix(exactlyOnce ? 'sink-eos-crash' : 'sink-alos-crash');
    const log = new MemoryLog<Order>({ name: 'orders', partitions: 3 });
    const append = (from: number, to: number) => {
      for (let id = from; id < to; id++) log.append(id % 3, { value: { id, customer: `c${id % 7}` }, key: String(id), eventTime: 1_000 * id });
    };
    const newSink = () =>
      redisSink<Order>({
        url: redisUrl,
        keyPrefix: prefix,
        name: 'orders-hot',
        key: (r) => `order:${r.value.id}`,
        sortedSets: [{ key: (r) => `orders-by-customer:${r.value.customer}` }],
        commands: (r) => [['HINCRBY', `${prefix}applied`, String(r.value.id), 1]],
        exactlyOnce,
      });
    const runtimeFor = (source: Source<Order>, sink: RedisSink<Order>): Runtime =>
      createRuntime(defineTopology({ name: 'orders-hot', source, pipeline: (orders) => orders.pipe(toSink(sink)) }), {
        checkpointIntervalMs: 3_600_000,
        maxBatch: 25,
      });
    const caughtUp = (runtime: Runtime) => () => {
      const status = runtime.status();
      return status.inFlight === 0 && log.partitions().every((partition) => status.polled[partition] === log.endOffset(partition));
    };

    const source1 = crashingSource(memorySource(log, { group: 'hot' }));
    const run1 = runtimeFor(source1, newSink());
    await run1.start();
    append(0, 100);
    await waitFor(caughtUp(run1), 'run 1 to handle records 0-99');
    await run1.checkpoint();
    append(100, 200);
    await waitFor(caughtUp(run1), 'run 1 to handle records 100-199');
    source1.failNextCommit = true;
    await expect(run1.checkpoint()).rejects.toThrow('injected crash');
    await expect(run1.done).rejects.toThrow('injected crash');
    expect(log.committed('hot')).toEqual({ 'orders:0': 34, 'orders:1': 33, 'orders:2': 33 });

    const run2 = runtimeFor(memorySource(log, { group: 'hot' }), newSink());
    await run2.start();
    append(200, 300);
    await waitFor(caughtUp(run2), 'run 2 to handle records up to 299');
    await run2.abort();
    const afterRun2Keys = await keysUnder(admin, `${prefix}order:`);

    const run3 = runtimeFor(memorySource(log, { group: 'hot' }), newSink());
    log.end();
    await run3.start();
    await run3.done;
    return { prefix, log, afterRun2Keys };
  }

  const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

  it('exactly-once: every record applied exactly once, and Redis holds the positions the data covers', async () => {
    const { prefix, log, afterRun2Keys } = await threeRuns(true);
    // Run 2 was aborted before a checkpoint: its buffered writes never reached Redis.
    expect(afterRun2Keys).toHaveLength(200);
    const applied = await admin.hgetall(`${prefix}applied`);
    expect(Object.keys(applied).map(Number).sort((a, b) => a - b)).toEqual(ids(0, 300));
    expect(Object.entries(applied).filter(([, count]) => count !== '1')).toEqual([]);
    expect(await keysUnder(admin, `${prefix}order:`)).toHaveLength(300);
    const offsets = await admin.hgetall(`${prefix}tributary:offsets:orders-hot`);
    for (const partition of log.partitions()) expect(offsets[`offset:${partition}`]).toBe(String(log.endOffset(partition)));
    let members = 0;
    for (let customer = 0; customer < 7; customer++) members += await admin.zcard(`${prefix}orders-by-customer:c${customer}`);
    expect(members).toBe(300);
  });

  it('at-least-once: nothing is lost, and the replays show up as duplicates (what exactly-once prevents)', async () => {
    const { prefix, afterRun2Keys } = await threeRuns(false);
    // Run 2's pipelined writes may or may not have reached Redis before the abort (at-least-once promises nothing
    // about uncommitted writes), but run 1's committed ones did.
    expect(afterRun2Keys.length).toBeGreaterThanOrEqual(200);
    const applied = await admin.hgetall(`${prefix}applied`);
    expect(Object.keys(applied).map(Number).sort((a, b) => a - b)).toEqual(ids(0, 300));
    const counts = Object.values(applied).map(Number);
    expect(Math.min(...counts)).toBe(1);
    // Run 1 applied 0-199, run 3 replayed 100-299 from the committed positions; run 2's replays of 100-299 landed in
    // part or in full before its abort. So between 400 and 600 applications, and nothing missing.
    const total = counts.reduce((sum, count) => sum + count, 0);
    expect(total).toBeGreaterThanOrEqual(400);
    expect(total).toBeLessThanOrEqual(600);
    expect(await keysUnder(admin, `${prefix}order:`)).toHaveLength(300);
  });
});

/**
 * A TCP proxy to the real Redis that, once armed, swallows the first reply (other than NOSCRIPT) to a request naming
 * `watchedKey`, and cuts that connection: the command ran, its client never heard.
 */
async function replyDroppingProxy(watchedKey: string): Promise<{ port: number; armed: boolean; dropped: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, armed: false, dropped: 0, close: (): Promise<void> => Promise.resolve() };
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, redisHost);
    sockets.add(client).add(upstream);
    let awaitingWatchedReply = false;
    client.on('data', (data) => {
      if (state.armed && data.includes(watchedKey)) awaitingWatchedReply = true;
      upstream.write(data);
    });
    upstream.on('data', (data) => {
      if (awaitingWatchedReply && !data.toString('latin1').startsWith('-NOSCRIPT')) {
        awaitingWatchedReply = false;
        state.armed = false;
        state.dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(data);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return state;
}
