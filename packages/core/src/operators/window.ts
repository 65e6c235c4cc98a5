import { z } from 'zod';
import { TributaryError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { RecordHeaders, StreamRecord } from '../record/stream-record.js';
import type { ErrorPolicy, KeyedState, StepContext } from '../runtime/step-context.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Emit, Operator, StepHandlers } from './define-operator.js';
import { isAggregate } from './window-aggregates.js';
import type { Aggregate, AggregateValues, ErasedReducer } from './window-aggregates.js';
import { windowAssignerSchema } from './window-assigners.js';
import type { WindowAssigner } from './window-assigners.js';

/**
 * The bounds of a window: half-open, `[start, end)`, in ms since the epoch.
 *
 * @example
 * ```ts
 * const firstMinute: WindowBounds = { start: 0, end: 60_000 };
 * ```
 */
export interface WindowBounds {
  /** Window start (inclusive), ms. */
  readonly start: number;
  /** Window end (exclusive), ms. */
  readonly end: number;
}

/**
 * The value of every record the `window` operator emits: one window of one key, with its aggregates.
 *
 * The record around it has `key` = the group key, `eventTime` = `end - 1`, the source position of the last record
 * added to the window, and no headers.
 *
 * @example
 * ```ts
 * // { key: 'm-1', start: 0, end: 60000, values: { orders: 3, total: 41.5 }, revision: 0 }
 * const result: WindowResult<{ orders: number; total: number }> = record.value;
 * ```
 */
export interface WindowResult<Values> {
  /** The group key. */
  readonly key: string;
  /** Window start (inclusive), ms. */
  readonly start: number;
  /** Window end (exclusive), ms. */
  readonly end: number;
  /** One value per aggregate, named as in the `aggregate` option. */
  readonly values: Values;
  /**
   * 0 for the first emission of this window, then +1 for every re-emission (an update, or a late record accepted
   * within `allowedLateness`). A session that absorbed other sessions continues from the highest revision among them.
   */
  readonly revision: number;
  /**
   * Sessions only: earlier emitted results (same key) that this one replaces, because their session grew or merged
   * into this one. Downstream upserts should delete them. Absent when nothing is replaced.
   */
  readonly supersedes?: readonly WindowBounds[];
}

/**
 * Options of {@link window}. `In` is the record value type and `A` the map of aggregates; both are inferred.
 *
 * (Declared as an interface rather than `z.input<typeof schema>` because zod cannot carry the generic `In` and `A`;
 * the schema validates exactly these fields.)
 *
 * @example
 * ```ts
 * const options: WindowOptions<Order, { orders: Aggregate<unknown, number> }> = {
 *   key: (order) => order.merchantId,
 *   window: tumbling(60_000),
 *   aggregate: { orders: count() },
 * };
 * ```
 */
export interface WindowOptions<In, A extends Record<string, Aggregate<In, unknown>>> {
  /** Step name used in metrics, logs, dead letters and late records. Default: `window-<n>`. */
  name?: string | undefined;
  /** The grouping key of a record (must return a string; anything else goes to the error policy). Required. */
  key: (value: In, record: StreamRecord<In>) => string;
  /** How records are grouped in time: `tumbling(size)`, `hopping(size, advance)`, `sliding(size)` or `session(gap)`. Required. */
  window: WindowAssigner;
  /** Named aggregates, e.g. `{ orders: count(), total: sum((o) => o.amount) }`; at least one. Required. */
  aggregate: A;
  /**
   * How long (ms, event time) a window stays open for late records after it fired: a record for a fired window is
   * accepted while the watermark is below `end - 1 + allowedLateness`, and re-emits the window. Default: `0`.
   */
  allowedLateness?: number | undefined;
  /** `'close'`: emit each window once when the watermark passes its end (plus re-emissions for late records); `'update'`: emit every window a data chunk touched, after that chunk. Default: `'close'`. */
  emit?: 'close' | 'update' | undefined;
  /** What to do with a record whose key or aggregate input cannot be computed: `dlq` | `skip` | `fail`. Default: `'dlq'`. */
  onError?: ErrorPolicy | undefined;
}

const aggregateSchema = z.custom<Aggregate<unknown, unknown>>(isAggregate, {
  error: 'must be an aggregate: count(), sum(field), avg(field), min(field), max(field) or reduce({ init, add, merge?, result? })',
});

const windowOptionsSchema = z
  .strictObject({
    name: stepNameSchema,
    key: z.custom<(value: unknown, record: StreamRecord<unknown>) => string>((value) => typeof value === 'function', {
      error: 'must be a function returning the grouping key of a record',
    }),
    window: windowAssignerSchema,
    aggregate: z
      .record(z.string(), aggregateSchema, { error: 'must be an object of named aggregates, e.g. { orders: count() }' })
      .refine((aggregates) => Object.keys(aggregates).length > 0, { error: 'must name at least one aggregate' }),
    allowedLateness: z
      .number({ error: 'must be a non-negative integer number of milliseconds' })
      .int({ error: 'must be a non-negative integer number of milliseconds' })
      .min(0, { error: 'must be a non-negative integer number of milliseconds' })
      .max(Number.MAX_SAFE_INTEGER, { error: 'must be a non-negative integer number of milliseconds' })
      .default(0),
    emit: z.enum(['close', 'update'], { error: "must be 'close' or 'update'" }).default('close'),
    onError: errorPolicySchema.default('dlq'),
  })
  .superRefine((options, issues) => {
    if (options.window.type !== 'session' && options.window.type !== 'sliding') return;
    for (const [name, aggregate] of Object.entries(options.aggregate)) {
      if (aggregate.kind === 'reduce' && aggregate.reducer?.merge === undefined) {
        issues.addIssue({
          code: 'custom',
          path: ['aggregate', name],
          message: `reduce() needs a merge function for ${options.window.type} windows`,
        });
      }
    }
  });

// The hand-written options interface must stay accepted by the schema it documents.
type _OptionsMatchSchema =
  WindowOptions<unknown, Record<string, Aggregate<unknown, unknown>>> extends z.input<typeof windowOptionsSchema> ? true : never;
const _optionsMatchSchema: _OptionsMatchSchema = true;

/**
 * Keyed event-time windows with aggregates: groups records by `key` into `tumbling`, `hopping`, `sliding` or
 * `session` windows and emits one {@link WindowResult} per window, typed from the `aggregate` object.
 *
 * **Semantics.** A watermark `W` (from `watermark` chunks) means every record with event time `<= W` has arrived,
 * late ones excepted. Windows are half-open `[start, end)`.
 * - `tumbling(size)`: the window `[floor(t / size) * size, + size)`.
 * - `hopping(size, advance)`: every `[k * advance, k * advance + size)` containing `t`.
 * - `sliding(size)`: one window per distinct event time `t` of a key, `[t - size + 1, t + 1)`: the trailing-`size`
 *   aggregate as of that event, including records of the key in range that arrive later but are not late.
 * - `session(gap)`: records of a key closer than `gap` form one session `[first, last + gap)`; a record that bridges
 *   two sessions merges them (custom reducers need `merge` for sliding and session windows).
 *
 * A window FIRES when `W >= end - 1`. It stays in state until `W >= end - 1 + allowedLateness`, then it is purged. A
 * window is alive until purged. With `emit: 'close'` (default) a window is emitted once when it fires (revision 0);
 * a record accepted into a fired, not yet purged window re-emits it after the record's data chunk (revision + 1).
 * With `emit: 'update'` every window a data chunk touched is emitted after that chunk (one result per window per chunk,
 * revision + 1 each time) and firing emits nothing more.
 *
 * A record is LATE when no window it would belong to is alive: for tumbling and hopping, every window containing `t`;
 * for sliding, its own window `[t - size + 1, t + 1)` and the key's existing windows covering `t`; for sessions, its own
 * `[t, t + gap)` and the key's existing sessions it overlaps. Late records go to the late output (`late` chunks, with
 * the watermark at arrival) and nowhere else. A record with some windows alive and others purged (hopping, sliding) goes
 * to the alive ones only. So every accepted record is in at least one emitted window.
 *
 * Sessions change bounds as they grow and merge: a result whose session replaces sessions emitted before (same key,
 * other bounds) lists them in `supersedes`, and its revision continues from the highest revision among them.
 *
 * On a watermark, fired windows are emitted ordered by end time, then key, before the watermark chunk moves on. When
 * the input completes, every remaining window fires (as if `W = +Infinity`).
 *
 * **State.** Window accumulators live in the step's per-source-partition state (JSON values; keys
 * `"<group key>\u0000<start>"` for tumbling and hopping, `"<group key>\u0000"` holding all windows of a key for sliding
 * and sessions, plus the partition's last watermark), so they are checkpointed with the source positions and
 * restored after a restart; the in-memory index of firing times is rebuilt from the state when needed. Entries are
 * updated in place and handed to the state once per checkpoint interval (the runtime persists, at a checkpoint, every
 * entry written since the previous one as it is then). Windows are
 * scoped by source partition: records of one group key should come from one source partition (as with Kafka keyed
 * partitioning), otherwise each partition emits its own result for that key.
 *
 * @param options see {@link WindowOptions}
 *
 * @example
 * ```ts
 * orders.pipe(
 *   window({
 *     name: 'per-merchant-minute',
 *     key: (order) => order.merchantId,
 *     window: tumbling(60_000),
 *     aggregate: { orders: count(), total: sum((o) => o.amount), average: avg((o) => o.amount), largest: max((o) => o.amount) },
 *     allowedLateness: 5_000,
 *   }),
 * ); // Chunk<WindowResult<{ orders: number; total: number; average: number; largest: number | null }>>
 * ```
 */
export function window<In, A extends Record<string, Aggregate<In, unknown>>>(
  options: WindowOptions<In, A>,
): Operator<In, WindowResult<AggregateValues<A>>> {
  const parsed = parseOptions(windowOptionsSchema, 'window', options);
  const aggregates = parsed.aggregate as Record<string, Aggregate<In, unknown>>;
  const keyOf = parsed.key as (value: In, record: StreamRecord<In>) => string;
  const assigner = parsed.window;
  return defineOperator<In, WindowResult<AggregateValues<A>>>('window', parsed.name, (context) => {
    const config: EngineConfig<In> = {
      context,
      plan: new AggregatePlan<In>(aggregates, context.stepName),
      keyOf,
      allowedLateness: parsed.allowedLateness,
      update: parsed.emit === 'update',
      onError: parsed.onError,
    };
    let engine: WindowEngine<In, { key: string }>;
    switch (assigner.type) {
      case 'tumbling':
        engine = new AlignedWindowEngine<In>(config, assigner.size, assigner.size);
        break;
      case 'hopping':
        engine = new AlignedWindowEngine<In>(config, assigner.size, assigner.advance);
        break;
      case 'sliding':
        engine = new SlidingWindowEngine<In>(config, assigner.size);
        break;
      case 'session':
        engine = new SessionWindowEngine<In>(config, assigner.gap);
        break;
    }
    const handlers: StepHandlers<In, AnyWindowResult> = {
      data: (records, emit) => engine.data(records, emit),
      watermark: (time, emit) => engine.watermark(time, emit),
      barrier: (barrier) => engine.barrier(barrier.checkpoint !== undefined),
      complete: (emit) => engine.complete(emit),
    };
    return handlers;
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// Aggregates, compiled: built-ins keep their accumulators in one flat array of numbers per window (unboxed doubles,
// JSON as is); reducers keep one JSON value each in a second array.

type AnyWindowResult = WindowResult<Record<string, unknown>>;

const COUNT = 0;
const SUM = 1;
const AVG = 2;
const MIN = 3;
const MAX = 4;
const REDUCE = 5;
const kindCodes = { count: COUNT, sum: SUM, avg: AVG, min: MIN, max: MAX, reduce: REDUCE } as const;

class AggregatePlan<In> {
  readonly names: string[] = [];
  /** Kind code per aggregate. */
  readonly kinds: number[] = [];
  /** Per aggregate: offset into the numbers (built-ins) or index into the custom accumulators (reduce). */
  readonly offsets: number[] = [];
  readonly fields: ((value: In) => number)[] = [];
  /** Aggregate name per field, for error messages. */
  readonly fieldOwners: string[] = [];
  readonly reducers: ErasedReducer<In>[] = [];
  /** The current record's field values, filled by {@link AggregatePlan.extract}. */
  readonly inputs: number[] = [];
  readonly hasCustom: boolean;
  // The numbers, by what a record does to them (so adding and merging are tight loops without a switch):
  /** Incremented by one per record (count, the count of avg). */
  private readonly countSlots: Int32Array;
  /** Incremented by an input (sum, the sum of avg), with the index of that input. */
  private readonly sumSlots: Int32Array;
  private readonly sumInputs: Int32Array;
  private readonly minSlots: Int32Array;
  private readonly minInputs: Int32Array;
  private readonly maxSlots: Int32Array;
  private readonly maxInputs: Int32Array;
  /** Zeroes with double elements, so copies store unboxed doubles. */
  private readonly template: number[] = [];

  constructor(
    aggregates: Record<string, Aggregate<In, unknown>>,
    private readonly stepName: string,
  ) {
    const counts: number[] = [];
    const sums: number[] = [];
    const sumInputs: number[] = [];
    const mins: number[] = [];
    const minInputs: number[] = [];
    const maxes: number[] = [];
    const maxInputs: number[] = [];
    let width = 0;
    for (const [name, aggregate] of Object.entries(aggregates)) {
      const kind = kindCodes[aggregate.kind];
      this.names.push(name);
      this.kinds.push(kind);
      if (kind === REDUCE) {
        this.offsets.push(this.reducers.length);
        this.reducers.push(aggregate.reducer!);
        continue;
      }
      const offset = width;
      this.offsets.push(offset);
      width += kind === AVG ? 2 : 1;
      if (kind === COUNT) {
        counts.push(offset);
        continue;
      }
      // The same function used by several aggregates (e.g. a shared `amount` accessor) is called once per record.
      const field = aggregate.field!;
      let input = this.fields.indexOf(field);
      if (input < 0) {
        input = this.fields.push(field) - 1;
        this.fieldOwners.push(name);
        this.inputs.push(0.5);
      }
      if (kind === SUM) {
        sums.push(offset);
        sumInputs.push(input);
      } else if (kind === AVG) {
        sums.push(offset);
        sumInputs.push(input);
        counts.push(offset + 1);
      } else if (kind === MIN) {
        mins.push(offset);
        minInputs.push(input);
      } else {
        maxes.push(offset);
        maxInputs.push(input);
      }
    }
    this.countSlots = Int32Array.from(counts);
    this.sumSlots = Int32Array.from(sums);
    this.sumInputs = Int32Array.from(sumInputs);
    this.minSlots = Int32Array.from(mins);
    this.minInputs = Int32Array.from(minInputs);
    this.maxSlots = Int32Array.from(maxes);
    this.maxInputs = Int32Array.from(maxInputs);
    for (let i = 0; i < width; i++) this.template.push(0.5);
    this.template.fill(0);
    this.inputs.fill(0);
    this.hasCustom = this.reducers.length > 0;
  }

  /** Computes the record's field values into {@link AggregatePlan.inputs}; throws when one is not a finite number. */
  extract(value: In): void {
    const fields = this.fields;
    const inputs = this.inputs;
    for (let i = 0; i < fields.length; i++) {
      const input = fields[i]!(value);
      // `x - x === 0` is false for NaN and ±Infinity (which JSON state could not hold either).
      if (typeof input !== 'number' || input - input !== 0) {
        throw new TributaryError(
          'INVALID_WINDOW_INPUT',
          `Aggregate "${this.fieldOwners[i]!}" of step "${this.stepName}" got ${describeValue(input)} from its field function; expected a finite number.`,
        );
      }
      inputs[i] = input;
    }
  }

  /** Number of accumulator numbers per window. */
  get width(): number {
    return this.template.length;
  }

  /** Accumulators of a window holding only the current record. */
  create(): number[] {
    const numbers = this.template.slice();
    this.write(numbers, 0);
    return numbers;
  }

  /** Appends (or inserts at `base`) the accumulators of the current record alone to a flat array of accumulators. */
  insert(numbers: number[], base: number): void {
    if (base === numbers.length) for (let i = 0; i < this.template.length; i++) numbers.push(0);
    else numbers.splice(base, 0, ...this.template);
    this.write(numbers, base);
  }

  private write(numbers: number[], base: number): void {
    const inputs = this.inputs;
    const { countSlots, sumSlots, sumInputs, minSlots, minInputs, maxSlots, maxInputs } = this;
    for (let i = 0; i < countSlots.length; i++) numbers[base + countSlots[i]!] = 1;
    for (let i = 0; i < sumSlots.length; i++) numbers[base + sumSlots[i]!] = inputs[sumInputs[i]!]!;
    for (let i = 0; i < minSlots.length; i++) numbers[base + minSlots[i]!] = inputs[minInputs[i]!]!;
    for (let i = 0; i < maxSlots.length; i++) numbers[base + maxSlots[i]!] = inputs[maxInputs[i]!]!;
  }

  /** Adds the current record to the accumulators at `base` of `numbers`. */
  add(numbers: number[], base = 0): void {
    const inputs = this.inputs;
    const { countSlots, sumSlots, sumInputs, minSlots, minInputs, maxSlots, maxInputs } = this;
    for (let i = 0; i < countSlots.length; i++) {
      const slot = base + countSlots[i]!;
      numbers[slot] = numbers[slot]! + 1;
    }
    for (let i = 0; i < sumSlots.length; i++) {
      const slot = base + sumSlots[i]!;
      numbers[slot] = numbers[slot]! + inputs[sumInputs[i]!]!;
    }
    for (let i = 0; i < minSlots.length; i++) {
      const slot = base + minSlots[i]!;
      const input = inputs[minInputs[i]!]!;
      if (input < numbers[slot]!) numbers[slot] = input;
    }
    for (let i = 0; i < maxSlots.length; i++) {
      const slot = base + maxSlots[i]!;
      const input = inputs[maxInputs[i]!]!;
      if (input > numbers[slot]!) numbers[slot] = input;
    }
  }

  /** Folds the accumulators at `fromBase` of `from` (a disjoint set of records) into `into`. */
  merge(into: number[], from: readonly number[], fromBase = 0): void {
    const { countSlots, sumSlots, minSlots, maxSlots } = this;
    for (let i = 0; i < countSlots.length; i++) {
      const slot = countSlots[i]!;
      into[slot] = into[slot]! + from[fromBase + slot]!;
    }
    for (let i = 0; i < sumSlots.length; i++) {
      const slot = sumSlots[i]!;
      into[slot] = into[slot]! + from[fromBase + slot]!;
    }
    for (let i = 0; i < minSlots.length; i++) {
      const slot = minSlots[i]!;
      const value = from[fromBase + slot]!;
      if (value < into[slot]!) into[slot] = value;
    }
    for (let i = 0; i < maxSlots.length; i++) {
      const slot = maxSlots[i]!;
      const value = from[fromBase + slot]!;
      if (value > into[slot]!) into[slot] = value;
    }
  }

  /** A copy of the accumulators at `base` of a flat array. */
  copy(numbers: readonly number[], base: number): number[] {
    const copy = this.template.slice();
    for (let i = 0; i < copy.length; i++) copy[i] = numbers[base + i]!;
    return copy;
  }

  /** Custom accumulators of a window holding only `value` (a new array; nothing is modified). */
  createCustom(value: In): unknown[] {
    const reducers = this.reducers;
    const custom = new Array<unknown>(reducers.length);
    for (let i = 0; i < reducers.length; i++) custom[i] = reducers[i]!.add(reducers[i]!.init(), value);
    return custom;
  }

  /** `custom` with `value` added, as a new array (committed by the caller once nothing else can throw). */
  addCustom(custom: readonly unknown[], value: In): unknown[] {
    const reducers = this.reducers;
    const next = new Array<unknown>(reducers.length);
    for (let i = 0; i < reducers.length; i++) next[i] = reducers[i]!.add(custom[i], value);
    return next;
  }

  /** The merge of two custom accumulator arrays, as a new array; the inputs are copied first so they stay intact. */
  mergeCustom(left: readonly unknown[], right: readonly unknown[]): unknown[] {
    const reducers = this.reducers;
    const next = new Array<unknown>(reducers.length);
    for (let i = 0; i < reducers.length; i++) next[i] = reducers[i]!.merge!(cloneJson(left[i]), cloneJson(right[i]));
    return next;
  }

  /** The reported values of a window. */
  values(numbers: readonly number[], custom: readonly unknown[] | undefined): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    const kinds = this.kinds;
    const offsets = this.offsets;
    const names = this.names;
    for (let j = 0; j < kinds.length; j++) {
      const offset = offsets[j]!;
      switch (kinds[j]) {
        case AVG:
          values[names[j]!] = numbers[offset]! / numbers[offset + 1]!;
          break;
        case REDUCE:
          values[names[j]!] = this.reducers[offset]!.result(custom![offset]);
          break;
        default:
          values[names[j]!] = numbers[offset];
      }
    }
    return values;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return value === null ? 'null' : typeof value;
}

/** Deep copy of a JSON-compatible value. */
function cloneJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = cloneJson(value[i] as unknown);
    return copy as T;
  }
  const copy: Record<string, unknown> = {};
  for (const name of Object.keys(value)) copy[name] = cloneJson((value as Record<string, unknown>)[name]);
  return copy as T;
}

// ---------------------------------------------------------------------------------------------------------------------
// Timers: when a window (or a key's group of windows) needs attention — fire at `end - 1`, purge at
// `end - 1 + allowedLateness`. A min-heap of distinct times with a bucket of slots per time; tumbling windows of many
// keys share one bucket. Timers are never cancelled: a slot remembers its earliest pending timer and ignores the others.

class TimerQueue<T> {
  private readonly heap: number[] = [];
  private readonly buckets = new Map<number, T[]>();
  /** Time of the bucket last returned by {@link TimerQueue.popDue}. */
  poppedTime = 0;

  add(time: number, item: T): void {
    const bucket = this.buckets.get(time);
    if (bucket !== undefined) {
      bucket.push(item);
      return;
    }
    this.buckets.set(time, [item]);
    const heap = this.heap;
    let index = heap.push(time) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]! <= time) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = time;
  }

  /** Removes and returns the earliest bucket if its time is `<= limit`. */
  popDue(limit: number): T[] | undefined {
    const heap = this.heap;
    if (heap.length === 0 || heap[0]! > limit) return undefined;
    const time = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let index = 0;
      const length = heap.length;
      for (;;) {
        const left = 2 * index + 1;
        if (left >= length) break;
        const right = left + 1;
        const child = right < length && heap[right]! < heap[left]! ? right : left;
        if (heap[child]! >= last) break;
        heap[index] = heap[child]!;
        index = child;
      }
      heap[index] = last;
    }
    const bucket = this.buckets.get(time)!;
    this.buckets.delete(time);
    this.poppedTime = time;
    return bucket;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Engine: shared per-subscription machinery. A Slot is the in-memory handle of one state entry (a window, or all
// windows of a key) with its timer and chunk bookkeeping. The index of a partition — slots by group key (so the hot
// path never builds a string per record) and timers — is a cache: it can always be rebuilt from the partition's state.

/** State key of the partition's last watermark (no window key can equal it: those end in a digit or in `\u0000`). */
const WATERMARK_KEY = '\u0000watermark';
const SEPARATOR = '\u0000';
const EMPTY_HEADERS: RecordHeaders = Object.freeze({});

class Slot<E> {
  /** Next slot of the same group key (tumbling and hopping keep a short chain of windows per key, by start, newest first). */
  next: Slot<E> | undefined = undefined;
  /** Earliest pending timer; later timers registered before it are ignored when they pop. */
  timer = Infinity;
  /** Checkpoint epoch in which the entry was last handed to `state.set` (see {@link WindowEngine.mark}). */
  markedIn = -1;
  /** Stamp of the last data chunk that touched this slot. */
  touchedIn = -1;
  dead = false;
  /** Windows of a per-key entry touched by the current chunk (sliding, session); emptied by `flush`. */
  touchedWindows: object[] | undefined = undefined;
  /** Tumbling and hopping: the window start and accumulators, copied from the entry to save a hop on the hot path. */
  start = 0;
  numbers: number[] | undefined = undefined;
  /** Tumbling and hopping: offset of the last record added, written to the entry when the chunk ends. */
  offset = 0;

  constructor(
    readonly stateKey: string,
    readonly key: string,
    readonly part: PartitionWindows<E>,
    public entry: E,
  ) {}
}

class PartitionWindows<E> {
  /** Slots by group key (the head of a chain for tumbling and hopping). */
  readonly index = new Map<string, Slot<E>>();
  /** Number of window entries in the state (all but the watermark). */
  entries = 0;
  readonly timers = new TimerQueue<Slot<E>>();
  watermark = -Infinity;
  storedWatermark = false;
  /** Stamp of the handler call that last checked this index against the state. */
  checkedIn = -1;

  constructor(
    readonly name: string,
    readonly state: KeyedState<unknown>,
  ) {}

  schedule(slot: Slot<E>, time: number): void {
    if (time < slot.timer) {
      slot.timer = time;
      this.timers.add(time, slot);
    }
  }
}

interface EngineConfig<In> {
  readonly context: StepContext;
  readonly plan: AggregatePlan<In>;
  readonly keyOf: (value: In, record: StreamRecord<In>) => string;
  readonly allowedLateness: number;
  readonly update: boolean;
  readonly onError: ErrorPolicy;
}

abstract class WindowEngine<In, E extends { readonly key: string }> {
  protected readonly context: StepContext;
  protected readonly plan: AggregatePlan<In>;
  protected readonly keyOf: (value: In, record: StreamRecord<In>) => string;
  protected readonly allowedLateness: number;
  protected readonly update: boolean;
  protected readonly onError: ErrorPolicy;
  protected readonly parts = new Map<string, PartitionWindows<E>>();
  protected globalWatermark = -Infinity;
  /** Incremented by every handler call. */
  protected stamp = 0;
  /** Slots touched by the current data chunk, in first-touch order. */
  protected touched: Slot<E>[] = [];
  /** Incremented by every checkpoint barrier. */
  protected epoch = 0;

  constructor(config: EngineConfig<In>) {
    this.context = config.context;
    this.plan = config.plan;
    this.keyOf = config.keyOf;
    this.allowedLateness = config.allowedLateness;
    this.update = config.update;
    this.onError = config.onError;
  }

  /** Adds the current record (fields already extracted) to its windows; `false` when the record is late. */
  protected abstract accept(part: PartitionWindows<E>, record: StreamRecord<In>, key: string): boolean;
  /** Fires and purges what `watermark` covers in `slot`, pushing results that firing emits; reschedules the slot. */
  protected abstract onTimer(slot: Slot<E>, watermark: number, out: StreamRecord<AnyWindowResult>[]): void;
  /** Pushes the results a data chunk causes for a touched slot (update mode, or fired windows). */
  protected abstract flush(slot: Slot<E>, out: StreamRecord<AnyWindowResult>[]): void;
  /** Earliest time at which `entry` needs a timer (fire or purge). */
  protected abstract nextTime(entry: E): number;

  data(records: readonly StreamRecord<In>[], emit: Emit<AnyWindowResult>): void {
    ++this.stamp;
    const out: StreamRecord<AnyWindowResult>[] = [];
    let late: LateRecord[] | undefined;
    let letters: DeadLetter[] | undefined;
    let partName: string | undefined;
    let part: PartitionWindows<E> | undefined;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.position.partition !== partName || part === undefined) {
        partName = record.position.partition;
        part = this.partition(partName, out);
      }
      let accepted: boolean;
      try {
        const key = this.keyOf(record.value, record);
        if (typeof key !== 'string') {
          throw new TributaryError(
            'INVALID_WINDOW_INPUT',
            `The key function of step "${this.context.stepName}" returned ${describeValue(key)}; expected a string.`,
          );
        }
        const time = record.eventTime;
        if (typeof time !== 'number' || time - time !== 0) {
          throw new TributaryError(
            'INVALID_WINDOW_INPUT',
            `Step "${this.context.stepName}" got a record with event time ${describeValue(time)}; expected a finite number.`,
          );
        }
        this.plan.extract(record.value);
        accepted = this.accept(part, record, key);
      } catch (error) {
        const letter = handleRecordError(this.onError, this.context, record, error);
        if (letter) (letters ??= []).push(letter);
        continue;
      }
      if (!accepted) (late ??= []).push(this.context.lateRecord(record, part.watermark));
    }
    const touched = this.touched;
    for (let i = 0; i < touched.length; i++) {
      const slot = touched[i]!;
      this.flush(slot, out);
      this.mark(slot);
    }
    touched.length = 0;
    emit.data(out);
    if (late) emit.late(late);
    if (letters) emit.deadLetters(letters);
  }

  barrier(checkpoint: boolean): void {
    if (checkpoint) this.epoch++;
  }

  watermark(time: number, emit: Emit<AnyWindowResult>): void {
    ++this.stamp;
    if (time > this.globalWatermark) this.globalWatermark = time;
    const out: StreamRecord<AnyWindowResult>[] = [];
    this.indexAllPartitions(out);
    for (const part of this.parts.values()) this.advance(part, this.globalWatermark, out, true);
    out.sort(firingOrder);
    emit.data(out);
  }

  complete(emit: Emit<AnyWindowResult>): void {
    ++this.stamp;
    const out: StreamRecord<AnyWindowResult>[] = [];
    this.indexAllPartitions(out);
    for (const part of this.parts.values()) this.advance(part, Infinity, out, false);
    out.sort(firingOrder);
    emit.data(out);
  }

  protected touch(slot: Slot<E>): void {
    if (slot.touchedIn !== this.stamp) {
      slot.touchedIn = this.stamp;
      this.touched.push(slot);
    }
  }

  /** Records that the current chunk touched `window` of a per-key entry (sliding, session). */
  protected touchWindow(slot: Slot<E>, window: object): void {
    this.touch(slot);
    const touchedWindows = (slot.touchedWindows ??= []);
    if (!touchedWindows.includes(window)) touchedWindows.push(window);
  }

  /**
   * Hands a changed entry to the state, once per checkpoint epoch: entries are updated in place, and the runtime
   * persists at a checkpoint every entry written since the previous one, as it is at that moment.
   */
  protected mark(slot: Slot<E>): void {
    if (slot.markedIn !== this.epoch) {
      slot.markedIn = this.epoch;
      slot.part.state.set(slot.stateKey, slot.entry);
    }
  }

  protected addSlot(part: PartitionWindows<E>, stateKey: string, key: string, entry: E): Slot<E> {
    const slot = new Slot<E>(stateKey, key, part, entry);
    this.index(part, slot);
    part.entries++;
    this.mark(slot);
    return slot;
  }

  /** Called for every slot put in the index (new or restored). */
  protected indexed(_slot: Slot<E>): void {}

  /** Puts a slot in the index; a key's chain stays sorted by start, newest first (tumbling and hopping). */
  private index(part: PartitionWindows<E>, slot: Slot<E>): void {
    this.indexed(slot);
    const head = part.index.get(slot.key);
    if (head === undefined || head.start <= slot.start) {
      slot.next = head;
      part.index.set(slot.key, slot);
      return;
    }
    let previous = head;
    while (previous.next !== undefined && previous.next.start > slot.start) previous = previous.next;
    slot.next = previous.next;
    previous.next = slot;
  }

  protected removeSlot(slot: Slot<E>): void {
    slot.dead = true;
    const part = slot.part;
    part.state.delete(slot.stateKey);
    part.entries--;
    const head = part.index.get(slot.key);
    if (head === slot) {
      if (slot.next === undefined) part.index.delete(slot.key);
      else part.index.set(slot.key, slot.next);
    } else {
      let previous = head;
      while (previous !== undefined && previous.next !== slot) previous = previous.next;
      if (previous !== undefined) previous.next = slot.next;
    }
    slot.next = undefined;
  }

  protected result(
    part: PartitionWindows<E>,
    key: string,
    start: number,
    end: number,
    numbers: readonly number[],
    custom: readonly unknown[] | undefined,
    revision: number,
    offset: number,
    supersedes?: readonly WindowBounds[],
  ): StreamRecord<AnyWindowResult> {
    const values = this.plan.values(numbers, custom);
    const value: AnyWindowResult =
      supersedes === undefined ? { key, start, end, values, revision } : { key, start, end, values, revision, supersedes };
    return { key, value, eventTime: end - 1, position: { partition: part.name, offset }, headers: EMPTY_HEADERS };
  }

  /** The partition's index, (re)built from its state when missing or out of step with it (e.g. after a restore). */
  private partition(name: string, out: StreamRecord<AnyWindowResult>[]): PartitionWindows<E> {
    let part = this.parts.get(name);
    if (part !== undefined && part.checkedIn === this.stamp) return part;
    const state = this.context.state<unknown>(name);
    if (part === undefined || part.state !== state || state.size !== part.entries + (part.storedWatermark ? 1 : 0)) {
      part = this.rebuild(name, state, out);
    }
    part.checkedIn = this.stamp;
    return part;
  }

  /** Indexes every partition the step holds state for, and forgets partitions whose state is gone (revoked). */
  private indexAllPartitions(out: StreamRecord<AnyWindowResult>[]): void {
    for (const name of this.context.statePartitions()) this.partition(name, out);
    for (const [name, part] of this.parts) if (part.checkedIn !== this.stamp) this.parts.delete(name);
  }

  private rebuild(name: string, state: KeyedState<unknown>, out: StreamRecord<AnyWindowResult>[]): PartitionWindows<E> {
    const part = new PartitionWindows<E>(name, state);
    const restored = state.size;
    part.watermark = this.globalWatermark;
    for (const [stateKey, value] of state.entries()) {
      if (stateKey === WATERMARK_KEY) {
        part.storedWatermark = true;
        if (typeof value === 'number' && value > part.watermark) part.watermark = value;
        continue;
      }
      const entry = value as E;
      const slot = new Slot<E>(stateKey, entry.key, part, entry);
      this.index(part, slot);
      part.entries++;
      part.schedule(slot, this.nextTime(entry));
    }
    this.parts.set(name, part);
    if (restored > 0) {
      this.context.logger.debug({ step: this.context.stepName, partition: name, entries: restored }, 'window index rebuilt from state');
    }
    // State restored from before the current watermark: fire and purge what that watermark already covers.
    this.runTimers(part, part.watermark, out);
    return part;
  }

  private advance(part: PartitionWindows<E>, watermark: number, out: StreamRecord<AnyWindowResult>[], persist: boolean): void {
    if (watermark <= part.watermark) return;
    part.watermark = watermark;
    if (persist && Number.isFinite(watermark)) {
      part.state.set(WATERMARK_KEY, watermark);
      part.storedWatermark = true;
    }
    this.runTimers(part, watermark, out);
  }

  private runTimers(part: PartitionWindows<E>, watermark: number, out: StreamRecord<AnyWindowResult>[]): void {
    const timers = part.timers;
    for (let due = timers.popDue(watermark); due !== undefined; due = timers.popDue(watermark)) {
      const time = timers.poppedTime;
      for (let i = 0; i < due.length; i++) {
        const slot = due[i]!;
        if (slot.dead || slot.timer !== time) continue;
        slot.timer = Infinity;
        this.onTimer(slot, watermark, out);
      }
    }
  }
}

