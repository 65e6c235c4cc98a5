import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

/** What a step does with a record it cannot process. */
export type ErrorPolicy = 'dlq' | 'skip' | 'fail';

/**
 * Synchronous working state of one step for one source partition. The runtime loads it when the partition is assigned,
 * persists the changes to the topology's {@link StateStore} at every checkpoint, and restores it after a restart.
 * Values must be JSON-compatible. Object values returned by `get` may be updated in place: the runtime persists every
 * object read or written since the last checkpoint.
 */
export interface KeyedState<T> {
  get(key: string): T | undefined;
  set(key: string, value: T): void;
  delete(key: string): void;
  has(key: string): boolean;
  /** Entries in insertion order. */
  entries(): IterableIterator<[string, T]>;
  readonly size: number;
}

/** Per-step counters the runtime exposes as metrics. */
export interface StepMetrics {
  recordsIn(count: number): void;
  recordsOut(count: number): void;
  deadLetters(count: number): void;
  late(count: number): void;
}

/**
 * Everything a step may use from the runtime that runs it. Obtained once per subscription; see
 * {@link defineOperator}.
 */
export interface StepContext {
  /** The step's name: the `name` option, or `<kind>-<n>` numbered in pipeline order. */
  readonly stepName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: StepMetrics;
  /** The step's working state for `partition` (created empty on first use). */
  state<T>(partition: string): KeyedState<T>;
  /** The partitions whose state this step currently holds. */
  statePartitions(): readonly string[];
  /** Builds a dead letter for `record` failing in this step with `error`. */
  deadLetter(record: StreamRecord<unknown>, error: unknown): DeadLetter;
  /** Builds a late-record entry for `record` judged late at `watermark`. */
  lateRecord(record: StreamRecord<unknown>, watermark: number): LateRecord;
}
