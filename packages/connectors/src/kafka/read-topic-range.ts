import { z } from 'zod';
import type { Logger, StreamRecord } from '@tributary/core';
import type { Admin, Kafka } from 'kafkajs';
import { ConnectorError } from '../errors.js';
import { parseOptions } from './parse-options.js';
import { functionSchema, milliseconds, offsetToNumber, rootMessage } from './kafka-connection.js';
import type { KafkaConnection } from './kafka-connection.js';
import { valueDecoder } from './kafka-deserializer.js';
import { readPartitionSpans } from './read-topic-offsets.js';
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
    /** Most records returned, across partitions (undecodable ones included). Default `1_000`, at most `100_000`. */
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
  .refine((options) => options.from < options.to, {
    path: ['to'],
    message: 'must be after `from`',
  });

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
  /** Records in the range that could not be decoded, in timestamp order; they count toward `limit`. */
  readonly undecodable: readonly {
    readonly partition: string;
    readonly offset: number;
    readonly error: string;
  }[];
  /** `false` when `limit`, the timeout or the signal cut the read short. */
  readonly complete: boolean;
}

/**
 * Reads the records of `topic` whose timestamps lie in `[from, to)`. Per partition it reads from
 * `offsetsForTimes(from)` up to `offsetsForTimes(to)` (or the end of the partition) and returns the `limit` oldest
 * records across partitions (undecodable ones count toward `limit`) in timestamp order; a partition is no longer
 * fetched once `limit` records older than its next one are held. kafkajs cannot read without a consumer group, so
 * this joins a fresh group `tributary-range-<uuid>`, never commits, and deletes the group when done.
 *
 * Record timestamps are assumed to grow with offsets in each partition (true for LogAppendTime and for producers that
 * stamp at send time); a record stamped out of order after the `to` boundary, or behind a later-stamped record once
 * `limit` is reached, is not seen.
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
  const spans = wanted.map((partition) => ({
    partition,
    start: offsetOf(starts, partition),
    end: offsetOf(ends, partition),
  }));
  const read = await readPartitionSpans(kafka, admin, connection, logger, {
    topic,
    spans,
    limit,
    order: 'time',
    timeoutMs: parsed.timeoutMs,
    signal: parsed.signal,
    decode,
    accept: (timestamp) => timestamp >= from && timestamp < to,
    groupPrefix: 'tributary-range',
    subject: 'range reader',
  });
  const complete = [...read.progress.values()].every((p) => p.reachedEnd);
  return { records: read.records, undecodable: read.undecodable, complete };
}
