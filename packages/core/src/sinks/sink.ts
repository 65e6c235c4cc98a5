import type { Checkpoint } from '../record/chunk.js';
import type { Positions, StreamRecord } from '../record/stream-record.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';

/** What a sink receives when the runtime opens it. */
export interface SinkContext {
  /** The name of the sink step. */
  readonly stepName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Aborted when the runtime stops or crashes; long writes should give up. */
  readonly signal: AbortSignal;
  /**
   * Asks the runtime for a checkpoint as soon as possible (a sink whose buffer reached its size or row limit calls
   * it, so the buffer is committed without waiting for the checkpoint interval). Requests while one is pending are
   * merged. Absent in contexts that do not take checkpoints on their own (the test driver checkpoints on demand).
   */
  readonly requestCheckpoint?: (() => void) | undefined;
}

/**
 * Where records leave a topology. One batching contract for every sink (memory, Kafka, Redis, Iceberg):
 *
 * 1. `write` receives batches in order. It may buffer. The promise it returns is the backpressure signal: the runtime
 *    does not count the batch as handled until it settles.
 * 2. `commit` makes everything written so far durable. It is called at each checkpoint; the runtime commits the source
 *    positions of that checkpoint only after every sink's `commit` resolved (at-least-once).
 * 3. A sink that stores `checkpoint.positions` atomically with its data (an Iceberg snapshot summary, a Redis
 *    MULTI/EXEC with an offsets hash) also implements `committedPositions`. The runtime asks it where to resume and
 *    skips records it already holds, which makes replays idempotent (exactly-once).
 *
 * @example
 * ```ts
 * const consoleSink: Sink<Order> = {
 *   name: 'console',
 *   write(records) { for (const r of records) console.log(r.value); },
 *   async commit() {},
 * };
 * ```
 */
export interface Sink<V> {
  /** Name used in metrics and logs. */
  readonly name: string;
  /** Called once before the first write. */
  open?(context: SinkContext): Promise<void> | void;
  /**
   * Receives the next batch, in order. Records the sink cannot take at all (a value that violates the target's
   * schema) are returned as `rejected`: they go to the dead-letter output with their error and source position,
   * and the rest of the batch proceeds, so one bad record never stalls the partition.
   */
  write(records: readonly StreamRecord<V>[]): Promise<SinkWriteResult | void> | SinkWriteResult | void;
  /** Durably commits everything written so far, recording `checkpoint.positions` if the sink is exactly-once. */
  commit(checkpoint: Checkpoint): Promise<void> | void;
  /**
   * Exactly-once sinks only: the positions (and the checkpoint id) stored with the last durable commit, or `undefined`
   * when the sink holds nothing yet.
   */
  committedPositions?(): Promise<CommittedPositions | undefined>;
  /** Drops what was written but not committed; called when the runtime crashes or aborts. */
  abort?(): Promise<void> | void;
  /** Releases resources after the final commit. */
  close?(): Promise<void> | void;
}

/**
 * What {@link Sink.write} may return: the records of the batch it refused, each with the reason.
 *
 * @example
 * ```ts
 * write(records) {
 *   const rejected = records.filter((r) => !valid(r.value)).map((record) => ({ record, error: new Error('invalid') }));
 *   buffer.push(...records.filter((r) => valid(r.value)));
 *   return { rejected };
 * }
 * ```
 */
export interface SinkWriteResult {
  /** Refused records (taken from the batch given to `write`), each with its error. */
  readonly rejected: readonly { readonly record: StreamRecord<unknown>; readonly error: unknown }[];
}

/** What an exactly-once sink recorded with its last commit. */
export interface CommittedPositions {
  readonly checkpointId: number;
  readonly positions: Positions;
}
