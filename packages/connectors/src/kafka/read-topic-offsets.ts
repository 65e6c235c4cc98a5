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

const offset = (what: string) => z.int(`${what} must be an offset (an integer ≥ 0)`).nonnegative(`${what} must be an offset (an integer ≥ 0), not negative`);

const offsetRangeSchema = z
  .strictObject({
    /** First offset to read (inclusive). Required. */
    from: offset('from'),
    /** End offset (exclusive). Default: the partition's end offset at call time. */
    to: offset('to').optional(),
  })
  .refine((range) => range.to === undefined || range.from < range.to, {
    path: ['to'],
    message: 'must be after `from` (the range [from, to) is empty or inverted)',
  });

const readTopicOffsetsSchema = z
  .strictObject({
    /** Topic to read. Required. */
    topic: topicSchema,
    /**
     * Per partition (keyed by partition number), the offsets `[from, to)` to read. Default: every partition, from
     * `from` (or its log start) to its end at call time.
     */
    partitions: z
      .record(z.string().regex(/^(0|[1-9][0-9]{0,5})$/, 'keys must be partition numbers'), offsetRangeSchema)
      .refine((ranges) => Object.keys(ranges).length > 0, 'must name at least one partition')
      .optional(),
    /** Without `partitions`: the first offset to read in every partition. Default: each partition's log start. */
    from: offset('from').optional(),
    /** Most records returned. Default `1_000`, at most `100_000`. */
    limit: z.int().positive('must be a positive integer').max(100_000, 'must be at most 100000').default(1_000),
    /** `'json'` (default), `'string'`, `'bytes'` or a function; see `KafkaDeserializer`. */
    deserializer: z.union([z.enum(['json', 'string', 'bytes']), functionSchema<(value: Buffer | null, meta: KafkaMessageMeta) => unknown>()]).default('json'),
    /** Longest the read may take, in ms; on expiry the records read so far come back with `complete: false`. Default `30_000`. */
    timeoutMs: milliseconds('timeoutMs').default(30_000),
    /** Aborts the read (the records read so far come back with `complete: false`). */
    signal: z.custom<AbortSignal>((value) => value instanceof AbortSignal, 'must be an AbortSignal').optional(),
  })
  .refine((options) => options.partitions === undefined || options.from === undefined, {
    path: ['from'],
    message: 'give either `from` (every partition) or `partitions` (a range per partition), not both',
  });

type SchemaInput = z.input<typeof readTopicOffsetsSchema>;

/**
 * Options of `KafkaAdmin.readTopicOffsets`: `topic` (required); `partitions` — per partition number, the offsets
 * `[from, to)` to read, `to` defaulting to the partition's end offset at call time — or, instead, `from` for every
 * partition (default: each partition's log start); `limit` (default `1_000`, across partitions, undecodable records
 * included), `deserializer`
 * (default `'json'`), `timeoutMs` (default `30_000`), `signal`.
 *
 * @example
 * ```ts
 * const options: ReadTopicOffsetsOptions<Order> = { topic: 'orders', partitions: { 0: { from: 120, to: 140 }, 3: { from: 7 } } };
 * ```
 */
export interface ReadTopicOffsetsOptions<V = unknown> extends Omit<SchemaInput, 'deserializer'> {
  /** `'json'` (default), `'string'`, `'bytes'` or a function. */
  deserializer?: KafkaDeserializer<V>;
}

/**
 * What happened in one partition of a {@link TopicOffsets} read.
 *
 * @example
 * ```ts
 * for (const p of read.partitions) if (p.missing !== null) console.warn(`${p.partition}: offsets ${p.missing.from}..${p.missing.to} are gone`);
 * ```
 */
export interface PartitionOffsetsRead {
  readonly partition: number;
  /** The range as asked: `to` is the partition's end offset at call time when it was not given. */
  readonly requested: { readonly from: number; readonly to: number };
  /** First offset still in the log and the end offset (next offset to be written), at call time. */
  readonly earliestOffset: number;
  readonly latestOffset: number;
  /**
   * Requested offsets that are no longer in the log (below its start: deleted by retention or compaction), or not
   * written yet (at or beyond its end); `null` when none.
   */
  readonly missing: {
    readonly from: number;
    readonly to: number;
    readonly reason: 'before-log-start';
  } | null;
  readonly beyondEnd: { readonly from: number; readonly to: number } | null;
  /** Records returned from this partition (decoded ones; its undecodable ones are in `undecodable`). */
  readonly records: number;
  /**
   * Where to resume: the offset after the last record (or undecodable record) returned when `limit` cut the read, else
   * how far the read got (`requested.from` clamped to the log when nothing was read). Transaction markers count as read.
   */
  readonly nextOffset: number;
  /** Whether every existing offset of the requested range was read. */
  readonly complete: boolean;
}

