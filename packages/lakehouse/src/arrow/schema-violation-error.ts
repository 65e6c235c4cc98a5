import { LakehouseError } from '../errors.js';
import type { LakehouseErrorContext } from '../errors.js';

/** Where in a batch of rows a value broke the table schema. */
export interface SchemaViolationContext extends LakehouseErrorContext {
  /** Dotted path of the column (`address.city`, `tags.element`, `attributes.key`). */
  column: string;
  /** Iceberg field id of the column. */
  fieldId: number;
  /** Index of the offending row in the batch handed to the writer. */
  rowIndex: number;
}

/**
 * A row value does not fit the table schema: a null in a required column, a value of the wrong JavaScript type, an
 * integer out of range, a decimal with too many digits, an unparsable date, time, timestamp or UUID. Code
 * `SCHEMA_VIOLATION`. The batch is rejected whole and nothing is written; `rowIndex` lets a sink send that row to
 * dead letters and retry the rest.
 *
 * @example
 * ```ts
 * try {
 *   rowsToArrow(schema, rows);
 * } catch (error) {
 *   if (error instanceof SchemaViolationError) deadLetter(rows[error.rowIndex], error);
 *   else throw error;
 * }
 * ```
 */
export class SchemaViolationError extends LakehouseError {
  /** Dotted path of the column. */
  readonly column: string;
  /** Iceberg field id of the column. */
  readonly fieldId: number;
  /** Index of the offending row in the batch. */
  readonly rowIndex: number;

  constructor(message: string, context: SchemaViolationContext) {
    super('SCHEMA_VIOLATION', message, context);
    this.column = context.column;
    this.fieldId = context.fieldId;
    this.rowIndex = context.rowIndex;
  }
}
