import { z } from 'zod';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import { batchLimit, batchSizeSchema, functionSchema, pollIntervalSchema, waitForWake } from '../internal/source-support.js';
import type { Positions, RecordHeaders, StreamRecord } from '../record/stream-record.js';
import type { Source, SourceContext } from './source.js';

const iterableSourceOptionsSchema = z.strictObject({
  name: stepNameSchema,
  eventTime: functionSchema<(value: unknown, offset: number) => number>().optional(),
  key: functionSchema<(value: unknown) => string | null>().optional(),
  partition: z.string('must be a non-empty string').min(1, 'must be a non-empty string').default('iterable'),
  batchSize: batchSizeSchema,
  pollIntervalMs: pollIntervalSchema,
});

/** Options of {@link iterableSource}. */
export interface IterableSourceOptions<V> {
  /** Source name (metrics, logs, errors). Default `iterable`. */
  name?: string;
  /** Event time of an item (ms since the epoch). Default: processing time — the context clock when the item is read. */
  eventTime?: (value: V, offset: number) => number;
  /** Key of an item. Default: `null`. */
  key?: (value: V) => string | null;
  /** The one partition id the records carry. Default `iterable`. */
  partition?: string;
  /** Max records per poll, never more than the runtime asks for. Default 1000. */
  batchSize?: number;
  /** Async iterables: how long an empty poll waits for the next item (context clock). Default 100. */
  pollIntervalMs?: number;
}

// Keeps the hand-written interface and the schema in step: a field added to one and not the other fails to compile.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _optionsMatchSchema: SameKeys<keyof z.input<typeof iterableSourceOptionsSchema>, keyof IterableSourceOptions<unknown>> = true;

/** What {@link iterableSource} reads: an iterable, an async iterable, or a function that creates one. */
export type IterableInput<V> = Iterable<V> | AsyncIterable<V> | (() => Iterable<V> | AsyncIterable<V>);

const noHeaders: RecordHeaders = Object.freeze({});

type Mode<V> =
  | { readonly kind: 'array'; readonly items: readonly V[] }
  | { readonly kind: 'sync'; readonly iterator: Iterator<V> }
  | { readonly kind: 'async'; readonly iterator: AsyncIterator<V> };

interface ParsedOptions<V> {
  readonly eventTime: ((value: V, offset: number) => number) | undefined;
  readonly key: ((value: V) => string | null) | undefined;
  readonly partition: string;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
}

/**
 * A {@link Source} over an iterable, with one partition whose offsets are item indexes. Built by
 * {@link iterableSource}.
 */
export class IterableSource<V> implements Source<V> {
  /** Source name (metrics and logs). */
  readonly name: string;
  /** The one partition id. */
  readonly partition: string;
  readonly #input: IterableInput<V>;
  readonly #options: ParsedOptions<V>;
  #mode: Mode<V> | undefined;
  #context: SourceContext | undefined;
  /** Offset of the next item read from the iterable. */
  #offset = 0;
  #done = false;
  #failure: TributaryError | undefined;
  #committed: number | undefined;
  /** A one-shot iterable was started: its items before the current one are gone. */
  #started = false;
  #paused = false;
  // Async iterables: items are prefetched into a bounded buffer between polls.
  #buffer: StreamRecord<V>[] = [];
  #pumping = false;
  #wake: (() => void) | undefined;
  /** Bumped by open/close so a prefetch that outlived its session drops what it reads. */
  #generation = 0;

  /** @internal use {@link iterableSource} */
  constructor(input: IterableInput<V>, name: string, options: ParsedOptions<V>) {
    this.#input = input;
    this.name = name;
    this.partition = options.partition;
    this.#options = options;
  }

  /** Whether the source can start over: it was given a function creating the iterable, or an array. */
  get replayable(): boolean {
    return typeof this.#input === 'function' || Array.isArray(this.#input);
  }

