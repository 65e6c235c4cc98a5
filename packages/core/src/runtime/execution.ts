import { Subject } from 'rxjs';
import type { Observable, Subscription } from 'rxjs';
import { TributaryError } from '../errors.js';
import { makeStepContext, withStepHost, WorkingState } from '../internal/step-host.js';
import type { StepHost } from '../internal/step-host.js';
import type { Checkpoint, Chunk } from '../record/chunk.js';
import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { Positions, StreamRecord } from '../record/stream-record.js';
import type { Sink, SinkContext } from '../sinks/sink.js';
import type { StateChange, StateStore } from '../state/state-store.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Counter, Gauge, Histogram, Metrics } from './metrics.js';
import type { StepContext } from './step-context.js';

/** Everything an execution needs from its runtime (or test driver). */
export interface ExecutionServices {
  readonly topologyName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly stateStore: StateStore;
  readonly deadLetterSink: Sink<DeadLetter>;
  readonly lateSink: Sink<LateRecord>;
  readonly signal: AbortSignal;
}

interface RegisteredSink {
  readonly stepName: string;
  readonly sink: Sink<never>;
  /** Exactly-once sinks: records below these offsets are already in the sink and are skipped on replay. */
  skip: Positions | undefined;
}

interface CheckpointLogEntry {
  readonly positions: Positions;
  /** Scope -> checkpoint id of the snapshot that holds its state as of this checkpoint. */
  readonly snapshots: Readonly<Record<string, number>>;
}

const CHECKPOINT_KEY_PREFIX = 'checkpoint/';
const RETAINED_CHECKPOINTS = 5;
const checkpointKey = (id: number): string => `${CHECKPOINT_KEY_PREFIX}${String(id).padStart(12, '0')}`;

/**
 * One subscription of a topology's pipeline, with the machinery shared by the runtime and the test driver: step
 * contexts and their state, sink registration, in-order handling of what reaches the end of the pipeline, barrier
 * tracking, checkpoints (state snapshot -> dead-letter/late sinks -> sinks -> source positions) and restore.
 *
 * Checkpoints stop the world: the caller pushes a checkpoint barrier and awaits {@link Execution.checkpoint} before
 * pushing more data, so no sink ever holds a write that its commit's positions do not cover.
 */
export class Execution<V> {
  readonly #services: ExecutionServices;
  readonly #input = new Subject<Chunk<V>>();
  readonly #steps = new Map<string, Map<string, WorkingState<unknown>>>();
  readonly #sinks: RegisteredSink[] = [];
  readonly #barrierWaiters = new Map<number, { resolve: () => void; reject: (error: unknown) => void }>();
  readonly #counters: { recordsIn: Counter; recordsOut: Counter; deadLetters: Counter; late: Counter; checkpoints: Counter };
  readonly #watermarkGauge: Gauge;
  readonly #commitLatency: Histogram;
  #subscription: Subscription | undefined;
  #endQueue: Promise<void> = Promise.resolve();
  #failure: unknown;
  #failureListeners: ((error: unknown) => void)[] = [];
  #completed: Promise<void>;
  #resolveCompleted!: () => void;
  #nextBarrierId = 1;
  #nextCheckpointId = 1;
  /** Scope -> checkpoint id of its newest snapshot. */
  readonly #snapshotIds = new Map<string, number>();
  #lastCompleted: Checkpoint | undefined;
  #deadLettersWritten = 0;
  #lateWritten = 0;
  #lastWatermark = Number.NEGATIVE_INFINITY;

