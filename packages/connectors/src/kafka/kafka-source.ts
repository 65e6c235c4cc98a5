import { z } from 'zod';
import { InvalidOptionsError, TributaryError } from '@tributary/core';
import type { DeadLetter, Positions, Source, SourceContext, StreamRecord } from '@tributary/core';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { ConnectorError } from '../errors.js';
import { parseOptions } from './parse-options.js';
import {
  checkConnectionSecurity,
  connectOrFail,
  createKafkaClient,
  functionSchema,
  isMembershipError,
  kafkaConnectionShape,
  milliseconds,
  offsetToNumber,
  parsePartitionId,
  partitionId,
  rootMessage,
  toConnectorError,
} from './kafka-connection.js';
import { decodeHeaders, valueDecoder } from './kafka-deserializer.js';
import type { KafkaDeserializer, KafkaMessageMeta } from './kafka-deserializer.js';
import { JoinGate } from './join-gate.js';
import type { GroupExit } from './join-gate.js';

/** A Kafka topic name: 1-249 of `[A-Za-z0-9._-]`, not `.` or `..`. */
export const topicSchema = z
  .string('must be a topic name')
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be 1-249 characters of letters, digits, ".", "_" or "-"')
  .refine((name) => name !== '.' && name !== '..', 'must not be "." or ".."');

const startFromSchema = z.union(
  [
    z.enum(['earliest', 'latest']),
    z.strictObject({ timestamp: z.int('must be ms since the epoch').nonnegative('must be ms since the epoch') }),
    z.strictObject({
      offsets: z.record(
        z.string().regex(/^[A-Za-z0-9._-]+:\d+$/, 'keys must be "<topic>:<partition>"'),
        z.int('must be a non-negative integer offset').nonnegative('must be a non-negative integer offset'),
      ),
      otherwise: z.enum(['earliest', 'latest']).default('earliest'),
    }),
  ],
  "must be 'earliest', 'latest', { timestamp } or { offsets: { '<topic>:<partition>': offset }, otherwise? }",
);

const kafkaSourceSchema = z
  .strictObject({
    ...kafkaConnectionShape,
    /** Source name in metrics, logs and dead letters. Default `kafka:<topics>`. */
    name: z.string().min(1, 'must be a non-empty string').optional(),
    /** Topics to read (one or a list). Required. */
    topics: z.union([topicSchema, z.array(topicSchema).min(1, 'must name at least one topic')]),
    /** Consumer group. Required. */
    groupId: z.string('must be a non-empty string').min(1, 'must be a non-empty string'),
    /**
     * Where a partition without a committed position (and without an exactly-once position) starts: `'earliest'`
     * (default), `'latest'`, `{ timestamp }` (the first record at or after it) or `{ offsets: { 'topic:0': 42 },
     * otherwise }` (`otherwise` for unlisted partitions, default `'earliest'`).
     */
    startFrom: startFromSchema.default('earliest'),
    /** `'json'` (default), `'string'`, `'bytes'` or a function; see {@link KafkaDeserializer}. */
    deserializer: z.union([z.enum(['json', 'string', 'bytes']), functionSchema<(value: Buffer | null, meta: KafkaMessageMeta) => unknown>()]).default('json'),
    /** Event time of a record from its decoded value. Default: the Kafka record timestamp. */
    eventTime: functionSchema<(value: unknown, meta: KafkaMessageMeta) => number>().optional(),
    /**
     * Records fetched but not yet polled by the runtime, across partitions. At the limit the consumer pauses its
     * partitions (one fetch already under way may still add a batch). Default `5_000`.
     */
    maxBufferedRecords: z.int('must be a positive integer').positive('must be a positive integer').default(5_000),
    /** How long an empty `poll` waits for records, in ms. Default `100`. */
    pollIntervalMs: milliseconds('pollIntervalMs').default(100),
    /** Group session timeout, in ms. Default `30_000`. */
    sessionTimeoutMs: milliseconds('sessionTimeoutMs').default(30_000),
    /** Heartbeat interval, in ms; must be below `sessionTimeoutMs`. Default `3_000`. */
    heartbeatIntervalMs: milliseconds('heartbeatIntervalMs').default(3_000),
    /**
     * How long the group waits for members to rejoin during a rebalance, in ms. It also bounds how long a revoke
     * (checkpoint and commit) may hold this member's rejoin (`rebalanceTimeoutMs - 5 s`). Default `60_000`.
     */
    rebalanceTimeoutMs: milliseconds('rebalanceTimeoutMs').default(60_000),
    /** Longest a fetch waits for data on the broker, in ms; also bounds how fast `close` returns. Default `1_000`. */
    maxWaitTimeMs: milliseconds('maxWaitTimeMs').default(1_000),
    /** Most bytes fetched per partition per fetch. Default `1_048_576`. */
    maxBytesPerPartition: z.int().positive('must be a positive integer').default(1_048_576),
    /** Most bytes per fetch. Default `10_485_760`. */
    maxBytes: z.int().positive('must be a positive integer').default(10_485_760),
    /** Read records of open and aborted transactions too (`read_uncommitted`). Default `false` (`read_committed`). */
    readUncommitted: z.boolean('must be true or false').default(false),
    /** How long `open` waits for the group to assign partitions, in ms. Default `60_000`. */
    joinTimeoutMs: milliseconds('joinTimeoutMs').default(60_000),
    /**
     * Longest a commit outage may last, in ms. While commits cannot reach the group coordinator (kafkajs restarting
     * the consumer after a crash, retriable errors) they are skipped; once no commit has succeeded for this long since
     * the first skipped one, a commit that still cannot succeed rejects with `KAFKA_COMMIT_FAILED` (retriable), so the
     * topology fails and its restart policy or an operator acts instead of the committed offset silently falling
     * behind. Default `300_000` (5 minutes).
     */
    maxCommitOutageMs: milliseconds('maxCommitOutageMs').default(300_000),
  })
  .refine((options) => options.heartbeatIntervalMs < options.sessionTimeoutMs, {
    path: ['heartbeatIntervalMs'],
    message: 'must be below sessionTimeoutMs (about a third of it is usual)',
  });

type SchemaInput = z.input<typeof kafkaSourceSchema>;

