import { z } from 'zod';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { ErrorPolicy, KeyedState, StepContext } from '../runtime/step-context.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';

const millisecondsSchema = z
  .number({ error: 'must be a number of milliseconds' })
  .int('must be a whole number of milliseconds')
  .positive('must be a positive number of milliseconds')
  .max(Number.MAX_SAFE_INTEGER, 'must be at most Number.MAX_SAFE_INTEGER milliseconds');

const dedupeOptionsSchema = z
  .strictObject({
    /** Step name used in metrics, logs and errors. Default `dedupe-<n>`. */
    name: stepNameSchema,
    /** The deduplication key of a record. Required. A throw or a non-string result goes to `onError`. */
    key: z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function (value, record) => string'),
    /**
     * Deduplicate within a time span: `ttlMs` (required) — how long after a key's first record its repeats count as
     * duplicates; `time` — `'event'` (default: record event times, state expires on the watermark) or `'processing'`
     * (the step clock when the batch arrives). Give exactly one of `within` and `window`.
     */
    within: z
      .strictObject({
        ttlMs: millisecondsSchema,
        time: z.enum(['event', 'processing'], { error: "must be 'event' or 'processing'" }).default('event'),
      })
      .optional(),
    /** Deduplicate per event-time tumbling window of `sizeMs` (required). Give exactly one of `within` and `window`. */
    window: z.strictObject({ sizeMs: millisecondsSchema }).optional(),
    /**
     * What to do with a record whose key cannot be computed (the function throws or returns a non-string), or, in the
     * event-time modes, whose event time is not a finite number: `dlq` (default) | `skip` | `fail`.
     */
    onError: errorPolicySchema.default('dlq'),
  })
  .superRefine((options, context) => {
    if (options.within === undefined && options.window === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['within'],
        message: 'missing: give exactly one of within: { ttlMs } (repeats within a time span) or window: { sizeMs } (once per tumbling window)',
      });
    } else if (options.within !== undefined && options.window !== undefined) {
      context.addIssue({ code: 'custom', path: ['window'], message: 'cannot be combined with within: give exactly one of within or window' });
    }
  });

/**
 * Options of {@link dedupe}: a `key`, and exactly one of `within` (a time span) or `window` (a tumbling window).
 *
 * @example
 * ```ts
 * const options: DedupeOptions<Order> = { key: (order) => order.id, within: { ttlMs: 60_000, time: 'processing' } };
 * ```
 */
export type DedupeOptions<V = unknown> = {
  /** Step name used in metrics, logs and errors. Default `dedupe-<n>`. */
  name?: string;
  /** The deduplication key of a record. Required. A throw, or a result that is not a string, goes to `onError`. */
  key: (value: V, record: StreamRecord<V>) => string;
  /**
   * What to do with a record whose key cannot be computed or, in the event-time modes, whose event time is not a finite
   * number: `'dlq'` (default) | `'skip'` | `'fail'`.
   */
  onError?: ErrorPolicy;
} & (
  | {
      /** Deduplicate within a time span. */
      within: {
        /** Repeats closer than this to a remembered first are duplicates. Required; whole positive milliseconds. */
        ttlMs: number;
        /** `'event'` (default): record event times, state forgotten on the watermark; `'processing'`: the step clock. */
        time?: 'event' | 'processing';
      };
      /** Not with `within`. */
      window?: undefined;
    }
  | {
      /** Deduplicate once per key per event-time tumbling window. */
      window: {
        /** Window size. Required; whole positive milliseconds. */
        sizeMs: number;
      };
      /** Not with `window`. */
      within?: undefined;
    }
);

// The documented type and the schema must accept the same options: this fails to compile when they drift apart.
type _Holds<Condition extends true> = Condition;
type _DedupeOptionsMatchSchema = _Holds<DedupeOptions extends z.input<typeof dedupeOptionsSchema> ? true : false>;

/**
 * What the step remembers per key, in `context.state(partition)`: the time of each first that can still match, as one
 * number (the usual case) or an array of them (several periods or windows still open). JSON, as state must be.
 */
type Remembered = number | number[];

/** A record's fate. */
const FIRST = 0;
const DUPLICATE = 1;
/** Behind the watermark with nothing remembered that matches: passed on, but not remembered (see {@link dedupe}). */
const UNJUDGED = 2;
type Verdict = typeof FIRST | typeof DUPLICATE | typeof UNJUDGED;

