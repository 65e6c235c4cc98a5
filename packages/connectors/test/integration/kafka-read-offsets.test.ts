/**
 * KafkaAdmin.readTopicOffsets against the real broker: records by per-partition offset ranges compared with what
 * kafkajs produced (offsets from the produce acknowledgements, keys, values, headers), the log start moved with
 * kafkajs's deleteTopicRecords reported as missing, clear errors for bad ranges, and no consumer group left behind.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@tributary/core';
import { kafkaAdmin } from '../../src/kafka.js';
import type { KafkaAdmin } from '../../src/kafka.js';
import type { KafkaConnection } from '../../src/kafka/kafka-connection.js';
import { readPartitionSpans } from '../../src/kafka/read-topic-offsets.js';
import { brokers, kafkaTestKit, uniqueName, waitFor } from './kafka-helpers.js';
import type { KafkaTestKit, TestMessage } from './kafka-helpers.js';

let kit: KafkaTestKit;
let admin: KafkaAdmin;
const topic = uniqueName('read-offsets');
const base = Date.parse('2026-03-01T00:00:00Z');
/** What kafkajs acknowledged: partition, offset and the message sent. */
let produced: { partition: number; offset: number; message: TestMessage }[];

beforeAll(async () => {
  kit = await kafkaTestKit();
  admin = kafkaAdmin({ brokers, retry: { retries: 3, initialRetryTimeMs: 100 } });
  await kit.createTopic(topic, 3);
  // 45 records over 3 partitions; id 16 (partition 1) is not JSON.
  const messages: TestMessage[] = Array.from({ length: 45 }, (_, id) => ({
    key: `k${id}`,
    partition: id % 3,
    value: id === 16 ? 'not json' : JSON.stringify({ id }),
    headers: { trace: `t-${id}` },
    timestamp: base + id * 100,
    raw: true,
  }));
  const positions = await kit.produce(topic, messages);
  produced = messages.map((message, index) => ({ ...positions[index]!, message }));
});

afterAll(async () => {
  await admin?.close();
  await kit?.cleanup();
});

const expected = (partition: number, from: number, to: number) =>
  produced
    .filter((p) => p.partition === partition && p.offset >= from && p.offset < to && p.message.value !== 'not json')
    .map((p) => ({ key: p.message.key, value: JSON.parse(p.message.value as string) as unknown, offset: p.offset, headers: p.message.headers, eventTime: p.message.timestamp }));

const actual = (records: readonly { key: string | null; value: unknown; position: { partition: string; offset: number }; headers: Readonly<Record<string, string>>; eventTime: number }[], partition: number) =>
  records
    .filter((r) => r.position.partition === `${topic}:${partition}`)
    .map((r) => ({ key: r.key, value: r.value, offset: r.position.offset, headers: r.headers, eventTime: r.eventTime }));

