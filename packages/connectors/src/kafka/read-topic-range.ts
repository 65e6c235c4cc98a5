import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger, StreamRecord } from '@tributary/core';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { ConnectorError } from '../errors.js';
import { parseOptions } from './parse-options.js';
import { connectOrFail, functionSchema, milliseconds, offsetToNumber, partitionId, rootMessage } from './kafka-connection.js';
import type { KafkaConnection } from './kafka-connection.js';
import { decodeHeaders, valueDecoder } from './kafka-deserializer.js';
import type { KafkaDeserializer, KafkaMessageMeta } from './kafka-deserializer.js';
import { topicSchema } from './kafka-source.js';

const readTopicRangeSchema = z
  .strictObject({
    /** Topic to read. Required. */
    topic: topicSchema,
    /** Start of the time range (inclusive), ms since the epoch. Required. */
    from: z.int('must be ms since the epoch').nonnegative('must be ms since the epoch'),
    /** End of the time range (exclusive), ms since the epoch. Required. */
    to: z.int('must be ms since the epoch').nonnegative('must be ms since the epoch'),
    /** Most records returned. Default `1_000`, at most `100_000`. */
    limit: z.int().positive('must be a positive integer').max(100_000, 'must be at most 100000').default(1_000),
    /** Partitions to read (numbers). Default: all. */
    partitions: z.array(z.int().nonnegative('must be partition numbers')).min(1, 'must name at least one partition').optional(),
    /** `'json'` (default), `'string'`, `'bytes'` or a function; see `KafkaDeserializer`. */
    deserializer: z.union([z.enum(['json', 'string', 'bytes']), functionSchema<(value: Buffer | null, meta: KafkaMessageMeta) => unknown>()]).default('json'),
    /** Longest the read may take, in ms; on expiry the records read so far come back with `complete: false`. Default `30_000`. */
    timeoutMs: milliseconds('timeoutMs').default(30_000),
    /** Aborts the read (the records read so far come back with `complete: false`). */
    signal: z.custom<AbortSignal>((value) => value instanceof AbortSignal, 'must be an AbortSignal').optional(),
  })
  .refine((options) => options.from < options.to, { path: ['to'], message: 'must be after `from`' });

type SchemaInput = z.input<typeof readTopicRangeSchema>;

/**
 * Options of `KafkaAdmin.readTopicRange`: `topic`, `from` (inclusive) and `to` (exclusive) are required; `limit`
 * (default `1_000`), `partitions` (default all), `deserializer` (default `'json'`), `timeoutMs` (default `30_000`),
 * `signal`.
 *
 * @example
 * ```ts
 * const options: ReadTopicRangeOptions<Order> = { topic: 'orders', from: Date.now() - 3_600_000, to: Date.now(), limit: 100 };
 * ```
 */
export interface ReadTopicRangeOptions<V = unknown> extends Omit<SchemaInput, 'deserializer'> {
  /** `'json'` (default), `'string'`, `'bytes'` or a function. */
  deserializer?: KafkaDeserializer<V>;
}

/**
 * What `KafkaAdmin.readTopicRange` returns.
 *
 * @example
 * ```ts
 * const { records, undecodable, complete }: TopicRange<Order> = await admin.readTopicRange<Order>(options);
 * ```
 */
export interface TopicRange<V> {
  /** Decoded records with timestamps in `[from, to)`, in timestamp order (ties by partition, then offset). */
  readonly records: readonly StreamRecord<V>[];
  /** Records in the range that could not be decoded (not counted in `limit`). */
  readonly undecodable: readonly { readonly partition: string; readonly offset: number; readonly error: string }[];
  /** `false` when `limit`, the timeout or the signal cut the read short. */
  readonly complete: boolean;
}

interface PartitionPlan {
  readonly partition: number;
  readonly start: number;
  readonly end: number;
  collected: number;
  done: boolean;
}

/**
 * Reads the records of `topic` whose timestamps lie in `[from, to)`. Per partition it reads from
 * `offsetsForTimes(from)` up to `offsetsForTimes(to)` (or the end of the partition), keeps at most `limit` records per
 * partition, and merges them in timestamp order. kafkajs cannot read without a consumer group, so this joins a fresh
 * group `tributary-range-<uuid>`, never commits, and deletes the group when done: nothing is left behind.
 *
 * Record timestamps are assumed to grow with offsets in each partition (true for LogAppendTime and for producers that
 * stamp at send time); a record stamped out of order after the `to` boundary is not seen.
 *
 * @internal exposed through `KafkaAdmin.readTopicRange`
 */
