import { z } from 'zod';
import { TributaryError } from '@tributary/core';
import type { Checkpoint, Logger, Sink, SinkContext, StreamRecord } from '@tributary/core';
import type { Message, Producer, TopicMessages } from 'kafkajs';
import { parseOptions } from './parse-options.js';
import { checkConnectionSecurity, connectOrFail, createKafkaClient, functionSchema, kafkaConnectionShape, milliseconds, rootMessage, toConnectorError } from './kafka-connection.js';
import type { KafkaConnection } from './kafka-connection.js';
import { topicSchema } from './kafka-source.js';

/**
 * What a sink sends for one record.
 *
 * @example
 * ```ts
 * const message: KafkaOutgoingMessage = { topic: 'orders.out', key: 'o-1', value: '{"id":1}', headers: {}, timestamp: Date.now() };
 * ```
 */
export interface KafkaOutgoingMessage {
  readonly topic: string;
  readonly key: string | Buffer | null;
  /** `null` is a tombstone. */
  readonly value: string | Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Partition to write to; `undefined` lets the key decide (murmur2, like the Java client). */
  readonly partition?: number;
  /** Record timestamp, ms since the epoch. */
  readonly timestamp: number;
}

/**
 * Producer settings shared by {@link kafkaSink} and the dead-letter sink.
 *
 * @internal
 */
export const producerShape = {
  ...kafkaConnectionShape,
  /**
   * Idempotent producer (no duplicates from the producer's own retries, order kept per partition). Default `true`.
   * Always with `acks: all` and one request in flight per connection.
   */
  idempotent: z.boolean('must be true or false').default(true),
  /** Requests in flight per broker connection when `idempotent: false`. Default `1` (order kept through retries). */
  maxInFlightRequests: z.int().min(1, 'must be between 1 and 5').max(5, 'must be between 1 and 5').default(1),
  /** Records buffered before `write` sends them (and waits for the acknowledgement). Default `500`. */
  batchSize: z.int().positive('must be a positive integer').default(500),
  /** Compression of produced batches: `'none'` (default) or `'gzip'` (built into kafkajs). */
  compression: z.enum(['none', 'gzip']).default('none'),
  /** How long the broker may take to acknowledge a send (`acks: all`), in ms. Default `30_000`. */
  ackTimeoutMs: milliseconds('ackTimeoutMs').default(30_000),
};

const kafkaSinkSchema = z.strictObject({
  ...producerShape,
  /** Sink name in metrics and logs. Default `kafka:<topic>` (or `kafka` with a topic function). */
  name: z.string().min(1, 'must be a non-empty string').optional(),
  /** Target topic, or a function of the record choosing it. Required. */
  topic: z.union([topicSchema, functionSchema<(record: StreamRecord<unknown>) => string>()]),
  /** Message key of a record. Default: the record key. */
  key: functionSchema<(record: StreamRecord<unknown>) => string | Buffer | null>().optional(),
  /** Message value of a record; `null` is a tombstone. Default: `JSON.stringify(record.value)`, tombstone for `null`/`undefined`. */
  value: functionSchema<(record: StreamRecord<unknown>) => string | Buffer | null>().optional(),
  /** Message headers of a record. Default: the record headers. */
  headers: functionSchema<(record: StreamRecord<unknown>) => Readonly<Record<string, string>>>().optional(),
  /** Partition of a record. Default: chosen from the key by the default partitioner. */
  partition: functionSchema<(record: StreamRecord<unknown>) => number | undefined>().optional(),
  /** Message timestamp: the record's event time (default) or the time of sending. */
  timestamp: z.enum(['event-time', 'send-time']).default('event-time'),
});

type SchemaInput = z.input<typeof kafkaSinkSchema>;