/** Fired windows leave by end time, then key (then partition and start, for a total order). */
function firingOrder(a: StreamRecord<AnyWindowResult>, b: StreamRecord<AnyWindowResult>): number {
  const byEnd = a.value.end - b.value.end;
  if (byEnd !== 0) return byEnd;
  if (a.value.key !== b.value.key) return a.value.key < b.value.key ? -1 : 1;
  if (a.position.partition !== b.position.partition) return a.position.partition < b.position.partition ? -1 : 1;
  return a.value.start - b.value.start;
}

/** First index in `items` (sorted by `time`) whose time is `>= time`. */
function lowerBound(items: readonly { readonly time: number }[], time: number): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (items[middle]!.time < time) low = middle + 1;
    else high = middle;
  }
  return low;
}

// ---------------------------------------------------------------------------------------------------------------------
// Tumbling and hopping: one state entry per window, `<key>\u0000<start>`.

interface AlignedWindowState {
  key: string;
  start: number;
  end: number;
  numbers: number[];
  custom?: unknown[] | undefined;
  /** Emissions so far: the next revision. */
  emitted: number;
  fired: boolean;
  /** Offset of the last record added. */
  offset: number;
}

class AlignedWindowEngine<In> extends WindowEngine<In, AlignedWindowState> {
  private readonly pendingCustom: unknown[][] = [];

