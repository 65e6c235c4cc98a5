/**
 * Shared helpers of the Kafka integration tests: a plain kafkajs admin/producer against the test broker, unique
 * names, bounded waiting. Nothing here skips: a broker that is down fails the test that uses it.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { services } from '../../../../test/support/services.js';

export const brokers = [...services.kafkaBrokers];

/** Fast group timing for tests (the broker runs with group.initial.rebalance.delay.ms=0). */
export const fastGroup = { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200, retry: { retries: 3, initialRetryTimeMs: 100 } } as const;

export const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export interface KafkaTestKit {
  readonly admin: Admin;
  readonly producer: Producer;
  createTopic(topic: string, partitions: number, config?: Record<string, string>): Promise<void>;
  /**
   * Produces JSON values (or raw strings/buffers) with keys. Returns the position of each message that named its
   * partition (`undefined` for messages the partitioner placed).
   */
  produce(topic: string, messages: readonly TestMessage[]): Promise<({ partition: number; offset: number } | undefined)[]>;
  endOffsets(topic: string): Promise<Record<number, number>>;
  committed(groupId: string, topic: string): Promise<Record<number, number>>;
  track(kind: 'topic' | 'group', name: string): void;
  cleanup(): Promise<void>;
}

export interface TestMessage {
  readonly key?: string | null;
  readonly value: unknown;
  readonly headers?: Record<string, string>;
  readonly partition?: number;
  readonly timestamp?: number;
  /** Send the value as-is (string or Buffer) instead of JSON. */
  readonly raw?: boolean;
}

/** Connects an admin and a producer; fails (never skips) when the broker is down. */
export async function kafkaTestKit(): Promise<KafkaTestKit> {
  const kafka = new Kafka({ clientId: uniqueName('test-kit'), brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 2, initialRetryTime: 200 } });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const topics = new Set<string>();
  const groups = new Set<string>();
  return {
    admin,
    producer,
    async createTopic(topic, partitions, config = {}) {
      topics.add(topic);
      // Fixtures carry fixed event times (e.g. 2026-01-01) that are older than the broker's default 7-day retention: the
      // broker's retention check (every 5 minutes) would delete them mid-test. Test topics keep everything unless a test
      // says otherwise.
      const entries = { 'retention.ms': '-1', ...config };
      await admin.createTopics({
        topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })) }],
        waitForLeaders: true,
      });
    },
    async produce(topic, messages) {
      const out: ({ partition: number; offset: number } | undefined)[] = [];
      // One send per partition batch keeps offsets predictable; messages keep their order per partition.
      const batchSize = 200;
      for (let start = 0; start < messages.length; start += batchSize) {
        const chunk = messages.slice(start, start + batchSize);
        const result = await producer.send({
          topic,
          acks: -1,
          messages: chunk.map((message) => ({
            key: message.key ?? null,
            value: message.raw === true ? (message.value as string | Buffer | null) : JSON.stringify(message.value),
            ...(message.headers === undefined ? {} : { headers: message.headers }),
            ...(message.partition === undefined ? {} : { partition: message.partition }),
            ...(message.timestamp === undefined ? {} : { timestamp: String(message.timestamp) }),
          })),
        });
        const next = new Map(result.map((meta) => [meta.partition, Number(meta.baseOffset)]));
        for (const message of chunk) {
          if (message.partition === undefined) {
            out.push(undefined);
            continue;
          }
          const offset = next.get(message.partition)!;
          next.set(message.partition, offset + 1);
          out.push({ partition: message.partition, offset });
        }
      }
      return out;
    },
    async endOffsets(topic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return Object.fromEntries(offsets.map(({ partition, high }) => [partition, Number(high)]));
    },
    async committed(groupId, topic) {
      const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return Object.fromEntries((fetched?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
    },
    track(kind, name) {
      (kind === 'topic' ? topics : groups).add(name);
    },
    async cleanup() {
      await producer.disconnect().catch(() => undefined);
      if (groups.size > 0) await admin.deleteGroups([...groups]).catch(() => undefined);
      if (topics.size > 0) await admin.deleteTopics({ topics: [...topics], timeout: 10_000 }).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}

/** Polls `condition` every `intervalMs` until it holds; fails with `describe()` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Rejects with a clear message when `promise` does not settle within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