/** One deduplication mode: how a record is judged and when remembered times are forgotten. */
interface Judge {
  /** Called once per data chunk, before its records. */
  startChunk(): void;
  /** Called before judging records against `state`, each time the partition changes within a chunk. */
  enter(state: KeyedState<Remembered>): void;
  /** Judges a record of `key` at event time `eventTime`, remembering it in `state` when it is a first. */
  judge(state: KeyedState<Remembered>, key: string, eventTime: number): Verdict;
  /** The watermark moved to `time`. */
  watermark(time: number): void;
}

/**
 * Drops repeated records by key; the first record of a key passes, later ones within the TTL or the window are dropped.
 * Records keep their order and are passed on as they are (same objects). Dropped duplicates are not dead letters; each
 * batch that dropped any logs their count at `debug`.
 *
 * **`within: { ttlMs }`, event time (the default).** The first record of a key is emitted and its event time
 * remembered. A later record of the key whose event time `t` is within `ttlMs` of a remembered first
 * (`|t - first| < ttlMs`, so an out-of-order record slightly *earlier* than the first is a duplicate too) is dropped.
 * Otherwise it is emitted as a new first: the TTL starts again from it. Earlier firsts stay remembered while they can
 * still match, so a record arriving very out of order never resets what a later first covers. Consequently, per key,
 * the emitted records that were not behind the watermark are at least `ttlMs` apart, and every dropped record is
 * within `ttlMs` of an emitted one (a first is never dropped).
 *
 * *Forgetting.* A first is forgotten once the watermark `W` reaches `first + ttlMs`: every record not behind the
 * watermark has `t >= W`, so `t - first >= ttlMs` and it could not match any more. Forgotten firsts are removed from
 * the state on watermarks, in buckets of `ttlMs / 4` (an in-memory index by expiry time, so removal visits only what
 * expired, never the whole state); they stop matching as soon as they are forgotten, so the outcome never depends on
 * when removal happens. State therefore holds about `ttlMs` (plus out-of-orderness, plus `ttlMs / 4`) of firsts.
 *
 * *Late records* (`t < W`) whose first may already be forgotten cannot be judged. A late record that matches a
 * first still remembered is dropped; one that matches nothing is **passed on without being remembered** — dedupe errs on
 * the side of delivering (a late duplicate may get through) and a late record never influences the judgement of
 * on-time records. With no late records the result equals deduplication with unlimited memory.
 *
 * **`within: { ttlMs, time: 'processing' }`.** As above with processing time: every record of a batch has the time
 * `context.clock.now()` read when the batch arrives. A key repeating at least `ttlMs` after its first is a new first.
 * Expired keys are removed on data batches, the same way.
 *
 * **`window: { sizeMs }`.** Event-time tumbling windows `[floor(t / sizeMs) * sizeMs, + sizeMs)`: the first record of
 * each key in each window is emitted, the rest dropped. A window's keys are forgotten once the watermark reaches its end.
 * A record whose window has already closed (`end <= W`) is passed on without being remembered, as above; a late record
 * whose window is still open is judged normally.
 *
 * State lives in `context.state(record.position.partition)` (per source partition, so it moves with the partition on a
 * rebalance, and is checkpointed with it): the same key in two partitions is deduplicated independently. Partition by
 * the deduplication key upstream (as Kafka does by record key) to deduplicate across the whole stream.
 *
 * @param options see {@link DedupeOptions}; invalid options throw `InvalidOptionsError` at construction
 *
 * @example
 * ```ts
 * // At-least-once sources redeliver: keep one copy of each order event per 10 minutes of event time.
 * orders.pipe(dedupe({ name: 'unique-orders', key: (order) => order.eventId, within: { ttlMs: 10 * 60_000 } }));
 *
 * // One alert per device per hour.
 * alerts.pipe(dedupe({ key: (alert) => alert.deviceId, window: { sizeMs: 60 * 60_000 } }));
 * ```
 */