  constructor(
    config: EngineConfig<In>,
    private readonly size: number,
    private readonly advanceBy: number,
  ) {
    super(config);
  }

  protected accept(part: PartitionWindows<AlignedWindowState>, record: StreamRecord<In>, key: string): boolean {
    const time = record.eventTime;
    const size = this.size;
    const advance = this.advanceBy;
    const limit = part.watermark - this.allowedLateness;
    const newest = Math.floor(time / advance) * advance;
    // Alive iff watermark < end - 1 + allowedLateness; the newest window containing `time` ends last.
    if (newest + size - 1 <= limit) return false;
    if (size === advance) {
      const slot = this.find(part, key, newest);
      const custom = this.plan.hasCustom ? this.customFor(slot, record.value) : undefined;
      this.addTo(part, record, key, newest, slot, custom);
      return true;
    }
    const oldest = time - size; // exclusive
    let pending: unknown[][] | undefined;
    if (this.plan.hasCustom) {
      // Compute every reducer result first, so a throwing reducer leaves no window half-updated.
      pending = this.pendingCustom;
      pending.length = 0;
      for (let start = newest; start > oldest && start + size - 1 > limit; start -= advance) {
        pending.push(this.customFor(this.find(part, key, start), record.value));
      }
    }
    // The key's chain is sorted by start, newest first, like the windows visited here: one walk finds them all.
    let cursor = part.index.get(key);
    let index = 0;
    for (let start = newest; start > oldest && start + size - 1 > limit; start -= advance) {
      while (cursor !== undefined && cursor.start > start) cursor = cursor.next;
      this.addTo(part, record, key, start, cursor !== undefined && cursor.start === start ? cursor : undefined, pending?.[index++]);
    }
    if (pending !== undefined) pending.length = 0;
    return true;
  }

