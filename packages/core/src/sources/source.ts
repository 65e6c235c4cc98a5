import type { DeadLetter } from '../record/dead-letter.js';
import type { Positions, StreamRecord } from '../record/stream-record.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';

/**
 * What the runtime hands a source when it opens it: where to start, and the rebalance hand-shake.
 */
export interface SourceContext {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Aborted when the runtime stops or crashes. */
  readonly signal: AbortSignal;
  /**
   * The source gained partitions (on open, or after a rebalance). `committed` holds the source's own committed
   * position for each of them that has one. The runtime restores their state and returns, per partition, the offset an
   * exactly-once sink recorded — the source must seek there — or nothing when the source's own committed position (or
   * its configured start position) applies.
   */
  assigned(partitions: readonly string[], committed?: Positions): Promise<Positions>;
  /**
   * The source is about to lose partitions. The runtime takes a checkpoint covering every record already polled,
   * waits for the sinks to commit it, commits the positions with {@link Source.commit}, and drops the partitions'
   * state. The source must not release the partitions before the returned promise settles.
   */
  revoked(partitions: readonly string[]): Promise<void>;
  /**
   * Records the source could not decode (a malformed line, an undeserialisable message). The runtime emits them in
   * order with the batch being polled as dead letters, and counts their positions as handled, so checkpoints cover
   * them and the partition keeps moving. Tributary's runtime and test driver always provide it; it is optional only so
   * that hand-written harnesses may leave it out (a source then fails at open rather than dropping records).
   */
  deadLetters?(letters: readonly DeadLetter[]): void;
}

/**
 * Where records enter a topology. A source is polled: the runtime asks for the next batch only when it has room, so a
 * slow sink pauses the source instead of filling memory (Kafka sources map this onto `pause()` / `resume()`).
 *
 * @example
 * ```ts
 * const job = defineTopology({ name: 'orders', source: memorySource(records), pipeline: (s) => s.pipe(toSink(memorySink())) });
 * ```
 */
export interface Source<V> {
  /** Name used in metrics and logs. */
  readonly name: string;
  /** Connects, joins groups, and reports its first partitions through `context.assigned`. */
  open(context: SourceContext): Promise<void>;
  /**
   * Up to `maxRecords` records, in offset order per partition. Resolves with an empty array when nothing arrived within
   * the source's poll interval, and with `null` when a bounded source is exhausted.
   */
  poll(maxRecords: number, signal: AbortSignal): Promise<readonly StreamRecord<V>[] | null>;
  /** Stores committed positions (offset to resume from, per partition). Called only with durable positions. */
  commit(positions: Positions): Promise<void>;
  /** Partitions the source currently holds. */
  partitions(): readonly string[];
  /** The runtime has no room: stop fetching (buffered records may still be returned by `poll`). */
  pause?(): void;
  /** Room again: fetch. */
  resume?(): void;
  /** Records not yet read per partition (Kafka: end offset - position), if the source can tell cheaply. */
  lag?(): Positions | undefined;
  /** Leaves the group and releases connections. Called after the final commit. */
  close(): Promise<void>;
}
