/**
 * redisLookup against the real Redis: MGET of JSON / plain strings, pipelined HGETALL of hashes, the cache, bad
 * values, cancellation, and the lookup driving core's enrich operator inside a runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { createRuntime, defineTopology, enrich, memorySink, memorySource, toSink } from '@tributary/core';
import type { DeadLetter } from '@tributary/core';
import { VirtualClock } from '@tributary/core/testing';
import { redisLookup } from '@tributary/connectors/redis';
import { connectAdmin, deleteUnder, prefixesFor, redisUrl } from './redis-test-support.js';

let admin: Redis;
const prefixes = prefixesFor('lookup');

beforeAll(async () => {
  admin = await connectAdmin();
});

afterAll(async () => {
  if (admin === undefined) return;
  await deleteUnder(admin, prefixes.root);
  admin.disconnect();
});

const newPrefix = (what: string): string => prefixes.next(what);

describe('redisLookup', () => {
  it('reads JSON values with one MGET; keys not found are absent; duplicate keys are asked once', async () => {
    const prefix = newPrefix('lookup-json');
    await admin.mset(`${prefix}customer:c1`, JSON.stringify({ tier: 'gold' }), `${prefix}customer:c2`, JSON.stringify({ tier: 'silver' }));
    const lookup = redisLookup<{ tier: string }>({ url: redisUrl, keyPrefix: prefix, key: (id) => `customer:${id}` });
    try {
      const found = await lookup(['c1', 'c2', 'c3', 'c1']);
      expect(found).toEqual(
        new Map([
          ['c1', { tier: 'gold' }],
          ['c2', { tier: 'silver' }],
        ]),
      );
    } finally {
      await lookup.close();
    }
  });

  it("reads plain strings with format 'string' and hashes with format 'hash' (an empty hash is not found)", async () => {
    const prefix = newPrefix('lookup-formats');
    await admin.set(`${prefix}a`, 'plain text');
    await admin.hset(`${prefix}h1`, { name: 'Ada', country: 'FR' });
    const strings = redisLookup<string>({ url: redisUrl, keyPrefix: prefix, format: 'string' });
    const hashes = redisLookup<Record<string, string>>({ url: redisUrl, keyPrefix: prefix, format: 'hash' });
    try {
      expect(await strings(['a', 'b'])).toEqual(new Map([['a', 'plain text']]));
      expect(await hashes(['h1', 'h2'])).toEqual(new Map([['h1', { name: 'Ada', country: 'FR' }]]));
    } finally {
      await strings.close();
      await hashes.close();
    }
  });

  it('serves from its cache until the entry expires on its clock, misses included', async () => {
    const prefix = newPrefix('lookup-cache');
    const clock = new VirtualClock(1_000);
    await admin.set(`${prefix}k`, JSON.stringify('v1'));
    const lookup = redisLookup<string>({ url: redisUrl, keyPrefix: prefix, cache: { ttlMs: 1_000, maxEntries: 10 }, clock });
    try {
      expect(await lookup(['k', 'missing'])).toEqual(new Map([['k', 'v1']]));
      await admin.set(`${prefix}k`, JSON.stringify('v2'));
      await admin.set(`${prefix}missing`, JSON.stringify('now here'));
      clock.advance(999);
      expect(await lookup(['k', 'missing'])).toEqual(new Map([['k', 'v1']])); // both from the cache
      clock.advance(1);
      expect(await lookup(['k', 'missing'])).toEqual(
        new Map([
          ['k', 'v2'],
          ['missing', 'now here'],
        ]),
      );
    } finally {
      await lookup.close();
    }
  });

  it('fails the call naming the key, not the value, when a value is not JSON or parse rejects it', async () => {
    const prefix = newPrefix('lookup-bad');
    await admin.set(`${prefix}broken`, '{not json: secret-value');
    await admin.set(`${prefix}wrong-shape`, JSON.stringify({ tier: 42 }));
    const lookup = redisLookup({ url: redisUrl, keyPrefix: prefix, parse: (raw) => z.object({ tier: z.string() }).parse(raw) });
    try {
      const notJson = await lookup(['broken']).catch((error: unknown) => error);
      expect(notJson).toMatchObject({ code: 'REDIS_LOOKUP_BAD_VALUE', connector: 'redis' });
      expect((notJson as Error).message).toContain('"broken"');
      expect((notJson as Error).message).not.toContain('secret-value');
      await expect(lookup(['wrong-shape'])).rejects.toMatchObject({ code: 'REDIS_LOOKUP_BAD_VALUE', message: expect.stringContaining('rejected by parse') });
    } finally {
      await lookup.close();
    }
  });

  it('rejects at once with the reason of an aborted signal', async () => {
    const lookup = redisLookup({ url: redisUrl, keyPrefix: newPrefix('lookup-abort') });
    try {
      await lookup.connect();
      const controller = new AbortController();
      const pending = lookup(['a'], controller.signal);
      controller.abort(new Error('step timed out'));
      await expect(pending).rejects.toThrow('step timed out');
      await expect(lookup(['a'], AbortSignal.abort(new Error('already aborted')))).rejects.toThrow('already aborted');
    } finally {
      await lookup.close();
    }
  });

  it("drives core's enrich operator in a runtime: found keys merged, missing ones dead-lettered", async () => {
    const prefix = newPrefix('lookup-enrich');
    for (let id = 0; id < 50; id++) await admin.hset(`${prefix}customer:c${id}`, { tier: id % 2 === 0 ? 'gold' : 'silver', id: `c${id}` });
    interface Order {
      id: number;
      customerId: string;
    }
    // 200 orders over 60 customers: c50..c59 do not exist.
    const orders: Order[] = Array.from({ length: 200 }, (_, id) => ({ id, customerId: `c${id % 60}` }));
    const customers = redisLookup<{ tier: string; id: string }>({ url: redisUrl, keyPrefix: `${prefix}customer:`, format: 'hash' });
    const sink = memorySink<Order & { tier: string }>();
    const runtime = createRuntime(
      defineTopology({
        name: 'enrich-redis',
        source: memorySource(orders, { key: (order) => order.customerId, partitions: 2 }),
        pipeline: (input) =>
          input.pipe(
            enrich({
              name: 'add-customer',
              key: (order: Order) => order.customerId,
              lookup: customers,
              merge: (order: Order, customer) => ({ ...order, tier: customer!.tier }),
              maxBatchKeys: 16,
              onMissing: 'dlq',
            }),
            toSink(sink),
          ),
      }),
      { maxBatch: 40 },
    );
    try {
      await runtime.start();
      await runtime.done;
    } finally {
      await customers.close();
    }
    const enriched = orders.filter((order) => Number(order.customerId.slice(1)) < 50);
    expect([...sink.values].sort((a, b) => a.id - b.id)).toEqual(
      enriched.map((order) => ({ ...order, tier: Number(order.customerId.slice(1)) % 2 === 0 ? 'gold' : 'silver' })),
    );
    const letters = (runtime.deadLetters as ReturnType<typeof memorySink<DeadLetter>>).values;
    expect(letters).toHaveLength(orders.length - enriched.length);
    expect(letters.every((letter) => letter.error.code === 'LOOKUP_NOT_FOUND')).toBe(true);
  });
});