  protected override indexed(slot: Slot<AlignedWindowState>): void {
    slot.start = slot.entry.start;
    slot.numbers = slot.entry.numbers;
    slot.offset = slot.entry.offset;
  }

  private find(part: PartitionWindows<AlignedWindowState>, key: string, start: number): Slot<AlignedWindowState> | undefined {
    let slot = part.index.get(key);
    while (slot !== undefined && slot.start !== start) slot = slot.next;
    return slot;
  }

  private customFor(slot: Slot<AlignedWindowState> | undefined, value: In): unknown[] {
    return slot === undefined ? this.plan.createCustom(value) : this.plan.addCustom(slot.entry.custom!, value);
  }

  private addTo(
    part: PartitionWindows<AlignedWindowState>,
    record: StreamRecord<In>,
    key: string,
    start: number,
    found: Slot<AlignedWindowState> | undefined,
    custom: unknown[] | undefined,
  ): void {
    let slot = found;
    if (slot === undefined) {
      const end = start + this.size;
      // A window created after it would have fired (late, but within allowedLateness) is born fired and re-emitted.
      const fired = end - 1 <= part.watermark;
      const entry: AlignedWindowState = {
        key,
        start,
        end,
        numbers: this.plan.create(),
        ...(custom === undefined ? {} : { custom }), // state must stay JSON: no undefined members
        emitted: 0,
        fired,
        offset: record.position.offset,
      };
      slot = this.addSlot(part, key + SEPARATOR + start, key, entry);
      part.schedule(slot, fired ? end - 1 + this.allowedLateness : end - 1);
    } else {
      this.plan.add(slot.numbers!);
      if (custom !== undefined) slot.entry.custom = custom;
      slot.offset = record.position.offset;
    }
    if (slot.touchedIn !== this.stamp) {
      slot.touchedIn = this.stamp;
      this.touched.push(slot);
    }
  }

