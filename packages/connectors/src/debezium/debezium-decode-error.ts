import { ConnectorError } from '../errors.js';
import type { ConnectorErrorContext } from '../errors.js';

/**
 * Why a Debezium record could not be decoded. Every code is stable; dead letters carry it as `error.code`.
 *
 * - `DEBEZIUM_NOT_JSON`: the value is a string or bytes that do not hold JSON (or not UTF-8).
 * - `DEBEZIUM_NO_PAYLOAD`: the value is JSON but no Debezium message: no envelope (`op`), no transaction, heartbeat or
 *   schema-change payload.
 * - `DEBEZIUM_UNKNOWN_OP`: the envelope's `op` is not one of `c`, `u`, `d`, `r`, `t`, `m`.
 * - `DEBEZIUM_INVALID_ENVELOPE`: the envelope misses what its op needs (`source`, `after` for c/u/r, ...).
 * - `DEBEZIUM_SCHEMA_MISMATCH`: the payload disagrees with its own embedded Kafka Connect schema (a decimal that is not
 *   base64, a date that is not a number, JSON text that does not parse, ...).
 * - `DEBEZIUM_UNSAFE_INTEGER`: an `int64` value beyond ±2^53 reached the decoder as a JavaScript number, so its exact
 *   value was already lost when it was parsed.
 * - `DEBEZIUM_ROW_INVALID`: a row image failed the zod row schema given to the decoder.
 * - `DEBEZIUM_KEY_MISSING`: `changesToIntents` could not compute a key for a change (a key column is missing).
 *
 * @example
 * ```ts
 * const retryable = (code: DebeziumErrorCode) => code === 'DEBEZIUM_UNSAFE_INTEGER'; // after switching to raw values
 * ```
 */
export type DebeziumErrorCode =
  | 'DEBEZIUM_NOT_JSON'
  | 'DEBEZIUM_NO_PAYLOAD'
  | 'DEBEZIUM_UNKNOWN_OP'
  | 'DEBEZIUM_INVALID_ENVELOPE'
  | 'DEBEZIUM_SCHEMA_MISMATCH'
  | 'DEBEZIUM_UNSAFE_INTEGER'
  | 'DEBEZIUM_ROW_INVALID'
  | 'DEBEZIUM_KEY_MISSING';

/** Where the failing record came from, plus the error's cause; all optional. *
 * @example
 * ```ts
 * new DebeziumDecodeError('DEBEZIUM_ROW_INVALID', 'Row failed the schema.', { topic: 'shop.public.orders', partition: 0, offset: '42' });
 * ```
 */
export interface DebeziumDecodeErrorContext extends Omit<ConnectorErrorContext, 'connector'> {
  /** For `DEBEZIUM_ROW_INVALID` and `DEBEZIUM_SCHEMA_MISMATCH`: one entry per problem, as `path: problem`. */
  issues?: readonly string[];
}

/**
 * A Debezium record that could not be decoded into a change event (or a change event that could not become an intent).
 * Never retriable: the same bytes fail the same way, so the record belongs in the dead letters.
 *
 * @example
 * ```ts
 * for (const letter of driver.deadLetters) {
 *   if (letter.error.code === 'DEBEZIUM_UNKNOWN_OP') console.warn(letter.error.message);
 * }
 * ```
 */
export class DebeziumDecodeError extends ConnectorError {
  /** Stable code, see {@link DebeziumErrorCode}. */
  declare readonly code: DebeziumErrorCode;
  /** One entry per problem, as `path: problem` (empty when the message says it all). */
  readonly issues: readonly string[];

  constructor(code: DebeziumErrorCode, message: string, context: DebeziumDecodeErrorContext = {}) {
    super(code, message, { ...context, connector: 'debezium', retriable: false });
    this.issues = context.issues ?? [];
  }
}
