import { z } from 'zod';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import { batchLimit, batchSizeSchema, functionSchema, pollIntervalSchema, waitForWake } from '../internal/source-support.js';
import type { Positions, StreamRecord } from '../record/stream-record.js';
import { MemoryLog } from './memory-log.js';
import type { MemoryLogEntry } from './memory-log.js';
import type { Source, SourceContext } from './source.js';

const commonShape = {
  name: stepNameSchema,
  group: z.string('must be a non-empty string').min(1, 'must be a non-empty string').default('default'),
  startAt: z.enum(['earliest', 'latest']).default('earliest'),
  batchSize: batchSizeSchema,
  pollIntervalMs: pollIntervalSchema,
};

const logOptionsSchema = z.strictObject(commonShape);

const valuesOptionsSchema = z.strictObject({
  ...commonShape,
  eventTime: functionSchema<(value: unknown, index: number) => number>().optional(),
  key: functionSchema<(value: unknown) => string | null>().optional(),
  partitions: z.int('must be a positive integer').positive('must be a positive integer').default(1),
});

/** Options of {@link memorySource} reading a {@link MemoryLog}.
 *
 * @interface
 */
export type MemorySourceOptions = z.input<typeof logOptionsSchema>;

/** Options of {@link memorySource} built from an array of values: those of a log source, plus how to make records. */
export interface MemoryValuesSourceOptions<V> extends MemorySourceOptions {
  /**
   * Event time of a value (ms since the epoch). Default: processing time — the context clock's time when the source
   * hands the record out (the log underneath then stores event time 0).
   */
  eventTime?: (value: V, index: number) => number;
  /** Key of a value. Default: `null`. */
  key?: (value: V) => string | null;
  /**
   * Number of partitions (`memory:0` … `memory:<n-1>`, or `<name>:<n>` with a `name`). Keyed values are spread by a
   * hash of the key, so one key stays in one partition; values without a key go round-robin. Default 1.
   */
  partitions?: number;
}

interface ParsedOptions {
  readonly group: string;
  /** Stamp records with the context clock's time as they are handed out (array input without `eventTime`). */
  readonly stampProcessingTime?: boolean;
  readonly startAt: 'earliest' | 'latest';
  readonly batchSize: number;
  readonly pollIntervalMs: number;
}

/**
 * A {@link Source} reading a {@link MemoryLog} as a consumer group, with the observable state tests assert on. Built by
 * {@link memorySource}.
 */
export class MemorySource<V> implements Source<V> {
  /** Source name (metrics and logs). */
  readonly name: string;
  /** The log read. It outlives this source: reuse it (and the group) to restart after a crash. */
  readonly log: MemoryLog<V>;
  /** Consumer group whose positions are committed to the log. */
  readonly group: string;
  readonly #options: ParsedOptions;
  readonly #next = new Map<string, number>();
  #held: string[] = [];
  #knownAtOpen = new Set<string>();
  #context: SourceContext | undefined;
  #cursor = 0;
  #paused = false;
  #pauseCount = 0;
  #resumeCount = 0;
  #wake: (() => void) | undefined;

  /** @internal use {@link memorySource} */
  constructor(log: MemoryLog<V>, name: string, options: ParsedOptions) {
    this.log = log;
    this.name = name;
    this.group = options.group;
    this.#options = options;
  }

  /**
   * Takes every partition of the log and reports them through `context.assigned`. Each partition starts at the offset
   * `assigned` returned (an exactly-once sink's position), else at the group's committed position, else at the
   * `startAt` position. Can be called again after `close` (a restarted runtime reusing the source).
   */
  async open(context: SourceContext): Promise<void> {
    this.#context = context;
    this.#next.clear();
    this.#held = [];
    this.#cursor = 0;
    this.#paused = false;
    const partitions = this.log.partitions();
    this.#knownAtOpen = new Set(partitions);
    await this.#assign(context, partitions);
  }

