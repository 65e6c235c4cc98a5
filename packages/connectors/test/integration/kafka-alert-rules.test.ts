import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { AlertRule } from '@tributary/core';
import { kafkaAlertRules } from '../../src/kafka/kafka-alert-rules.js';
import type { KafkaAlertRules } from '../../src/kafka/kafka-alert-rules.js';
import { brokers, fastGroup, kafkaTestKit, uniqueName, waitFor } from './kafka-helpers.js';
import type { KafkaTestKit } from './kafka-helpers.js';

/** The topic folded by an independent kafkajs consumer: latest value per key, tombstones delete. */
async function foldWithKafkaJs(topic: string): Promise<Map<string, unknown>> {
  const kafka = new Kafka({ clientId: uniqueName('fold'), brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, Number(high)]));
  const groupId = uniqueName('fold');
  const consumer = kafka.consumer({ groupId, sessionTimeout: fastGroup.sessionTimeoutMs, heartbeatInterval: fastGroup.heartbeatIntervalMs, maxWaitTimeInMs: 200 });
  const folded = new Map<string, unknown>();
  const seen = new Map<number, number>();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        const key = message.key!.toString('utf8');
        if (message.value === null) folded.delete(key);
        else {
          const text = message.value.toString('utf8');
          let value: unknown = text;
          try {
            value = JSON.parse(text);
          } catch {
            // not JSON: kept as the raw text
          }
          folded.set(key, value);
        }
        seen.set(partition, Number(message.offset) + 1);
        return Promise.resolve();
      },
    });
    await waitFor(() => [...ends].every(([partition, end]) => (seen.get(partition) ?? 0) >= end), 20_000, () => `kafkajs read of ${topic} to ${JSON.stringify([...ends])}`);
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return folded;
}

const byId = (rules: readonly AlertRule[]): Map<string, unknown> => new Map(rules.map((rule) => [rule.id, rule]));
const ids = (rules: readonly AlertRule[]): string[] => rules.map((rule) => rule.id);