export function dedupe<V>(options: DedupeOptions<V>): Operator<V, V> {
  const parsed = parseOptions(dedupeOptionsSchema, 'dedupe', options);
  const keyOf = parsed.key as unknown as (value: V, record: StreamRecord<V>) => unknown;
  const { name, onError, within, window } = parsed;
  return defineOperator<V, V>('dedupe', name, (context) => {
    const usesEventTime = window !== undefined || within!.time === 'event';
    const judge =
      window !== undefined
        ? tumblingWindowJudge(window.sizeMs, context)
        : within!.time === 'processing'
          ? processingTimeJudge(within!.ttlMs, context)
          : eventTimeJudge(within!.ttlMs, context);
    return {
      data(records, emit) {
        judge.startChunk();
        const out: StreamRecord<V>[] = new Array<StreamRecord<V>>(records.length);
        let kept = 0;
        let letters: DeadLetter[] | undefined;
        let duplicates = 0;
        let unjudged = 0;
        let partition: string | undefined;
        let state: KeyedState<Remembered> | undefined;
        for (let index = 0; index < records.length; index++) {
          const record = records[index]!;
          let key: unknown;
          try {
            key = keyOf(record.value, record);
            if (typeof key !== 'string') throw new TypeError(`dedupe key must be a string, got ${key === null ? 'null' : typeof key}`);
            if (usesEventTime && !Number.isFinite(record.eventTime)) {
              throw new TypeError(`dedupe by event time needs a finite eventTime, got ${String(record.eventTime)}`);
            }
          } catch (error) {
            const letter = handleRecordError(onError, context, record, error);
            if (letter) (letters ??= []).push(letter);
            continue;
          }
          if (record.position.partition !== partition) {
            partition = record.position.partition;
            state = context.state<Remembered>(partition);
            judge.enter(state);
          }
          const verdict = judge.judge(state!, key, record.eventTime);
          if (verdict === DUPLICATE) {
            duplicates++;
            continue;
          }
          if (verdict === UNJUDGED) unjudged++;
          out[kept++] = record;
        }
        if (kept === records.length) emit.data(records);
        else {
          out.length = kept;
          emit.data(out);
        }
        if (letters) emit.deadLetters(letters);
        if (duplicates > 0 || unjudged > 0) {
          context.logger.debug({ step: context.stepName, duplicates, lateUnjudged: unjudged }, 'dedupe dropped duplicates or passed late records unjudged');
        }
      },
      watermark(time) {
        judge.watermark(time);
      },
    };
  });
}

function eventTimeJudge(ttlMs: number, context: StepContext): Judge {
  const expiry = new ExpiryIndex(ttlMs, context);
  let watermark = -Infinity;
  return {
    startChunk() {},
    enter: (state) => expiry.track(state),
    judge(state, key, time) {
      const remembered = state.get(key);
      if (remembered !== undefined) {
        // `first + ttlMs > watermark` ignores forgotten firsts that have not been removed yet.
        if (typeof remembered === 'number') {
          if (Math.abs(time - remembered) < ttlMs && remembered + ttlMs > watermark) return DUPLICATE;
        } else {
          for (const first of remembered) if (Math.abs(time - first) < ttlMs && first + ttlMs > watermark) return DUPLICATE;
        }
      }
      if (time < watermark) return UNJUDGED;
      state.set(key, remembered === undefined ? time : withFirst(remembered, time, ttlMs, watermark));
      expiry.add(state, key, time);
      return FIRST;
    },
    watermark(time) {
      if (!(time > watermark)) return;
      watermark = time;
      expiry.expire(time);
    },
  };
}

function processingTimeJudge(ttlMs: number, context: StepContext): Judge {
  const expiry = new ExpiryIndex(ttlMs, context);
  let now = 0;
  return {
    startChunk() {
      now = context.clock.now();
      expiry.expire(now);
    },
    enter: (state) => expiry.track(state),
    judge(state, key) {
      const first = state.get(key);
      // abs(): a clock stepping backwards keeps its keys rather than releasing a burst of repeats.
      if (typeof first === 'number' && Math.abs(now - first) < ttlMs) return DUPLICATE;
      state.set(key, now);
      expiry.add(state, key, now);
      return FIRST;
    },
    watermark() {},
  };
}

function tumblingWindowJudge(sizeMs: number, context: StepContext): Judge {
  const expiry = new ExpiryIndex(sizeMs, context);
  let watermark = -Infinity;
  return {
    startChunk() {},
    enter: (state) => expiry.track(state),
    judge(state, key, time) {
      const offset = time % sizeMs; // exact, unlike floor(time / size) * size
      const start = time - (offset < 0 ? offset + sizeMs : offset);
      if (start + sizeMs <= watermark) return UNJUDGED;
      const remembered = state.get(key);
      if (remembered === start || (typeof remembered === 'object' && remembered.includes(start))) return DUPLICATE;
      state.set(key, remembered === undefined ? start : withFirst(remembered, start, sizeMs, watermark));
      expiry.add(state, key, start);
      return FIRST;
    },
    watermark(time) {
      if (!(time > watermark)) return;
      watermark = time;
      expiry.expire(time);
    },
  };
}

