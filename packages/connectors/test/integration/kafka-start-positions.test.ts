/**
 * Where kafkaSource starts: 'earliest', 'latest', { timestamp }, explicit offsets, and a committed position beating
 * all of them. The source is driven directly with a minimal SourceContext (no runtime), polling until a bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, systemClock } from '@tributary/core';
import type { DeadLetter, Positions, SourceContext, StreamRecord } from '@tributary/core';
import { kafkaSource } from '@tributary/connectors/kafka';
import type { KafkaSource, KafkaSourceOptions } from '@tributary/connectors/kafka';
import { brokers, fastGroup, kafkaTestKit, uniqueName, waitFor, within } from './kafka-helpers.js';
import type { KafkaTestKit } from './kafka-helpers.js';

interface Reading {
  id: number;
}

function context(resumeAt: Positions = {}): SourceContext & { assignedWith: Positions[]; letters: DeadLetter[] } {
  const controller = new AbortController();
  const assignedWith: Positions[] = [];
  const letters: DeadLetter[] = [];
  return {
    clock: systemClock,
    logger: silentLogger,
    signal: controller.signal,
    assignedWith,
    letters,
    assigned: (partitions, committed) => {
      assignedWith.push({ ...committed });
      return Promise.resolve(Object.fromEntries(partitions.filter((p) => resumeAt[p] !== undefined).map((p) => [p, resumeAt[p]!])));
    },
    revoked: () => Promise.resolve(),
    deadLetters: (batch) => void letters.push(...batch),
  };
}

/** Polls until `expected` records arrived, then keeps polling briefly to catch any extra record. */
async function readAll(source: KafkaSource<Reading>, expected: number): Promise<StreamRecord<Reading>[]> {
  const records: StreamRecord<Reading>[] = [];
  const signal = new AbortController().signal;
  await waitFor(
    async () => {
      records.push(...((await source.poll(500, signal)) ?? []));
      return records.length >= expected;
    },
    20_000,
    () => `${records.length}/${expected} records polled`,
    0,
  );
  // Nothing more should come: a few more polls (each waits up to pollIntervalMs).
  for (let extra = 0; extra < 3; extra++) records.push(...((await source.poll(500, signal)) ?? []));
  return records;
}

// Consumer-group timing on a shared 2-core machine occasionally needs a second try (see the session note).
describe('kafkaSource start positions', { retry: 2 }, () => {
  let kit: KafkaTestKit;
  let topic: string;
  const base = Date.parse('2026-01-01T00:00:00Z');
  const open: KafkaSource<Reading>[] = [];

  beforeAll(async () => {
    kit = await kafkaTestKit();
    topic = uniqueName('start-positions');
    await kit.createTopic(topic, 2);
    // 10 records per partition with timestamps base + i s, ids 0..19 (partition = id % 2).
    await kit.produce(
      topic,
      Array.from({ length: 20 }, (_, id) => ({ key: `k${id}`, partition: id % 2, value: { id }, timestamp: base + Math.floor(id / 2) * 1_000 })),
    );
  });
  afterAll(async () => {
    for (const source of open) await source.close().catch(() => undefined);
    await kit?.cleanup();
  });

  async function start(options: Partial<KafkaSourceOptions<Reading>>, ctx = context()): Promise<KafkaSource<Reading>> {
    const groupId = uniqueName('start-positions-group');
    kit.track('group', groupId);
    const source = kafkaSource<Reading>({ brokers, topics: [topic], groupId, ...fastGroup, ...options });
    open.push(source);
    await within(source.open(ctx), 30_000, 'source.open');
    return source;
  }

  const ids = (records: readonly StreamRecord<Reading>[]) => records.map((r) => r.value.id).sort((a, b) => a - b);

  it("'earliest' reads everything", async () => {
    const source = await start({ startFrom: 'earliest' });
    expect(ids(await readAll(source, 20))).toEqual([...Array(20).keys()]);
    await source.close();
  });

  it("'latest' reads only what arrives after the assignment", async () => {
    const source = await start({ startFrom: 'latest' });
    expect(await source.poll(100, new AbortController().signal)).toEqual([]);
    const fresh = uniqueName('fresh');
    await kit.produce(topic, [0, 1, 2].map((n) => ({ key: fresh, partition: n % 2, value: { id: 1_000 + n } })));
    expect(ids(await readAll(source, 3))).toEqual([1_000, 1_001, 1_002]);
    await source.close();
  });

  it('{ timestamp } starts at the first record at or after it, per partition', async () => {
    const source = await start({ startFrom: { timestamp: base + 7_000 } });
    // Timestamps base+7s..base+9s: ids 14..19, plus the 3 records 'latest' produced (stamped now).
    const records = await readAll(source, 9);
    expect(ids(records)).toEqual([14, 15, 16, 17, 18, 19, 1_000, 1_001, 1_002]);
    expect(records.filter((r) => r.value.id < 1_000).every((r) => r.eventTime >= base + 7_000)).toBe(true);
    await source.close();
  });

  it('explicit offsets per partition, with `otherwise` for unlisted partitions', async () => {
    const source = await start({ startFrom: { offsets: { [`${topic}:0`]: 8 }, otherwise: 'latest' } });
    // Partition 0 from offset 8: ids 16, 18 and the one 'latest' record there (1000 and 1002 went to partition 0).
    expect(ids(await readAll(source, 4))).toEqual([16, 18, 1_000, 1_002]);
    await source.close();
  });

  it('a committed position wins over startFrom, and an exactly-once position wins over both', async () => {
    const groupId = uniqueName('start-positions-committed');
    kit.track('group', groupId);
    const first = kafkaSource<Reading>({ brokers, topics: [topic], groupId, ...fastGroup, startFrom: 'earliest' });
    await within(first.open(context()), 30_000, 'first open');
    await first.commit({ [`${topic}:0`]: 5, [`${topic}:1`]: 9 });
    await first.close();
    // After leaving the group nothing is committed any more (kafkajs#751): refused, and the positions stay.
    await expect(first.commit({ [`${topic}:0`]: 7 })).rejects.toMatchObject({ code: 'KAFKA_SOURCE_CLOSED' });
    expect(await kit.committed(groupId, topic)).toEqual({ 0: 5, 1: 9 });

    const ctx = context({ [`${topic}:1`]: 10 });
    const second = kafkaSource<Reading>({ brokers, topics: [topic], groupId, ...fastGroup, startFrom: 'latest' });
    open.push(second);
    await within(second.open(ctx), 30_000, 'second open');
    // The source passed Kafka's committed positions to `assigned`.
    expect(ctx.assignedWith).toEqual([{ [`${topic}:0`]: 5, [`${topic}:1`]: 9 }]);
    // Partition 0 from its commit (offset 5: ids 10, 12, 14, 16, 18, 1000, 1002); partition 1 from the exactly-once
    // position 10 (the 'latest' record 1001 only).
    expect(ids(await readAll(second, 8))).toEqual([10, 12, 14, 16, 18, 1_000, 1_001, 1_002]);
    await second.close();
  });

  it('refuses explicit offsets for a topic it does not read', () => {
    expect(() => kafkaSource({ brokers, topics: ['a'], groupId: 'g', startFrom: { offsets: { 'b:0': 1 } } })).toThrow(/startFrom\.offsets: b:0/);
  });
});
