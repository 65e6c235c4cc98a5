import { z } from 'zod';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { clockSchema } from '../internal/source-support.js';
import type { Positions, RecordHeaders, StreamRecord } from '../record/stream-record.js';
import { systemClock } from '../runtime/clock.js';
import type { Clock } from '../runtime/clock.js';

const memoryLogOptionsSchema = z.strictObject({
  name: z.string().min(1, 'must be a non-empty string').default('memory'),
  partitions: z
    .union([
      z.int('must be a positive integer or a list of partition ids').positive('must be a positive integer'),
      z
        .array(z.string().min(1, 'must be a non-empty string'), 'must be a positive integer or a list of partition ids')
        .min(1, 'must name at least one partition')
        .refine((ids) => new Set(ids).size === ids.length, 'must not repeat a partition id'),
    ])
    .optional(),
  clock: clockSchema.optional(),
});

/** Options of {@link MemoryLog}.
 *
 * @interface
 */
export type MemoryLogOptions = z.input<typeof memoryLogOptionsSchema>;

/**
 * What {@link MemoryLog.append} takes: a value with its event time, key and headers. A {@link StreamRecord} is one too
 * (its position is ignored: the log assigns the next offset).
 */
export interface MemoryLogEntry<V> {
  readonly value: V;
  /** Event time, ms since the epoch. Default: the log clock's time of the append (like a Kafka producer timestamp). */
  readonly eventTime?: number;
  /** Record key. Default `null`. */
  readonly key?: string | null;
  /** Record headers. Default none. */
  readonly headers?: RecordHeaders;
}

/** How {@link MemoryLog.appendValues} derives event time and key from plain values. */
export interface MemoryLogValueOptions<V> {
  /** Event time of a value. Default: the log clock's time of the append. */
  eventTime?: (value: V, index: number) => number;
  /** Key of a value. Default: `null`. */
  key?: (value: V) => string | null;
}

const noHeaders: RecordHeaders = Object.freeze({});

/**
 * An in-process stand-in for a partitioned log such as a Kafka topic: partitions of records at consecutive offsets,
 * committed positions per consumer group, and an optional end that makes it bounded.
 *
 * A log outlives the runtimes that read it, which is what crash tests need: run a topology against a log, tear the
 * runtime down mid-way, start another one on the same log and consumer group, and it resumes from the group's
 * committed positions (or from an exactly-once sink's). Records appended while a {@link memorySource} polls are seen
 * by that source. Records are stored once and handed out without copying; treat them as immutable.
 *
 * @example
 * ```ts
 * const orders = new MemoryLog<Order>({ name: 'orders', partitions: 2 });
 * orders.append('orders:0', [{ value: order1, eventTime: Date.parse('2026-01-01T10:00:00Z'), key: order1.id }]);
 * orders.appendValues(1, [order2, order3], { eventTime: (o) => o.placedAt, key: (o) => o.id });
 * orders.end(); // bounded: sources return `null` once they read everything
 *
 * const first = createRuntime(topology(memorySource(orders, { group: 'billing' })));
 * // ... crash it, then:
 * const second = createRuntime(topology(memorySource(orders, { group: 'billing' })));
 * console.log(orders.committed('billing')); // { 'orders:0': 1, 'orders:1': 2 }
 * ```
 */
export class MemoryLog<V> {
  /** Log name; numbered partitions are called `<name>:<n>`. */
  readonly name: string;
  readonly #clock: Clock;
  readonly #partitions = new Map<string, StreamRecord<V>[]>();
  readonly #committed = new Map<string, Record<string, number>>();
  readonly #listeners = new Set<() => void>();
  #ended = false;

  /**
   * @param options `name` — log name (default `memory`); `partitions` — a count (creates `<name>:0` … `<name>:<n-1>`)
   *   or a list of partition ids to create up front (default none: partitions appear on first append); `clock` — stamps
   *   entries appended without an event time (default the system clock)
   */
  constructor(options: MemoryLogOptions = {}) {
    const parsed = parseOptions(memoryLogOptionsSchema, 'MemoryLog', options);
    this.name = parsed.name;
    this.#clock = parsed.clock ?? systemClock;
    const { partitions } = parsed;
    if (typeof partitions === 'number') for (let index = 0; index < partitions; index++) this.#partitions.set(`${this.name}:${index}`, []);
    else if (partitions !== undefined) for (const id of partitions) this.#partitions.set(id, []);
  }

  /** Partition ids, in creation order. */
  partitions(): readonly string[] {
    return [...this.#partitions.keys()];
  }

  /** The id of partition `partition`: itself for a string, `<name>:<n>` for a number. */
  partitionId(partition: string | number): string {
    if (typeof partition === 'string') {
      if (partition.length === 0) throw new InvalidOptionsError(`MemoryLog "${this.name}"`, ['partition: must be a non-empty string']);
      return partition;
    }
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new InvalidOptionsError(`MemoryLog "${this.name}"`, [`partition: must be a non-negative integer, got ${partition}`]);
    }
    return `${this.name}:${partition}`;
  }