/**
 * Options of {@link kafkaSink}: the connection options ({@link KafkaConnectionOptions}) plus:
 *
 * - `topic` (required): a topic name or `(record) => topic`.
 * - `key` (default: the record key), `value` (default: JSON of the value; `null`/`undefined` become tombstones),
 *   `headers` (default: the record headers), `partition` (default: by key), `timestamp` (default `'event-time'`).
 * - `idempotent` (default `true`), `maxInFlightRequests` (default `1`, only without idempotence), `batchSize`
 *   (default `500`), `compression` (default `'none'`), `ackTimeoutMs` (default `30_000`), `name`.
 *
 * @example
 * ```ts
 * const options: KafkaSinkOptions<Order> = { brokers: ['kafka:9092'], topic: (r) => `orders.${r.value.region}`, batchSize: 1_000 };
 * ```
 */
export interface KafkaSinkOptions<V = unknown> extends Omit<SchemaInput, 'topic' | 'key' | 'value' | 'headers' | 'partition'> {
  /** Target topic, or a function of the record choosing it. Required. */
  topic: string | ((record: StreamRecord<V>) => string);
  /** Message key of a record. Default: the record key. */
  key?: (record: StreamRecord<V>) => string | Buffer | null;
  /** Message value; `null` is a tombstone. Default: `JSON.stringify(record.value)` (tombstone for `null`/`undefined`). */
  value?: (record: StreamRecord<V>) => string | Buffer | null;
  /** Message headers. Default: the record headers. */
  headers?: (record: StreamRecord<V>) => Readonly<Record<string, string>>;
  /** Partition of a record. Default: chosen from the key. */
  partition?: (record: StreamRecord<V>) => number | undefined;
}

/** Settings shared by {@link KafkaSink} and the dead-letter sink. */
export interface ProducerSettings {
  readonly name: string;
  readonly connection: KafkaConnection;
  readonly idempotent: boolean;
  readonly maxInFlightRequests: number;
  readonly batchSize: number;
  readonly compression: 'none' | 'gzip';
  readonly ackTimeoutMs: number;
}

/**
 * A `Sink` producing to Kafka, built by {@link kafkaSink} and {@link kafkaDeadLetterSink}.
 *
 * Batching: `write` buffers records and, once `batchSize` are buffered, sends them and waits for the brokers'
 * acknowledgement (`acks: all`) before resolving, so a slow cluster slows the topology down (backpressure) instead of
 * filling memory. `commit` sends what is left and resolves only when every record written so far is acknowledged.
 * A failed send rejects `write`/`commit` with a `KAFKA_PRODUCE_FAILED` `ConnectorError`; the producer is then
 * replaced, since an idempotent producer whose retries ran out may be out of sequence.
 *
 * @example
 * ```ts
 * const sink: KafkaSink<Order> = kafkaSink<Order>({ brokers, topic: 'orders.out' });
 * console.log(`${sink.sent} records acknowledged in ${sink.batches} sends`);
 * ```
 */
export class KafkaSink<V> implements Sink<V> {
  /** Sink name (metrics and logs). */
  readonly name: string;
  readonly #settings: ProducerSettings;
  readonly #toMessage: (record: StreamRecord<V>, now: number) => KafkaOutgoingMessage;
  #context: SinkContext | undefined;
  #producer: Producer | undefined;
  #connecting: Promise<Producer> | undefined;
  #pending: KafkaOutgoingMessage[] = [];
  #sent = 0;
  #batches = 0;

  /** @internal use {@link kafkaSink} or {@link kafkaDeadLetterSink} */
  constructor(settings: ProducerSettings, toMessage: (record: StreamRecord<V>, now: number) => KafkaOutgoingMessage) {
    this.name = settings.name;
    this.#settings = settings;
    this.#toMessage = toMessage;
  }

  /** Connects the producer (bounded retries; an unreachable cluster fails with `KAFKA_UNREACHABLE`). */
  async open(context: SinkContext): Promise<void> {
    this.#context = context;
    await this.#connect();
  }

