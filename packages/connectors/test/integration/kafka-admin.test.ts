/**
 * kafkaAdmin against the real broker: idempotent topic declaration, describeTopic, consumer-group lag, listTopics,
 * and the time-range reader (which must leave no consumer group behind).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, systemClock } from '@tributary/core';
import type { SourceContext } from '@tributary/core';
import { kafkaAdmin, kafkaSource } from '@tributary/connectors/kafka';
import type { KafkaAdmin } from '@tributary/connectors/kafka';
import { brokers, fastGroup, kafkaTestKit, uniqueName, waitFor, within } from './kafka-helpers.js';
import type { KafkaTestKit } from './kafka-helpers.js';

// Consumer-group timing on a shared 2-core machine occasionally needs a second try (see the session note).
describe('kafkaAdmin', { retry: 2 }, () => {
  let kit: KafkaTestKit;
  let admin: KafkaAdmin;
  beforeAll(async () => {
    kit = await kafkaTestKit();
    admin = kafkaAdmin({ brokers });
  });
  afterAll(async () => {
    await admin?.close();
    await kit?.cleanup();
  });

  it('declareTopics creates, then changes nothing, then adds partitions and alters only differing configs', async () => {
    const name = uniqueName('admin-declare');
    kit.track('topic', name);
    const created = await admin.declareTopics([{ name, partitions: 2, replicationFactor: 1, config: { 'retention.ms': 3_600_000, 'cleanup.policy': 'delete' } }]);
    expect(created).toEqual([
      {
        name,
        action: 'created',
        partitions: { before: 0, after: 2 },
        configChanges: [
          { name: 'retention.ms', before: null, after: '3600000' },
          { name: 'cleanup.policy', before: null, after: 'delete' },
        ],
        warnings: [],
      },
    ]);
    const again = await admin.declareTopics([{ name, partitions: 2, replicationFactor: 1, config: { 'retention.ms': '3600000', 'cleanup.policy': 'delete' } }]);
    expect(again).toEqual([{ name, action: 'unchanged', partitions: { before: 2, after: 2 }, configChanges: [], warnings: [] }]);

    // More partitions, another retention, compression added; cleanup.policy not declared any more but kept.
    const updated = await admin.declareTopics([{ name, partitions: 4, config: { 'retention.ms': 7_200_000, 'compression.type': 'gzip' } }]);
    expect(updated[0]!.action).toBe('updated');
    expect(updated[0]!.partitions).toEqual({ before: 2, after: 4 });
    expect(updated[0]!.configChanges).toEqual([
      { name: 'retention.ms', before: '3600000', after: '7200000' },
      { name: 'compression.type', before: 'producer', after: 'gzip' },
    ]);
    const described = await admin.describeTopic(name);
    expect(described.partitions).toHaveLength(4);
    expect(described.overrides).toEqual({ 'retention.ms': '7200000', 'cleanup.policy': 'delete', 'compression.type': 'gzip' });

    // Fewer partitions or another replication factor cannot be applied: reported, nothing changed.
    const shrink = await admin.declareTopics([{ name, partitions: 1, replicationFactor: 3, config: { 'retention.ms': 7_200_000 } }]);
    expect(shrink[0]!.action).toBe('unchanged');
    expect(shrink[0]!.warnings).toHaveLength(2);
    expect(shrink[0]!.warnings.join(' ')).toMatch(/4 partitions.*replication factor 1/);
  });

  it('describeTopic reports partitions with earliest/latest offsets and configs; unknown topics fail clearly', async () => {
    const topic = uniqueName('admin-describe');
    await kit.createTopic(topic, 3, { 'retention.ms': '86400000' });
    await kit.produce(topic, [
      ...Array.from({ length: 5 }, (_, id) => ({ partition: 0, value: { id } })),
      ...Array.from({ length: 2 }, (_, id) => ({ partition: 2, value: { id } })),
    ]);
    const described = await admin.describeTopic(topic);
    expect(described.name).toBe(topic);
    expect(described.partitions.map((p) => [p.partition, p.earliestOffset, p.latestOffset])).toEqual([
      [0, 0, 5],
      [1, 0, 0],
      [2, 0, 2],
    ]);
    expect(described.partitions[0]!.replicas).toHaveLength(1);
    expect(described.partitions[0]!.isr).toEqual(described.partitions[0]!.replicas);
    expect(described.records).toBe(7);
    expect(described.configs['retention.ms']).toBe('86400000');
    expect(described.configs['cleanup.policy']).toBe('delete');
    expect(described.overrides).toEqual({ 'retention.ms': '86400000' });
    await expect(admin.describeTopic(uniqueName('admin-missing'))).rejects.toMatchObject({ code: 'KAFKA_TOPIC_NOT_FOUND' });
  });

  it('consumerGroupLag is the end offset minus the committed position, per partition', async () => {
    const topic = uniqueName('admin-lag');
    const groupId = uniqueName('admin-lag-group');
    kit.track('group', groupId);
    await kit.createTopic(topic, 2);
    await kit.produce(topic, [...Array.from({ length: 10 }, (_, id) => ({ partition: 0, value: { id } })), ...Array.from({ length: 4 }, (_, id) => ({ partition: 1, value: { id } }))]);
    // Commit 6 on partition 0 and nothing on partition 1 through a real group member.
    const source = kafkaSource({ brokers, topics: [topic], groupId, ...fastGroup });
    const context: SourceContext = {
      clock: systemClock,
      logger: silentLogger,
      signal: new AbortController().signal,
      assigned: () => Promise.resolve({}),
      revoked: () => Promise.resolve(),
      deadLetters: () => undefined,
    };
    await within(source.open(context), 30_000, 'source.open');
    await source.commit({ [`${topic}:0`]: 6 });
    await source.close();

    const lag = await admin.consumerGroupLag(groupId, topic);
    expect(lag.groupId).toBe(groupId);
    expect(lag.state).toBe('Empty');
    expect(lag.partitions).toEqual([
      { topic, partition: 0, committedOffset: 6, earliestOffset: 0, latestOffset: 10, lag: 4 },
      { topic, partition: 1, committedOffset: null, earliestOffset: 0, latestOffset: 4, lag: 4 },
    ]);
    expect(lag.totalLag).toBe(8);
    // Without a topic: every topic the group committed for.
    expect((await admin.consumerGroupLag(groupId)).totalLag).toBe(8);
  });

  it('listTopics lists user topics, internal ones only on request', async () => {
    const topic = uniqueName('admin-list');
    await kit.createTopic(topic, 1);
    const topics = await admin.listTopics();
    expect(topics).toContain(topic);
    expect(topics.some((name) => name.startsWith('__'))).toBe(false);
    expect(topics).toEqual([...topics].sort());
    expect(await admin.listTopics({ includeInternal: true })).toContain('__consumer_offsets');
  });

  it('readTopicRange returns the records in [from, to) in timestamp order and leaves no group behind', async () => {
    const topic = uniqueName('admin-range');
    await kit.createTopic(topic, 3);
    const base = Date.parse('2026-03-01T00:00:00Z');
    // 60 records: id i at base + i * 100 ms, spread over 3 partitions; one undecodable record inside the range.
    await kit.produce(
      topic,
      Array.from({ length: 60 }, (_, id) => ({ key: `k${id}`, partition: id % 3, value: id === 25 ? 'not json' : JSON.stringify({ id }), timestamp: base + id * 100, raw: true })),
    );
    const groupsBefore = new Set((await kit.admin.listGroups()).groups.map((g) => g.groupId));

    const range = await admin.readTopicRange<{ id: number }>({ topic, from: base + 1_000, to: base + 4_000 });
    // ids 10..39 are in range; 25 is undecodable.
    expect(range.records.map((r) => r.value.id)).toEqual([...Array(30).keys()].map((i) => i + 10).filter((id) => id !== 25));
    expect(range.records.map((r) => r.eventTime)).toEqual([...range.records.map((r) => r.eventTime)].sort((a, b) => a - b));
    expect(range.undecodable).toEqual([{ partition: `${topic}:1`, offset: 8, error: expect.stringMatching(/JSON/) }]);
    expect(range.complete).toBe(true);
    expect(range.records[0]).toMatchObject({ key: 'k10', eventTime: base + 1_000, position: { partition: `${topic}:1`, offset: 3 } });

    // limit: the 5 earliest; partitions: only partition 2.
    const limited = await admin.readTopicRange<{ id: number }>({ topic, from: base + 1_000, to: base + 4_000, limit: 5 });
    expect(limited.records.map((r) => r.value.id)).toEqual([10, 11, 12, 13, 14]);
    expect(limited.complete).toBe(false);
    const onePartition = await admin.readTopicRange<{ id: number }>({ topic, from: base, to: base + 6_000, partitions: [2] });
    expect(onePartition.records.map((r) => r.value.id)).toEqual([...Array(20).keys()].map((i) => i * 3 + 2));
    // An empty range returns at once without joining anything.
    expect(await admin.readTopicRange({ topic, from: base + 100_000, to: base + 200_000 })).toEqual({ records: [], undecodable: [], complete: true });

    await waitFor(
      async () => (await kit.admin.listGroups()).groups.every((g) => groupsBefore.has(g.groupId) || !g.groupId.startsWith('tributary-range-')),
      10_000,
      () => 'ephemeral tributary-range-* groups were deleted',
    );
    await expect(admin.readTopicRange({ topic, from: 10, to: 5 })).rejects.toThrow(/to: must be after `from`/);
  });
});
