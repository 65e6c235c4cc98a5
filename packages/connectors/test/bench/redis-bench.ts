/**
 * Redis connector figures against a real Redis: sink throughput in both delivery modes (direct and under the
 * runtime), state-store apply / snapshot / scan, and lookup batches. Prints a table and, as its last line, one JSON
 * object. A benchmark, not a test: it asserts nothing about speed. Keys live under a random prefix, deleted at the end.
 *
 *   npm run build -w @tributary/core -w @tributary/connectors
 *   node packages/connectors/test/bench/redis-bench.ts [--url redis://127.0.0.1:16379] [--records 50000] [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createRuntime, defineTopology, memorySource, toSink } from '@tributary/core';
import type { StreamRecord } from '@tributary/core';
import { redisLookup, redisSink, RedisStateStore } from '@tributary/connectors/redis';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: `redis://127.0.0.1:${process.env.TRIBUTARY_REDIS_PORT ?? '16379'}` },
    records: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '3' },
  },
});
const url = args.url;
const RECORDS = Number(args.records);
const ROUNDS = Number(args.rounds);
const BATCH = 1_000;
const prefix = `tributary:bench:${randomUUID()}:`;

interface Order {
  id: number;
  customer: string;
  amount: number;
}

const orders: Order[] = Array.from({ length: RECORDS }, (_, id) => ({ id, customer: `c${id % 1_000}`, amount: id % 97 }));
const records: StreamRecord<Order>[] = orders.map((value, offset) => ({
  key: String(value.id),
  value,
  eventTime: 1_700_000_000_000 + offset,
  position: { partition: 'orders:0', offset },
  headers: {},
}));

const results: { scenario: string; ms: number; perSecond: number; unit: string }[] = [];

async function measure(scenario: string, units: number, unit: string, run: (round: number) => Promise<void>): Promise<void> {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    await run(round);
    times.push(performance.now() - started);
  }
  const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  results.push({ scenario, ms: Math.round(ms), perSecond: Math.round((units / ms) * 1_000), unit });
}

const sinkOptions = (round: number, exactlyOnce: boolean, name: string) => ({
  url,
  keyPrefix: `${prefix}${name}:${round}:`,
  name,
  key: (record: StreamRecord<Order>) => `order:${record.value.id}`,
  sortedSets: [{ key: (record: StreamRecord<Order>) => `by-customer:${record.value.customer}` }],
  exactlyOnce,
});

async function run(admin: Redis): Promise<void> {
  for (const exactlyOnce of [false, true]) {
    const mode = exactlyOnce ? 'exactly-once' : 'at-least-once';
    await measure(`sink ${mode}: write ${BATCH}-record batches, commit every 10 batches`, RECORDS, 'records', async (round) => {
      const sink = redisSink<Order>(sinkOptions(round, exactlyOnce, `direct-${mode}`));
      await sink.open();
      for (let start = 0; start < RECORDS; start += BATCH) {
        await sink.write(records.slice(start, start + BATCH));
        if ((start / BATCH) % 10 === 9) await sink.commit({ id: start, positions: { 'orders:0': start + BATCH }, reason: 'interval' });
      }
      await sink.commit({ id: RECORDS, positions: { 'orders:0': RECORDS }, reason: 'stop' });
      await sink.close();
    });
    await measure(`sink ${mode}: whole run under createRuntime (checkpoint every 250 ms)`, RECORDS, 'records', async (round) => {
      const sink = redisSink<Order>(sinkOptions(round, exactlyOnce, `runtime-${mode}`));
      const runtime = createRuntime(defineTopology({ name: 'bench', source: memorySource(orders), pipeline: (input) => input.pipe(toSink(sink)) }), {
        checkpointIntervalMs: 250,
        maxBatch: BATCH,
      });
      await runtime.start();
      await runtime.done;
    });
  }

  const store = new RedisStateStore({ url, keyPrefix: `${prefix}state:` });
  const changes = Array.from({ length: BATCH }, (_, index) => ({ op: 'put' as const, key: `key:${String(index).padStart(6, '0')}`, value: { count: index, sum: index * 2 } }));
  await measure(`state store: apply ${BATCH} changes + snapshot, 20 scopes`, 20 * BATCH, 'changes', async (round) => {
    for (let scope = 0; scope < 20; scope++) {
      await store.apply(`step/p:${scope}`, changes);
      await store.snapshot(`step/p:${scope}`, round + 1);
    }
  });
  await store.apply('scan/p:0', Array.from({ length: 10 }, (_, chunk) => changes.map((change) => ({ ...change, key: `${chunk}:${change.key}` }))).flat());
  await measure('state store: scan 10 000 entries (pages of 1 000)', 10_000, 'entries', async () => {
    let count = 0;
    for await (const _ of store.scan('scan/p:0')) count++;
    if (count !== 10_000) throw new Error(`scanned ${count}`);
  });
  await store.close();

  for (let start = 0; start < 10_000; start += 1_000) {
    const pipeline = admin.pipeline();
    for (let id = start; id < start + 1_000; id++) pipeline.set(`${prefix}customer:c${id}`, JSON.stringify({ id, tier: id % 3 === 0 ? 'gold' : 'silver' }));
    await pipeline.exec();
  }
  const lookup = redisLookup({ url, keyPrefix: `${prefix}customer:` });
  const keys = Array.from({ length: 500 }, (_, index) => `c${index * 17}`);
  await measure('lookup: 20 calls of 500 keys (MGET, no cache)', 20 * 500, 'keys', async () => {
    for (let call = 0; call < 20; call++) await lookup(keys);
  });
  await lookup.close();
}

const admin = new Redis(url);
try {
  await run(admin);
} finally {
  // Also after a failure: a crashed run must not leave hundreds of thousands of keys behind.
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
    cursor = next;
    if (found.length > 0) await admin.del(...found);
  } while (cursor !== '0');
  await admin.quit();
}

console.table(results.map(({ scenario, ms, perSecond, unit }) => ({ scenario, 'median ms': ms, [`per second`]: `${perSecond.toLocaleString('en')} ${unit}` })));
console.log(JSON.stringify({ redis: url.replace(/\/\/[^@]*@/, '//'), records: RECORDS, rounds: ROUNDS, results }));
