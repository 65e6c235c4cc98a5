import type { StreamRecord } from './stream-record.js';

/** Serializable description of the error that sent a record to the dead letters. */
export interface DeadLetterError {
  /** Error class name, e.g. `ValidationError`. */
  readonly name: string;
  /** Stable code when the error is a `TributaryError`, otherwise `UNKNOWN`. */
  readonly code: string;
  /** Human-readable message. */
  readonly message: string;
}

/**
 * A record that a step could not process, with why and where. Dead letters keep the record's source position so it
 * can be found, replayed or audited; they pass through `mask` steps downstream of the failing step like any record.
 *
 * @example
 * ```ts
 * for (const letter of driver.deadLetters) {
 *   console.log(`${letter.stage} rejected ${letter.record.position.partition}@${letter.record.position.offset}: ${letter.error.message}`);
 * }
 * ```
 */
export interface DeadLetter {
  /** Name of the step that failed. */
  readonly stage: string;
  /** What went wrong. */
  readonly error: DeadLetterError;
  /** The record as it entered the failing step (its position is the source position). */
  readonly record: StreamRecord<unknown>;
  /** Processing time of the failure, ms since the epoch. */
  readonly failedAt: number;
}

/**
 * A record that arrived after its window closed and its allowed lateness passed. Never dropped silently: late records
 * reach the late-data output.
 */
export interface LateRecord {
  /** Name of the step that judged the record late. */
  readonly stage: string;
  /** The late record. */
  readonly record: StreamRecord<unknown>;
  /** The watermark when the record arrived. */
  readonly watermark: number;
}