  protected flush(slot: Slot<AlignedWindowState>, out: StreamRecord<AnyWindowResult>[]): void {
    const entry = slot.entry;
    entry.offset = slot.offset;
    if (this.update || entry.fired) out.push(this.emitWindow(slot.part, entry));
  }

  protected onTimer(slot: Slot<AlignedWindowState>, watermark: number, out: StreamRecord<AnyWindowResult>[]): void {
    const entry = slot.entry;
    if (!entry.fired && entry.end - 1 <= watermark) {
      entry.fired = true;
      if (!this.update) out.push(this.emitWindow(slot.part, entry));
    }
    const purgeAt = entry.end - 1 + this.allowedLateness;
    if (purgeAt <= watermark) {
      this.removeSlot(slot);
      return;
    }
    this.mark(slot);
    slot.part.schedule(slot, purgeAt);
  }

  protected nextTime(entry: AlignedWindowState): number {
    return entry.fired ? entry.end - 1 + this.allowedLateness : entry.end - 1;
  }

  private emitWindow(part: PartitionWindows<AlignedWindowState>, entry: AlignedWindowState): StreamRecord<AnyWindowResult> {
    return this.result(part, entry.key, entry.start, entry.end, entry.numbers, entry.custom, entry.emitted++, entry.offset);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Sliding: one state entry per key, `<key>\u0000`, holding
// - buckets: the accumulators of the accepted records at each distinct event time (flat arrays, for locality), kept
//   while a window that would contain them can still be created (until watermark >= time + size - 1 + allowedLateness);
// - windows: one per distinct event time whose own window was alive when its first record came, sorted by time.

interface SlidingWindowState {
  /** Event time the window ends at: it covers `(time - size, time]`. */
  time: number;
  numbers: number[];
  custom?: unknown[] | undefined;
  emitted: number;
  fired: boolean;
  offset: number;
}

interface SlidingKeyState {
  key: string;
  /** Distinct event times of the accepted records still needed, ascending. */
  bucketTimes: number[];
  /** The accumulators of each bucket, `width` numbers per bucket, in the order of `bucketTimes`. */
  bucketNumbers: number[];
  /** The custom accumulators of each bucket (reducers only). */
  bucketCustom?: unknown[][] | undefined;
  windows: SlidingWindowState[];
}

/** First index of a sorted array of numbers whose value is `>= value`, or `> value` when `strictly`. */
function boundOf(values: readonly number[], value: number, strictly: boolean): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! < value || (strictly && values[middle] === value)) low = middle + 1;
    else high = middle;
  }
  return low;
}

