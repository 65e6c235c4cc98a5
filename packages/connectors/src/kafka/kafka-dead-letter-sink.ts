import { z } from 'zod';
import type { DeadLetter, StreamRecord } from '@tributary/core';
import { parseOptions } from './parse-options.js';
import { checkConnectionSecurity } from './kafka-connection.js';
import { KafkaSink, producerSettings, producerShape } from './kafka-sink.js';
import { topicSchema } from './kafka-source.js';

/**
 * Header names a {@link kafkaDeadLetterSink} writes.
 *
 * @example
 * ```ts
 * const offset = Number(message.headers[DEAD_LETTER_HEADERS.sourceOffset]);
 * ```
 */
export const DEAD_LETTER_HEADERS = {
  errorCode: 'tributary.error.code',
  errorMessage: 'tributary.error.message',
  errorName: 'tributary.error.name',
  stage: 'tributary.stage',
  sourcePartition: 'tributary.source.partition',
  sourceOffset: 'tributary.source.offset',
  failedAt: 'tributary.failed.at',
} as const;

/** Longest error message kept in a header; longer ones are cut (headers travel with every fetch). */
const maxMessageLength = 2_000;

const kafkaDeadLetterSinkSchema = z.strictObject({
  ...producerShape,
  /** Dead-letter topic. Required. */
  topic: topicSchema,
  /** Sink name in metrics and logs. Default `kafka-dead-letters:<topic>`. */
  name: z.string().min(1, 'must be a non-empty string').optional(),
});

/**
 * Options of {@link kafkaDeadLetterSink}: the connection options plus `topic` (required), `name` (default
 * `kafka-dead-letters:<topic>`) and the producer settings of {@link KafkaSinkOptions} (`idempotent` default `true`,
 * `batchSize` default `500`, `compression` default `'none'`, `ackTimeoutMs` default `30_000`).
 *
 * @example
 * ```ts
 * const options: KafkaDeadLetterSinkOptions = { brokers: ['kafka:9092'], topic: 'orders.dlq', compression: 'gzip' };
 * ```
 *
 * @interface
 */
export type KafkaDeadLetterSinkOptions = z.input<typeof kafkaDeadLetterSinkSchema>;

/**
 * A `Sink` of dead letters that writes each one to a Kafka topic, for the runtime's `deadLetters` option.
 *
 * Each message carries the failed record's key and, as its value, the original payload: the raw bytes for a record
 * the source could not decode, the string as is, otherwise the JSON of the value. Headers say what failed and where:
 * `tributary.error.code`, `tributary.error.message` (cut at 2 000 characters), `tributary.error.name`,
 * `tributary.stage`, `tributary.source.partition` (`topic:partition`), `tributary.source.offset`,
 * `tributary.failed.at` (ms since the epoch), plus the record's own headers. The message timestamp is the failure time.
 * Delivery is at-least-once, like {@link kafkaSink}.
 *
 * @example
 * ```ts
 * const runtime = createRuntime(job, {
 *   deadLetters: kafkaDeadLetterSink({ brokers: ['kafka:9092'], topic: 'orders.dlq' }),
 * });
 * ```
 */
export function kafkaDeadLetterSink(options: KafkaDeadLetterSinkOptions): KafkaSink<DeadLetter> {
  const parsed = parseOptions(kafkaDeadLetterSinkSchema, 'kafkaDeadLetterSink', options);
  checkConnectionSecurity('kafkaDeadLetterSink', parsed);
  const name = parsed.name ?? `kafka-dead-letters:${parsed.topic}`;
  return new KafkaSink<DeadLetter>(producerSettings(name, parsed), (letterRecord: StreamRecord<DeadLetter>) => {
    const letter = letterRecord.value;
    const failed = letter.record;
    const message = letter.error.message.length > maxMessageLength ? `${letter.error.message.slice(0, maxMessageLength)}…` : letter.error.message;
    return {
      topic: parsed.topic,
      key: failed.key,
      value: deadLetterPayload(failed.value),
      headers: {
        ...failed.headers,
        [DEAD_LETTER_HEADERS.errorCode]: letter.error.code,
        [DEAD_LETTER_HEADERS.errorMessage]: message,
        [DEAD_LETTER_HEADERS.errorName]: letter.error.name,
        [DEAD_LETTER_HEADERS.stage]: letter.stage,
        [DEAD_LETTER_HEADERS.sourcePartition]: failed.position.partition,
        [DEAD_LETTER_HEADERS.sourceOffset]: String(failed.position.offset),
        [DEAD_LETTER_HEADERS.failedAt]: String(letter.failedAt),
      },
      timestamp: letter.failedAt,
    };
  });
}

/** @internal The message value of a dead letter: the failed record's value as it was (bytes, text, or JSON). */
export function deadLetterPayload(value: unknown): string | Buffer | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return value;
  // 64-bit integers (decoded Debezium values, Iceberg rows) are written as JSON strings, never lost to a throw.
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item));
}