export async function readTopicRange<V>(kafka: Kafka, admin: Admin, connection: KafkaConnection, logger: Logger, options: ReadTopicRangeOptions<V>): Promise<TopicRange<V>> {
  const parsed = parseOptions(readTopicRangeSchema, 'readTopicRange', options);
  const { topic, from, to, limit } = parsed;
  const decode = valueDecoder(parsed.deserializer as KafkaDeserializer<V>);
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch((error: unknown) => {
    throw new ConnectorError('KAFKA_TOPIC_NOT_FOUND', `readTopicRange: topic "${topic}" could not be described: ${rootMessage(error)}. Check the name.`, {
      connector: 'kafka',
      topic,
      cause: error,
    });
  });
  const allPartitions = (metadata.topics[0]?.partitions ?? []).map((p) => p.partitionId).sort((a, b) => a - b);
  const wanted = parsed.partitions === undefined ? allPartitions : allPartitions.filter((p) => parsed.partitions!.includes(p));
  const starts = await admin.fetchTopicOffsetsByTimestamp(topic, from);
  const ends = await admin.fetchTopicOffsetsByTimestamp(topic, to);
  const offsetOf = (list: { partition: number; offset: string }[], partition: number): number =>
    offsetToNumber(list.find((entry) => entry.partition === partition)?.offset ?? '0', { topic, partition });
  const plans = new Map<number, PartitionPlan>();
  for (const partition of wanted) {
    const start = offsetOf(starts, partition);
    const end = offsetOf(ends, partition);
    if (start < end) plans.set(partition, { partition, start, end, collected: 0, done: false });
  }
  if (plans.size === 0) return { records: [], undecodable: [], complete: true };

  const groupId = `tributary-range-${randomUUID()}`;
  const records: StreamRecord<V>[] = [];
  const undecodable: { partition: string; offset: number; error: string }[] = [];
  let limitHit = false;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const consumer: Consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 200,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
    retry: { retries: connection.retry.retries, initialRetryTime: connection.retry.initialRetryTimeMs, maxRetryTime: connection.retry.maxRetryTimeMs },
  });
  const markDone = (plan: PartitionPlan): void => {
    if (plan.done) return;
    plan.done = true;
    try {
      consumer.pause([{ topic, partitions: [plan.partition] }]);
    } catch {
      // not running any more
    }
    if ([...plans.values()].every((p) => p.done)) finish();
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    // Synchronous, so the seeks and pauses are in place before kafkajs fetches for the first time.
    const assigned = event.payload.memberAssignment[topic] ?? [];
    const idle = assigned.filter((partition) => plans.get(partition)?.done !== false);
    if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    for (const partition of assigned) {
      const plan = plans.get(partition);
      if (plan !== undefined && !plan.done) consumer.seek({ topic, partition, offset: String(plan.start) });
    }
  });
  const timer = setTimeout(finish, parsed.timeoutMs);
  parsed.signal?.addEventListener('abort', finish, { once: true });
  try {
    await connectOrFail('range reader', connection, () => consumer.connect());
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const plan = plans.get(batch.partition);
        if (plan === undefined || plan.done) return;
        for (const message of batch.messages) {
          const offset = offsetToNumber(message.offset, { topic, partition: batch.partition });
          if (offset < plan.start) continue;
          if (offset >= plan.end) break;
          const timestamp = Number(message.timestamp);
          if (timestamp >= from && timestamp < to) {
            const key = message.key === null || message.key === undefined ? null : message.key.toString('utf8');
            const headers = decodeHeaders(message.headers);
            const meta: KafkaMessageMeta = { topic, partition: batch.partition, offset, key, headers, timestamp };
            try {
              const value = await decode(message.value ?? null, meta);
              records.push({ key, value, eventTime: timestamp, position: { partition: partitionId(topic, batch.partition), offset }, headers });
              plan.collected++;
            } catch (error) {
              undecodable.push({ partition: partitionId(topic, batch.partition), offset, error: error instanceof Error ? error.message : String(error) });
            }
            if (plan.collected >= limit) {
              limitHit = limitHit || offset + 1 < plan.end;
              break;
            }
          }
        }
        const last = batch.messages.at(-1);
        const reachedEnd = last !== undefined && offsetToNumber(last.offset, { topic, partition: batch.partition }) + 1 >= plan.end;
        if (reachedEnd || plan.collected >= limit) markDone(plan);
      },
    });
    if (parsed.signal?.aborted === true) finish();
    await finished;
  } finally {
    clearTimeout(timer);
    parsed.signal?.removeEventListener('abort', finish);
    await consumer.disconnect().catch(() => undefined);
    // The group never committed, so it holds nothing worth keeping: remove it rather than wait for expiry.
    await admin.deleteGroups([groupId]).catch((error: unknown) => logger.debug({ groupId, error: rootMessage(error) }, 'readTopicRange: ephemeral group not deleted'));
  }
  records.sort((a, b) => a.eventTime - b.eventTime || (a.position.partition < b.position.partition ? -1 : a.position.partition > b.position.partition ? 1 : a.position.offset - b.position.offset));
  const cut = records.length > limit;
  const unfinished = [...plans.values()].some((plan) => !plan.done);
  return { records: cut ? records.slice(0, limit) : records, undecodable, complete: !unfinished && !limitHit && !cut };
}