  /**
   * Reports the partition through `context.assigned` and positions the source at the offset it returns, else at the
   * last offset committed to this source, else at 0. Resuming past 0 re-creates the iterable and skips the items
   * before the offset; a one-shot iterable (not a function or an array) cannot do that and fails here.
   *
   * @throws TributaryError `SOURCE_NOT_REPLAYABLE` when a one-shot iterable would have to resume or start again
   */
  async open(context: SourceContext): Promise<void> {
    this.#close();
    const generation = this.#generation;
    const resumeAt = (await context.assigned([this.partition], this.committed))[this.partition] ?? this.#committed ?? 0;
    if (!Number.isSafeInteger(resumeAt) || resumeAt < 0) {
      throw new TributaryError('INVALID_POSITION', `iterableSource "${this.name}": cannot resume at offset ${resumeAt}; offsets are item indexes (integers >= 0).`);
    }
    if (!this.replayable && (resumeAt > 0 || this.#started)) {
      throw new TributaryError(
        'SOURCE_NOT_REPLAYABLE',
        `iterableSource "${this.name}" must resume at offset ${resumeAt} of partition "${this.partition}", but it reads a one-shot ` +
          `iterable${this.#started ? ' that an earlier session already read from' : ''}. Pass a function that creates the iterable (e.g. () => readRows()) or an array so it can start over.`,
      );
    }
    const mode = this.#createMode();
    this.#mode = mode;
    this.#offset = 0;
    this.#done = false;
    this.#failure = undefined;
    this.#buffer = [];
    if (mode.kind === 'array') {
      this.#offset = Math.min(resumeAt, mode.items.length);
      this.#context = context;
      return;
    }
    if (!this.replayable) this.#started = true;
    // Skip the items that were processed before the restart.
    while (this.#offset < resumeAt) {
      if (context.signal.aborted || generation !== this.#generation) return;
      const result = mode.kind === 'sync' ? mode.iterator.next() : await mode.iterator.next();
      if (result.done === true) {
        this.#done = true;
        break;
      }
      this.#offset++;
    }
    if (generation === this.#generation) this.#context = context;
  }

  /**
   * Up to `min(batchSize, maxRecords)` records; `null` once the iterable is exhausted.
   *
   * Sync iterables and arrays are read on demand, never waiting. Async iterables are prefetched in the background
   * into a buffer of at most `batchSize` items: a poll returns what the buffer holds without waiting; when it is empty
   * the poll waits for the next item (up to `pollIntervalMs` on the context clock, or until the signal aborts) and
   * then returns what arrived, or `[]`. A failing iterable or `eventTime`/`key` function fails the poll after the
   * records read before it were returned.
   */
  async poll(maxRecords: number, signal?: AbortSignal): Promise<readonly StreamRecord<V>[] | null> {
    const context = this.#context;
    const mode = this.#mode;
    if (context === undefined || mode === undefined) {
      throw new TributaryError('SOURCE_NOT_OPEN', `iterableSource "${this.name}": poll() called before open() or after close(). Open the source first.`);
    }
    const limit = batchLimit(this.#options.batchSize, maxRecords);
    if (mode.kind !== 'async') return this.#pollSync(mode, limit, context);

    if (this.#buffer.length === 0) {
      if (this.#failure) throw this.#failure;
      if (this.#done) return null;
      if (limit === 0) return [];
      this.#prefetch(mode.iterator, context);
      await waitForWake(context.clock, this.#options.pollIntervalMs, [signal, context.signal], (wake) => {
        this.#wake = wake;
        return () => (this.#wake = undefined);
      });
      if (this.#buffer.length === 0 || this.#context !== context) {
        // Read again after the wait: the prefetch may have failed meanwhile.
        const failure = this.#currentFailure();
        if (failure) throw failure;
        return this.#done ? null : [];
      }
    }
    let batch: StreamRecord<V>[];
    if (this.#buffer.length <= limit) {
      batch = this.#buffer;
      this.#buffer = [];
    } else {
      batch = this.#buffer.splice(0, limit);
    }
    this.#prefetch(mode.iterator, context);
    return batch;
  }

  /** Records the committed offset; a later `open` of this source resumes there when the runtime gives no position. */
  commit(positions: Positions): Promise<void> {
    const offset = positions[this.partition];
    if (offset !== undefined) this.#committed = offset;
    return Promise.resolve();
  }

  /** The positions committed to this source (`{}` before the first commit). */
  get committed(): Positions {
    return this.#committed === undefined ? {} : { [this.partition]: this.#committed };
  }

  partitions(): readonly string[] {
    return this.#context === undefined ? [] : [this.partition];
  }

  /** Async iterables: stops prefetching (what was prefetched is still returned by `poll`). */
  pause(): void {
    this.#paused = true;
  }

  /** Async iterables: prefetches again. */
  resume(): void {
    this.#paused = false;
    const mode = this.#mode;
    if (mode?.kind === 'async' && this.#context) this.#prefetch(mode.iterator, this.#context);
  }

  /** Whether the source is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Stops reading and lets the iterable release its resources (`return()`). */
  close(): Promise<void> {
    this.#close();
    return Promise.resolve();
  }

  #close(): void {
    this.#generation++;
    this.#wake?.();
    const mode = this.#mode;
    this.#mode = undefined;
    this.#context = undefined;
    this.#buffer = [];
    this.#pumping = false;
    if (mode === undefined || mode.kind === 'array') return;
    // Not awaited: an async generator stuck in an await would hold close() forever.
    try {
      const returned = mode.iterator.return?.();
      if (returned instanceof Promise) returned.catch(() => undefined);
    } catch {
      // A failing return() has nothing left to release.
    }
  }

  #createMode(): Mode<V> {
    const created: unknown = typeof this.#input === 'function' ? this.#input() : this.#input;
    if (Array.isArray(created)) return { kind: 'array', items: created as readonly V[] };
    if (created !== null && created !== undefined) {
      const candidate = created as Partial<Iterable<V> & AsyncIterable<V>>;
      const syncIterator = candidate[Symbol.iterator];
      if (typeof syncIterator === 'function') return { kind: 'sync', iterator: syncIterator.call(candidate) };
      const asyncIterator = candidate[Symbol.asyncIterator];
      if (typeof asyncIterator === 'function') return { kind: 'async', iterator: asyncIterator.call(candidate) };
    }
    throw new TributaryError(
      'INVALID_SOURCE_INPUT',
      `iterableSource "${this.name}": the function passed must return an iterable or an async iterable, got ${created === null ? 'null' : typeof created}.`,
    );
  }

  #pollSync(mode: Exclude<Mode<V>, { kind: 'async' }>, limit: number, context: SourceContext): readonly StreamRecord<V>[] | null {
    if (this.#failure) throw this.#failure;
    if (this.#done) return null;
    const out: StreamRecord<V>[] = [];
    const now = this.#options.eventTime === undefined ? context.clock.now() : 0;
    try {
      if (mode.kind === 'array') {
        const { items } = mode;
        const end = Math.min(items.length, this.#offset + limit);
        while (this.#offset < end) {
          out.push(this.#record(items[this.#offset]!, now));
          this.#offset++;
        }
        if (this.#offset >= items.length) this.#done = true;
      } else {
        while (out.length < limit) {
          const result = mode.iterator.next();
          if (result.done === true) {
            this.#done = true;
            break;
          }
          out.push(this.#record(result.value, now));
          this.#offset++;
        }
      }
    } catch (error) {
      this.#failure = this.#wrapFailure(error);
      if (out.length === 0) throw this.#failure;
    }
    if (out.length === 0 && this.#done) return null;
    return out;
  }

  /** Starts the background reader of an async iterable unless it runs, is paused, finished or the buffer is full. */
  #prefetch(iterator: AsyncIterator<V>, context: SourceContext): void {
    if (this.#pumping || this.#paused || this.#done || this.#failure || this.#buffer.length >= this.#options.batchSize) return;
    this.#pumping = true;
    const generation = this.#generation;
    const pump = async (): Promise<void> => {
      try {
        while (!this.#paused && this.#buffer.length < this.#options.batchSize) {
          const result = await iterator.next();
          if (generation !== this.#generation) return;
          if (result.done === true) {
            this.#done = true;
            break;
          }
          const now = this.#options.eventTime === undefined ? context.clock.now() : 0;
          this.#buffer.push(this.#record(result.value, now));
          this.#offset++;
          this.#wake?.();
        }
      } catch (error) {
        if (generation === this.#generation) this.#failure = this.#wrapFailure(error);
      } finally {
        if (generation === this.#generation) {
          this.#pumping = false;
          this.#wake?.();
        }
      }
    };
    void pump();
  }

  #currentFailure(): TributaryError | undefined {
    return this.#failure;
  }

  #record(value: V, now: number): StreamRecord<V> {
    const offset = this.#offset;
    const { eventTime: eventTimeOf, key: keyOf } = this.#options;
    const eventTime = eventTimeOf === undefined ? now : eventTimeOf(value, offset);
    if (!Number.isFinite(eventTime)) throw new RangeError(`eventTime returned ${String(eventTime)}; it must be a finite number of ms since the epoch`);
    const key = keyOf === undefined ? null : keyOf(value);
    if (key !== null && typeof key !== 'string') throw new TypeError(`key returned ${typeof key}; it must be a string or null`);
    return { key, value, eventTime, position: { partition: this.partition, offset }, headers: noHeaders };
  }

  #wrapFailure(error: unknown): TributaryError {
    if (error instanceof TributaryError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new TributaryError(
      'SOURCE_FAILED',
      `iterableSource "${this.name}" failed at ${this.partition}@${this.#offset}: ${message}. Records before this offset were delivered; fix the input and restart.`,
      { cause: error },
    );
  }
}

/**
 * A {@link Source} over an iterable, an async iterable (a generator, a paginated API, a database cursor) or a function
 * that creates one. All items go to one partition (`partition`, default `iterable`) whose offsets are the item indexes.
 *
 * Exactly-once and crash recovery: `commit` records the position; when the source is opened again (or the runtime
 * hands it an exactly-once sink's position) it resumes there by re-creating the iterable and skipping the items before
 * the offset. Only a function or an array can be re-created; a one-shot iterable (a generator object) that would have
 * to resume fails at `open` with `SOURCE_NOT_REPLAYABLE`.
 *
 * Async iterables are read ahead into a buffer of at most `batchSize` items while the topology works; a poll takes
 * what is buffered, and only when nothing is buffered waits for the next item (up to `pollIntervalMs`). That keeps
 * latency low for slow producers and batches large for fast ones.
 *
 * @param input the items: an iterable, an async iterable, or a function creating one (replayable)
 * @param options `name` (default `iterable`); `eventTime` — ms since the epoch from an item (default: processing time
 *   from the context clock); `key` (default `null`); `partition` (default `iterable`); `batchSize` — max records per
 *   poll (default 1000); `pollIntervalMs` — how long an empty poll of an async iterable waits (default 100)
 *
 * @example
 * ```ts
 * async function* pages() {
 *   for (let page = 0; ; page++) {
 *     const rows = await api.list({ page });
 *     if (rows.length === 0) return;
 *     yield* rows;
 *   }
 * }
 * const source = iterableSource(() => pages(), { eventTime: (row) => Date.parse(row.createdAt), key: (row) => row.id });
 * ```
 */
export function iterableSource<V>(input: IterableInput<V>, options: IterableSourceOptions<V> = {}): IterableSource<V> {
  const isInput =
    typeof input === 'function' ||
    (typeof input === 'object' &&
      input !== null &&
      (typeof (input as Partial<Iterable<V>>)[Symbol.iterator] === 'function' ||
        typeof (input as Partial<AsyncIterable<V>>)[Symbol.asyncIterator] === 'function'));
  if (!isInput) throw new InvalidOptionsError('iterableSource', ['input: must be an iterable, an async iterable or a function returning one']);
  const parsed = parseOptions(iterableSourceOptionsSchema, 'iterableSource', options);
  return new IterableSource(input, parsed.name ?? 'iterable', {
    eventTime: parsed.eventTime,
    key: parsed.key,
    partition: parsed.partition,
    batchSize: parsed.batchSize,
    pollIntervalMs: parsed.pollIntervalMs,
  });
}
