import type { DeadLetter, LateRecord } from './dead-letter.js';
import type { Positions, StreamRecord } from './stream-record.js';

/** A batch of records. Records move through a topology in batches so the per-record cost stays close to a plain loop. */
export interface DataChunk<V> {
  readonly kind: 'data';
  readonly records: readonly StreamRecord<V>[];
}

/**
 * The watermark that ends event time: a bounded input that is exhausted sends it, so every window closes. It is
 * `Number.MAX_SAFE_INTEGER` rather than `Infinity` so that state which records a watermark stays JSON.
 */
export const END_OF_TIME = Number.MAX_SAFE_INTEGER;

/** The event-time watermark advanced: no record with an earlier event time is expected any more (except late ones). */
export interface WatermarkChunk {
  readonly kind: 'watermark';
  /** Watermark in ms since the epoch. */
  readonly time: number;
}

/**
 * A progress barrier injected by the runtime after a source batch. When it reaches the end of the topology every
 * record before it has been handed to its sinks. A barrier that carries `checkpoint` additionally asks stateful steps
 * to snapshot and sinks to commit durably; after every sink has done so the runtime commits `checkpoint.positions`.
 */
export interface BarrierChunk {
  readonly kind: 'barrier';
  /** Monotonic barrier id. */
  readonly id: number;
  /** Present when this barrier is a checkpoint. */
  readonly checkpoint: Checkpoint | undefined;
}

/** Records that failed a step, travelling in order with the data so checkpoints cover them too. */
export interface DeadLetterChunk {
  readonly kind: 'dead-letter';
  readonly letters: readonly DeadLetter[];
}

/** Records that arrived too late for their window. */
export interface LateChunk {
  readonly kind: 'late';
  readonly records: readonly LateRecord[];
}

/** What a checkpoint barrier carries: the positions that become committable once every sink committed. */
export interface Checkpoint {
  /** Monotonic checkpoint id. */
  readonly id: number;
  /** Per source partition, the offset to resume from. */
  readonly positions: Positions;
  /** Why the checkpoint was taken. */
  readonly reason: 'interval' | 'stop' | 'revoke' | 'end-of-input' | 'request';
}

/** Anything that is not data: passes through every operator untouched (except `mask`, which masks dead letters). */
export type ControlChunk = WatermarkChunk | BarrierChunk | DeadLetterChunk | LateChunk;

/**
 * The unit that flows through a Tributary RxJS pipeline: a batch of records of type `V`, or a control chunk.
 *
 * Tributary operators are `OperatorFunction<Chunk<In>, Chunk<Out>>` (see {@link Operator}).
 */
export type Chunk<V> = DataChunk<V> | ControlChunk;