  constructor(services: ExecutionServices) {
    this.#services = services;
    const { metrics } = services;
    this.#counters = {
      recordsIn: metrics.counter('tributary_records_in_total', 'Records that entered a step.'),
      recordsOut: metrics.counter('tributary_records_out_total', 'Records a step emitted.'),
      deadLetters: metrics.counter('tributary_dead_letters_total', 'Records a step sent to the dead letters.'),
      late: metrics.counter('tributary_late_records_total', 'Records a step judged later than the allowed lateness.'),
      checkpoints: metrics.counter('tributary_checkpoints_total', 'Checkpoints completed.'),
    };
    this.#watermarkGauge = metrics.gauge('tributary_watermark_ms', 'Event-time watermark at the end of the topology.');
    this.#commitLatency = metrics.histogram('tributary_commit_latency_seconds', 'Time from checkpoint barrier to committed source positions.');
    this.#completed = new Promise((resolve) => (this.#resolveCompleted = resolve));
  }

  /** Step names in pipeline order. */
  get stepNames(): readonly string[] {
    return [...this.#steps.keys()];
  }

  /** The sinks the pipeline registered, in pipeline order. */
  get sinks(): readonly { readonly stepName: string; readonly sink: Sink<never> }[] {
    return this.#sinks;
  }

  /** The last checkpoint whose positions were committed. */
  get lastCompletedCheckpoint(): Checkpoint | undefined {
    return this.#lastCompleted;
  }

  get deadLettersWritten(): number {
    return this.#deadLettersWritten;
  }

  get lateWritten(): number {
    return this.#lateWritten;
  }

  /** Resolves when the pipeline completed (bounded input ended and every step flushed). */
  get completed(): Promise<void> {
    return this.#completed;
  }

  /** The step's working state for a partition, for inspection in tests. */
  stepState(stepName: string, partition: string): ReadonlyMap<string, unknown> | undefined {
    return this.#steps.get(stepName)?.get(partition)?.entriesMap;
  }

  /** Registers a listener for a failure of the pipeline (a step with policy `fail`, a sink error, a bug). */
  onFailure(listener: (error: unknown) => void): void {
    if (this.#failure !== undefined) listener(this.#failure);
    else this.#failureListeners.push(listener);
  }

  /** Builds the pipeline and subscribes it; steps and sinks register themselves during this call. */
  subscribe(pipeline: (input: Observable<Chunk<V>>) => Observable<Chunk<never>>): void {
    const host: StepHost = {
      createStepContext: (kind, name) => this.#createStepContext(kind, name),
      registerSink: (stepName, sink) => {
        const registered: RegisteredSink = { stepName, sink, skip: undefined };
        this.#sinks.push(registered);
        return { skip: () => registered.skip };
      },
    };
    const output = withStepHost(host, () => pipeline(this.#input.asObservable()));
    this.#subscription = withStepHost(host, () =>
      output.subscribe({
        next: (chunk) => this.#enqueueEnd(() => this.#handleEnd(chunk)),
        error: (error: unknown) => this.#fail(error),
        complete: () => this.#enqueueEnd(() => this.#resolveCompleted()),
      }),
    );
  }

  /** Opens the dead-letter, late and pipeline sinks. */
  async openSinks(): Promise<void> {
    const context = (stepName: string): SinkContext => ({
      stepName,
      clock: this.#services.clock,
      logger: this.#services.logger,
      signal: this.#services.signal,
    });
    await this.#services.deadLetterSink.open?.(context('dead-letters'));
    await this.#services.lateSink.open?.(context('late'));
    for (const { stepName, sink } of this.#sinks) await sink.open?.(context(stepName));
  }

  /**
   * Exactly-once hand-shake: asks every sink that records positions where it stands. When every pipeline sink is
   * exactly-once, the returned positions (per partition, the minimum over the sinks) are where the source must resume,
   * and each sink skips the replayed records it already holds. Otherwise the source's own committed positions apply
   * and nothing is returned.
   */
  async exactlyOncePositions(): Promise<Positions | undefined> {
    if (this.#sinks.length === 0 || this.#sinks.some(({ sink }) => sink.committedPositions === undefined)) return undefined;
    const merged: Record<string, number> = {};
    const seen = new Map<string, number>();
    for (const registered of this.#sinks) {
      const committed = await registered.sink.committedPositions!();
      registered.skip = committed?.positions;
      for (const [partition, offset] of Object.entries(committed?.positions ?? {})) {
        merged[partition] = Math.min(merged[partition] ?? Number.POSITIVE_INFINITY, offset);
        seen.set(partition, (seen.get(partition) ?? 0) + 1);
      }
    }
    // A partition only some sinks know is resumed from the source's own position: the others may lack its records.
    for (const [partition, count] of seen) if (count < this.#sinks.length) delete merged[partition];
    for (const registered of this.#sinks) {
      if (registered.skip === undefined) continue;
      registered.skip = Object.fromEntries(Object.entries(registered.skip).filter(([partition]) => partition in merged));
    }
    return merged;
  }

  /**
   * Restores the state of `partitions` to the newest checkpoint whose position for the partition equals the position
   * processing resumes from; partitions without such a checkpoint start with empty state.
   */
  async restore(partitions: readonly string[], resumeFrom: Positions): Promise<void> {
    const store = this.#services.stateStore;
    const log = await this.#readCheckpointLog();
    for (const partition of partitions) {
      const offset = resumeFrom[partition];
      const entry = offset === undefined ? undefined : log.find(([, e]) => e.positions[partition] === offset)?.[1];
      for (const [stepName, states] of this.#steps) {
        const scope = `${stepName}/${partition}`;
        const state = new WorkingState<unknown>();
        const snapshotId = entry?.snapshots[scope];
        if (snapshotId !== undefined && (await store.restore(scope, snapshotId))) {
          const entries: (readonly [string, unknown])[] = [];
          for await (const pair of store.scan(scope)) entries.push(pair);
          state.load(entries);
          this.#snapshotIds.set(scope, snapshotId);
        }
        states.set(partition, state);
      }
    }
  }

  /** Drops the working state of revoked partitions (after a checkpoint persisted it). */
  release(partitions: readonly string[]): void {
    for (const states of this.#steps.values()) for (const partition of partitions) states.delete(partition);
  }

  /**
   * Pushes a batch of source records, then the watermark if it advanced, then a progress barrier; resolves when the
   * barrier reached the end of the pipeline (every step and sink has handled the batch).
   */
  pushRecords(records: readonly StreamRecord<V>[], watermark?: number, deadLetters?: readonly DeadLetter[]): Promise<void> {
    if (records.length > 0) this.#input.next({ kind: 'data', records });
    if (deadLetters !== undefined && deadLetters.length > 0) {
      this.#counters.deadLetters.inc({ topology: this.#services.topologyName, step: 'source' }, deadLetters.length);
      this.#input.next({ kind: 'dead-letter', letters: deadLetters });
    }
    if (watermark !== undefined) this.#input.next({ kind: 'watermark', time: watermark });
    return this.#pushBarrier(undefined);
  }

  /** Pushes a watermark. */
  pushWatermark(time: number): void {
    this.#input.next({ kind: 'watermark', time });
  }

  /**
   * Takes a checkpoint at `positions`: pushes a checkpoint barrier, and once it reached the end persists step state,
   * commits the dead-letter and late sinks, then every pipeline sink, then calls `commitSource`.
   */
  async checkpoint(positions: Positions, reason: Checkpoint['reason'], commitSource: (positions: Positions) => Promise<void>): Promise<Checkpoint> {
    const started = this.#services.clock.now();
    const checkpoint: Checkpoint = { id: this.#nextCheckpointId++, positions: { ...positions }, reason };
    // Everything pushed before the barrier has passed every step once it reaches the end, and the caller pushes
    // nothing more until this checkpoint completed: the state captured now is exactly the state at the barrier.
    await this.#pushBarrier(checkpoint);
    const captured = new Map<string, StateChange[]>();
    this.#captureState(captured);
    await this.#persistState(checkpoint, captured);
    await this.#services.deadLetterSink.commit(checkpoint);
    await this.#services.lateSink.commit(checkpoint);
    for (const { sink } of this.#sinks) await sink.commit(checkpoint);
    await commitSource(checkpoint.positions);
    this.#lastCompleted = checkpoint;
    this.#counters.checkpoints.inc({ topology: this.#services.topologyName });
    this.#commitLatency.observe((this.#services.clock.now() - started) / 1000, { topology: this.#services.topologyName });
    await this.#pruneCheckpoints(checkpoint.id);
    return checkpoint;
  }

  /** Ends the input: steps flush (windows fire) and the pipeline completes. */
  async completeInput(): Promise<void> {
    this.#input.complete();
    await Promise.race([this.#completed, this.#failed()]);
    await this.#endQueue;
  }

  /** Stops the pipeline without flushing or committing anything (crash or abort). */
  async abort(): Promise<void> {
    this.#subscription?.unsubscribe();
    for (const { sink } of this.#sinks) await sink.abort?.();
    await this.#services.deadLetterSink.abort?.();
    await this.#services.lateSink.abort?.();
  }

  /** Unsubscribes after a graceful stop and closes the sinks. */
  async close(): Promise<void> {
    this.#subscription?.unsubscribe();
    for (const { sink } of this.#sinks) await sink.close?.();
    await this.#services.deadLetterSink.close?.();
    await this.#services.lateSink.close?.();
  }

  #failed(): Promise<never> {
    return new Promise((_, reject) => this.onFailure(reject));
  }

  #pushBarrier(checkpoint: Checkpoint | undefined): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(asError(this.#failure));
    const id = this.#nextBarrierId++;
    const reached = new Promise<void>((resolve, reject) => this.#barrierWaiters.set(id, { resolve, reject }));
    this.#input.next({ kind: 'barrier', id, checkpoint });
    return reached;
  }

  #createStepContext(kind: string, name: string | undefined): StepContext {
    const stepName = name ?? `${kind}-${[...this.#steps.keys()].filter((n) => n.startsWith(`${kind}-`)).length + 1}`;
    if (this.#steps.has(stepName)) {
      throw new TributaryError('DUPLICATE_STEP_NAME', `Two steps are named "${stepName}"; step names must be unique within a topology.`);
    }
    const states = new Map<string, WorkingState<unknown>>();
    this.#steps.set(stepName, states);
    const labels = { topology: this.#services.topologyName, step: stepName };
    const counters = this.#counters;
    return makeStepContext({
      stepName,
      clock: this.#services.clock,
      logger: this.#services.logger,
      metrics: {
        recordsIn: (count) => counters.recordsIn.inc(labels, count),
        recordsOut: (count) => counters.recordsOut.inc(labels, count),
        deadLetters: (count) => counters.deadLetters.inc(labels, count),
        late: (count) => counters.late.inc(labels, count),
      },
      states,
    });
  }

  /** Copies every changed entry of every step's state, as of now (the checkpoint barrier is pushed right after). */
  #captureState(into: Map<string, StateChange[]>): void {
    for (const [stepName, states] of this.#steps) {
      for (const [partition, state] of states) {
        const scope = `${stepName}/${partition}`;
        const changes: StateChange[] = [];
        for (const key of state.dirty) {
          const value = state.entriesMap.get(key);
          changes.push(value === undefined ? { op: 'delete', key } : { op: 'put', key, value: structuredClone(value) });
        }
        state.dirty.clear();
        if (changes.length > 0 || !this.#snapshotIds.has(scope)) into.set(scope, changes);
      }
    }
  }

  async #persistState(checkpoint: Checkpoint, captured: Map<string, StateChange[]>): Promise<void> {
    const store = this.#services.stateStore;
    for (const [scope, changes] of captured) {
      if (changes.length > 0) await store.apply(scope, changes);
      await store.snapshot(scope, checkpoint.id);
      this.#snapshotIds.set(scope, checkpoint.id);
    }
    const entry: CheckpointLogEntry = { positions: checkpoint.positions, snapshots: Object.fromEntries(this.#snapshotIds) };
    await store.put(this.#runtimeScope(), checkpointKey(checkpoint.id), entry);
  }

  async #pruneCheckpoints(completedId: number): Promise<void> {
    const store = this.#services.stateStore;
    const log = await this.#readCheckpointLog();
    const retained = log.slice(0, RETAINED_CHECKPOINTS);
    for (const [id] of log.slice(RETAINED_CHECKPOINTS)) await store.delete(this.#runtimeScope(), checkpointKey(id));
    const oldestNeeded = new Map<string, number>();
    for (const [, entry] of retained) {
      for (const [scope, snapshotId] of Object.entries(entry.snapshots)) {
        oldestNeeded.set(scope, Math.min(oldestNeeded.get(scope) ?? snapshotId, snapshotId));
      }
    }
    for (const [scope, snapshotId] of oldestNeeded) {
      if (snapshotId < completedId) await store.discardSnapshotsBefore(scope, snapshotId);
    }
  }

  /** Checkpoint log entries, newest first. */
  async #readCheckpointLog(): Promise<[number, CheckpointLogEntry][]> {
    const entries: [number, CheckpointLogEntry][] = [];
    for await (const [key, value] of this.#services.stateStore.scan(this.#runtimeScope(), CHECKPOINT_KEY_PREFIX)) {
      entries.push([Number(key.slice(CHECKPOINT_KEY_PREFIX.length)), value as CheckpointLogEntry]);
    }
    return entries.sort((a, b) => b[0] - a[0]);
  }

  #runtimeScope(): string {
    return `__tributary__/${this.#services.topologyName}`;
  }

  #enqueueEnd(task: () => Promise<void> | void): void {
    this.#endQueue = this.#endQueue.then(task).catch((error: unknown) => this.#fail(error));
  }

  async #handleEnd(chunk: Chunk<never>): Promise<void> {
    switch (chunk.kind) {
      case 'data':
        if (chunk.records.length > 0) {
          throw new TributaryError(
            'RECORDS_WITHOUT_SINK',
            `${chunk.records.length} records reached the end of topology "${this.#services.topologyName}" without a sink; end every branch with toSink(...).`,
          );
        }
        return;
      case 'dead-letter':
        this.#deadLettersWritten += chunk.letters.length;
        await this.#services.deadLetterSink.write(chunk.letters.map(letterRecord));
        return;
      case 'late':
        this.#lateWritten += chunk.records.length;
        await this.#services.lateSink.write(chunk.records.map(lateRecordRecord));
        return;
      case 'watermark':
        this.#lastWatermark = chunk.time;
        this.#watermarkGauge.set(chunk.time, { topology: this.#services.topologyName });
        return;
      case 'barrier': {
        const waiter = this.#barrierWaiters.get(chunk.id);
        this.#barrierWaiters.delete(chunk.id);
        waiter?.resolve();
        return;
      }
    }
  }

  /** The watermark that last reached the end of the pipeline. */
  get watermark(): number {
    return this.#lastWatermark;
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    for (const listener of this.#failureListeners) listener(error);
    this.#failureListeners = [];
    for (const waiter of this.#barrierWaiters.values()) waiter.reject(error);
    this.#barrierWaiters.clear();
  }
}

const letterRecord = (letter: DeadLetter): StreamRecord<DeadLetter> => ({
  key: letter.record.key,
  value: letter,
  eventTime: letter.record.eventTime,
  position: letter.record.position,
  headers: letter.record.headers,
});

const lateRecordRecord = (late: LateRecord): StreamRecord<LateRecord> => ({
  key: late.record.key,
  value: late,
  eventTime: late.record.eventTime,
  position: late.record.position,
  headers: late.record.headers,
});

const asError = (failure: unknown): Error =>
  failure instanceof Error ? failure : new TributaryError('PIPELINE_FAILED', `Pipeline failed: ${JSON.stringify(failure)}`);