/**
 * Options of {@link kafkaSource}: the connection options ({@link KafkaConnectionOptions}) plus:
 *
 * - `topics` (required), `groupId` (required), `name` (default `kafka:<topics>`).
 * - `startFrom` (default `'earliest'`): `'earliest' | 'latest' | { timestamp } | { offsets, otherwise }`, used for
 *   partitions the group has no committed position for (and no exactly-once sink position).
 * - `deserializer` (default `'json'`), `eventTime` (default: the record timestamp).
 * - `maxBufferedRecords` (default `5_000`), `pollIntervalMs` (default `100`).
 * - group timing: `sessionTimeoutMs` (default `30_000`), `heartbeatIntervalMs` (default `3_000`),
 *   `rebalanceTimeoutMs` (default `60_000`), `joinTimeoutMs` (default `60_000`).
 * - fetch: `maxWaitTimeMs` (default `1_000`), `maxBytesPerPartition` (default 1 MiB), `maxBytes` (default 10 MiB),
 *   `readUncommitted` (default `false`).
 * - `maxCommitOutageMs` (default `300_000`): how long commits may keep being skipped (broker or coordinator
 *   unreachable) before a commit rejects with `KAFKA_COMMIT_FAILED`; see {@link KafkaSource.commit}.
 *
 * @example
 * ```ts
 * const options: KafkaSourceOptions<Order> = { brokers: ['kafka:9092'], topics: ['orders'], groupId: 'lake', startFrom: { timestamp: Date.parse('2026-01-01') } };
 * ```
 */
export interface KafkaSourceOptions<V = unknown> extends Omit<SchemaInput, 'deserializer' | 'eventTime'> {
  /** `'json'` (default), `'string'`, `'bytes'` or a function; see {@link KafkaDeserializer}. */
  deserializer?: KafkaDeserializer<V>;
  /** Event time of a record from its decoded value (ms since the epoch). Default: the Kafka record timestamp. */
  eventTime?: (value: V, meta: KafkaMessageMeta) => number;
}

type Parsed = z.output<typeof kafkaSourceSchema>;

/**
 * Counters a {@link KafkaSource} keeps; tests and dashboards read them through {@link KafkaSource.stats}.
 *
 * @example
 * ```ts
 * const { pauses, revokesBeforeRelease, lateRevokes } = source.stats();
 * ```
 */
export interface KafkaSourceStats {
  /** Times the source paused fetching (runtime backpressure, full buffer, or an assignment hand-shake). */
  readonly pauses: number;
  /** Times the runtime called `pause()`. */
  readonly runtimePauses: number;
  /** Times the buffer reached `maxBufferedRecords`. */
  readonly bufferFullPauses: number;
  /** Rebalances and leaves whose revoke ran before the JoinGroup / LeaveGroup request left (the gate held it). */
  readonly revokesBeforeRelease: number;
  /** Revokes that ran only after a new assignment arrived (the gate could not hold the request in time). */
  readonly lateRevokes: number;
  /** Longest time a JoinGroup / LeaveGroup request was held for a revoke, in ms. */
  readonly maxHoldMs: number;
  /** Holds that hit the `rebalanceTimeoutMs - 5 s` bound and were released before the revoke finished. */
  readonly holdOverruns: number;
  /** Commits the coordinator refused because the group had moved on (the new owner resumes from the last commit). */
  readonly commitsRejected: number;
  /**
   * Commits skipped because the consumer could not commit: kafkajs was restarting it after a crash (an unreachable
   * broker) or shutting it down, or the broker stayed unreachable through the commit's retries. The next commit
   * supersedes a skipped one. Counted since `open`, across outages.
   */
  readonly commitsSkipped: number;
  /** Commits skipped since the last successful one (0 when the last commit succeeded). */
  readonly commitsSkippedInOutage: number;
  /** When the last commit succeeded (ms since the epoch, on the runtime's clock); absent before the first. */
  readonly lastCommitAt?: number;
  /** Time since the last successful commit, or since `open` when none succeeded yet, in ms. */
  readonly sinceLastCommitMs: number;
  /**
   * How long the current commit outage has lasted (since its first skipped commit), in ms; `0` when the last commit
   * succeeded. A skipped commit at or beyond `maxCommitOutageMs` rejects with `KAFKA_COMMIT_FAILED` instead.
   */
  readonly commitOutageMs: number;
  /** Records sent to the dead letters because they could not be decoded. */
  readonly deadLetters: number;
  /** Records in the buffer now. */
  readonly buffered: number;
}

type Entry<V> = { readonly record: StreamRecord<V>; readonly letter?: undefined } | { readonly record?: undefined; readonly letter: DeadLetter };

interface MutableStats {
  pauses: number;
  runtimePauses: number;
  bufferFullPauses: number;
  revokesBeforeRelease: number;
  lateRevokes: number;
  maxHoldMs: number;
  holdOverruns: number;
  commitsRejected: number;
  commitsSkipped: number;
  deadLetters: number;
}

const newStats = (): MutableStats => ({
  pauses: 0,
  runtimePauses: 0,
  bufferFullPauses: 0,
  revokesBeforeRelease: 0,
  lateRevokes: 0,
  maxHoldMs: 0,
  holdOverruns: 0,
  commitsRejected: 0,
  commitsSkipped: 0,
  deadLetters: 0,
});

/**
 * A Kafka consumer-group `Source`, built by {@link kafkaSource}. See there for the guarantees; this class adds
 * the observable state tests and dashboards read (`stats`, `paused`, `group`).
 *
 * @example
 * ```ts
 * const source: KafkaSource<Order> = kafkaSource<Order>({ brokers, topics: ['orders'], groupId: 'lake' });
 * if (source.paused) console.log('backpressure', source.stats().buffered);
 * ```
 */
export class KafkaSource<V> implements Source<V> {
  /** Source name (metrics, logs, dead letters). */
  readonly name: string;
  /** Consumer group. */
  readonly group: string;
  /** Topics read. */
  readonly topics: readonly string[];
  readonly #options: Parsed;
  readonly #decode: (value: Buffer | null, meta: KafkaMessageMeta) => unknown;
  readonly #eventTime: ((value: unknown, meta: KafkaMessageMeta) => number) | undefined;
  #context: SourceContext | undefined;
  #admin: Admin | undefined;
  #consumer: Consumer | undefined;
  /** Partitions handed to the runtime through `assigned` and not yet revoked. */
  readonly #owned = new Set<string>();
  /** Next offset expected per owned partition (records below it are already buffered or polled). */
  readonly #next = new Map<string, number>();
  readonly #buffer = new Map<string, Entry<V>[]>();
  #buffered = 0;
  #cursor = 0;
  #runtimePaused = false;
  #consumerPaused = false;
  #handshakes = 0;
  #revoking = false;
  #rebalancePending = false;
  #closing = false;
  /**
   * kafkajs stopped its consumer (a crash it restarts from, with the broker unreachable) and has not rejoined yet: it
   * has no consumer group object then, and `commitOffsets` throws a non-retriable error instead of skipping.
   */
  #consumerStopped = false;
  #failure: ConnectorError | undefined;
  #joinGeneration = 0;
  #serial: Promise<void> = Promise.resolve();
  #heartbeat: (() => Promise<void>) | undefined;
  #pollWake: (() => void) | undefined;
  readonly #roomWaiters = new Set<() => void>();
  #commitEvents = 0;
  #firstAssignment: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;
  #stats = newStats();
  /** The runtime's clock once open (commit-outage times), the system clock before. */
  #now: () => number = () => Date.now();
  #openedAt = Date.now();
  #lastCommitAt: number | undefined;
  /** The commit outage under way: commits skipped since the last successful one. */
  #outage: { since: number; skipped: number; nearLogged: boolean } | undefined;