  /**
   * Up to `min(batchSize, maxRecords)` records, fairly across partitions. When nothing is available it waits up to
   * `pollIntervalMs` (context clock) for an append and then returns what arrived, or `[]`; `null` once the log is ended
   * and everything was read. While paused it returns no records. An aborted signal ends the wait with `[]`.
   * Partitions created in the log after `open` are assigned on the next poll and read from offset 0.
   */
  async poll(maxRecords: number, signal?: AbortSignal): Promise<readonly StreamRecord<V>[] | null> {
    const context = this.#requireOpen('poll');
    const limit = batchLimit(this.#options.batchSize, maxRecords);
    // No await unless there is something to discover: the wait's timer must be set within the poll() call, so a
    // virtual clock advanced right after calling poll() ends the wait.
    const discovering = this.#discover(context);
    if (discovering !== undefined) await discovering;
    const batch = this.#take(limit);
    if (batch.length > 0) return this.#stamp(batch, context);
    if (this.#exhausted()) return null;
    if (limit === 0) return [];
    await waitForWake(context.clock, this.#options.pollIntervalMs, [signal, context.signal], (wake) => {
      // An append while paused must not end the wait: the poll would only return [] early.
      const unwatch = this.log.watch(() => {
        if (!this.#paused) wake();
      });
      this.#wake = wake;
      return () => {
        unwatch();
        this.#wake = undefined;
      };
    });
    if (signal?.aborted === true || context.signal.aborted || this.#context !== context) return [];
    await this.#discover(context);
    const late = this.#take(limit);
    if (late.length > 0) return this.#stamp(late, context);
    return this.#exhausted() ? null : [];
  }

  /** Stores the positions in the log as the group's committed positions. */
  commit(positions: Positions): Promise<void> {
    // Invalid positions reject rather than throw, as callers of an async contract expect.
    return Promise.resolve().then(() => this.log.commit(this.group, positions));
  }

  partitions(): readonly string[] {
    return [...this.#held];
  }

  /** Stops handing out records until {@link MemorySource.resume}. */
  pause(): void {
    this.#paused = true;
    this.#pauseCount++;
  }

  /** Hands out records again, waking a waiting poll. */
  resume(): void {
    this.#paused = false;
    this.#resumeCount++;
    this.#wake?.();
  }

  /** Whether the source is paused (the runtime had no room). */
  get paused(): boolean {
    return this.#paused;
  }

  /** How many times `pause()` was called since the source was created. */
  get pauseCount(): number {
    return this.#pauseCount;
  }

  /** How many times `resume()` was called since the source was created. */
  get resumeCount(): number {
    return this.#resumeCount;
  }

  /** The next offset this source will read, per held partition. */
  get positions(): Positions {
    return Object.fromEntries(this.#next);
  }

  /** The group's committed positions in the log. */
  get committed(): Positions {
    return this.log.committed(this.group);
  }

  /** Releases the partitions. The log and its committed positions stay. */
  close(): Promise<void> {
    this.#wake?.();
    this.#context = undefined;
    this.#held = [];
    this.#next.clear();
    return Promise.resolve();
  }

  async #assign(context: SourceContext, partitions: readonly string[]): Promise<void> {
    if (partitions.length === 0) return;
    const committed = this.log.committed(this.group);
    const ownPositions: Record<string, number> = {};
    for (const partition of partitions) if (committed[partition] !== undefined) ownPositions[partition] = committed[partition];
    const resumeAt = await context.assigned(partitions, ownPositions);
    if (this.#context !== context) return;
    for (const partition of partitions) {
      let offset = resumeAt[partition] ?? committed[partition];
      if (offset === undefined) {
        const latest = this.#options.startAt === 'latest' && this.#knownAtOpen.has(partition);
        offset = latest ? this.log.endOffset(partition) : 0;
      }
      this.#next.set(partition, offset);
      this.#held.push(partition);
    }
  }

  /** Assigns partitions the log gained since the last look; `undefined` when there are none. */
  #discover(context: SourceContext): Promise<void> | undefined {
    const all = this.log.partitions();
    if (all.length === this.#held.length) return undefined;
    const fresh = all.filter((partition) => !this.#next.has(partition));
    return fresh.length === 0 ? undefined : this.#assign(context, fresh);
  }

  #take(limit: number): StreamRecord<V>[] {
    const held = this.#held;
    if (this.#paused || limit === 0 || held.length === 0) return [];
    const start = this.#cursor++ % held.length;
    let batch: StreamRecord<V>[] | undefined;
    for (let step = 0; step < held.length; step++) {
      const remaining = limit - (batch?.length ?? 0);
      if (remaining === 0) break;
      const partition = held[(start + step) % held.length]!;
      const from = this.#next.get(partition)!;
      const records = this.log.read(partition, from, remaining);
      if (records.length === 0) continue;
      this.#next.set(partition, from + records.length);
      if (batch === undefined) batch = records;
      else for (const record of records) batch.push(record);
    }
    return batch ?? [];
  }

  #stamp(batch: StreamRecord<V>[], context: SourceContext): StreamRecord<V>[] {
    if (this.#options.stampProcessingTime !== true) return batch;
    const now = context.clock.now();
    for (let index = 0; index < batch.length; index++) batch[index] = { ...batch[index]!, eventTime: now };
    return batch;
  }

  #exhausted(): boolean {
    if (!this.log.ended) return false;
    for (const partition of this.#held) if (this.#next.get(partition)! < this.log.endOffset(partition)) return false;
    return true;
  }

  #requireOpen(operation: string): SourceContext {
    if (this.#context === undefined) {
      throw new TributaryError('SOURCE_NOT_OPEN', `memorySource "${this.name}": ${operation}() called before open() or after close(). Open the source first.`);
    }
    return this.#context;
  }
}

/**
 * An in-memory {@link Source}: reads a {@link MemoryLog} as a consumer group, or a fixed list of values.
 *
 * Reading a log, the source behaves like a Kafka consumer: it commits the group's positions to the log, resumes from
 * them when opened again (on a new runtime after a crash), seeks to an exactly-once sink's positions when the runtime
 * hands them over, and sees records appended while it runs. With an array, it builds an ended log of those values
 * (bounded input) — convenient for tests.
 *
 * Options: `name` — source name (default: the log's name, `memory` for an array); `group` — consumer group (default
 * `default`); `startAt` — where a group without a committed position starts: `earliest` (default) or `latest` (only
 * records appended after `open`); `batchSize` — max records per poll, never more than the runtime asks for (default
 * 1000); `pollIntervalMs` — how long an empty poll waits for an append, on the context clock (default 100). For an
 * array also `eventTime`, `key` and `partitions` (see {@link MemoryValuesSourceOptions}).
 *
 * @example
 * ```ts
 * // A bounded test input, two partitions by customer.
 * const source = memorySource(orders, { eventTime: (o) => o.placedAt, key: (o) => o.customerId, partitions: 2 });
 *
 * // A live log, read by the group `billing`, that outlives runtimes.
 * const log = new MemoryLog<Order>({ name: 'orders', partitions: 3 });
 * const live = memorySource(log, { group: 'billing', batchSize: 500 });
 * log.append(0, { value: order, eventTime: order.placedAt, key: order.customerId });
 * ```
 */
export function memorySource<V>(log: MemoryLog<V>, options?: MemorySourceOptions): MemorySource<V>;
export function memorySource<V>(values: readonly V[], options?: MemoryValuesSourceOptions<V>): MemorySource<V>;
export function memorySource<V>(input: MemoryLog<V> | readonly V[], options: MemoryValuesSourceOptions<V> = {}): MemorySource<V> {
  if (input instanceof MemoryLog) {
    const parsed = parseOptions(logOptionsSchema, 'memorySource', options);
    return new MemorySource(input, parsed.name ?? input.name, parsed);
  }
  if (!Array.isArray(input)) throw new InvalidOptionsError('memorySource', ['input: must be a MemoryLog or an array of values']);
  const parsed = parseOptions(valuesOptionsSchema, 'memorySource', options);
  const name = parsed.name ?? 'memory';
  const log = new MemoryLog<V>({ name, partitions: parsed.partitions });
  const eventTime = parsed.eventTime as ((value: V, index: number) => number) | undefined;
  const keyOf = parsed.key as ((value: V) => string | null) | undefined;
  const perPartition: MemoryLogEntry<V>[][] = Array.from({ length: parsed.partitions }, () => []);
  const values = input as readonly V[];
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    const key = keyOf ? keyOf(value) : null;
    const partition = parsed.partitions === 1 ? 0 : key === null ? index % parsed.partitions : hashKey(key) % parsed.partitions;
    perPartition[partition]!.push({ value, key, eventTime: eventTime ? eventTime(value, index) : 0 });
  }
  for (let partition = 0; partition < parsed.partitions; partition++) log.append(partition, perPartition[partition]!);
  log.end();
  return new MemorySource(log, name, { ...parsed, stampProcessingTime: eventTime === undefined });
}

/** FNV-1a over the key's UTF-16 code units: stable across processes, cheap, well spread. */
function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
