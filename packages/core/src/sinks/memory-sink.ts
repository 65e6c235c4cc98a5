import { z } from 'zod';
import { TributaryError } from '../errors.js';
import { stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { Checkpoint } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { systemClock } from '../runtime/clock.js';
import type { CommittedPositions, Sink, SinkContext } from './sink.js';

const memorySinkOptionsSchema = z.strictObject({
  name: stepNameSchema,
  exactlyOnce: z.boolean('must be true or false').default(false),
  writeDelayMs: z
    .number('must be a number of milliseconds')
    .nonnegative('must be a non-negative number of milliseconds')
    .refine(Number.isFinite, 'must be finite')
    .default(0),
});

/** Options of {@link memorySink}.
 *
 * @interface
 */
export type MemorySinkOptions = z.input<typeof memorySinkOptionsSchema>;

/**
 * A {@link Sink} that keeps records in memory, with everything a test wants to look at. Built by {@link memorySink}.
 *
 * It behaves like a transactional store: `write` stages records (`written`), `commit` makes them durable
 * (`committed`), `abort` — what the runtime calls on a crash — loses what was staged. The instance outlives a runtime,
 * so a crash test can hand the same sink to the next runtime and check that nothing was lost or duplicated.
 */
export class MemorySink<V> implements Sink<V> {
  /** Sink name (metrics and logs). */
  readonly name: string;
  /** Whether the sink records source positions with its commits (and so offers `committedPositions`). */
  readonly exactlyOnce: boolean;
  /**
   * Exactly-once sinks only: the positions and checkpoint id stored atomically with the last commit, or `undefined`
   * before the first commit. Absent (`undefined`) on an at-least-once sink, as the {@link Sink} contract requires.
   */
  readonly committedPositions: (() => Promise<CommittedPositions | undefined>) | undefined;
  readonly #writeDelayMs: number;
  #written: StreamRecord<V>[] = [];
  #committed: StreamRecord<V>[] = [];
  readonly #commits: Checkpoint[] = [];
  #positions: CommittedPositions | undefined;
  #context: SinkContext | undefined;
  /** Settles when every write issued so far settled: delayed writes complete one after the other, in order. */
  #tail: Promise<void> = Promise.resolve();
  /** Clock time at which the last delayed write completes; the next one starts then. */
  #busyUntil = Number.NEGATIVE_INFINITY;
  /** Bumped by `abort`, so a delayed write that completes afterwards is dropped like the rest of the staged data. */
  #epoch = 0;
  #inFlight = 0;
  #openCount = 0;
  #closed = false;
  #writeFailure: Error | undefined;
  #commitFailure: Error | undefined;

  /** @internal use {@link memorySink} */
  constructor(name: string, exactlyOnce: boolean, writeDelayMs: number) {
    this.name = name;
    this.exactlyOnce = exactlyOnce;
    this.#writeDelayMs = writeDelayMs;
    this.committedPositions = exactlyOnce ? () => Promise.resolve(this.#positions) : undefined;
  }

  /** Remembers the context (its clock drives `writeDelayMs`). May be called again by a later runtime. */
  open(context: SinkContext): void {
    this.#context = context;
    this.#closed = false;
    this.#openCount++;
  }

  /**
   * Stages the records. Without `writeDelayMs` this is synchronous; with it, it returns a promise that settles after
   * the delay on the context clock (after the writes before it), which is the backpressure a slow sink exerts. An
   * aborted context signal rejects a delayed write.
   */
  write(records: readonly StreamRecord<V>[]): Promise<void> | void {
    const failure = this.#writeFailure;
    if (failure !== undefined) {
      this.#writeFailure = undefined;
      throw failure;
    }
    if (this.#writeDelayMs === 0 && this.#inFlight === 0) {
      for (const record of records) this.#written.push(record);
      return;
    }
    const epoch = this.#epoch;
    this.#inFlight++;
    // The timer is set now, for when the writes ahead of this one are done, so a virtual clock advanced right after
    // `write` (or by several delays at once) completes it on time.
    const clock = this.#context?.clock ?? systemClock;
    const now = clock.now();
    this.#busyUntil = Math.max(now, this.#busyUntil) + this.#writeDelayMs;
    const timer = this.#delay(this.#busyUntil - now);
    const done = Promise.all([this.#tail, timer])
      .then(() => {
        if (epoch !== this.#epoch) return;
        for (const record of records) this.#written.push(record);
      })
      .finally(() => this.#inFlight--);
    this.#tail = done.catch(() => undefined);
    return done;
  }

  /**
   * Waits for writes in flight, then makes every staged record durable and records the checkpoint — for an
   * exactly-once sink together with the checkpoint's positions, in one step.
   */
  async commit(checkpoint: Checkpoint): Promise<void> {
    await this.#tail;
    const failure = this.#commitFailure;
    if (failure !== undefined) {
      this.#commitFailure = undefined;
      throw failure;
    }
    const staged = this.#written;
    this.#written = [];
    for (const record of staged) this.#committed.push(record);
    this.#commits.push(checkpoint);
    if (this.exactlyOnce) {
      this.#positions = { checkpointId: checkpoint.id, positions: { ...this.#positions?.positions, ...checkpoint.positions } };
    }
  }

  /** Drops what was written since the last commit, including delayed writes still in flight (a crash loses them). */
  abort(): void {
    this.#epoch++;
    this.#written = [];
    // Writes after the crash do not queue behind the abandoned ones.
    this.#tail = Promise.resolve();
    this.#busyUntil = Number.NEGATIVE_INFINITY;
  }

  /** Marks the sink closed; its contents stay. */
  async close(): Promise<void> {
    await this.#tail;
    this.#closed = true;
  }

  /** Makes the next `write` throw `error` (default: a retriable TributaryError) without staging anything. */
  failNextWrite(error: Error = new TributaryError('SINK_WRITE_FAILED', `memorySink "${this.name}": injected write failure`, { retriable: true })): void {
    this.#writeFailure = error;
  }

  /** Makes the next `commit` reject with `error` (default: a retriable TributaryError) and change nothing. */
  failNextCommit(error: Error = new TributaryError('SINK_COMMIT_FAILED', `memorySink "${this.name}": injected commit failure`, { retriable: true })): void {
    this.#commitFailure = error;
  }

  /** Records written since the last commit (lost on `abort`). */
  get written(): readonly StreamRecord<V>[] {
    return [...this.#written];
  }

  /** Durable records, in write order. */
  get committed(): readonly StreamRecord<V>[] {
    return [...this.#committed];
  }

  /** Values of the durable records, in write order. */
  get values(): readonly V[] {
    return this.#committed.map((record) => record.value);
  }

  /** Checkpoints committed, in order. */
  get commits(): readonly Checkpoint[] {
    return [...this.#commits];
  }

  /** Delayed writes that have not settled yet. */
  get inFlightWrites(): number {
    return this.#inFlight;
  }

  /** How many times a runtime opened the sink. */
  get openCount(): number {
    return this.#openCount;
  }

  /** Whether `close` was called since the last `open`. */
  get closed(): boolean {
    return this.#closed;
  }

  #delay(delayMs: number): Promise<void> {
    const clock = this.#context?.clock ?? systemClock;
    const signal = this.#context?.signal;
    return new Promise<void>((resolve, reject) => {
      const aborted = (): TributaryError =>
        new TributaryError('SINK_ABORTED', `memorySink "${this.name}": write abandoned because the runtime stopped`, { retriable: true });
      if (signal?.aborted === true) {
        reject(aborted());
        return;
      }
      const onAbort = (): void => {
        cancel();
        reject(aborted());
      };
      const cancel = clock.setTimer(delayMs, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * An in-memory {@link Sink} for tests and examples: inspect `values`, `committed`, `written` and `commits`.
 *
 * Options: `name` — sink name (default `memory`); `exactlyOnce` — store checkpoint positions with each commit and
 * offer `committedPositions`, so the runtime resumes from the sink and skips replayed records (default `false`:
 * at-least-once); `writeDelayMs` — make every write take this long on the context clock, to simulate a slow sink and
 * exercise backpressure (default 0).
 *
 * @example
 * ```ts
 * const sink = memorySink<Order>({ exactlyOnce: true });
 * const runtime = createRuntime(defineTopology({ name: 'orders', source: memorySource(orders), pipeline: (s) => s.pipe(toSink(sink)) }));
 * await runtime.start();
 * await runtime.done;
 * expect(sink.values).toEqual(orders);
 * ```
 */
export function memorySink<V>(options: MemorySinkOptions = {}): MemorySink<V> {
  const { name, exactlyOnce, writeDelayMs } = parseOptions(memorySinkOptionsSchema, 'memorySink', options);
  return new MemorySink<V>(name ?? 'memory', exactlyOnce, writeDelayMs);
}