  /** @internal use {@link kafkaSource} */
  constructor(options: Parsed) {
    this.#options = options;
    this.topics = typeof options.topics === 'string' ? [options.topics] : [...new Set(options.topics)];
    this.name = options.name ?? `kafka:${this.topics.join(',')}`;
    this.group = options.groupId;
    this.#decode = valueDecoder(options.deserializer as KafkaDeserializer<unknown>);
    this.#eventTime = options.eventTime;
  }

  /**
   * Connects, joins the group and reports the first assignment through `context.assigned` (resolving once every
   * assigned partition is positioned). Fails with a `KAFKA_UNREACHABLE` `ConnectorError` after the bounded
   * retries when no broker answers, `KAFKA_TOPIC_NOT_FOUND` for a missing topic, `KAFKA_JOIN_TIMEOUT` when no
   * assignment arrives within `joinTimeoutMs`.
   */
  async open(context: SourceContext): Promise<void> {
    if (this.#context !== undefined) throw new TributaryError('INVALID_STATE', `kafkaSource "${this.name}" is already open; close it first.`);
    if (context.deadLetters === undefined) {
      throw new TributaryError('SOURCE_NEEDS_DEAD_LETTERS', `kafkaSource "${this.name}" needs a SourceContext with deadLetters, or undecodable records would be lost.`);
    }
    this.#reset();
    this.#context = context;
    this.#now = () => context.clock.now();
    this.#openedAt = this.#now();
    const options = this.#options;
    const logger = context.logger;
    const gate = new JoinGate({
      clientId: options.clientId,
      beforeExit: (exit) => this.#beforeGroupExit(exit),
      maxHoldMs: Math.max(1_000, options.rebalanceTimeoutMs - 5_000),
      onHeld: (exit, heldMs) => {
        this.#stats.maxHoldMs = Math.max(this.#stats.maxHoldMs, heldMs);
        if (heldMs > 0) logger.debug({ source: this.name, exit, heldMs }, 'kafka group request held for the revoke');
      },
      onOverrun: (exit, heldMs) => {
        this.#stats.holdOverruns++;
        this.#stats.maxHoldMs = Math.max(this.#stats.maxHoldMs, heldMs);
        logger.error(
          { source: this.name, exit, heldMs },
          'kafka revoke did not finish within rebalanceTimeoutMs - 5 s: the partitions were released before their checkpoint; the next owner may reprocess records',
        );
      },
    });
    try {
      const kafka = await createKafkaClient(`kafkaSource "${this.name}"`, options, { logger, wrapSocketFactory: (base) => gate.wrap(base) });
      const admin = kafka.admin({ retry: this.#retry() });
      this.#admin = admin;
      await connectOrFail('admin client', options, () => admin.connect());
      await this.#checkTopics(admin);
      const consumer = kafka.consumer({
        groupId: options.groupId,
        sessionTimeout: options.sessionTimeoutMs,
        rebalanceTimeout: options.rebalanceTimeoutMs,
        heartbeatInterval: options.heartbeatIntervalMs,
        maxWaitTimeInMs: options.maxWaitTimeMs,
        maxBytesPerPartition: options.maxBytesPerPartition,
        maxBytes: options.maxBytes,
        readUncommitted: options.readUncommitted,
        allowAutoTopicCreation: false,
        retry: this.#retry(),
      });
      this.#consumer = consumer;
      consumer.on(consumer.events.GROUP_JOIN, (event) => this.#onGroupJoin(consumer, event.payload.memberAssignment));
      consumer.on(consumer.events.COMMIT_OFFSETS, () => void this.#commitEvents++);
      consumer.on(consumer.events.CRASH, (event) => this.#onCrash(event.payload.error, event.payload.restart));
      // STOP comes before CRASH (kafkajs stops the consumer, then decides about the restart); GROUP_JOIN ends the gap.
      consumer.on(consumer.events.STOP, () => void (this.#consumerStopped = true));
      consumer.on(consumer.events.REBALANCING, () => logger.debug({ source: this.name, group: this.group }, 'kafka group rebalancing'));
      await connectOrFail('consumer', options, () => consumer.connect());
      // Every partition is positioned explicitly on assignment; `fromBeginning` only decides where kafkajs resets a
      // partition whose offset fell out of range (earliest: nothing unread is skipped).
      await consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
      this.#firstAssignment = deferred();
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
      await withTimeout(this.#firstAssignment.promise, options.joinTimeoutMs, () =>
        new ConnectorError(
          'KAFKA_JOIN_TIMEOUT',
          `kafkaSource "${this.name}": group "${this.group}" assigned no partitions within ${options.joinTimeoutMs} ms. Check the broker logs and that the group's other members are healthy, or raise joinTimeoutMs.`,
          { connector: 'kafka', retriable: true },
        ),
      );
      this.#throwIfFailed();
      logger.info({ source: this.name, group: this.group, partitions: this.partitions() }, 'kafka source open');
    } catch (error) {
      await this.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Up to `maxRecords` buffered records, fairly across partitions and in offset order per partition. Undecodable
   * records met on the way go to `context.deadLetters` in the same call. When the buffer is empty it waits up to
   * `pollIntervalMs` (less when `signal` aborts) and returns `[]` if nothing arrived. Rejects with the consumer's
   * `ConnectorError` once kafkajs gave up (a crash it does not restart from).
   */
  async poll(maxRecords: number, signal: AbortSignal): Promise<readonly StreamRecord<V>[] | null> {
    const context = this.#requireOpen('poll');
    this.#throwIfFailed();
    let taken = this.#take(maxRecords);
    if (taken === undefined) {
      await waitForWake(context, this.#options.pollIntervalMs, signal, (wake) => {
        this.#pollWake = wake;
        return () => {
          if (this.#pollWake === wake) this.#pollWake = undefined;
        };
      });
      this.#throwIfFailed();
      if (this.#context !== context) return [];
      taken = this.#take(maxRecords);
    }
    if (taken === undefined) return [];
    if (taken.letters.length > 0) context.deadLetters?.(taken.letters);
    return taken.records;
  }

  /**
   * Commits the positions (next offset to read, per `"<topic>:<partition>"`) to the consumer group with
   * `consumer.commitOffsets`. Only partitions this member holds are committed: committing another owner's partition
   * could move its position backwards. A commit the coordinator refuses because the group moved on (rebalance,
   * eviction) is logged and counted, not thrown: the records are durable in the sinks, and the partition's next owner
   * resumes from the previous commit (duplicates, never loss). A commit that cannot reach the broker (its retries spent
   * on a retriable error, or the consumer stopped while kafkajs restarts it after a crash) is skipped the same way
   * (`stats().commitsSkipped`): kafkajs keeps restarting the consumer until the broker is back and the next commit
   * supersedes the skipped one. Skipping is bounded: the first skip of an outage is logged as a warning, an error is
   * logged when 80 % of `maxCommitOutageMs` has passed, and once the outage (measured from its first skipped commit)
   * reaches `maxCommitOutageMs` a commit that still cannot succeed rejects with a retriable `KAFKA_COMMIT_FAILED`, so
   * the topology fails and a restart resumes from the last committed offset. Other failures reject with
   * `KAFKA_COMMIT_FAILED` at once; after kafkajs gave up on its consumer (a crash it does not restart from) every
   * commit rejects with that failure. After `close` it rejects with `KAFKA_SOURCE_CLOSED` (committing after leaving
   * the group is what kafkajs#751 warns about).
   */
  async commit(positions: Positions): Promise<void> {
    const consumer = this.#consumer;
    if (consumer === undefined || this.#closing) {
      throw new ConnectorError('KAFKA_SOURCE_CLOSED', `kafkaSource "${this.name}": commit() after close(); the member already left group "${this.group}". Commit before closing.`, {
        connector: 'kafka',
      });
    }
    // A consumer kafkajs will not restart commits nothing: reporting success would let the runtime move on.
    this.#throwIfFailed();
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    const notHeld: string[] = [];
    for (const [id, offset] of Object.entries(positions)) {
      const parsed = parsePartitionId(id);
      if (parsed === undefined || !this.topics.includes(parsed.topic)) continue;
      if (!this.#owned.has(id)) {
        notHeld.push(id);
        continue;
      }
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new ConnectorError('KAFKA_COMMIT_FAILED', `kafkaSource "${this.name}": position ${offset} of ${id} is not a non-negative integer offset.`, {
          connector: 'kafka',
          topic: parsed.topic,
          partition: parsed.partition,
        });
      }
      offsets.push({ topic: parsed.topic, partition: parsed.partition, offset: String(offset) });
    }
    const logger = this.#context?.logger;
    if (notHeld.length > 0) logger?.debug({ source: this.name, partitions: notHeld }, 'kafka commit skips partitions this member no longer holds');
    if (offsets.length === 0) return;
    if (this.#consumerStopped) {
      this.#skipCommit('its consumer is stopped (a crash kafkajs restarts from: the broker is unreachable)');
      return;
    }
    const before = this.#commitEvents;
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      if (isMembershipError(error)) {
        this.#stats.commitsRejected++;
        logger?.warn(
          { source: this.name, group: this.group, error: rootMessage(error) },
          'kafka commit refused: the group moved on; the partitions resume from the previous commit (records may be processed again, none lost)',
        );
        return;
      }
      const failure = toConnectorError(error, {
        code: 'KAFKA_COMMIT_FAILED',
        message: `kafkaSource "${this.name}": committing offsets of group "${this.group}" failed: ${rootMessage(error)}.`,
      });
      if (!this.#closing && (failure.retriable || this.#consumerStopped)) {
        // The broker went away (restart, outage): kafkajs restarts its consumer until the broker is back, and the next
        // checkpoint commits. Failing here would stop a pipeline that recovers by itself — within maxCommitOutageMs.
        this.#skipCommit(`committing failed with a retriable error (${rootMessage(error)})`, error);
        return;
      }
      throw failure;
    }
    if (this.#commitEvents === before) {
      this.#skipCommit('kafkajs skipped it: its consumer is not running (crash restart or shutdown)');
      return;
    }
    this.#commitSucceeded();
  }

  /**
   * A commit that did not happen but needs none yet: the sinks hold the records, the next commit supersedes it. Past
   * `maxCommitOutageMs` it throws instead: the committed offset must not fall behind without bound while the
   * topology looks healthy (a restart would reprocess everything since the last real commit).
   */
  #skipCommit(why: string, cause?: unknown): void {
    // kafkajs may have given up on the consumer while this commit was in flight.
    this.#throwIfFailed();
    const now = this.#now();
    const outage = (this.#outage ??= { since: now, skipped: 0, nearLogged: false });
    const lastedMs = Math.max(0, now - outage.since);
    const maxMs = this.#options.maxCommitOutageMs;
    const logger = this.#context?.logger;
    const fields = { source: this.name, group: this.group, outageMs: lastedMs, skipped: outage.skipped, maxCommitOutageMs: maxMs, lastCommitAt: this.#lastCommitAt };
    if (lastedMs >= maxMs) {
      logger?.error(fields, `kafka commits failed for ${lastedMs} ms (maxCommitOutageMs ${maxMs}): the source fails; last cause: ${why}`);
      throw new ConnectorError(
        'KAFKA_COMMIT_FAILED',
        `kafkaSource "${this.name}": no offset commit of group "${this.group}" succeeded for ${lastedMs} ms (${outage.skipped} skipped; maxCommitOutageMs is ${maxMs}); the latest: ${why}. ` +
          'The source fails rather than let the committed offset fall further behind: a restart resumes from the last committed offset (records since then are processed again, none lost). ' +
          "Check the group coordinator's broker and the network to it, or raise maxCommitOutageMs.",
        { connector: 'kafka', retriable: true, ...(cause === undefined ? {} : { cause }) },
      );
    }
    outage.skipped++;
    this.#stats.commitsSkipped++;
    if (outage.skipped === 1) {
      logger?.warn(
        fields,
        `kafka commit skipped: ${why}; the next commit supersedes it (until then a restart resumes from the previous commit: records may be processed again, none lost). The source fails if no commit succeeds within maxCommitOutageMs (${maxMs} ms)`,
      );
    } else if (!outage.nearLogged && lastedMs >= maxMs * 0.8) {
      outage.nearLogged = true;
      logger?.error(fields, `kafka commits still failing after ${lastedMs} ms: the source fails in ${maxMs - lastedMs} ms unless a commit succeeds (maxCommitOutageMs ${maxMs}); latest cause: ${why}`);
    } else {
      logger?.debug(fields, `kafka commit skipped again: ${why}`);
    }
  }

  #commitSucceeded(): void {
    const now = this.#now();
    this.#lastCommitAt = now;
    const outage = this.#outage;
    if (outage === undefined) return;
    this.#outage = undefined;
    this.#context?.logger.info({ source: this.name, group: this.group, outageMs: Math.max(0, now - outage.since), skipped: outage.skipped }, 'kafka commits succeed again');
  }

  /** Partitions held now, as `"<topic>:<partition>"`. */
  partitions(): readonly string[] {
    return [...this.#owned].sort();
  }

  /** The runtime has no room: pause every assigned partition (kafkajs applies it from the next fetch). */
  pause(): void {
    if (this.#runtimePaused) return;
    this.#runtimePaused = true;
    this.#stats.runtimePauses++;
    this.#applyPause();
  }

  /** Room again: resume fetching unless the buffer is full. */
  resume(): void {
    this.#runtimePaused = false;
    this.#applyPause();
  }

  /** Whether fetching is paused now (runtime backpressure, a full buffer, or an assignment hand-shake). */
  get paused(): boolean {
    return this.#consumerPaused;
  }

  /** Counters since `open`, and the commit-outage state. */
  stats(): KafkaSourceStats {
    const now = this.#now();
    const lastCommitAt = this.#lastCommitAt;
    return {
      ...this.#stats,
      buffered: this.#buffered,
      commitsSkippedInOutage: this.#outage?.skipped ?? 0,
      ...(lastCommitAt === undefined ? {} : { lastCommitAt }),
      sinceLastCommitMs: Math.max(0, now - (lastCommitAt ?? this.#openedAt)),
      commitOutageMs: this.#outage === undefined ? 0 : Math.max(0, now - this.#outage.since),
    };
  }

  /**
   * Leaves the group and disconnects, without committing: the runtime commits before it closes, and commits after
   * leaving would be refused. Buffered records are dropped (they are re-read from the committed position).
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#pollWake?.();
    for (const wake of [...this.#roomWaiters]) wake();
    this.#firstAssignment?.reject(new ConnectorError('KAFKA_SOURCE_CLOSED', `kafkaSource "${this.name}" was closed while opening.`, { connector: 'kafka' }));
    const consumer = this.#consumer;
    const admin = this.#admin;
    this.#consumer = undefined;
    this.#admin = undefined;
    const logger = this.#context?.logger;
    await consumer?.disconnect().catch((error: unknown) => logger?.warn({ source: this.name, error: rootMessage(error) }, 'kafka consumer disconnect failed'));
    await admin?.disconnect().catch(() => undefined);
    this.#clearBuffer();
    this.#owned.clear();
    this.#next.clear();
    this.#context = undefined;
  }

  #reset(): void {
    this.#closing = false;
    this.#consumerStopped = false;
    this.#failure = undefined;
    this.#owned.clear();
    this.#next.clear();
    this.#clearBuffer();
    this.#runtimePaused = false;
    this.#consumerPaused = false;
    this.#handshakes = 0;
    this.#revoking = false;
    this.#rebalancePending = false;
    this.#heartbeat = undefined;
    this.#serial = Promise.resolve();
    this.#stats = newStats();
    this.#lastCommitAt = undefined;
    this.#outage = undefined;
  }

  #retry(): { retries: number; initialRetryTime: number; maxRetryTime: number } {
    const { retry } = this.#options;
    return { retries: retry.retries, initialRetryTime: retry.initialRetryTimeMs, maxRetryTime: retry.maxRetryTimeMs };
  }

  async #checkTopics(admin: Admin): Promise<void> {
    const existing = new Set(await admin.listTopics());
    const missing = this.topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      throw new ConnectorError(
        'KAFKA_TOPIC_NOT_FOUND',
        `kafkaSource "${this.name}": topic(s) ${missing.join(', ')} do not exist on ${this.#options.brokers.join(', ')}. Create them first (kafkaAdmin().declareTopics) or fix \`topics\`.`,
        { connector: 'kafka', topic: missing[0]! },
      );
    }
  }

  /** Runs tasks one at a time: assignment hand-shakes and revokes never interleave. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#serial.then(task);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  /**
   * Called by the join gate before a JoinGroup or LeaveGroup request of this member leaves the process: revoke
   * everything held (eager protocol: a rejoining member gives up all its partitions) and wait for the runtime's
   * checkpoint. Heartbeats continue meanwhile, so the coordinator keeps the member while it prepares the rebalance.
   */
  #beforeGroupExit(exit: GroupExit): Promise<void> {
    // close(): the runtime committed before closing (or aborted, as a crash would): nothing to hand over.
    if (this.#closing) return Promise.resolve();
    if (this.#owned.size === 0 && this.#handshakes === 0) return Promise.resolve();
    const keepAlive = setInterval(() => void this.#heartbeat?.().catch(() => undefined), Math.max(100, Math.floor(this.#options.heartbeatIntervalMs / 2)));
    keepAlive.unref?.();
    return this.#enqueue(async () => {
      if (this.#owned.size === 0 || this.#closing) return;
      this.#stats.revokesBeforeRelease++;
      await this.#revokeOwned(exit === 'join' ? 'rebalance' : 'leave');
    }).finally(() => clearInterval(keepAlive));
  }

  async #revokeOwned(reason: string): Promise<void> {
    const context = this.#context;
    const partitions = [...this.#owned].sort();
    if (context === undefined || partitions.length === 0) return;
    this.#revoking = true;
    try {
      // Buffered records were never polled: drop them; the next owner reads them from the committed position.
      this.#clearBuffer();
      this.#pollWake?.();
      // A poll that already returned records reaches the runtime's lock within microtasks: let it get there first,
      // so the runtime's checkpoint covers those records too.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const started = Date.now();
      try {
        await context.revoked(partitions);
      } catch (error) {
        context.logger.error({ source: this.name, partitions, error: rootMessage(error) }, 'kafka revoke: the runtime failed to checkpoint the partitions');
      }
      context.logger.info({ source: this.name, group: this.group, partitions, reason, revokeMs: Date.now() - started }, 'kafka partitions revoked');
    } finally {
      for (const partition of partitions) {
        this.#owned.delete(partition);
        this.#next.delete(partition);
      }
      this.#revoking = false;
    }
  }

  /** GROUP_JOIN: a new assignment. Fetching pauses at once (synchronously, before kafkajs fetches again). */
  #onGroupJoin(consumer: Consumer, memberAssignment: Record<string, number[]>): void {
    if (this.#closing || consumer !== this.#consumer) return;
    this.#consumerStopped = false;
    const generation = ++this.#joinGeneration;
    this.#rebalancePending = false;
    this.#handshakes++;
    this.#applyPause(true);
    const partitions: { topic: string; partition: number }[] = [];
    for (const [topic, numbers] of Object.entries(memberAssignment)) for (const partition of numbers) partitions.push({ topic, partition });
    partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    void this.#enqueue(async () => {
      try {
        if (this.#owned.size > 0) {
          // The gate did not see this member's JoinGroup in time (see KafkaSourceStats.lateRevokes).
          this.#stats.lateRevokes++;
          await this.#revokeOwned('late');
        }
        if (generation === this.#joinGeneration && !this.#closing) await this.#assign(partitions, generation);
      } catch (error) {
        this.#fail(
          toConnectorError(error, {
            code: 'KAFKA_ASSIGN_FAILED',
            message: `kafkaSource "${this.name}": positioning the partitions assigned to group "${this.group}" failed: ${rootMessage(error)}.`,
          }),
        );
      } finally {
        this.#handshakes--;
        this.#applyPause();
        this.#firstAssignment?.resolve();
      }
    });
  }

  async #assign(partitions: readonly { topic: string; partition: number }[], generation: number): Promise<void> {
    const context = this.#context;
    const admin = this.#admin;
    const consumer = this.#consumer;
    if (context === undefined || admin === undefined || consumer === undefined || partitions.length === 0) return;
    const ids = partitions.map(({ topic, partition }) => partitionId(topic, partition));
    const committed = await this.#committedOffsets(admin, partitions);
    const exactlyOnce = await context.assigned(ids, committed);
    for (const id of ids) this.#owned.add(id);
    if (generation !== this.#joinGeneration || this.#closing) return;
    const missing = partitions.filter(({ topic, partition }) => {
      const id = partitionId(topic, partition);
      return exactlyOnce[id] === undefined && committed[id] === undefined;
    });
    const starts = await this.#startOffsets(admin, missing);
    const resumeAt: Record<string, number> = {};
    for (const { topic, partition } of partitions) {
      const id = partitionId(topic, partition);
      const offset = exactlyOnce[id] ?? committed[id] ?? starts[id] ?? 0;
      resumeAt[id] = offset;
      this.#next.set(id, offset);
      consumer.seek({ topic, partition, offset: String(offset) });
    }
    context.logger.info({ source: this.name, group: this.group, partitions: ids, resumeAt }, 'kafka partitions assigned');
  }

  async #committedOffsets(admin: Admin, partitions: readonly { topic: string; partition: number }[]): Promise<Record<string, number>> {
    const topics = [...new Set(partitions.map(({ topic }) => topic))];
    const fetched = await admin.fetchOffsets({ groupId: this.group, topics });
    const wanted = new Set(partitions.map(({ topic, partition }) => partitionId(topic, partition)));
    const committed: Record<string, number> = {};
    for (const { topic, partitions: list } of fetched) {
      for (const { partition, offset } of list) {
        const id = partitionId(topic, partition);
        if (!wanted.has(id) || Number(offset) < 0) continue;
        committed[id] = offsetToNumber(offset, { topic, partition });
      }
    }
    return committed;
  }

  async #startOffsets(admin: Admin, partitions: readonly { topic: string; partition: number }[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    if (partitions.length === 0) return out;
    const startFrom = this.#options.startFrom;
    for (const topic of new Set(partitions.map((p) => p.topic))) {
      const wanted = partitions.filter((p) => p.topic === topic).map((p) => p.partition);
      if (typeof startFrom === 'object' && 'timestamp' in startFrom) {
        for (const { partition, offset } of await admin.fetchTopicOffsetsByTimestamp(topic, startFrom.timestamp)) {
          if (wanted.includes(partition)) out[partitionId(topic, partition)] = offsetToNumber(offset, { topic, partition });
        }
        continue;
      }
      const mode = typeof startFrom === 'string' ? startFrom : startFrom.otherwise;
      const explicit = typeof startFrom === 'object' && 'offsets' in startFrom ? startFrom.offsets : {};
      for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
        if (!wanted.includes(partition)) continue;
        const id = partitionId(topic, partition);
        out[id] = explicit[id] ?? offsetToNumber(mode === 'latest' ? high : low, { topic, partition });
      }
    }
    return out;
  }

  #onCrash(error: Error, restart: boolean): void {
    const logger = this.#context?.logger;
    if (restart) {
      logger?.warn({ source: this.name, group: this.group, error: rootMessage(error) }, 'kafka consumer crashed; kafkajs restarts it and the group reassigns the partitions');
      return;
    }
    this.#fail(
      toConnectorError(error, {
        code: 'KAFKA_CONSUMER_FAILED',
        message: `kafkaSource "${this.name}": the consumer of group "${this.group}" stopped after an error kafkajs does not retry: ${rootMessage(error)}.`,
      }),
    );
  }

  #fail(error: ConnectorError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#context?.logger.error({ source: this.name, group: this.group, code: error.code, error: error.message }, 'kafka source failed');
    this.#firstAssignment?.reject(error);
    this.#pollWake?.();
    for (const wake of [...this.#roomWaiters]) wake();
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const heartbeat = (): Promise<void> => payload.heartbeat();
    const isRunning = (): boolean => payload.isRunning();
    const isStale = (): boolean => payload.isStale();
    this.#heartbeat = heartbeat;
    const id = partitionId(batch.topic, batch.partition);
    const usable = (): boolean =>
      !this.#closing && !this.#revoking && !this.#rebalancePending && this.#handshakes === 0 && this.#failure === undefined && this.#owned.has(id) && isRunning() && !isStale();
    // kafkajs's pause only affects the next fetch: batches of the fetch under way keep coming. They are kept (never
    // dropped) — the handler waits for room instead, heartbeating so a long wait does not get the member evicted.
    while (usable() && this.#buffered >= this.#options.maxBufferedRecords) {
      this.#applyPause();
      await this.#waitForRoom(Math.max(100, Math.floor(this.#options.heartbeatIntervalMs / 2)));
      try {
        await heartbeat();
      } catch (error) {
        if (isMembershipError(error)) this.#rebalancePending = true;
        // Rethrown so kafkajs rejoins (the join gate then runs the revoke before the JoinGroup leaves).
        throw error;
      }
    }
    if (!usable()) return; // not resolved: kafkajs fetches these again if the partition stays ours
    const expected = this.#next.get(id) ?? Number.NEGATIVE_INFINITY;
    const entries: Entry<V>[] = [];
    let last: KafkaMessage | undefined;
    for (const message of batch.messages) {
      const offset = offsetToNumber(message.offset, batch);
      last = message;
      if (offset < expected) continue;
      try {
        // Built-in deserializers are synchronous: no await (and no microtask) per message for them.
        const entry = this.#decodeMessage(batch.topic, batch.partition, offset, message);
        entries.push(isPromiseLike(entry) ? await entry : entry);
      } catch (error) {
        if (!(error instanceof InfrastructureFailure)) throw error;
        this.#fail(
          new ConnectorError(
            'KAFKA_DESERIALIZER_UNAVAILABLE',
            `kafkaSource "${this.name}": the deserializer kept failing with a retriable error at ${batch.topic}:${batch.partition}@${offset}: ${rootMessage(error.cause)}. The source stops (nothing is committed past the record); restart once the dependency is back.`,
            { connector: 'kafka', topic: batch.topic, partition: batch.partition, offset: String(offset), retriable: true, cause: error.cause },
          ),
        );
        return;
      }
    }
    if (!usable()) return;
    if (entries.length > 0) {
      let queue = this.#buffer.get(id);
      if (queue === undefined) this.#buffer.set(id, (queue = []));
      for (const entry of entries) queue.push(entry);
      this.#buffered += entries.length;
      const lastEntry = entries.at(-1)!;
      this.#next.set(id, (lastEntry.record ?? lastEntry.letter.record).position.offset + 1);
      this.#pollWake?.();
    }
    if (last !== undefined) payload.resolveOffset(last.offset);
    if (this.#buffered >= this.#options.maxBufferedRecords) this.#applyPause();
  }

  #decodeMessage(topic: string, partition: number, offset: number, message: KafkaMessage): Entry<V> | Promise<Entry<V>> {
    const key = message.key === null || message.key === undefined ? null : message.key.toString('utf8');
    const headers = decodeHeaders(message.headers);
    const timestamp = Number(message.timestamp);
    const meta: KafkaMessageMeta = { topic, partition, offset, key, headers, timestamp };
    const position = { partition: partitionId(topic, partition), offset };
    const value = message.value ?? null;
    const finish = (decoded: unknown): Entry<V> => {
      let eventTime = timestamp;
      if (this.#eventTime !== undefined) {
        try {
          eventTime = this.#eventTime(decoded, meta);
        } catch (error) {
          return this.#deadLetter('KAFKA_EVENT_TIME_FAILED', 'computing the event time of', error, meta, value);
        }
        if (typeof eventTime !== 'number' || !Number.isFinite(eventTime)) {
          return this.#deadLetter('KAFKA_EVENT_TIME_FAILED', 'computing the event time of', new Error(`eventTime returned ${String(eventTime)}, not a finite number`), meta, value);
        }
      }
      return { record: { key, value: decoded as V, eventTime, position, headers } };
    };
    let decoded: unknown;
    try {
      decoded = this.#decode(value, meta);
    } catch (error) {
      return this.#deadLetter('KAFKA_DESERIALIZE_FAILED', 'deserializing', error, meta, value);
    }
    if (isPromiseLike(decoded)) {
      return this.#settleDecoding(Promise.resolve(decoded), value, meta, 0).then(finish, (error: unknown) => {
        if (error instanceof InfrastructureFailure) throw error;
        return this.#deadLetter('KAFKA_DESERIALIZE_FAILED', 'deserializing', error, meta, value);
      });
    }
    return finish(decoded);
  }

  /**
   * An asynchronous deserializer (a schema-registry lookup) may fail for reasons that are not the record's fault: an
   * error marked `retriable` is retried with back-off, and if it persists the source fails rather than send good
   * records to the dead letters. A restart resumes from the last commit.
   */
  async #settleDecoding(decoding: Promise<unknown>, value: Buffer | null, meta: KafkaMessageMeta, attempt: number): Promise<unknown> {
    try {
      return await decoding;
    } catch (error) {
      if ((error as { retriable?: unknown } | null)?.retriable !== true) throw error;
      if (attempt >= decodeRetryDelaysMs.length || this.#closing) throw new InfrastructureFailure(error);
      await new Promise((resolve) => setTimeout(resolve, decodeRetryDelaysMs[attempt]));
      let next: unknown;
      try {
        next = this.#decode(value, meta);
      } catch (syncError) {
        next = Promise.reject(syncError instanceof Error ? syncError : new Error(String(syncError)));
      }
      return this.#settleDecoding(Promise.resolve(next), value, meta, attempt + 1);
    }
  }

  #deadLetter(code: string, doing: string, cause: unknown, meta: KafkaMessageMeta, value: Buffer | null): Entry<V> {
    const described = cause instanceof Error ? cause.message : String(cause);
    const error = new ConnectorError(
      code,
      `kafkaSource "${this.name}": ${doing} ${meta.topic}:${meta.partition}@${meta.offset} failed: ${described}. The record went to the dead letters; fix the producer or the ${code === 'KAFKA_DESERIALIZE_FAILED' ? 'deserializer' : 'eventTime function'}.`,
      { connector: 'kafka', topic: meta.topic, partition: meta.partition, offset: String(meta.offset), cause },
    );
    this.#stats.deadLetters++;
    return {
      letter: {
        stage: this.name,
        error: { name: error.name, code: error.code, message: error.message },
        // The original bytes, so a dead-letter topic can carry the message exactly as it was.
        record: { key: meta.key, value, eventTime: meta.timestamp, position: { partition: partitionId(meta.topic, meta.partition), offset: meta.offset }, headers: meta.headers },
        failedAt: this.#context?.clock.now() ?? Date.now(),
      },
    };
  }

  #take(maxRecords: number): { records: StreamRecord<V>[]; letters: DeadLetter[] } | undefined {
    if (this.#buffered === 0 || this.#revoking || maxRecords <= 0) return undefined;
    const partitions = [...this.#buffer.keys()];
    const records: StreamRecord<V>[] = [];
    const letters: DeadLetter[] = [];
    let remaining = Math.floor(maxRecords);
    const start = this.#cursor++ % partitions.length;
    // A fair share per partition first, then whatever is left, so one busy partition cannot starve the others.
    const share = Math.max(1, Math.ceil(remaining / partitions.length));
    for (let round = 0; round < 2 && remaining > 0; round++) {
      for (let step = 0; step < partitions.length && remaining > 0; step++) {
        const id = partitions[(start + step) % partitions.length]!;
        const queue = this.#buffer.get(id);
        if (queue === undefined || queue.length === 0) continue;
        const count = Math.min(queue.length, remaining, round === 0 ? share : remaining);
        for (const entry of queue.splice(0, count)) {
          if (entry.record !== undefined) records.push(entry.record);
          else letters.push(entry.letter);
        }
        remaining -= count;
        this.#buffered -= count;
        if (queue.length === 0) this.#buffer.delete(id);
      }
    }
    if (this.#buffered < this.#options.maxBufferedRecords) {
      for (const wake of [...this.#roomWaiters]) wake();
      this.#applyPause();
    }
    return records.length === 0 && letters.length === 0 ? undefined : { records, letters };
  }

  #clearBuffer(): void {
    this.#buffer.clear();
    this.#buffered = 0;
    for (const wake of [...this.#roomWaiters]) wake();
  }

  #waitForRoom(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#roomWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#roomWaiters.add(done);
    });
  }

  /** Pauses or resumes every subscribed topic so the consumer's state matches what the source needs now. */
  #applyPause(force = false): void {
    const consumer = this.#consumer;
    if (consumer === undefined) return;
    const bufferFull = this.#buffered >= this.#options.maxBufferedRecords;
    const want = this.#runtimePaused || bufferFull || this.#handshakes > 0;
    if (want === this.#consumerPaused && !force) return;
    const topics = this.topics.map((topic) => ({ topic }));
    try {
      if (want) consumer.pause(topics);
      else consumer.resume(topics);
    } catch {
      return; // the consumer is not running (between a crash and its restart); the next GROUP_JOIN re-applies
    }
    if (want && !this.#consumerPaused) {
      this.#stats.pauses++;
      if (bufferFull) this.#stats.bufferFullPauses++;
    }
    this.#consumerPaused = want;
  }

  #throwIfFailed(): void {
    const failure = this.#failure;
    if (failure !== undefined) throw failure;
  }

  #requireOpen(operation: string): SourceContext {
    if (this.#context === undefined) {
      throw new TributaryError('SOURCE_NOT_OPEN', `kafkaSource "${this.name}": ${operation}() called before open() or after close(). Open the source first.`);
    }
    return this.#context;
  }
}

/**
 * A Kafka `Source`: a kafkajs consumer in a consumer group, feeding the runtime's polls from a bounded buffer.
 *
 * - **Commits** happen only through `commit(positions)`, which the runtime calls after every sink committed the records
 *   before those positions (`autoCommit: false`, `eachBatchAutoResolve: false`): at-least-once by construction.
 * - **Backpressure**: when the buffer reaches `maxBufferedRecords`, or the runtime calls `pause()`, the assigned
 *   partitions are paused; batches of a fetch already under way are kept (the batch handler waits for room,
 *   heartbeating), never dropped.
 * - **Rebalances** (eager protocol): before this member's JoinGroup or LeaveGroup request leaves the process, the
 *   source calls `context.revoked(all held partitions)` and holds the request until the runtime checkpointed and
 *   committed them (see `docs/decisions/0006-kafka-rebalance-gate.md` for how: kafkajs has no
 *   revoke callback, so the source gates the request in its socket factory). On each new assignment it calls
 *   `context.assigned(partitions, committedOffsets)` and seeks to what that returns (an exactly-once sink's
 *   positions), else to the committed offset, else to `startFrom`.
 * - **Bad data**: a record that fails to deserialize (or whose `eventTime` fails) goes to `context.deadLetters` with
 *   its topic/partition/offset and the original bytes; the partition keeps moving.
 * - **Records**: key and headers decoded as UTF-8; position `{ partition: '<topic>:<partition>', offset }`; event time
 *   the record timestamp unless `eventTime` is given.
 *
 * @param options see {@link KafkaSourceOptions}; `brokers`, `topics` and `groupId` are required
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * const orders = kafkaSource<Order>({
 *   brokers: ['kafka:9092'],
 *   topics: ['shop.public.orders'],
 *   groupId: 'orders-to-lake',
 *   startFrom: 'earliest',
 *   eventTime: (order) => Date.parse(order.createdAt),
 * });
 * const runtime = createRuntime(defineTopology({ name: 'orders', source: orders, pipeline: (s) => s.pipe(toSink(lake)) }));
 * await runtime.start();
 * ```
 */
export function kafkaSource<V = unknown>(options: KafkaSourceOptions<V>): KafkaSource<V> {
  const parsed = parseOptions(kafkaSourceSchema, 'kafkaSource', options);
  checkConnectionSecurity('kafkaSource', parsed);
  if (typeof parsed.startFrom === 'object' && 'offsets' in parsed.startFrom) {
    const topics = typeof parsed.topics === 'string' ? [parsed.topics] : parsed.topics;
    const foreign = Object.keys(parsed.startFrom.offsets).filter((id) => !topics.includes(parsePartitionId(id)?.topic ?? ''));
    if (foreign.length > 0) throw new InvalidOptionsError('kafkaSource', [`startFrom.offsets: ${foreign.join(', ')} name topics not in \`topics\``]);
  }
  return new KafkaSource<V>(parsed);
}

/** Back-off between attempts of an asynchronous deserializer that failed with a retriable error. */
const decodeRetryDelaysMs = [200, 1_000, 3_000];

/** A retriable deserializer failure that outlived its retries: fails the source instead of dead-lettering the record. */
class InfrastructureFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('deserializer unavailable');
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for a wake-up, `delayMs` on the context clock, or an abort — whichever comes first. Never rejects. */
function waitForWake(context: SourceContext, delayMs: number, signal: AbortSignal | undefined, register: (wake: () => void) => () => void): Promise<void> {
  if (signal?.aborted === true || context.signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let done = false;
    const cleanups: (() => void)[] = [];
    const finish = (): void => {
      if (done) return;
      done = true;
      for (const cleanup of cleanups) cleanup();
      resolve();
    };
    for (const s of [signal, context.signal]) {
      if (s === undefined) continue;
      s.addEventListener('abort', finish, { once: true });
      cleanups.push(() => s.removeEventListener('abort', finish));
    }
    cleanups.push(context.clock.setTimer(delayMs, finish));
    cleanups.push(register(finish));
    if (done) for (const cleanup of cleanups) cleanup();
  });
}