class SlidingWindowEngine<In> extends WindowEngine<In, SlidingKeyState> {
  constructor(
    config: EngineConfig<In>,
    private readonly size: number,
  ) {
    super(config);
  }

  protected accept(part: PartitionWindows<SlidingKeyState>, record: StreamRecord<In>, key: string): boolean {
    const time = record.eventTime;
    const size = this.size;
    const watermark = part.watermark;
    const lateness = this.allowedLateness;
    let slot = part.index.get(key);
    const windows = slot?.entry.windows;
    // Existing windows that contain `time`: ends in [time, time + size - 1]. Every window in state is alive.
    const from = windows === undefined ? 0 : lowerBound(windows, time);
    const to = windows === undefined ? 0 : lowerBound(windows, time + size);
    const ownExists = windows !== undefined && from < to && windows[from]!.time === time;
    const createOwn = !ownExists && time + lateness > watermark;
    if (!createOwn && from === to) return false;

    const plan = this.plan;
    const value = record.value;
    const entry: SlidingKeyState =
      slot?.entry ?? { key, bucketTimes: [], bucketNumbers: [], ...(plan.hasCustom ? { bucketCustom: [] } : {}), windows: [] };
    const times = entry.bucketTimes;
    const bucket = boundOf(times, time, false);
    const bucketExists = bucket < times.length && times[bucket] === time;
    // Buckets in (time - size, time]: the contents of the record's own window.
    const first = createOwn ? boundOf(times, time - size, true) : 0;

    // Reducer results first (they may throw), then commit.
    let bucketCustom: unknown[] | undefined;
    let windowCustom: unknown[][] | undefined;
    let ownCustom: unknown[] | undefined;
    if (plan.hasCustom) {
      const customs = entry.bucketCustom!;
      bucketCustom = bucketExists ? plan.addCustom(customs[bucket]!, value) : plan.createCustom(value);
      windowCustom = [];
      for (let i = from; i < to; i++) windowCustom.push(plan.addCustom(entry.windows[i]!.custom!, value));
      if (createOwn) {
        // mergeCustom copies its inputs, so the window never shares accumulators with a bucket.
        ownCustom = cloneJson(bucketCustom);
        for (let i = first; i < bucket; i++) ownCustom = plan.mergeCustom(ownCustom, customs[i]!);
      }
    }

    slot ??= this.addSlot(part, key + SEPARATOR, key, entry);
    const width = plan.width;
    if (bucketExists) {
      plan.add(entry.bucketNumbers, bucket * width);
      if (bucketCustom !== undefined) entry.bucketCustom![bucket] = bucketCustom;
    } else {
      times.splice(bucket, 0, time);
      plan.insert(entry.bucketNumbers, bucket * width);
      if (bucketCustom !== undefined) entry.bucketCustom!.splice(bucket, 0, bucketCustom);
    }

    const offset = record.position.offset;
    for (let i = from; i < to; i++) {
      const target = entry.windows[i]!;
      plan.add(target.numbers);
      if (windowCustom !== undefined) target.custom = windowCustom[i - from];
      target.offset = offset;
      this.touchWindow(slot, target);
    }

    if (createOwn) {
      // Every accepted record in (time - size, time] is in the buckets (none can have been purged yet).
      const numbers = plan.copy(entry.bucketNumbers, first * width);
      for (let i = first + 1; i <= bucket; i++) plan.merge(numbers, entry.bucketNumbers, i * width);
      const fired = time <= watermark;
      const created: SlidingWindowState = { time, numbers, ...(ownCustom === undefined ? {} : { custom: ownCustom }), emitted: 0, fired, offset };
      entry.windows.splice(from, 0, created);
      this.touchWindow(slot, created);
      part.schedule(slot, fired ? time + lateness : time);
    }
    this.touch(slot);
    return true;
  }