describe('kafkaAlertRules against Kafka', () => {
  let kit: KafkaTestKit;
  const stores: KafkaAlertRules[] = [];
  const store = (topic: string): KafkaAlertRules => {
    const created = kafkaAlertRules({ brokers, topic, retry: fastGroup.retry, catchUpTimeoutMs: 20_000 });
    stores.push(created);
    return created;
  };

  beforeAll(async () => {
    kit = await kafkaTestKit();
  });

  afterAll(async () => {
    for (const created of stores) await created.close();
    await kit.cleanup();
  });

  it('creates a compacted topic; a put/delete in one instance becomes visible in another; kafkajs reads the same set', async () => {
    const topic = uniqueName('alert-rules');
    kit.track('topic', topic);
    const a = store(topic);
    const b = store(topic);
    await a.start();
    await b.start();
    expect(a.current()).toEqual([]);

    const [configs] = (await kit.admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['cleanup.policy'] }], includeSynonyms: false })).resources;
    expect(configs?.configEntries.find((entry) => entry.configName === 'cleanup.policy')?.configValue).toBe('compact');

    const drop: AlertRule = { id: 'revenue-drop', metric: 'revenue', condition: '<', threshold: 100, severity: 'warning' };
    const latency: AlertRule = { id: 'latency.p99_high', metric: 'p99', condition: '>=', threshold: 250.5, key: 'checkout', severity: 'critical', description: 'p99 too slow' };
    expect(await a.put(drop)).toEqual(drop);
    await a.put(latency);
    // put resolves once its own instance has read the write back.
    expect(ids(a.current())).toEqual(['latency.p99_high', 'revenue-drop']);
    await waitFor(() => b.current().length === 2, 20_000, () => `instance b sees both rules, has ${JSON.stringify(b.current())}`);
    expect(b.current()).toEqual(a.current());

    // Replace through b, delete through a.
    await b.put({ ...drop, threshold: 50, severity: 'critical' });
    expect(await a.delete('latency.p99_high')).toBe(true);
    expect(await a.delete('never-existed')).toBe(false);
    await waitFor(
      () => b.current().length === 1 && a.current()[0]?.threshold === 50,
      20_000,
      () => `a=${JSON.stringify(a.current())} b=${JSON.stringify(b.current())}`,
    );
    expect(a.current()).toEqual([{ ...drop, threshold: 50, severity: 'critical' }]);
    expect(b.current()).toEqual(a.current());

    const independent = await foldWithKafkaJs(topic);
    expect(independent).toEqual(byId(a.current()));
    // Frozen snapshot: callers cannot change the store's view.
    expect(Object.isFrozen(a.current())).toBe(true);
  });

  it('a restart rebuilds the same set from the topic, across partitions, skipping records that are not valid rules', async () => {
    const topic = uniqueName('alert-rules');
    kit.track('topic', topic);
    await kit.createTopic(topic, 3, { 'cleanup.policy': 'compact' });
    const first = store(topic);
    await first.start();
    const rules: AlertRule[] = Array.from({ length: 12 }, (_, i) => ({
      id: `rule-${String(i).padStart(2, '0')}`,
      metric: i % 2 === 0 ? 'revenue' : 'orders',
      condition: (['>', '>=', '<', '<='] as const)[i % 4]!,
      threshold: i * 10.5,
      severity: (['info', 'warning', 'critical'] as const)[i % 3]!,
      ...(i % 3 === 0 ? { key: `merchant-${i}` } : {}),
    }));
    for (const rule of rules) await first.put(rule);
    for (const id of ['rule-03', 'rule-07']) await first.delete(id);
    // Written by someone else: garbage under a valid key drops that key's rule; a mismatched id is not trusted either.
    await kit.produce(topic, [
      { key: 'rule-05', value: '{not json', raw: true },
      { key: 'rule-06', value: { ...rules[6], id: 'someone-else' } },
      { key: 'rule-08', value: { ...rules[8], threshold: 'high' } },
    ]);
    const expected = rules.filter((rule) => !['rule-03', 'rule-07', 'rule-05', 'rule-06', 'rule-08'].includes(rule.id));
    await waitFor(() => first.current().length === expected.length, 20_000, () => `first sees ${JSON.stringify(ids(first.current()))}`);
    expect(first.current()).toEqual(expected);
    await first.close();

    const restarted = store(topic);
    await restarted.start();
    // start() resolves only after the topic was read to the end offsets it had: no waiting needed here.
    expect(restarted.current()).toEqual(expected);
    const independent = await foldWithKafkaJs(topic);
    const valid = new Map([...independent].filter(([key]) => expected.some((rule) => rule.id === key)));
    expect(valid).toEqual(byId(restarted.current()));
    expect([...independent.keys()].sort()).toEqual([...expected.map((rule) => rule.id), 'rule-05', 'rule-06', 'rule-08'].sort());
  });

  it('a consumer that rejoins its group re-reads the topic from its start without applying old records again', async () => {
    const topic = uniqueName('alert-rules');
    kit.track('topic', topic);
    const lines: { level: string; message: string }[] = [];
    const keep = (level: string) => (_fields: unknown, message: string) => void lines.push({ level, message });
    const logger = { debug: () => undefined, info: keep('info'), warn: keep('warn'), error: keep('error') };
    // clientLogLevel 'info' forwards kafkajs's "Consumer has joined the group", which proves the rejoin happened.
    const rules = kafkaAlertRules({ brokers, topic, retry: fastGroup.retry, catchUpTimeoutMs: 20_000, logger, clientLogLevel: 'info' });
    stores.push(rules);
    await rules.start();
    const rule = (id: string, threshold: number): AlertRule => ({ id, metric: 'revenue', condition: '<', threshold, severity: 'warning' });
    await rules.put(rule('a', 1));
    await rules.put(rule('b', 1));
    await rules.delete('a');
    await rules.put(rule('b', 2));
    await kit.produce(topic, [{ key: 'c', value: '{broken', raw: true }]);
    const brokenWarnings = (): number => lines.filter((line) => line.level === 'warn' && /not JSON/.test(line.message)).length;
    await waitFor(() => brokenWarnings() === 1, 20_000, () => 'the broken record was read');
    const settled = rules.current();
    expect(settled).toEqual([rule('b', 2)]);

    // Every view the store exposes from here on: none may bring back the deleted rule or the replaced threshold.
    const regressions: string[] = [];
    const sampler = setInterval(() => {
      const seen = rules.current();
      if (seen.some((r) => r.id === 'a' || (r.id === 'b' && r.threshold !== 2))) regressions.push(JSON.stringify(seen));
    }, 1);
    const kafka = new Kafka({ clientId: uniqueName('intruder'), brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // The store's ephemeral group: the one whose member subscribes to this (unique) topic.
      const { groups } = await admin.listGroups();
      const candidates = groups.filter(({ groupId }) => groupId.startsWith('tributary-alert-rules-')).map(({ groupId }) => groupId);
      const described = await admin.describeGroups(candidates);
      const group = described.groups.find(({ members }) => members.some(({ memberMetadata }) => AssignerProtocol.MemberMetadata.decode(memberMetadata)?.topics.includes(topic)));
      expect(group, 'the store consumer group').toBeDefined();
      const groupId = group!.groupId;
      const joinsBefore = lines.filter((line) => /Consumer has joined the group/.test(line.message)).length;

      // A second member joins and leaves: the store's consumer rejoins twice, and since its group never commits,
      // kafkajs fetches the topic from its earliest offset again.
      const intruder = kafka.consumer({ groupId, sessionTimeout: fastGroup.sessionTimeoutMs, heartbeatInterval: fastGroup.heartbeatIntervalMs, maxWaitTimeInMs: 200 });
      await intruder.connect();
      await intruder.subscribe({ topics: [topic] });
      await intruder.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
      const members = async (): Promise<{ state: string; count: number }> => {
        const [state] = (await admin.describeGroups([groupId])).groups;
        return { state: state?.state ?? 'unknown', count: state?.members.length ?? 0 };
      };
      await waitFor(async () => (await members()).count === 2 && (await members()).state === 'Stable', 30_000, () => `the intruder joined ${groupId}`, 100);
      await intruder.disconnect();
      await waitFor(async () => (await members()).count === 1 && (await members()).state === 'Stable', 30_000, () => `${groupId} settled with the store alone`, 100);
      expect(lines.filter((line) => /Consumer has joined the group/.test(line.message)).length).toBeGreaterThan(joinsBefore);

      // Read back after the rejoin: the store has re-read every older record of the partition by now.
      await rules.put(rule('d', 4));
      expect(rules.current()).toEqual([rule('b', 2), rule('d', 4)]);
      // The broken record was re-fetched but not applied again (applying it again would log it again).
      expect(brokenWarnings()).toBe(1);
      expect(regressions).toEqual([]);
    } finally {
      clearInterval(sampler);
      await admin.disconnect();
    }
  });

  it('does not alter an existing topic that is not compacted, but warns about it', async () => {
    const topic = uniqueName('alert-rules');
    kit.track('topic', topic);
    await kit.createTopic(topic, 1, { 'cleanup.policy': 'delete' });
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (_fields: unknown, message: string) => warnings.push(message), error: () => undefined };
    const rules = kafkaAlertRules({ brokers, topic, retry: fastGroup.retry, logger });
    stores.push(rules);
    await rules.start();
    expect(warnings.some((message) => /not compacted/.test(message))).toBe(true);
    const [configs] = (await kit.admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['cleanup.policy'] }], includeSynonyms: false })).resources;
    expect(configs?.configEntries[0]?.configValue).toBe('delete');
  });

  it('fails clearly when a broker is unreachable', async () => {
    const unreachable = kafkaAlertRules({ brokers: ['127.0.0.1:1'], topic: uniqueName('alert-rules'), retry: { retries: 0 }, connectionTimeoutMs: 300 });
    stores.push(unreachable);
    await expect(unreachable.start()).rejects.toMatchObject({ code: 'KAFKA_UNREACHABLE' });
  });
});