/** `remembered` plus `time`, without the times that can no longer match (`t + spanMs <= watermark`). */
function withFirst(remembered: Remembered, time: number, spanMs: number, watermark: number): Remembered {
  if (typeof remembered === 'number') return remembered + spanMs > watermark ? [remembered, time] : time;
  const kept = remembered.filter((first) => first + spanMs > watermark);
  if (kept.length === 0) return time;
  kept.push(time);
  return kept;
}

/** Entries of one {@link ExpiryIndex} bucket, as parallel arrays so that indexing a time allocates nothing. */
interface Bucket {
  readonly states: KeyedState<Remembered>[];
  readonly keys: string[];
}

/**
 * When remembered times expire: `(state, key)` pairs bucketed by expiry time (`t + spanMs`), so forgetting visits only
 * the entries that may have expired instead of scanning the whole state. A pair whose key was remembered again later is
 * checked against the state when its bucket comes up and left alone. The index lives in memory only: states the step
 * has not seen yet (restored from the store) are indexed from their contents when first met.
 */
class ExpiryIndex {
  readonly #spanMs: number;
  readonly #bucketMs: number;
  readonly #context: StepContext;
  readonly #buckets = new Map<number, Bucket>();
  readonly #tracked = new WeakSet<KeyedState<Remembered>>();
  /** Lowest bucket number present (a lower bound), so most `expire` calls return at once. */
  #earliest = Infinity;
  #lastNumber = Number.NaN;
  #last: Bucket | undefined;

  constructor(spanMs: number, context: StepContext) {
    this.#spanMs = spanMs;
    // A quarter of the span: entries are removed at most spanMs / 4 after they expire, and buckets stay few.
    this.#bucketMs = Math.max(1, Math.ceil(spanMs / 4));
    this.#context = context;
  }

  track(state: KeyedState<Remembered>): void {
    if (this.#tracked.has(state)) return;
    this.#tracked.add(state);
    for (const [key, remembered] of state.entries()) {
      if (typeof remembered === 'number') this.add(state, key, remembered);
      else if (Array.isArray(remembered)) for (const time of remembered) this.add(state, key, time);
    }
  }

  add(state: KeyedState<Remembered>, key: string, time: number): void {
    const number = Math.floor((time + this.#spanMs) / this.#bucketMs);
    let bucket = number === this.#lastNumber ? this.#last : this.#buckets.get(number);
    if (bucket === undefined) {
      bucket = { states: [], keys: [] };
      this.#buckets.set(number, bucket);
      if (number < this.#earliest) this.#earliest = number;
    }
    this.#lastNumber = number;
    this.#last = bucket;
    bucket.states.push(state);
    bucket.keys.push(key);
  }

  /** Removes the remembered times `t` with `t + spanMs <= now` held in buckets that lie wholly at or before `now`. */
  expire(now: number): void {
    for (const partition of this.#context.statePartitions()) this.track(this.#context.state<Remembered>(partition));
    if ((this.#earliest + 1) * this.#bucketMs > now) return;
    const horizon = now - this.#spanMs;
    let earliest = Infinity;
    for (const [number, bucket] of this.#buckets) {
      if ((number + 1) * this.#bucketMs > now) {
        if (number < earliest) earliest = number;
        continue;
      }
      this.#buckets.delete(number);
      if (number === this.#lastNumber) {
        this.#lastNumber = Number.NaN;
        this.#last = undefined;
      }
      const { states, keys } = bucket;
      for (let index = 0; index < keys.length; index++) forget(states[index]!, keys[index]!, horizon);
    }
    this.#earliest = earliest;
  }
}

/** Removes from `state` the times of `key` that are `<= horizon`. */
function forget(state: KeyedState<Remembered>, key: string, horizon: number): void {
  const remembered = state.get(key);
  if (remembered === undefined) return;
  if (typeof remembered === 'number') {
    if (remembered <= horizon) state.delete(key);
    return;
  }
  const kept = remembered.filter((first) => first > horizon);
  if (kept.length === remembered.length) return;
  if (kept.length === 0) state.delete(key);
  else state.set(key, kept.length === 1 ? kept[0]! : kept);
}