  protected flush(slot: Slot<SlidingKeyState>, out: StreamRecord<AnyWindowResult>[]): void {
    const touchedWindows = slot.touchedWindows as SlidingWindowState[] | undefined;
    if (touchedWindows === undefined || touchedWindows.length === 0) return;
    // Windows are only removed on watermarks, so every touched one is still there.
    if (touchedWindows.length > 1) touchedWindows.sort((a, b) => a.time - b.time);
    for (const target of touchedWindows) {
      if (this.update || target.fired) out.push(this.emitWindow(slot.part, slot.entry.key, target));
    }
    touchedWindows.length = 0;
  }

  protected onTimer(slot: Slot<SlidingKeyState>, watermark: number, out: StreamRecord<AnyWindowResult>[]): void {
    const entry = slot.entry;
    const windows = entry.windows;
    const lateness = this.allowedLateness;
    for (let i = 0; i < windows.length && windows[i]!.time <= watermark; i++) {
      const target = windows[i]!;
      if (target.fired) continue;
      target.fired = true;
      if (!this.update) out.push(this.emitWindow(slot.part, entry.key, target));
    }
    let purged = 0;
    while (purged < windows.length && windows[purged]!.time + lateness <= watermark) purged++;
    if (purged > 0) windows.splice(0, purged);
    const times = entry.bucketTimes;
    purged = boundOf(times, watermark - this.size + 1 - lateness, true); // time + size - 1 + lateness <= watermark
    if (purged > 0) {
      times.splice(0, purged);
      entry.bucketNumbers.splice(0, purged * this.plan.width);
      entry.bucketCustom?.splice(0, purged);
    }
    if (windows.length === 0 && times.length === 0) {
      this.removeSlot(slot);
      return;
    }
    this.mark(slot);
    slot.part.schedule(slot, this.nextTime(entry));
  }

