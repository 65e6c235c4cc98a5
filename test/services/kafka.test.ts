/**
 * Smoke test of the real Kafka broker started by `scripts/services.sh up kafka`, driven by kafkajs 2.2.4:
 * topic creation, keyed produce, a consumer group (join + sync + fetch + commit) and the committed offsets read back.
 * It fails, never skips, when the broker is down.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Admin, Consumer, EachMessagePayload, Producer } from 'kafkajs';
import { services } from '../support/services.js';

const PARTITIONS = 3;
const MESSAGES = 60;
const KEYS = 7;

describe('kafka service', () => {
  const id = randomUUID().slice(0, 8);
  const topic = `smoke-kafka-${id}`;
  const groupId = `smoke-kafka-group-${id}`;
  const kafka = new Kafka({
    clientId: `smoke-${id}`,
    brokers: [...services.kafkaBrokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 2, initialRetryTime: 200 },
  });
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;

  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin?.deleteGroups([groupId]).catch(() => undefined);
    await admin?.deleteTopics({ topics: [topic], timeout: 5_000 }).catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  });

  it('round-trips keyed messages through a consumer group and commits offsets', async () => {
    // Connecting inside the test (not in a hook): a broker that is down fails this test instead of skipping it.
    admin = kafka.admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]!.partitions).toHaveLength(PARTITIONS);

    // Produce: key k<i % KEYS>, so every key lands in one partition and order per key = order per partition.
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    const sent = Array.from({ length: MESSAGES }, (_, i) => ({
      key: `k${i % KEYS}`,
      value: JSON.stringify({ seq: i, id }),
      headers: { seq: String(i) },
    }));
    const expected = new Map<number, { key: string; value: string; offset: string }[]>();
    for (const message of sent) {
      // One send per message: the broker's answer gives each message's partition and offset.
      const [meta] = await producer.send({ topic, acks: -1, messages: [message] });
      const list = expected.get(meta!.partition) ?? [];
      list.push({ key: message.key, value: message.value, offset: meta!.baseOffset! });
      expected.set(meta!.partition, list);
    }
    // Every key maps to exactly one partition.
    const partitionOfKey = new Map<string, number>();
    for (const [partition, list] of expected) {
      for (const { key } of list) {
        expect(partitionOfKey.get(key) ?? partition).toBe(partition);
        partitionOfKey.set(key, partition);
      }
    }
    expect(expected.size).toBeGreaterThan(1); // 7 keys over 3 partitions: more than one partition is used

    // Consume through a consumer group, committing by hand.
    consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 500, // a short fetch wait keeps disconnect() fast
      allowAutoTopicCreation: false,
    });
    let joined: { memberId: string; leaderId: string; groupProtocol: string; memberAssignment: Record<string, number[]> } | undefined;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      joined = event.payload;
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Map<number, { key: string; value: string; offset: string; seqHeader: string }[]>();
    let count = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }: EachMessagePayload) => {
        const list = received.get(partition) ?? [];
        list.push({
          key: message.key!.toString(),
          value: message.value!.toString(),
          offset: message.offset,
          seqHeader: message.headers!.seq!.toString(),
        });
        received.set(partition, list);
        if (++count === MESSAGES) done();
        return Promise.resolve();
      },
    });
    await withTimeout(all, 30_000, () => `consumed ${count}/${MESSAGES} messages`);

    // The group really formed: join + sync gave this member every partition.
    expect(joined).toBeDefined();
    expect(joined!.memberId).toBe(joined!.leaderId);
    expect(joined!.memberAssignment[topic]?.slice().sort()).toEqual([...Array(PARTITIONS).keys()]);

    // Exact contents and order per partition.
    expect(count).toBe(MESSAGES);
    for (const [partition, list] of expected) {
      const got = received.get(partition) ?? [];
      expect(got.map(({ key, value, offset }) => ({ key, value, offset }))).toEqual(list);
      expect(got.map((m) => Number(m.seqHeader))).toEqual(list.map((m) => JSON.parse(m.value).seq));
    }
    expect([...received.keys()].sort()).toEqual([...expected.keys()].sort());

    // Commit the next offset to read for each partition and read it back through the admin API.
    const commits = [...received].map(([partition, list]) => ({
      topic,
      partition,
      offset: String(Number(list.at(-1)!.offset) + 1),
    }));
    await consumer.commitOffsets(commits);
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(fetched!.topic).toBe(topic);
    const committed = new Map(fetched!.partitions.map((p) => [p.partition, p.offset]));
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const list = expected.get(partition);
      // Partitions that got no message keep "-1" (no committed offset).
      expect(committed.get(partition)).toBe(list ? String(list.length) : '-1');
    }

    const groups = await admin.describeGroups([groupId]);
    expect(groups.groups[0]!.state).toBe('Stable');
    expect(groups.groups[0]!.members).toHaveLength(1);
  });
});

async function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
