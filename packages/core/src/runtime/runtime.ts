import { z } from 'zod';
import { TributaryError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { END_OF_TIME } from '../record/chunk.js';
import type { Checkpoint } from '../record/chunk.js';
import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { Positions, StreamRecord } from '../record/stream-record.js';
import { memorySink } from '../sinks/memory-sink.js';
import type { Sink } from '../sinks/sink.js';
import type { SourceContext } from '../sources/source.js';
import { MemoryStateStore } from '../state/memory-state-store.js';
import type { StateStore } from '../state/state-store.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { Execution } from './execution.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';
import { PrometheusMetrics } from './metrics.js';
import type { Metrics } from './metrics.js';
import type { Topology } from './topology.js';
import { WatermarkTracker } from './watermark-tracker.js';

const isObjectWith = (...methods: string[]) => (value: unknown) =>
  typeof value === 'object' && value !== null && methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function');

const runtimeOptionsSchema = z.strictObject({
  maxInFlight: z.number().int().positive().default(10_000),
  maxBatch: z.number().int().positive().default(1_000),
  checkpointIntervalMs: z.number().int().positive().default(5_000),
  watermark: z
    .strictObject({
      outOfOrdernessMs: z.number().int().nonnegative().default(0),
      idleTimeoutMs: z.number().int().positive().default(30_000),
    })
    .default({ outOfOrdernessMs: 0, idleTimeoutMs: 30_000 }),
  clock: z.custom<Clock>(isObjectWith('now', 'setTimer'), 'must be a Clock (now, setTimer)').optional(),
  logger: z.custom<Logger>(isObjectWith('debug', 'info', 'warn', 'error'), 'must be a Logger (debug, info, warn, error)').optional(),
  metrics: z.custom<Metrics>(isObjectWith('counter', 'gauge', 'histogram'), 'must implement Metrics').optional(),
  stateStore: z.custom<StateStore>(isObjectWith('get', 'put', 'apply', 'snapshot', 'restore', 'scan'), 'must implement StateStore').optional(),
  deadLetters: z.custom<Sink<DeadLetter>>(isObjectWith('write', 'commit'), 'must be a Sink').optional(),
  late: z.custom<Sink<LateRecord>>(isObjectWith('write', 'commit'), 'must be a Sink').optional(),
});

/**
 * Options of {@link createRuntime}. Every field is optional.
 *
 * - `maxInFlight` (default 10 000): records polled but not yet handled by every sink; at the limit the source is paused.
 * - `maxBatch` (default 1 000): most records per poll.
 * - `checkpointIntervalMs` (default 5 000): processing time between checkpoints (state snapshot, sink commits, source commit).
 * - `watermark.outOfOrdernessMs` (default 0): bounded out-of-orderness of event times within a partition.
 * - `watermark.idleTimeoutMs` (default 30 000): a partition silent this long stops holding the watermark back.
 * - `clock` (default the system clock), `logger` (default silent), `metrics` (default a new {@link PrometheusMetrics}).
 * - `stateStore` (default a new in-memory store): where step state is persisted at checkpoints.
 * - `deadLetters`, `late` (default in-memory sinks): where dead letters and late records go.
 *
 * @interface
 */
export type RuntimeOptions = z.input<typeof runtimeOptionsSchema>;

/** What {@link Runtime.status} reports. */
export interface RuntimeStatus {
  readonly topology: string;
  readonly state: 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' | 'aborted' | 'finished';
  readonly steps: readonly string[];
  readonly partitions: readonly string[];
  /** Next offset to read, per partition, as polled. */
  readonly polled: Positions;
  /** Positions of the last completed checkpoint. */
  readonly committed: Positions;
  readonly inFlight: number;
  readonly paused: boolean;
  /** Watermark at the end of the pipeline (`null` before the first). */
  readonly watermark: number | null;
  readonly partitionWatermarks: Readonly<Record<string, number>>;
  readonly recordsPolled: number;
  readonly deadLetters: number;
  readonly late: number;
  readonly checkpoints: number;
  /** Records not yet read, per partition, as the source reported at the last checkpoint (empty when it cannot tell). */
  readonly lag: Positions;
}

/** A running topology. */
export interface Runtime {
  /** Opens sinks and source, restores state and starts processing; resolves once running. */
  start(): Promise<void>;
  /** Graceful stop: stop fetching, let in-flight records finish, checkpoint (flush sinks, commit), release the source. */
  stop(): Promise<void>;
  /** Stops at once without flushing or committing, as a crash would; uncommitted sink writes are dropped. */
  abort(): Promise<void>;
  /** Takes a checkpoint now; resolves with it once its positions are committed. */
  checkpoint(): Promise<Checkpoint>;
  /** Settles when the runtime ends: resolves after a bounded source is exhausted or after `stop`, rejects on failure. */
  readonly done: Promise<void>;
  /** Progress, lag and counters at this moment. */
  status(): RuntimeStatus;
  /** The sink receiving dead letters. */
  readonly deadLetters: Sink<DeadLetter>;
  /** The sink receiving late records. */
  readonly late: Sink<LateRecord>;
  /** The metrics registry in use. */
  readonly metrics: Metrics;
}

/**
 * Runs a topology: polls the source in batches, pushes them through the pipeline, keeps in-flight records bounded
 * (pausing the source), computes watermarks, takes checkpoints, and commits source positions only after every sink
 * committed the records before them.
 *
 * @example
 * ```ts
 * const runtime = createRuntime(job, { checkpointIntervalMs: 1_000, watermark: { outOfOrdernessMs: 5_000 } });
 * await runtime.start();
 * process.once('SIGTERM', () => void runtime.stop());
 * await runtime.done;
 * ```
 */
export function createRuntime<V>(topology: Topology<V>, options: RuntimeOptions = {}): Runtime {
  const parsed = parseOptions(runtimeOptionsSchema, 'createRuntime', options);
  return new TopologyRuntime(topology, parsed);
}

type ParsedOptions = z.output<typeof runtimeOptionsSchema>;

class TopologyRuntime<V> implements Runtime {
  readonly deadLetters: Sink<DeadLetter>;
  readonly late: Sink<LateRecord>;
  readonly metrics: Metrics;
  readonly done: Promise<void>;
  readonly #topology: Topology<V>;
  readonly #options: ParsedOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #stateStore: StateStore;
  readonly #tracker: WatermarkTracker;
  readonly #abort = new AbortController();
  readonly #execution: Execution<V>;
  #state: RuntimeStatus['state'] = 'created';
  #resolveDone!: () => void;
  #rejectDone!: (error: unknown) => void;
  #positions: Record<string, number> = {};
  #inFlight = 0;
  #paused = false;
  /** Everyone waiting for in-flight records to drop: the run loop (backpressure) and a revoke or stop draining. */
  readonly #capacityWaiters = new Set<() => void>();
  #recordsPolled = 0;
  #lastCheckpointAt = 0;
  #checkpointRequests: ((checkpoint: Checkpoint) => void)[] = [];
  #checkpointFailures: ((error: unknown) => void)[] = [];
  #lock: Promise<void> = Promise.resolve();
  #stopRequested = false;
  #pollAbort = new AbortController();
  #loop: Promise<void> | undefined;
  #checkpointCount = 0;
  #sourceDeadLetters: DeadLetter[] = [];
  #lag: Positions = {};

  constructor(topology: Topology<V>, options: ParsedOptions) {
    this.#topology = topology;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new PrometheusMetrics();
    this.#stateStore = options.stateStore ?? new MemoryStateStore({ clock: this.#clock });
    this.deadLetters = options.deadLetters ?? memorySink<DeadLetter>({ name: 'dead-letters' });
    this.late = options.late ?? memorySink<LateRecord>({ name: 'late' });
    this.#tracker = new WatermarkTracker(options.watermark);
    this.#execution = new Execution<V>({
      topologyName: topology.name,
      clock: this.#clock,
      logger: this.#logger,
      metrics: this.metrics,
      stateStore: this.#stateStore,
      deadLetterSink: this.deadLetters,
      lateSink: this.late,
      signal: this.#abort.signal,
      requestCheckpoint: () => {
        if (this.#state === 'running' && this.#checkpointRequests.length === 0) void this.checkpoint().catch(() => undefined);
      },
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    // Callers that only await start()/stop() must not see an unhandled rejection; `done` still rejects for those who look.
    this.done.catch(() => undefined);
  }

  async start(): Promise<void> {
    if (this.#state !== 'created') throw new TributaryError('INVALID_STATE', `Runtime of "${this.#topology.name}" was already started.`);
    this.#state = 'starting';
    const labels = { topology: this.#topology.name };
    const inFlightGauge = this.metrics.gauge('tributary_in_flight_records', 'Records polled but not yet handled by every sink.');
    const pausedGauge = this.metrics.gauge('tributary_source_paused', '1 while the source is paused for backpressure.');
    const batchLatency = this.metrics.histogram('tributary_batch_latency_seconds', 'Time from a polled batch entering the pipeline to every sink having handled it.');
    const lagGauge = this.metrics.gauge('tributary_source_lag_records', 'Records the source has not read yet, per partition (when the source can tell).');
    this.#gauges = {
      inFlight: (n) => inFlightGauge.set(n, labels),
      paused: (p) => pausedGauge.set(p ? 1 : 0, labels),
      batchLatency: (seconds) => batchLatency.observe(seconds, labels),
      lag: (lag) => {
        for (const [partition, records] of Object.entries(lag)) lagGauge.set(records, { ...labels, partition });
      },
    };
    try {
      this.#execution.subscribe(this.#topology.pipeline);
      this.#execution.onFailure((error) => void this.#failWith(error));
      await this.#execution.openSinks();
      const context: SourceContext = {
        clock: this.#clock,
        logger: this.#logger,
        signal: this.#abort.signal,
        assigned: (partitions, committed) => this.#withLock(() => this.#assigned(partitions, committed ?? {})),
        revoked: (partitions) => this.#withLock(() => this.#revoked(partitions)),
        deadLetters: (letters) => void this.#sourceDeadLetters.push(...letters),
      };
      await this.#topology.source.open(context);
    } catch (error) {
      this.#state = 'failed';
      this.#rejectDone(error);
      await this.#execution.abort().catch(() => undefined);
      throw error;
    }
    if (this.#state !== 'starting') {
      // Subscribing or opening failed asynchronously (a duplicate step name, a sink that could not open).
      await this.done.catch(() => undefined);
      const failure = await this.done.then(
        () => undefined,
        (error: unknown) => error,
      );
      throw failure instanceof Error ? failure : new TributaryError('START_FAILED', `Topology "${this.#topology.name}" failed to start.`);
    }
    this.#state = 'running';
    this.#lastCheckpointAt = this.#clock.now();
    this.#logger.info({ topology: this.#topology.name, partitions: this.#topology.source.partitions() }, 'topology started');
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    if (this.#state !== 'running') return this.done.catch(() => undefined);
    this.#state = 'stopping';
    this.#stopRequested = true;
    this.#pollAbort.abort();
    this.#wakeCapacityWaiters();
    await this.#loop;
    await this.done.catch(() => undefined);
  }

  async abort(): Promise<void> {
    if (this.#state === 'aborted' || this.#state === 'stopped' || this.#state === 'finished' || this.#state === 'failed') return;
    this.#state = 'aborted';
    this.#stopRequested = true;
    this.#abort.abort();
    this.#pollAbort.abort();
    this.#wakeCapacityWaiters();
    await this.#execution.abort();
    await this.#topology.source.close().catch(() => undefined);
    this.#logger.warn({ topology: this.#topology.name }, 'topology aborted without committing');
    this.#resolveDone();
  }

  checkpoint(): Promise<Checkpoint> {
    if (this.#state !== 'running') return Promise.reject(new TributaryError('INVALID_STATE', 'checkpoint() needs a running runtime.'));
    return new Promise((resolve, reject) => {
      this.#checkpointRequests.push(resolve);
      this.#checkpointFailures.push(reject);
      this.#pollAbort.abort();
    });
  }

  status(): RuntimeStatus {
    const watermark = this.#execution.watermark;
    return {
      topology: this.#topology.name,
      state: this.#state,
      steps: this.#execution.stepNames,
      partitions: this.#topology.source.partitions(),
      polled: { ...this.#positions },
      committed: { ...(this.#execution.lastCompletedCheckpoint?.positions ?? {}) },
      inFlight: this.#inFlight,
      paused: this.#paused,
      watermark: Number.isFinite(watermark) ? watermark : null,
      partitionWatermarks: this.#tracker.partitions(),
      recordsPolled: this.#recordsPolled,
      deadLetters: this.#execution.deadLettersWritten,
      late: this.#execution.lateWritten,
      checkpoints: this.#checkpointCount,
      lag: { ...this.#lag },
    };
  }

  #gauges: {
    inFlight(count: number): void;
    paused(paused: boolean): void;
    batchLatency(seconds: number): void;
    lag(lag: Positions): void;
  } = { inFlight: () => undefined, paused: () => undefined, batchLatency: () => undefined, lag: () => undefined };

  async #run(): Promise<void> {
    const source = this.#topology.source;
    try {
      for (;;) {
        if (this.#stopRequested) break;
        if (this.#inFlight >= this.#options.maxInFlight) {
          await this.#waitForCapacity();
          continue;
        }
        if (this.#checkpointRequests.length > 0 || this.#clock.now() - this.#lastCheckpointAt >= this.#options.checkpointIntervalMs) {
          await this.#withLock(() => this.#takeCheckpoint(this.#checkpointRequests.length > 0 ? 'request' : 'interval'));
          continue;
        }
        if (this.#pollAbort.signal.aborted) this.#pollAbort = new AbortController();
        const limit = Math.min(this.#options.maxBatch, this.#options.maxInFlight - this.#inFlight);
        const records = await source.poll(limit, this.#pollAbort.signal);
        if (records === null) {
          await this.#withLock(() => this.#finishInput());
          return;
        }
        await this.#withLock(() => Promise.resolve(this.#push(records)));
      }
      // Graceful stop: in-flight work finishes, then one last checkpoint commits it.
      await this.#withLock(async () => {
        await this.#drain();
        await this.#takeCheckpoint('stop');
      });
      await this.#execution.close();
      await source.close();
      this.#state = 'stopped';
      this.#logger.info({ topology: this.#topology.name, committed: this.status().committed }, 'topology stopped');
      this.#resolveDone();
    } catch (error) {
      if (this.#state === 'aborted') return;
      await this.#failWith(error);
    }
  }

  #push(records: readonly StreamRecord<V>[]): void {
    const now = this.#clock.now();
    const letters = this.#sourceDeadLetters.splice(0);
    for (const letter of letters) {
      const { partition, offset } = letter.record.position;
      if (offset + 1 > (this.#positions[partition] ?? Number.NEGATIVE_INFINITY)) this.#positions[partition] = offset + 1;
    }
    if (records.length > 0) {
      for (const record of records) {
        const next = record.position.offset + 1;
        const partition = record.position.partition;
        if (next > (this.#positions[partition] ?? Number.NEGATIVE_INFINITY)) this.#positions[partition] = next;
        this.#tracker.observe(partition, record.eventTime, now);
      }
      this.#recordsPolled += records.length;
    }
    const watermark = this.#tracker.advance(now);
    if (records.length === 0 && watermark === undefined && letters.length === 0) return;
    const count = records.length;
    this.#inFlight += count;
    this.#gauges.inFlight(this.#inFlight);
    const pushedAt = this.#clock.now();
    this.#execution.pushRecords(records, watermark, letters).then(
      () => {
        this.#gauges.batchLatency((this.#clock.now() - pushedAt) / 1000);
        this.#inFlight -= count;
        this.#gauges.inFlight(this.#inFlight);
        if (this.#inFlight < this.#options.maxInFlight) this.#wakeCapacityWaiters();
      },
      () => undefined, // failures surface through execution.onFailure
    );
  }

  async #waitForCapacity(): Promise<void> {
    const source = this.#topology.source;
    if (!this.#paused) {
      this.#paused = true;
      this.#gauges.paused(true);
      source.pause?.();
      this.#logger.debug({ topology: this.#topology.name, inFlight: this.#inFlight }, 'source paused: in-flight limit reached');
    }
    await this.#capacityChange();
    if (this.#paused && this.#inFlight < this.#options.maxInFlight) {
      this.#paused = false;
      this.#gauges.paused(false);
      source.resume?.();
    }
  }

  /** Resolves at the next change of in-flight records (or stop / failure). */
  #capacityChange(): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiter = () => {
        this.#capacityWaiters.delete(waiter);
        resolve();
      };
      this.#capacityWaiters.add(waiter);
    });
  }

  #wakeCapacityWaiters(): void {
    for (const waiter of [...this.#capacityWaiters]) waiter();
  }

  /** Waits until every pushed batch reached the end of the pipeline. */
  async #drain(): Promise<void> {
    while (this.#inFlight > 0 && this.#state !== 'failed' && this.#state !== 'aborted') {
      await this.#capacityChange();
    }
  }

  async #takeCheckpoint(reason: Checkpoint['reason'], afterCompletion = false): Promise<void> {
    const requests = this.#checkpointRequests.splice(0);
    const failures = this.#checkpointFailures.splice(0);
    try {
      const checkpoint = await this.#execution.checkpoint(
        this.#positions,
        reason,
        (positions) => this.#topology.source.commit(positions),
        afterCompletion,
      );
      this.#checkpointCount += 1;
      this.#lastCheckpointAt = this.#clock.now();
      const lag = this.#topology.source.lag?.();
      if (lag !== undefined) {
        this.#lag = lag;
        this.#gauges.lag(lag);
      }
      this.#logger.debug({ topology: this.#topology.name, checkpoint: checkpoint.id, reason, positions: checkpoint.positions }, 'checkpoint committed');
      for (const resolve of requests) resolve(checkpoint);
    } catch (error) {
      for (const reject of failures) reject(error);
      throw error;
    }
  }

  async #finishInput(): Promise<void> {
    // End of a bounded input: dead letters the source reported in its last poll go in, the final watermark closes every
    // window, steps flush in their complete handlers, and a last checkpoint commits everything that came out.
    this.#push([]);
    await this.#drain();
    this.#execution.pushWatermark(END_OF_TIME);
    await this.#execution.completeInput();
    await this.#takeCheckpoint('end-of-input', true);
    await this.#execution.close();
    await this.#topology.source.close();
    this.#state = 'finished';
    this.#logger.info({ topology: this.#topology.name, committed: this.status().committed }, 'topology finished: input exhausted');
    this.#resolveDone();
  }

  async #assigned(partitions: readonly string[], committed: Positions): Promise<Positions> {
    const exactlyOnce = (await this.#execution.exactlyOncePositions()) ?? {};
    const seek: Record<string, number> = {};
    const resumeFrom: Record<string, number> = {};
    for (const partition of partitions) {
      const position = exactlyOnce[partition] ?? committed[partition];
      if (exactlyOnce[partition] !== undefined) seek[partition] = exactlyOnce[partition];
      if (position !== undefined) {
        resumeFrom[partition] = position;
        this.#positions[partition] = position;
      }
    }
    await this.#execution.restore(partitions, resumeFrom);
    this.#tracker.assign(partitions, this.#clock.now());
    this.#logger.info({ topology: this.#topology.name, partitions, resumeFrom }, 'partitions assigned');
    return seek;
  }

  async #revoked(partitions: readonly string[]): Promise<void> {
    if (this.#state === 'running' || this.#state === 'stopping') {
      await this.#drain();
      await this.#takeCheckpoint('revoke');
    }
    this.#execution.release(partitions);
    this.#tracker.revoke(partitions);
    for (const partition of partitions) delete this.#positions[partition];
    this.#logger.info({ topology: this.#topology.name, partitions }, 'partitions revoked');
  }

  /** Serialises pushes, checkpoints and rebalance callbacks. */
  #withLock<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(task);
    this.#lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #failWith(error: unknown): Promise<void> {
    if (this.#state === 'failed' || this.#state === 'aborted') return;
    this.#state = 'failed';
    this.#stopRequested = true;
    this.#pollAbort.abort();
    this.#wakeCapacityWaiters();
    for (const reject of this.#checkpointFailures.splice(0)) reject(error);
    this.#logger.error({ topology: this.#topology.name, error: error instanceof Error ? error.message : String(error) }, 'topology failed');
    await this.#execution.abort().catch(() => undefined);
    await this.#topology.source.close().catch(() => undefined);
    this.#rejectDone(error);
  }
}