/**
 * What `KafkaAdmin.readTopicOffsets` returns.
 *
 * @example
 * ```ts
 * const { records, undecodable, partitions, complete }: TopicOffsets<Order> = await admin.readTopicOffsets<Order>(options);
 * ```
 */
export interface TopicOffsets<V> {
  /** Decoded records, by partition then offset. */
  readonly records: readonly StreamRecord<V>[];
  /**
   * Records in the range that could not be decoded, by partition then offset. They count toward `limit` like decoded
   * records (so a topic of undecodable values cannot make a small read load a whole partition).
   */
  readonly undecodable: readonly {
    readonly partition: string;
    readonly offset: number;
    readonly error: string;
  }[];
  /** Per partition read: the range, the log bounds, offsets missing from the log, how far the read got. */
  readonly partitions: readonly PartitionOffsetsRead[];
  /** `false` when `limit`, the timeout or the signal cut the read short. */
  readonly complete: boolean;
}

/** @internal One partition's offsets `[start, end)` for {@link readPartitionSpans}. */
export interface PartitionSpan {
  readonly partition: number;
  readonly start: number;
  readonly end: number;
}

/** @internal What {@link readPartitionSpans} gives back. */
export interface SpansRead<V> {
  /** The first `limit` entries in the requested order: decoded records, and (below) the undecodable ones. */
  readonly records: StreamRecord<V>[];
  readonly undecodable: { partition: string; offset: number; error: string }[];
  /**
   * Per partition: records kept, where a follow-up read resumes (after the last entry kept, or the span's end), whether
   * the span was read to its end, and whether `limit` cut it.
   */
  readonly progress: ReadonlyMap<
    number,
    {
      readonly collected: number;
      readonly next: number;
      readonly reachedEnd: boolean;
      readonly limitHit: boolean;
    }
  >;
  /** Most messages held at once while reading (the memory bound: at most `limit` plus a slack of `max(16, limit / 2)`). */
  readonly peakHeld: number;
}

interface SpanState extends PartitionSpan {
  next: number;
  /** Timestamp of the last message seen (the time order assumes timestamps grow with offsets). */
  lastTimestamp: number;
  done: boolean;
  reachedEnd: boolean;
  /** Entries of this partition were dropped, or it was stopped, because `limit` entries ordered before them were kept. */
  cut: boolean;
}

/** One message read: a decoded record, or the reason it could not be decoded. */
interface Entry<V> {
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly record: StreamRecord<V> | undefined;
  readonly error: string;
}

/** Longest decoder error message kept per undecodable record (custom decoders may throw anything). */
const MAX_ERROR_LENGTH = 300;

/**
 * Reads offsets `[start, end)` of the given partitions with an ephemeral consumer: kafkajs cannot read without a
 * consumer group, so this joins a fresh group `<groupPrefix>-<uuid>`, never commits, and deletes the group when
 * done. Returns the first `limit` messages across partitions in `order` — decoded or undecodable, both count — and
 * holds at most about 1.5 × `limit` of them while reading: partitions whose next message would fall after the
 * `limit`-th are stopped, so a small `limit` reads little however long the partitions are. Stops overall at the timeout
 * or the signal.
 *
 * @internal shared by `readTopicRange` and `readTopicOffsets`
 */