  /**
   * While the key has windows, their fire and purge times drive its timer (expired buckets go whenever it pops); with
   * no window left, the timer waits for the newest bucket to expire, and everything goes then.
   */
  protected nextTime(entry: SlidingKeyState): number {
    const windows = entry.windows;
    if (windows.length === 0) {
      const times = entry.bucketTimes;
      return times.length === 0 ? Infinity : times[times.length - 1]! + this.size - 1 + this.allowedLateness;
    }
    let next = windows[0]!.time + this.allowedLateness;
    for (const target of windows) {
      if (!target.fired) {
        if (target.time < next) next = target.time;
        break;
      }
    }
    return next;
  }

  private emitWindow(part: PartitionWindows<SlidingKeyState>, key: string, target: SlidingWindowState): StreamRecord<AnyWindowResult> {
    return this.result(part, key, target.time - this.size + 1, target.time + 1, target.numbers, target.custom, target.emitted++, target.offset);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Sessions: one state entry per key, `<key>\u0000`, holding its open sessions sorted by start (they never overlap).

interface SessionState {
  start: number;
  /** Last event time + gap. */
  end: number;
  numbers: number[];
  custom?: unknown[] | undefined;
  emitted: number;
  fired: boolean;
  offset: number;
  /** Bounds this session was last emitted with, or null. */
  emittedBounds: [number, number] | null;
  /** Bounds of emitted results this session replaces and has not announced yet. */
  supersedes: [number, number][];
}

interface SessionKeyState {
  key: string;
  sessions: SessionState[];
}

class SessionWindowEngine<In> extends WindowEngine<In, SessionKeyState> {
  constructor(
    config: EngineConfig<In>,
    private readonly gap: number,
  ) {
    super(config);
  }

  protected accept(part: PartitionWindows<SessionKeyState>, record: StreamRecord<In>, key: string): boolean {
    const time = record.eventTime;
    const gap = this.gap;
    const watermark = part.watermark;
    let slot = part.index.get(key);
    const sessions = slot?.entry.sessions;
    // Sessions overlapping [time, time + gap): start < time + gap and time < end. Every session in state is alive.
    let first = 0;
    let last = 0;
    if (sessions !== undefined) {
      while (first < sessions.length && sessions[first]!.end <= time) first++;
      last = first;
      while (last < sessions.length && sessions[last]!.start < time + gap) last++;
    }
    if (first === last && time + gap - 1 + this.allowedLateness <= watermark) return false;

    const plan = this.plan;
    const value = record.value;
    const entry: SessionKeyState = slot === undefined ? { key, sessions: [] } : slot.entry;
    // Reducer results first (they may throw), then commit.
    let custom: unknown[] | undefined;
    if (plan.hasCustom) {
      if (first === last) custom = plan.createCustom(value);
      else {
        let merged = entry.sessions[first]!.custom!;
        for (let i = first + 1; i < last; i++) merged = plan.mergeCustom(merged, entry.sessions[i]!.custom!);
        custom = plan.addCustom(merged, value);
      }
    }
    slot ??= this.addSlot(part, key + SEPARATOR, key, entry);
    const offset = record.position.offset;
    let target: SessionState;
    if (first === last) {
      target = {
        start: time,
        end: time + gap,
        numbers: plan.create(),
        ...(custom === undefined ? {} : { custom }), // state must stay JSON: no undefined members
        emitted: 0,
        fired: false,
        offset,
        emittedBounds: null,
        supersedes: [],
      };
      entry.sessions.splice(first, 0, target);
    } else {
      target = entry.sessions[first]!;
      let end = target.end;
      for (let i = first + 1; i < last; i++) {
        const absorbed = entry.sessions[i]!;
        plan.merge(target.numbers, absorbed.numbers);
        for (const bounds of absorbed.supersedes) target.supersedes.push(bounds);
        if (absorbed.emittedBounds !== null) target.supersedes.push(absorbed.emittedBounds);
        if (absorbed.emitted > target.emitted) target.emitted = absorbed.emitted;
        end = absorbed.end;
      }
      if (last - first > 1) entry.sessions.splice(first + 1, last - first - 1);
      plan.add(target.numbers);
      if (custom !== undefined) target.custom = custom;
      const start = time < target.start ? time : target.start;
      if (time + gap > end) end = time + gap;
      if (start !== target.start || end !== target.end) {
        // The session's identity (its bounds) changes: what was emitted under the old bounds is replaced.
        if (target.emittedBounds !== null) target.supersedes.push(target.emittedBounds);
        target.emittedBounds = null;
        target.start = start;
        target.end = end;
      }
      target.offset = offset;
    }
    // A session that grew past the watermark fires again later; one still covered by it is re-emitted now.
    target.fired = target.end - 1 <= watermark;
    this.touchWindow(slot, target);
    part.schedule(slot, target.fired ? target.end - 1 + this.allowedLateness : target.end - 1);
    return true;
  }

  protected flush(slot: Slot<SessionKeyState>, out: StreamRecord<AnyWindowResult>[]): void {
    const touchedWindows = slot.touchedWindows;
    if (touchedWindows === undefined || touchedWindows.length === 0) return;
    const entry = slot.entry;
    // In start order; a touched session merged into another one later in the chunk is gone from the entry.
    for (const target of entry.sessions) {
      if (touchedWindows.includes(target) && (this.update || target.fired)) out.push(this.emitSession(slot.part, entry.key, target));
    }
    touchedWindows.length = 0;
  }

  protected onTimer(slot: Slot<SessionKeyState>, watermark: number, out: StreamRecord<AnyWindowResult>[]): void {
    const entry = slot.entry;
    const lateness = this.allowedLateness;
    let kept = 0;
    for (const target of entry.sessions) {
      if (!target.fired && target.end - 1 <= watermark) {
        target.fired = true;
        if (!this.update) out.push(this.emitSession(slot.part, entry.key, target));
      }
      if (target.end - 1 + lateness > watermark) entry.sessions[kept++] = target;
    }
    entry.sessions.length = kept;
    if (kept === 0) {
      this.removeSlot(slot);
      return;
    }
    this.mark(slot);
    slot.part.schedule(slot, this.nextTime(entry));
  }

  protected nextTime(entry: SessionKeyState): number {
    let next = Infinity;
    for (const target of entry.sessions) {
      const at = target.fired ? target.end - 1 + this.allowedLateness : target.end - 1;
      if (at < next) next = at;
    }
    return next;
  }

  private emitSession(part: PartitionWindows<SessionKeyState>, key: string, target: SessionState): StreamRecord<AnyWindowResult> {
    let supersedes: WindowBounds[] | undefined;
    if (target.supersedes.length > 0) {
      supersedes = target.supersedes.map(([start, end]) => ({ start, end }));
      target.supersedes = [];
    }
    target.emittedBounds = [target.start, target.end];
    return this.result(part, key, target.start, target.end, target.numbers, target.custom, target.emitted++, target.offset, supersedes);
  }
}
