import { Subject } from 'rxjs';
import type { Observable, Subscription } from 'rxjs';
import { TributaryError } from '../errors.js';
import { makeStepContext, StepNames, withStepHost, WorkingState } from '../internal/step-host.js';
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
  /** Lets sinks ask for an early checkpoint (see {@link SinkContext.requestCheckpoint}). */
  readonly requestCheckpoint?: (() => void) | undefined;
}

interface RegisteredSink {
  readonly stepName: string;
  readonly sink: Sink<never>;
  /** Exactly-once sinks ahead of the resume position: replayed source offsets `[from, to)` they already hold. */
  skip: Readonly<Record<string, readonly [number, number]>> | undefined;
}

interface CheckpointLogEntry {
  readonly positions: Positions;
  /** Set once every sink committed the checkpoint: only then may its state be restored (see {@link Execution.restore}). */
  readonly committed?: boolean;
  /** Scope -> checkpoint id of the snapshot that holds its state as of this checkpoint. */
  readonly snapshots: Readonly<Record<string, number>>;
}

const CHECKPOINT_KEY_PREFIX = 'checkpoint/';
const RETAINED_CHECKPOINTS = 5;
const checkpointKey = (id: number, instance: string): string => `${CHECKPOINT_KEY_PREFIX}${String(id).padStart(15, '0')}/${instance}`;

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
  readonly #names = new StepNames();
  #sinksOpened = false;
  /** Identifies this run's entries in the checkpoint log, which several instances (or restarts) may share. */
  readonly #instance = Math.random().toString(36).slice(2, 10);
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
  /** The checkpoint id every exactly-once sink has committed, when all sinks are exactly-once. */
  #exactlyOnceCheckpointId: number | undefined;
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
    return this.#names.ordered();
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
      reserveStepName: (kind, name, fallback) => this.#names.reserve(kind, name, fallback),
      createStepContext: (kind, name) => this.#createStepContext(kind, name),
      registerSink: (stepName, sink) => {
        if (this.#sinksOpened) {
          throw new TributaryError(
            'LATE_SUBSCRIPTION',
            `Sink step "${stepName}" subscribed after topology "${this.#services.topologyName}" started, so it could not be opened or take part in commits. ` +
              'Operators that delay or repeat subscription (subscribeOn, retry, repeat, catchError re-subscribing) are not supported inside a topology.',
          );
        }
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
      requestCheckpoint: this.#services.requestCheckpoint,
    });
    await this.#services.deadLetterSink.open?.(context('dead-letters'));
    await this.#services.lateSink.open?.(context('late'));
    for (const { stepName, sink } of this.#sinks) await sink.open?.(context(stepName));
    this.#sinksOpened = true;
  }

  /**
   * Exactly-once hand-shake: asks every sink that records positions where it stands. When every pipeline sink is
   * exactly-once, the returned positions (per partition, the minimum over the sinks) are where the source must resume.
   * A sink that is ahead of that minimum skips the replayed source records it already holds (offsets in
   * `[resume, its own position)`); records derived from restored state (a window opened before the restart) are never
   * skipped. Otherwise the source's own committed positions apply and nothing is returned.
   */
  async exactlyOncePositions(): Promise<Positions | undefined> {
    this.#exactlyOnceCheckpointId = undefined;
    if (this.#sinks.length === 0 || this.#sinks.some(({ sink }) => sink.committedPositions === undefined)) return undefined;
    const merged: Record<string, number> = {};
    const seen = new Map<string, number>();
    const held: (Positions | undefined)[] = [];
    let checkpointId = Number.POSITIVE_INFINITY;
    for (const registered of this.#sinks) {
      const committed = await registered.sink.committedPositions!();
      held.push(committed?.positions);
      checkpointId = Math.min(checkpointId, committed?.checkpointId ?? Number.NEGATIVE_INFINITY);
      for (const [partition, offset] of Object.entries(committed?.positions ?? {})) {
        merged[partition] = Math.min(merged[partition] ?? Number.POSITIVE_INFINITY, offset);
        seen.set(partition, (seen.get(partition) ?? 0) + 1);
      }
    }
    // A partition only some sinks know is resumed from the source's own position: the others may lack its records.
    for (const [partition, count] of seen) if (count < this.#sinks.length) delete merged[partition];
    this.#sinks.forEach((registered, index) => {
      const skip: Record<string, readonly [number, number]> = {};
      for (const [partition, offset] of Object.entries(held[index] ?? {})) {
        const resume = merged[partition];
        if (resume !== undefined && offset > resume) skip[partition] = [resume, offset];
      }
      registered.skip = Object.keys(skip).length > 0 ? skip : undefined;
    });
    if (Number.isFinite(checkpointId)) this.#exactlyOnceCheckpointId = checkpointId;
    return merged;
  }

  /**
   * Restores the state of `partitions` as of the checkpoint processing resumes from: the newest checkpoint whose
   * position for the partition equals the resume position and that every sink committed (or, when every sink is
   * exactly-once, that the sinks report as committed). Partitions without one start with empty state. Also moves this
   * run's checkpoint ids past every id in the log, so ids grow across restarts.
   */
  async restore(partitions: readonly string[], resumeFrom: Positions): Promise<void> {
    const store = this.#services.stateStore;
    const log = await this.#readCheckpointLog();
    const newest = log[0]?.[0];
    if (newest !== undefined && newest >= this.#nextCheckpointId) this.#nextCheckpointId = newest + 1;
    const exactlyOnceId = this.#exactlyOnceCheckpointId;
    const usable = log.filter(([id, entry]) => entry.committed === true || (exactlyOnceId !== undefined && id <= exactlyOnceId));
    for (const partition of partitions) {
      const offset = resumeFrom[partition];
      const entry = offset === undefined ? undefined : usable.find(([, e]) => e.positions[partition] === offset)?.[1];
      for (const [stepName, states] of this.#steps) {
        const scope = `${stepName}/${partition}`;
        const state = new WorkingState<unknown>();
        const snapshotId = entry?.snapshots[scope];
        if (snapshotId !== undefined && (await store.restore(scope, snapshotId))) {
          const entries: (readonly [string, unknown])[] = [];
          for await (const pair of store.scan(scope)) entries.push(pair);
          state.load(entries);
          this.#snapshotIds.set(scope, snapshotId);
        } else {
          this.#snapshotIds.delete(scope);
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
   * Takes a checkpoint at `positions`: pushes a checkpoint barrier, and once it reached the end persists step state
   * (with a log entry tying the snapshots to the positions), commits the dead-letter and late sinks, then every pipeline
   * sink, marks the log entry committed, and finally calls `commitSource`.
   *
   * With `afterCompletion` the pipeline has already completed (every output is handled), so no barrier is pushed.
   */
  async checkpoint(
    positions: Positions,
    reason: Checkpoint['reason'],
    commitSource: (positions: Positions) => Promise<void>,
    afterCompletion = false,
  ): Promise<Checkpoint> {
    const started = this.#services.clock.now();
    const checkpoint: Checkpoint = { id: this.#nextCheckpointId++, positions: { ...positions }, reason };
    // Everything pushed before the barrier has passed every step once it reaches the end, and the caller pushes
    // nothing more until this checkpoint completed: the state captured now is exactly the state at the barrier.
    if (!afterCompletion) await this.#pushBarrier(checkpoint);
    const captured = new Map<string, StateChange[]>();
    this.#captureState(captured);
    const entry = await this.#persistState(checkpoint, captured);
    await this.#services.deadLetterSink.commit(checkpoint);
    await this.#services.lateSink.commit(checkpoint);
    for (const { sink } of this.#sinks) await sink.commit(checkpoint);
    await this.#services.stateStore.put(this.#runtimeScope(), checkpointKey(checkpoint.id, this.#instance), { ...entry, committed: true });
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
    const stepName = this.#names.create(kind, name);
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

  async #persistState(checkpoint: Checkpoint, captured: Map<string, StateChange[]>): Promise<CheckpointLogEntry> {
    const store = this.#services.stateStore;
    for (const [scope, changes] of captured) {
      if (changes.length > 0) await store.apply(scope, changes);
      await store.snapshot(scope, checkpoint.id);
      this.#snapshotIds.set(scope, checkpoint.id);
    }
    const entry: CheckpointLogEntry = { positions: checkpoint.positions, snapshots: Object.fromEntries(this.#snapshotIds) };
    await store.put(this.#runtimeScope(), checkpointKey(checkpoint.id, this.#instance), entry);
    return entry;
  }

  /** Keeps this run's newest entries (and every other run's), and the snapshots any kept entry refers to. */
  async #pruneCheckpoints(completedId: number): Promise<void> {
    const store = this.#services.stateStore;
    const log = await this.#readCheckpointLog();
    const mine = log.filter(([, , instance]) => instance === this.#instance);
    for (const [id] of mine.slice(RETAINED_CHECKPOINTS)) await store.delete(this.#runtimeScope(), checkpointKey(id, this.#instance));
    const dropped = new Set(mine.slice(RETAINED_CHECKPOINTS).map(([id]) => id));
    const oldestNeeded = new Map<string, number>();
    for (const [id, entry, instance] of log) {
      if (instance === this.#instance && dropped.has(id)) continue;
      for (const [scope, snapshotId] of Object.entries(entry.snapshots)) {
        oldestNeeded.set(scope, Math.min(oldestNeeded.get(scope) ?? snapshotId, snapshotId));
      }
    }
    for (const [scope, snapshotId] of oldestNeeded) {
      if (snapshotId < completedId) await store.discardSnapshotsBefore(scope, snapshotId);
    }
  }

  /** Checkpoint log entries of every run, newest first: `[id, entry, instance]`. */
  async #readCheckpointLog(): Promise<[number, CheckpointLogEntry, string][]> {
    const entries: [number, CheckpointLogEntry, string][] = [];
    for await (const [key, value] of this.#services.stateStore.scan(this.#runtimeScope(), CHECKPOINT_KEY_PREFIX)) {
      const [id, instance] = key.slice(CHECKPOINT_KEY_PREFIX.length).split('/');
      entries.push([Number(id), value as CheckpointLogEntry, instance ?? '']);
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