export async function readPartitionSpans<V>(
  kafka: Kafka,
  admin: Admin,
  connection: KafkaConnection,
  logger: Logger,
  options: {
    readonly topic: string;
    readonly spans: readonly PartitionSpan[];
    readonly limit: number;
    /** `'offset'`: by partition, then offset; `'time'`: by timestamp, then partition, then offset. */
    readonly order: 'offset' | 'time';
    readonly timeoutMs: number;
    readonly signal: AbortSignal | undefined;
    readonly decode: (value: Buffer | null, meta: KafkaMessageMeta) => V | Promise<V>;
    /** Whether a message in the span is returned (the time reader filters by timestamp). Default: all. */
    readonly accept?: (timestamp: number) => boolean;
    readonly groupPrefix: string;
    readonly subject: string;
  },
): Promise<SpansRead<V>> {
  const { topic, limit, decode } = options;
  const accept = options.accept ?? (() => true);
  const plans = new Map<number, SpanState>();
  for (const span of options.spans) {
    if (span.start < span.end)
      plans.set(span.partition, {
        ...span,
        next: span.start,
        lastTimestamp: -Infinity,
        done: false,
        reachedEnd: false,
        cut: false,
      });
  }
  const compare =
    options.order === 'offset'
      ? (a: { partition: number; offset: number }, b: { partition: number; offset: number }) => a.partition - b.partition || a.offset - b.offset
      : (a: { partition: number; offset: number; timestamp: number }, b: { partition: number; offset: number; timestamp: number }) =>
          a.timestamp - b.timestamp || a.partition - b.partition || a.offset - b.offset;
  let entries: Entry<V>[] = [];
  /** The `limit`-th entry once more than `limit` were read: anything ordered after it is never returned. */
  let threshold: Entry<V> | undefined;
  let peakHeld = 0;
  const slack = Math.max(16, Math.ceil(limit / 2));

  const markDone = (plan: SpanState): void => {
    if (plan.done) return;
    plan.done = true;
    try {
      consumer.pause([{ topic, partitions: [plan.partition] }]);
    } catch {
      // not running any more
    }
    if ([...plans.values()].every((p) => p.done)) finish();
  };
  /** Whether every message `plan` can still deliver is ordered after the threshold. */
  const beyondThreshold = (plan: SpanState): boolean =>
    threshold !== undefined &&
    compare(
      {
        partition: plan.partition,
        offset: plan.next,
        timestamp: plan.lastTimestamp,
      },
      threshold,
    ) > 0;
  // Sorting in bulk once the buffer is `slack` over the limit keeps the cost per message logarithmic.
  const compact = (): void => {
    entries.sort(compare);
    for (const dropped of entries.slice(limit)) {
      const plan = plans.get(dropped.partition);
      if (plan !== undefined) plan.cut = true;
    }
    entries = entries.slice(0, limit);
    // Only a full buffer excludes anything: with fewer than `limit` entries every later message may still be returned.
    threshold = entries.length >= limit ? entries.at(-1) : undefined;
    for (const plan of plans.values()) {
      if (!plan.done && beyondThreshold(plan)) {
        plan.cut = true;
        markDone(plan);
      }
    }
  };

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const groupId = `${options.groupPrefix}-${randomUUID()}`;
  const consumer: Consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 200,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
    retry: {
      retries: connection.retry.retries,
      initialRetryTime: connection.retry.initialRetryTimeMs,
      maxRetryTime: connection.retry.maxRetryTimeMs,
    },
  });
  /**
   * Transaction markers and aborted records hold offsets that kafkajs never hands out: how far the log went comes from
   * the batch's last offset (filtered records included), not from the last message delivered.
   */
  const advance = (plan: SpanState, lastOffset: number): void => {
    if (plan.done) return;
    plan.next = Math.max(plan.next, Math.min(lastOffset + 1, plan.end));
    if (plan.next >= plan.end) {
      plan.reachedEnd = true;
      markDone(plan);
    }
  };
  const results = (): SpansRead<V> => {
    compact();
    const records: StreamRecord<V>[] = [];
    const undecodable: { partition: string; offset: number; error: string }[] = [];
    const kept = new Map<number, { collected: number; last: number }>();
    for (const entry of entries) {
      if (entry.record === undefined)
        undecodable.push({
          partition: partitionId(topic, entry.partition),
          offset: entry.offset,
          error: entry.error,
        });
      else records.push(entry.record);
      const seen = kept.get(entry.partition) ?? { collected: 0, last: -1 };
      if (entry.record !== undefined) seen.collected++;
      seen.last = Math.max(seen.last, entry.offset);
      kept.set(entry.partition, seen);
    }
    const progress = new Map(
      [...plans.values()].map((plan) => {
        const here = kept.get(plan.partition);
        // A cut partition resumes after its last entry returned; the entries dropped after it are read again.
        const next = plan.cut ? (here === undefined ? plan.start : here.last + 1) : plan.next;
        return [
          plan.partition,
          {
            collected: here?.collected ?? 0,
            next,
            reachedEnd: plan.reachedEnd && !plan.cut,
            limitHit: plan.cut,
          },
        ] as const;
      }),
    );
    return { records, undecodable, progress, peakHeld };
  };
  if (plans.size === 0) return results();

  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    // Synchronous, so the seeks and pauses are in place before kafkajs fetches for the first time.
    const assigned = event.payload.memberAssignment[topic] ?? [];
    const idle = assigned.filter((partition) => plans.get(partition)?.done !== false);
    if (idle.length > 0) consumer.pause([{ topic, partitions: idle }]);
    for (const partition of assigned) {
      const plan = plans.get(partition);
      if (plan !== undefined && !plan.done) consumer.seek({ topic, partition, offset: String(plan.next) });
    }
  });
  // kafkajs does not call eachBatch for a fetch whose records were all filtered (only transaction markers or aborted
  // records); it still reports how far that fetch went.
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const { topic: batchTopic, partition, batchSize, firstOffset, lastOffset } = event.payload;
    const plan = plans.get(partition);
    // No first offset: everything fetched lay before the fetch offset, so the fetch did not move.
    if (batchTopic !== topic || batchSize > 0 || firstOffset === null || plan === undefined) return;
    advance(plan, offsetToNumber(lastOffset, { topic, partition }));
  });
  const timer = setTimeout(finish, options.timeoutMs);
  options.signal?.addEventListener('abort', finish, { once: true });
  try {
    await connectOrFail(options.subject, connection, () => consumer.connect());
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const plan = plans.get(batch.partition);
        if (plan === undefined || plan.done) return;
        for (const message of batch.messages) {
          const offset = offsetToNumber(message.offset, {
            topic,
            partition: batch.partition,
          });
          if (offset < plan.next) continue;
          if (offset >= plan.end) break;
          const timestamp = Number(message.timestamp);
          plan.lastTimestamp = Math.max(plan.lastTimestamp, timestamp);
          if (threshold !== undefined && compare({ partition: batch.partition, offset, timestamp }, threshold) > 0) {
            // This message and every later one of the partition would be dropped: stop before decoding it.
            plan.cut = true;
            markDone(plan);
            return;
          }
          plan.next = offset + 1;
          if (!accept(timestamp)) continue;
          const key = message.key === null || message.key === undefined ? null : message.key.toString('utf8');
          const headers = decodeHeaders(message.headers);
          const meta: KafkaMessageMeta = {
            topic,
            partition: batch.partition,
            offset,
            key,
            headers,
            timestamp,
          };
          let entry: Entry<V>;
          try {
            const value = await decode(message.value ?? null, meta);
            entry = {
              partition: batch.partition,
              offset,
              timestamp,
              record: {
                key,
                value,
                eventTime: timestamp,
                position: {
                  partition: partitionId(topic, batch.partition),
                  offset,
                },
                headers,
              },
              error: '',
            };
          } catch (error) {
            const text = error instanceof Error ? error.message : String(error);
            entry = {
              partition: batch.partition,
              offset,
              timestamp,
              record: undefined,
              error: text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text,
            };
          }
          if (threshold !== undefined && compare(entry, threshold) > 0) {
            plan.cut = true;
            markDone(plan);
            return;
          }
          entries.push(entry);
          peakHeld = Math.max(peakHeld, entries.length);
          if (entries.length >= limit + slack) {
            compact();
            if (plan.done) return;
          }
        }
        advance(
          plan,
          offsetToNumber(batch.lastOffset(), {
            topic,
            partition: batch.partition,
          }),
        );
      },
    });
    if (options.signal?.aborted === true) finish();
    await finished;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', finish);
    await consumer.disconnect().catch(() => undefined);
    // The group never committed, so it holds nothing worth keeping: remove it rather than wait for expiry.
    await admin.deleteGroups([groupId]).catch((error: unknown) => logger.debug({ groupId, error: rootMessage(error) }, `${options.subject}: ephemeral group not deleted`));
  }
  return results();
}