describe('KafkaAdmin.readTopicOffsets', () => {
  it('reads [from, to) per partition, to defaulting to the end, and matches what kafkajs produced', async () => {
    const groupsBefore = new Set((await kit.admin.listGroups()).groups.map((g) => g.groupId));
    const read = await admin.readTopicOffsets({ topic, partitions: { 0: { from: 3, to: 9 }, 1: { from: 4 } } });
    expect(actual(read.records, 0)).toEqual(expected(0, 3, 9));
    expect(actual(read.records, 1)).toEqual(expected(1, 4, 15));
    expect(actual(read.records, 2)).toEqual([]);
    // By partition, then offset.
    expect(read.records.map((r) => `${r.position.partition}@${r.position.offset}`)).toEqual([
      ...[3, 4, 5, 6, 7, 8].map((o) => `${topic}:0@${o}`),
      ...[4, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((o) => `${topic}:1@${o}`),
    ]);
    // id 16 is partition 1, offset 5.
    expect(read.undecodable).toEqual([{ partition: `${topic}:1`, offset: 5, error: expect.stringMatching(/JSON/) }]);
    expect(read.complete).toBe(true);
    expect(read.partitions).toEqual([
      { partition: 0, requested: { from: 3, to: 9 }, earliestOffset: 0, latestOffset: 15, missing: null, beyondEnd: null, records: 6, nextOffset: 9, complete: true },
      { partition: 1, requested: { from: 4, to: 15 }, earliestOffset: 0, latestOffset: 15, missing: null, beyondEnd: null, records: 10, nextOffset: 15, complete: true },
    ]);
    await waitFor(
      async () => (await kit.admin.listGroups()).groups.every((g) => groupsBefore.has(g.groupId) || !g.groupId.startsWith('tributary-offsets-')),
      10_000,
      () => 'ephemeral tributary-offsets-* groups were deleted',
    );
  });

  it('without partitions reads every partition from `from`; limit cuts across partitions and says where to resume', async () => {
    const all = await admin.readTopicOffsets({ topic, deserializer: 'string' });
    expect(all.records).toHaveLength(45);
    expect(all.undecodable).toEqual([]);
    for (const partition of [0, 1, 2]) {
      expect(all.records.filter((r) => r.position.partition === `${topic}:${partition}`).map((r) => [r.key, r.value, r.position.offset])).toEqual(
        produced.filter((p) => p.partition === partition).map((p) => [p.message.key, p.message.value, p.offset]),
      );
    }
    const fromTen = await admin.readTopicOffsets({ topic, from: 10 });
    expect(fromTen.records.map((r) => r.position.offset)).toEqual([10, 11, 12, 13, 14, 10, 11, 12, 13, 14, 10, 11, 12, 13, 14]);

    const limited = await admin.readTopicOffsets({ topic, from: 10, limit: 7 });
    expect(limited.records.map((r) => `${r.position.partition}@${r.position.offset}`)).toEqual([
      ...[10, 11, 12, 13, 14].map((o) => `${topic}:0@${o}`),
      `${topic}:1@10`,
      `${topic}:1@11`,
    ]);
    expect(limited.complete).toBe(false);
    expect(limited.partitions.map((p) => [p.partition, p.records, p.nextOffset, p.complete])).toEqual([
      [0, 5, 15, true],
      [1, 2, 12, false],
      [2, 0, expect.any(Number), false],
    ]);
  });

  it('reports offsets below the log start and beyond the end instead of skipping them silently', async () => {
    const trimmed = uniqueName('read-offsets-trim');
    await kit.createTopic(trimmed, 1);
    await kit.produce(trimmed, Array.from({ length: 10 }, (_, id) => ({ key: `k${id}`, partition: 0, value: { id } })));
    // The kit's admin learns the new topic's leader from fresh metadata; deleteTopicRecords needs it.
    await kit.admin.fetchTopicMetadata({ topics: [trimmed] });
    await kit.admin.deleteTopicRecords({ topic: trimmed, partitions: [{ partition: 0, offset: '4' }] });
    const read = await admin.readTopicOffsets<{ id: number }>({ topic: trimmed, partitions: { 0: { from: 1, to: 20 } } });
    expect(read.records.map((r) => r.value.id)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(read.partitions[0]).toMatchObject({
      earliestOffset: 4,
      latestOffset: 10,
      missing: { from: 1, to: 4, reason: 'before-log-start' },
      beyondEnd: { from: 10, to: 20 },
      nextOffset: 10,
      complete: true,
    });
    // Entirely deleted: nothing read, still reported.
    const gone = await admin.readTopicOffsets({ topic: trimmed, partitions: { 0: { from: 0, to: 3 } } });
    expect(gone.records).toEqual([]);
    expect(gone.partitions[0]?.missing).toEqual({ from: 0, to: 3, reason: 'before-log-start' });
  });

  it('refuses inverted ranges, negative offsets, unknown partitions and topics, naming the field', async () => {
    await expect(admin.readTopicOffsets({ topic, partitions: { 0: { from: 9, to: 3 } } })).rejects.toThrow(/partitions\.0\.to.*must be after `from`/);
    await expect(admin.readTopicOffsets({ topic, partitions: { 1: { from: -1 } } })).rejects.toThrow(/partitions\.1\.from.*negative/);
    await expect(admin.readTopicOffsets({ topic, from: -5 })).rejects.toThrow(/from.*negative/);
    await expect(admin.readTopicOffsets({ topic, partitions: { 0: { from: 0 } }, from: 2 })).rejects.toThrow(/from.*not both/);
    await expect(admin.readTopicOffsets({ topic, partitions: { 7: { from: 0 } } })).rejects.toMatchObject({
      code: 'KAFKA_PARTITION_NOT_FOUND',
      message: expect.stringMatching(/no partition 7; it has partitions 0\.\.2/),
    });
    await expect(admin.readTopicOffsets({ topic: uniqueName('absent'), from: 0 })).rejects.toMatchObject({ code: 'KAFKA_TOPIC_NOT_FOUND' });
  });

  it('counts undecodable records toward limit and stops reading the partition (does not load it)', async () => {
    const binary = uniqueName('read-offsets-binary');
    await kit.createTopic(binary, 1);
    await kit.produce(binary, Array.from({ length: 3_000 }, (_, id) => ({ key: `k${id}`, partition: 0, value: `not json ${id}`, raw: true })));
    let decoded = 0;
    const failing = (value: Buffer | null): unknown => {
      decoded++;
      return JSON.parse(value?.toString('utf8') ?? 'null') as unknown;
    };
    const read = await admin.readTopicOffsets({ topic: binary, partitions: { 0: { from: 0 } }, limit: 5, deserializer: failing });
    expect(read.records).toEqual([]);
    expect(read.undecodable.map((u) => u.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(read.complete).toBe(false);
    expect(read.partitions[0]).toMatchObject({ records: 0, nextOffset: 5, complete: false });
    // Before the fix every one of the 3 000 values was decoded and returned.
    expect(decoded).toBeLessThan(100);
    // By time as well.
    const range = await admin.readTopicRange({ topic: binary, from: 0, to: Date.now() + 60_000, limit: 5 });
    expect(range.undecodable.map((u) => u.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(range.complete).toBe(false);
  });

  it('applies limit across partitions while reading: holds about limit records, not limit per partition', async () => {
    const wide = uniqueName('read-offsets-wide');
    await kit.createTopic(wide, 6);
    const messages = Array.from({ length: 6 * 150 }, (_, id) => ({ key: `k${id}`, partition: id % 6, value: { id }, timestamp: base + id * 10 }));
    await kit.produce(wide, messages);
    const kafka = new Kafka({ clientId: uniqueName('spans'), brokers, logLevel: logLevel.NOTHING });
    const connection = { brokers, retry: { retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 1_000 } } as unknown as KafkaConnection;
    const spans = [0, 1, 2, 3, 4, 5].map((partition) => ({ partition, start: 0, end: 150 }));
    const read = await readPartitionSpans(kafka, kit.admin, connection, silentLogger, {
      topic: wide,
      spans,
      limit: 100,
      order: 'offset',
      timeoutMs: 20_000,
      signal: undefined,
      decode: (value) => JSON.parse(value!.toString('utf8')) as unknown,
      groupPrefix: 'tributary-offsets',
      subject: 'test',
    });
    // Before the fix the reader handed back (and held) 100 per partition: 600.
    expect(read.records).toHaveLength(100);
    expect(read.peakHeld).toBeLessThanOrEqual(150);
    expect(read.records.map((r) => `${r.position.partition}@${r.position.offset}`)).toEqual(Array.from({ length: 100 }, (_, i) => `${wide}:0@${i}`));
    expect(read.progress.get(0)).toMatchObject({ collected: 100, next: 100, reachedEnd: false, limitHit: true });
    for (const partition of [1, 2, 3, 4, 5]) expect(read.progress.get(partition)).toMatchObject({ collected: 0, next: 0, reachedEnd: false });

    // Through readTopicOffsets: the resume offsets say exactly where each partition stopped.
    const offsets = await admin.readTopicOffsets({ topic: wide, partitions: { 1: { from: 140 }, 4: { from: 0 } }, limit: 30 });
    expect(offsets.records.map((r) => `${r.position.partition}@${r.position.offset}`)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `${wide}:1@${140 + i}`),
      ...Array.from({ length: 20 }, (_, i) => `${wide}:4@${i}`),
    ]);
    expect(offsets.partitions.map((p) => [p.partition, p.records, p.nextOffset, p.complete])).toEqual([
      [1, 10, 150, true],
      [4, 20, 20, false],
    ]);
    // By time: the 30 oldest across partitions (stamped base + id × 10), in timestamp order, spread over all 6 partitions.
    const range = await admin.readTopicRange<{ id: number }>({ topic: wide, from: base, to: base + 100_000, limit: 30 });
    expect(range.records.map((r) => r.value.id)).toEqual(Array.from({ length: 30 }, (_, id) => id));
    expect(range.records.map((r) => r.position.partition)).toEqual(Array.from({ length: 30 }, (_, id) => `${wide}:${id % 6}`));
    expect(range.complete).toBe(false);
  });

  it('completes on transactional topics: commit and abort markers and aborted records count as read', async () => {
    const txTopic = uniqueName('read-offsets-tx');
    await kit.createTopic(txTopic, 1);
    const kafka = new Kafka({ clientId: uniqueName('tx'), brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ transactionalId: uniqueName('tx-id'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send({ topic: txTopic, messages: [0, 1, 2].map((id) => ({ key: `c${id}`, value: JSON.stringify({ id }), partition: 0 })) });
      await committed.commit();
      const aborted = await producer.transaction();
      await aborted.send({ topic: txTopic, messages: [3, 4].map((id) => ({ key: `a${id}`, value: JSON.stringify({ id }), partition: 0 })) });
      await aborted.abort();
    } finally {
      await producer.disconnect();
    }
    // Independent view of the log: 3 records + commit marker + 2 aborted + abort marker.
    // The coordinator writes the markers after commit/abort return.
    await waitFor(async () => (await kit.endOffsets(txTopic))[0] === 7, 10_000, () => 'the abort marker was written (end offset 7)');
    const read = await admin.readTopicOffsets<{ id: number }>({ topic: txTopic, partitions: { 0: { from: 0 } }, timeoutMs: 15_000 });
    expect(read.records.map((r) => [r.key, r.value.id, r.position.offset])).toEqual([
      ['c0', 0, 0],
      ['c1', 1, 1],
      ['c2', 2, 2],
    ]);
    expect(read.complete).toBe(true);
    expect(read.partitions[0]).toMatchObject({ nextOffset: 7, complete: true });
    // From the commit marker on, kafkajs delivers nothing at all (only markers and aborted records).
    const tail = await admin.readTopicOffsets({ topic: txTopic, partitions: { 0: { from: 3 } }, timeoutMs: 15_000 });
    expect(tail.records).toEqual([]);
    expect(tail.partitions[0]).toMatchObject({ nextOffset: 7, complete: true });
    const range = await admin.readTopicRange<{ id: number }>({ topic: txTopic, from: 0, to: Date.now() + 60_000, timeoutMs: 15_000 });
    expect(range.records.map((r) => r.value.id)).toEqual([0, 1, 2]);
    expect(range.complete).toBe(true);
  });
});
