/**
 * Where a record came from: an opaque source partition id and the offset of the record within it.
 *
 * For Kafka the partition is `"<topic>:<partition>"` and the offset is the Kafka offset; for a PostgreSQL slot it is
 * the slot name and the LSN. Offsets are JavaScript numbers: exact up to 2^53, which is 285 years of a partition
 * written at a million records a second.
 */
export interface SourcePosition {
  /** Opaque id of the source partition, e.g. `orders:3`. Positions are tracked and committed per partition. */
  readonly partition: string;
  /** Offset of this record within its partition. Committing `offset + 1` means "resume after this record". */
  readonly offset: number;
}

/** String headers carried with a record (Kafka headers decoded as UTF-8). */
export type RecordHeaders = Readonly<Record<string, string>>;

/**
 * One record flowing through a topology.
 *
 * `V` is the value type; every Tributary operator infers the value type of its output from its input.
 *
 * @example
 * ```ts
 * const order: StreamRecord<{ id: string; amount: number }> = {
 *   key: 'order-1',
 *   value: { id: 'order-1', amount: 12.5 },
 *   eventTime: Date.parse('2026-01-01T10:00:00Z'),
 *   position: { partition: 'orders:0', offset: 41 },
 *   headers: {},
 * };
 * ```
 */
export interface StreamRecord<V> {
  /** Record key (Kafka key as a string; Debezium keys as canonical JSON), or `null` when the record has none. */
  readonly key: string | null;
  /** The payload. */
  readonly value: V;
  /** Event time in milliseconds since the Unix epoch: when the event happened, not when it was read. */
  readonly eventTime: number;
  /** Where the record came from; used for commits, dead letters and exactly-once resumption. */
  readonly position: SourcePosition;
  /** Record headers. */
  readonly headers: RecordHeaders;
}

/**
 * Committable progress: for each source partition, the offset to resume from (the last processed offset + 1).
 *
 * @example
 * ```ts
 * const resumeAt: Positions = { 'orders:0': 1042, 'orders:1': 977 };
 * ```
 */
export type Positions = Readonly<Record<string, number>>;