/**
 * Reads records of `topic` by offsets: per partition `[from, to)`, `to` defaulting to the end offset at call time.
 * Offsets below the log start (deleted by retention) are reported in `partitions[].missing`, not silently skipped; a
 * `to` beyond the end is read up to the end and reported in `beyondEnd`. Records come back by partition, then
 * offset; `limit` applies across partitions (undecodable records count toward it), and a partition is no longer
 * fetched once `limit` records ordered before its next one are held.
 *
 * @throws InvalidOptionsError naming the field (negative offsets, inverted ranges)
 * @throws ConnectorError `KAFKA_TOPIC_NOT_FOUND`, `KAFKA_PARTITION_NOT_FOUND` (naming the partitions the topic has)
 *
 * @internal exposed through `KafkaAdmin.readTopicOffsets`
 */
export async function readTopicOffsets<V>(kafka: Kafka, admin: Admin, connection: KafkaConnection, logger: Logger, options: ReadTopicOffsetsOptions<V>): Promise<TopicOffsets<V>> {
  const parsed = parseOptions(readTopicOffsetsSchema, 'readTopicOffsets', options);
  const { topic, limit } = parsed;
  const decode = valueDecoder(parsed.deserializer as KafkaDeserializer<V>);
  if (!(await admin.listTopics()).includes(topic)) {
    throw new ConnectorError('KAFKA_TOPIC_NOT_FOUND', `readTopicOffsets: topic "${topic}" does not exist. Check the name.`, { connector: 'kafka', topic });
  }
  const bounds = new Map(
    (await admin.fetchTopicOffsets(topic)).map(({ partition, low, high }) => [
      partition,
      {
        earliest: offsetToNumber(low, { topic, partition }),
        latest: offsetToNumber(high, { topic, partition }),
      },
    ]),
  );
  const existing = [...bounds.keys()].sort((a, b) => a - b);
  let requested: {
    partition: number;
    from: number | undefined;
    to: number | undefined;
  }[];
  if (parsed.partitions === undefined) {
    requested = existing.map((partition) => ({
      partition,
      from: parsed.from,
      to: undefined,
    }));
  } else {
    requested = Object.entries(parsed.partitions).map(([key, range]) => ({
      partition: Number(key),
      from: range.from,
      to: range.to,
    }));
    const unknown = requested.filter((entry) => !bounds.has(entry.partition)).map((entry) => entry.partition);
    if (unknown.length > 0) {
      throw new ConnectorError(
        'KAFKA_PARTITION_NOT_FOUND',
        `readTopicOffsets: partitions: topic "${topic}" has no partition ${unknown.join(', ')}; it has partitions 0..${existing.length - 1}.`,
        { connector: 'kafka', topic },
      );
    }
    requested.sort((a, b) => a.partition - b.partition);
  }
  const plans = requested.map(({ partition, from, to }) => {
    const { earliest, latest } = bounds.get(partition)!;
    const wantFrom = from ?? earliest;
    const wantTo = to ?? Math.max(latest, wantFrom);
    return {
      partition,
      requested: { from: wantFrom, to: wantTo },
      earliest,
      latest,
      start: Math.max(wantFrom, earliest),
      end: Math.min(wantTo, latest),
    };
  });
  const read = await readPartitionSpans(kafka, admin, connection, logger, {
    topic,
    spans: plans.map(({ partition, start, end }) => ({
      partition,
      start,
      end,
    })),
    limit,
    order: 'offset',
    timeoutMs: parsed.timeoutMs,
    signal: parsed.signal,
    decode,
    groupPrefix: 'tributary-offsets',
    subject: 'offset reader',
  });
  const partitions: PartitionOffsetsRead[] = plans.map((plan) => {
    const progress = read.progress.get(plan.partition);
    const empty = plan.start >= plan.end;
    return {
      partition: plan.partition,
      requested: plan.requested,
      earliestOffset: plan.earliest,
      latestOffset: plan.latest,
      missing:
        plan.requested.from < plan.earliest
          ? {
              from: plan.requested.from,
              to: Math.min(plan.earliest, plan.requested.to),
              reason: 'before-log-start' as const,
            }
          : null,
      beyondEnd:
        plan.requested.to > plan.latest
          ? {
              from: Math.max(plan.latest, plan.requested.from),
              to: plan.requested.to,
            }
          : null,
      records: progress?.collected ?? 0,
      nextOffset: progress?.next ?? Math.max(plan.start, Math.min(plan.end, plan.requested.from)),
      complete: empty || (progress?.reachedEnd ?? false),
    };
  });
  return {
    records: read.records,
    undecodable: read.undecodable,
    partitions,
    complete: partitions.every((p) => p.complete),
  };
}