  /** Buffers the records; sends and awaits acknowledgement once `batchSize` are buffered. */
  async write(records: readonly StreamRecord<V>[]): Promise<void> {
    const now = this.#context?.clock.now() ?? Date.now();
    for (const record of records) this.#pending.push(this.#toMessage(record, now));
    if (this.#pending.length >= this.#settings.batchSize) await this.#flush();
  }

  /** Sends what is buffered and resolves once everything written so far is acknowledged by the brokers. */
  async commit(_checkpoint: Checkpoint): Promise<void> {
    await this.#flush();
  }

  /**
   * Drops records buffered but not sent. Records already acknowledged stay in Kafka (this sink is not transactional),
   * so a replay after a crash may write them again: at-least-once.
   */
  abort(): void {
    this.#pending = [];
  }

  /** Disconnects the producer. */
  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    this.#connecting = undefined;
    if (this.#pending.length > 0) this.#logger().warn({ sink: this.name, dropped: this.#pending.length }, 'kafka sink closed with unsent records (no commit after the last write)');
    this.#pending = [];
    await producer?.disconnect().catch(() => undefined);
  }

  /** Records acknowledged by the brokers since the sink was created. */
  get sent(): number {
    return this.#sent;
  }

  /** Send calls made since the sink was created. */
  get batches(): number {
    return this.#batches;
  }

  /** Records buffered, not yet sent. */
  get buffered(): number {
    return this.#pending.length;
  }

  #logger(): Logger {
    return this.#context?.logger ?? { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  }

  #connect(): Promise<Producer> {
    if (this.#producer !== undefined) return Promise.resolve(this.#producer);
    this.#connecting ??= (async () => {
      const settings = this.#settings;
      const logger = this.#logger();
      const kafka = await createKafkaClient(`kafka sink "${this.name}"`, settings.connection, { logger: idempotenceRetryNotice(logger) });
      const producer = kafka.producer({
        idempotent: settings.idempotent,
        maxInFlightRequests: settings.idempotent ? 1 : settings.maxInFlightRequests,
        allowAutoTopicCreation: false,
        retry: {
          retries: settings.connection.retry.retries,
          initialRetryTime: settings.connection.retry.initialRetryTimeMs,
          maxRetryTime: settings.connection.retry.maxRetryTimeMs,
        },
      });
      await connectOrFail('producer', settings.connection, () => producer.connect());
      this.#producer = producer;
      return producer;
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const byTopic = new Map<string, Message[]>();
    for (const message of batch) {
      let list = byTopic.get(message.topic);
      if (list === undefined) byTopic.set(message.topic, (list = []));
      list.push({
        key: message.key,
        value: message.value,
        headers: { ...message.headers },
        timestamp: String(message.timestamp),
        ...(message.partition === undefined ? {} : { partition: message.partition }),
      });
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    const producer = await this.#connect();
    try {
      this.#batches++;
      await producer.sendBatch({
        topicMessages,
        acks: -1,
        timeout: this.#settings.ackTimeoutMs,
        // kafkajs CompressionTypes: None 0, GZIP 1.
        compression: this.#settings.compression === 'gzip' ? 1 : 0,
      });
      this.#sent += batch.length;
    } catch (error) {
      // An idempotent producer whose retries ran out may be out of sequence: never reuse it.
      if (this.#producer === producer) this.#producer = undefined;
      void producer.disconnect().catch(() => undefined);
      throw toConnectorError(error, {
        code: 'KAFKA_PRODUCE_FAILED',
        message: `kafka sink "${this.name}": sending ${batch.length} record(s) to ${[...byTopic.keys()].join(', ')} failed: ${rootMessage(error)}. Nothing after the last commit is acknowledged; the runtime replays it after a restart.`,
        topic: topicMessages[0]?.topic ?? '',
      });
    }
  }
}

/**
 * kafkajs warns at every idempotent producer with bounded retries ("may invalidate EoS guarantees"). Bounded retries
 * are deliberate here (an unreachable cluster must fail, not hang) and safe: a producer whose send failed is discarded,
 * never reused out of sequence. The notice goes to debug instead of warning on every start.
 */
function idempotenceRetryNotice(logger: Logger): Logger {
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    warn: (fields, message) => (message.includes('Limiting retries for the idempotent producer') ? logger.debug(fields, message) : logger.warn(fields, message)),
    error: (fields, message) => logger.error(fields, message),
  };
}

/**
 * A Kafka `Sink`: keyed produce with an idempotent producer, `acks: all`, one request in flight per connection,
 * batched by `batchSize`. `commit` resolves only when every record written so far is acknowledged, so the runtime
 * commits source positions only for records durable in Kafka (at-least-once; a crash between the produce and the
 * source commit replays records, which this non-transactional sink writes again — see
 * `docs/decisions/0005-kafka-transactions.md` for why there is no transactional mode).
 *
 * @param options see {@link KafkaSinkOptions}; `brokers` and `topic` are required
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * const enriched = kafkaSink<EnrichedOrder>({
 *   brokers: ['kafka:9092'],
 *   topic: 'orders.enriched',
 *   key: (record) => record.value.orderId,
 *   headers: (record) => ({ ...record.headers, 'schema-version': '2' }),
 * });
 * const job = defineTopology({ name: 'enrich', source, pipeline: (s) => s.pipe(enrich(...), toSink(enriched)) });
 * ```
 */
export function kafkaSink<V = unknown>(options: KafkaSinkOptions<V>): KafkaSink<V> {
  const parsed = parseOptions(kafkaSinkSchema, 'kafkaSink', options);
  checkConnectionSecurity('kafkaSink', parsed);
  const topicOption = parsed.topic as string | ((record: StreamRecord<V>) => string);
  const keyOf = (parsed.key as ((record: StreamRecord<V>) => string | Buffer | null) | undefined) ?? ((record: StreamRecord<V>) => record.key);
  const valueOf =
    (parsed.value as ((record: StreamRecord<V>) => string | Buffer | null) | undefined) ??
    ((record: StreamRecord<V>) => (record.value === null || record.value === undefined ? null : JSON.stringify(record.value)));
  const headersOf = (parsed.headers as ((record: StreamRecord<V>) => Readonly<Record<string, string>>) | undefined) ?? ((record: StreamRecord<V>) => record.headers);
  const partitionOf = parsed.partition as ((record: StreamRecord<V>) => number | undefined) | undefined;
  const name = parsed.name ?? (typeof topicOption === 'string' ? `kafka:${topicOption}` : 'kafka');
  const sendTime = parsed.timestamp === 'send-time';
  return new KafkaSink<V>(producerSettings(name, parsed), (record, now) => {
    const topic = typeof topicOption === 'string' ? topicOption : checkedTopic(topicOption(record), name);
    const partition = partitionOf?.(record);
    return {
      topic,
      key: keyOf(record),
      value: valueOf(record),
      headers: headersOf(record),
      timestamp: sendTime ? now : record.eventTime,
      ...(partition === undefined ? {} : { partition }),
    };
  });
}

/** @internal */
export function producerSettings(name: string, parsed: KafkaConnection & Omit<ProducerSettings, 'name' | 'connection'>): ProducerSettings {
  return {
    name,
    connection: parsed,
    idempotent: parsed.idempotent,
    maxInFlightRequests: parsed.maxInFlightRequests,
    batchSize: parsed.batchSize,
    compression: parsed.compression,
    ackTimeoutMs: parsed.ackTimeoutMs,
  };
}

function checkedTopic(topic: unknown, sink: string): string {
  if (typeof topic === 'string' && /^[A-Za-z0-9._-]{1,249}$/.test(topic)) return topic;
  throw new TributaryError('KAFKA_INVALID_TOPIC', `kafka sink "${sink}": the topic function returned ${JSON.stringify(topic)}, not a valid topic name.`);
}
