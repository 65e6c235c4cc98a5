import type { Observable } from 'rxjs';
import { TributaryError } from '../errors.js';
import { END_OF_TIME } from '../record/chunk.js';
import type { Checkpoint, Chunk } from '../record/chunk.js';
import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { Positions, RecordHeaders, StreamRecord } from '../record/stream-record.js';
import { Execution } from '../runtime/execution.js';
import { silentLogger } from '../runtime/logger.js';
import type { Logger } from '../runtime/logger.js';
import { PrometheusMetrics } from '../runtime/metrics.js';
import { WatermarkTracker } from '../runtime/watermark-tracker.js';
import type { Sink } from '../sinks/sink.js';
import { MemoryStateStore } from '../state/memory-state-store.js';
import type { StateStore } from '../state/state-store.js';
import { VirtualClock } from './virtual-clock.js';

/** What the driver needs of a topology: its name and pipeline (the source is replaced by the driver). */
export interface DrivenTopology<V> {
  readonly name: string;
  readonly pipeline: (input: Observable<Chunk<V>>) => Observable<Chunk<never>>;
}

/** Options of {@link TestDriver}. */
export interface TestDriverOptions {
  /** Processing time (default: a new {@link VirtualClock} at 0). */
  clock?: VirtualClock;
  /** Where step state is persisted at checkpoints (default: a new in-memory store on the virtual clock). */
  stateStore?: StateStore;
  /**
   * When set, the driver computes watermarks from the records it is sent (per partition max event time minus this
   * bound, minimum across partitions), as the runtime does. When absent, watermarks move only with
   * {@link TestDriver.advanceWatermark}. Default: absent.
   */
  autoWatermarkOutOfOrdernessMs?: number;
  logger?: Logger;
}

/** How to send one record. */
export interface SendOptions {
  /** Event time, ms since the epoch. */
  eventTime: number;
  key?: string | null;
  /** Source partition (default `"p0"`). Offsets are assigned per partition in send order. */
  partition?: string;
  headers?: RecordHeaders;
}

class CollectingSink<T> implements Sink<T> {
  readonly name: string;
  pending: StreamRecord<T>[] = [];
  committed: StreamRecord<T>[] = [];
  constructor(name: string) {
    this.name = name;
  }
  write(records: readonly StreamRecord<T>[]): void {
    this.pending.push(...records);
  }
  commit(): void {
    this.committed.push(...this.pending);
    this.pending = [];
  }
  abort(): void {
    this.pending = [];
  }
}

/**
 * Drives a topology without a broker or real timers — Kafka Streams' `TopologyTestDriver` idea, extended to sinks,
 * state and commits. Records are sent at chosen event times; event time (watermarks) and processing time (the
 * {@link VirtualClock}) move only when told to. The driver also acts as the source log: after {@link TestDriver.crash}
 * and {@link TestDriver.restart} it replays what was sent after the committed positions, exactly as a Kafka source
 * would, so recovery can be tested in a unit test.
 *
 * @example
 * ```ts
 * const sink = memorySink<WindowResult<{ count: number }>>();
 * const driver = new TestDriver({ name: 'counts', pipeline: (s) => s.pipe(window({ ... }), toSink(sink)) });
 * await driver.send({ merchant: 'm1', amount: 5 }, { eventTime: 1_000 });
 * await driver.advanceWatermark(60_000);
 * await driver.checkpoint();
 * expect(sink.values).toHaveLength(1);
 * ```
 */
export class TestDriver<V> {
  readonly clock: VirtualClock;
  readonly stateStore: StateStore;
  readonly metrics = new PrometheusMetrics();
  readonly #topology: DrivenTopology<V>;
  readonly #options: TestDriverOptions;
  readonly #deadLetterSink = new CollectingSink<DeadLetter>('dead-letters');
  readonly #lateSink = new CollectingSink<LateRecord>('late');
  /** Everything sent, per partition, in offset order: the driver's "topic". */
  readonly #log = new Map<string, StreamRecord<V>[]>();
  #committed: Positions = {};
  #execution!: Execution<V>;
  #abort!: AbortController;
  #tracker: WatermarkTracker | undefined;
  #positions: Record<string, number> = {};
  #started: Promise<void>;
  #failure: unknown;

  constructor(topology: DrivenTopology<V>, options: TestDriverOptions = {}) {
    this.#topology = topology;
    this.#options = options;
    this.clock = options.clock ?? new VirtualClock(0);
    this.stateStore = options.stateStore ?? new MemoryStateStore({ clock: this.clock });
    this.#started = this.#startExecution();
  }

