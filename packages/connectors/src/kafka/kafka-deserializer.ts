import type { RecordHeaders } from '@tributary/core';
import type { IHeaders } from 'kafkajs';

/**
 * Where a Kafka message came from and what it carried besides its value; given to deserializers and `eventTime`.
 *
 * @example
 * ```ts
 * const eventTime = (order: Order, meta: KafkaMessageMeta) => order.createdAt ?? meta.timestamp;
 * ```
 */
export interface KafkaMessageMeta {
  readonly topic: string;
  readonly partition: number;
  /** Offset as a number (exact below 2^53). */
  readonly offset: number;
  /** Key decoded as UTF-8, or `null`. */
  readonly key: string | null;
  /** Headers decoded as UTF-8 (a repeated header keeps its last value). */
  readonly headers: RecordHeaders;
  /** Record timestamp (CreateTime or LogAppendTime), ms since the epoch. */
  readonly timestamp: number;
}

/**
 * How a message value becomes a record value:
 *
 * - `'json'` — UTF-8 JSON (`JSON.parse`); a tombstone (null value) becomes `null`.
 * - `'string'` — the value as a UTF-8 string (`null` for a tombstone).
 * - `'bytes'` — the raw `Buffer` (`null` for a tombstone).
 * - a function `(value, meta) => V` (or a promise of `V`), e.g. a schema-registry decoder. Throwing sends the
 *   message to the dead letters.
 *
 * @example
 * ```ts
 * const upperCase: KafkaDeserializer<string> = (value) => (value === null ? '' : value.toString('utf8').toUpperCase());
 * const source = kafkaSource<string>({ brokers, groupId: 'g', topics: ['names'], deserializer: upperCase });
 * ```
 */
export type KafkaDeserializer<V> = 'json' | 'string' | 'bytes' | ((value: Buffer | null, meta: KafkaMessageMeta) => V | Promise<V>);

/** Returns the decoder of a deserializer option; the result may be a promise only for a custom function. */
export function valueDecoder<V>(deserializer: KafkaDeserializer<V>): (value: Buffer | null, meta: KafkaMessageMeta) => V | Promise<V> {
  switch (deserializer) {
    case 'json':
      return (value) => (value === null ? null : JSON.parse(value.toString('utf8'))) as V;
    case 'string':
      return (value) => (value === null ? null : value.toString('utf8')) as V;
    case 'bytes':
      return (value) => value as V;
    default:
      return deserializer;
  }
}

const noHeaders: RecordHeaders = Object.freeze({});

/** Decodes kafkajs headers as UTF-8 strings; for a header repeated in one message the last value wins. */
export function decodeHeaders(headers: IHeaders | undefined): RecordHeaders {
  if (headers === undefined) return noHeaders;
  let out: Record<string, string> | undefined;
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const last = Array.isArray(raw) ? raw.at(-1) : raw;
    if (last === undefined) continue;
    (out ??= {})[name] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return out ?? noHeaders;
}