  /**
   * Appends records to a partition (created if new) at the next offsets and wakes sources waiting for data.
   *
   * @param partition partition id, or its number (`<name>:<n>`)
   * @param entries one entry or a batch
   * @returns the stored records, with their positions
   * @throws TributaryError `MEMORY_LOG_ENDED` when the log was ended
   */
  append(partition: string | number, entries: MemoryLogEntry<V> | readonly MemoryLogEntry<V>[]): readonly StreamRecord<V>[] {
    const batch: readonly MemoryLogEntry<V>[] = Array.isArray(entries) ? entries : [entries as MemoryLogEntry<V>];
    const id = this.#appendableId(partition);
    const existing = this.#partitions.get(id);
    const base = existing?.length ?? 0;
    const out = new Array<StreamRecord<V>>(batch.length);
    let now: number | undefined;
    for (let index = 0; index < batch.length; index++) {
      const entry = batch[index]!;
      let eventTime = entry.eventTime;
      if (eventTime === undefined) eventTime = now ??= this.#clock.now();
      else if (!Number.isFinite(eventTime)) this.#badEntry(index, `eventTime: must be a finite number, got ${String(eventTime)}`);
      const key = entry.key ?? null;
      if (key !== null && typeof key !== 'string') this.#badEntry(index, `key: must be a string or null, got ${typeof key}`);
      out[index] = {
        key,
        value: entry.value,
        eventTime,
        position: { partition: id, offset: base + index },
        headers: entry.headers ?? noHeaders,
      };
    }
    // Validated first, stored second: a bad entry leaves the log unchanged.
    if (existing === undefined) this.#partitions.set(id, out.slice());
    else for (const record of out) existing.push(record);
    this.#notify();
    return out;
  }

  /**
   * Appends plain values, deriving event time and key with functions.
   *
   * @example
   * ```ts
   * log.appendValues('clicks:0', clicks, { eventTime: (c) => c.at, key: (c) => c.userId });
   * ```
   */
  appendValues(partition: string | number, values: readonly V[], options: MemoryLogValueOptions<V> = {}): readonly StreamRecord<V>[] {
    const { eventTime, key } = options;
    const entries = new Array<MemoryLogEntry<V>>(values.length);
    for (let index = 0; index < values.length; index++) {
      const value = values[index]!;
      entries[index] = { value, eventTime: eventTime?.(value, index), key: key ? key(value) : null };
    }
    return this.append(partition, entries);
  }

  /** Every record of a partition (a copy of the list; empty for an unknown partition). */
  records(partition: string | number): readonly StreamRecord<V>[] {
    return [...(this.#partitions.get(this.partitionId(partition)) ?? [])];
  }

  /** Up to `maxRecords` records of a partition starting at offset `from`. */
  read(partition: string, from: number, maxRecords: number): StreamRecord<V>[] {
    const records = this.#partitions.get(partition);
    if (records === undefined || from >= records.length || maxRecords <= 0) return [];
    return records.slice(Math.max(0, from), Math.max(0, from) + maxRecords);
  }

  /** The offset the next append to `partition` gets (0 for an unknown partition). */
  endOffset(partition: string | number): number {
    return this.#partitions.get(this.partitionId(partition))?.length ?? 0;
  }

  /** Marks the log bounded: no more appends; sources return `null` from `poll` once they read everything. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#notify();
  }

  /** Whether {@link MemoryLog.end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The positions consumer group `group` committed (offset to resume from, per partition); `{}` when none. */
  committed(group = 'default'): Positions {
    return { ...this.#committed.get(group) };
  }

  /**
   * Stores positions for a consumer group (merged with what it committed before, per partition).
   *
   * @throws InvalidOptionsError when an offset is not a non-negative integer
   */
  commit(group: string, positions: Positions): void {
    const issues: string[] = [];
    for (const [partition, offset] of Object.entries(positions)) {
      if (!Number.isSafeInteger(offset) || offset < 0) issues.push(`${partition}: offset must be a non-negative integer, got ${offset}`);
    }
    if (issues.length > 0) throw new InvalidOptionsError(`MemoryLog "${this.name}" commit for group "${group}"`, issues);
    this.#committed.set(group, { ...this.#committed.get(group), ...positions });
  }

  /** Calls `listener` after every append and on end; returns a function that stops it. */
  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #appendableId(partition: string | number): string {
    const id = this.partitionId(partition);
    if (this.#ended) {
      throw new TributaryError('MEMORY_LOG_ENDED', `Cannot append to partition "${id}" of MemoryLog "${this.name}": the log was ended. Append before calling end().`);
    }
    return id;
  }

  #badEntry(index: number, problem: string): never {
    throw new InvalidOptionsError(`MemoryLog "${this.name}" append`, [`entries.${index}.${problem}`]);
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