  /** Dead letters written so far (committed or not), in order. */
  get deadLetters(): readonly DeadLetter[] {
    return [...this.#deadLetterSink.committed, ...this.#deadLetterSink.pending].map((record) => record.value);
  }

  /** Late records written so far, in order. */
  get late(): readonly LateRecord[] {
    return [...this.#lateSink.committed, ...this.#lateSink.pending].map((record) => record.value);
  }

  /** Source positions committed by the last completed checkpoint (offset to resume from, per partition). */
  get committedPositions(): Positions {
    return this.#committed;
  }

  /** The watermark that last reached the end of the pipeline (`-Infinity` before the first). */
  get watermark(): number {
    return this.#execution.watermark;
  }

  /** Step names in pipeline order. */
  get steps(): readonly string[] {
    return this.#execution.stepNames;
  }

  /** A step's working state for a partition (live, as the step sees it). */
  state(stepName: string, partition = 'p0'): ReadonlyMap<string, unknown> {
    return this.#execution.stepState(stepName, partition) ?? new Map();
  }

  /** Sends one record and waits until every step and sink has handled it. */
  async send(value: V, options: SendOptions): Promise<void> {
    await this.sendMany([{ value, ...options }]);
  }

  /** Sends records as one batch and waits until every step and sink has handled them. */
  async sendMany(items: readonly (SendOptions & { value: V })[]): Promise<void> {
    await this.#ready();
    const records: StreamRecord<V>[] = items.map((item) => {
      const partition = item.partition ?? 'p0';
      const log = this.#log.get(partition) ?? [];
      this.#log.set(partition, log);
      const record: StreamRecord<V> = {
        key: item.key ?? null,
        value: item.value,
        eventTime: item.eventTime,
        position: { partition, offset: log.length },
        headers: item.headers ?? {},
      };
      log.push(record);
      return record;
    });
    await this.#push(records);
  }

  /** Moves the watermark to `time` (if it is later than the current one) and waits until the pipeline handled it. */
  async advanceWatermark(time: number): Promise<void> {
    await this.#ready();
    if (time <= this.#execution.watermark) return;
    await this.#execution.pushRecords([], time);
    this.#throwIfFailed();
  }

  /** Moves processing time forward by `ms` (firing due timers: cache TTLs, lookups' timeouts) and lets the pipeline settle. */
  async advanceTime(ms: number): Promise<void> {
    await this.#ready();
    this.clock.advance(ms);
    await this.#execution.pushRecords([]);
    this.#throwIfFailed();
  }

  /** Takes a checkpoint: state persisted, sinks committed, source positions committed. */
  async checkpoint(): Promise<Checkpoint> {
    await this.#ready();
    const checkpoint = await this.#execution.checkpoint(this.#positions, 'request', (positions) => {
      this.#committed = { ...positions };
      return Promise.resolve();
    });
    this.#throwIfFailed();
    return checkpoint;
  }

  /** Ends the input as a bounded source would: every window closes, a final checkpoint commits, steps complete. */
  async end(): Promise<void> {
    await this.#ready();
    await this.#execution.pushRecords([], END_OF_TIME);
    await this.#execution.completeInput();
    await this.#execution.checkpoint(this.#positions, 'end-of-input', (positions) => {
      this.#committed = { ...positions };
      return Promise.resolve();
    }, true);
    await this.#execution.close();
    this.#throwIfFailed();
  }

  /** Tears the pipeline down as a crash would: nothing flushed, nothing committed, uncommitted sink writes dropped. */
  async crash(): Promise<void> {
    await this.#ready();
    this.#abort.abort();
    await this.#execution.abort();
  }

  /**
   * Builds the pipeline again (same sinks, same state store) and resumes like a restarted source: from the positions an
   * exactly-once sink recorded, else from the committed positions; every record sent after them is replayed.
   */
  async restart(): Promise<void> {
    this.#started = this.#startExecution();
    await this.#ready();
  }

  async #startExecution(): Promise<void> {
    this.#abort = new AbortController();
    this.#failure = undefined;
    this.#execution = new Execution<V>({
      topologyName: this.#topology.name,
      clock: this.clock,
      logger: this.#options.logger ?? silentLogger,
      metrics: this.metrics,
      stateStore: this.stateStore,
      deadLetterSink: this.#deadLetterSink,
      lateSink: this.#lateSink,
      signal: this.#abort.signal,
    });
    this.#execution.onFailure((error) => (this.#failure = error));
    this.#execution.subscribe(this.#topology.pipeline);
    await this.#execution.openSinks();
    const partitions = [...this.#log.keys()];
    const exactlyOnce = (await this.#execution.exactlyOncePositions()) ?? {};
    const resumeFrom: Record<string, number> = {};
    for (const partition of partitions) {
      const position = exactlyOnce[partition] ?? this.#committed[partition];
      if (position !== undefined) resumeFrom[partition] = position;
    }
    await this.#execution.restore(partitions, resumeFrom);
    this.#positions = { ...resumeFrom };
    this.#tracker =
      this.#options.autoWatermarkOutOfOrdernessMs === undefined
        ? undefined
        : new WatermarkTracker({ outOfOrdernessMs: this.#options.autoWatermarkOutOfOrdernessMs, idleTimeoutMs: Number.POSITIVE_INFINITY });
    // Replay what was sent after the resume positions, in offset order per partition.
    for (const partition of partitions) {
      const replay = this.#log.get(partition)!.slice(resumeFrom[partition] ?? 0);
      if (replay.length > 0) await this.#push(replay);
    }
  }

  async #push(records: readonly StreamRecord<V>[]): Promise<void> {
    let watermark: number | undefined;
    for (const record of records) {
      const partition = record.position.partition;
      this.#positions[partition] = Math.max(this.#positions[partition] ?? 0, record.position.offset + 1);
      this.#tracker?.observe(partition, record.eventTime, this.clock.now());
    }
    if (this.#tracker) watermark = this.#tracker.advance(this.clock.now());
    await this.#execution.pushRecords(records, watermark);
    this.#throwIfFailed();
  }

  async #ready(): Promise<void> {
    await this.#started;
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) {
      throw this.#failure instanceof Error ? this.#failure : new TributaryError('PIPELINE_FAILED', JSON.stringify(this.#failure));
    }
  }
}
