import { TributaryError } from '@tributary/core';
import type { TributaryErrorOptions } from '@tributary/core';

/** What an SQL error concerns. */
export interface SqlErrorContext extends TributaryErrorOptions {
  /** The statement, truncated, when relevant. */
  sql?: string;
  /** Table involved, when known. */
  table?: string;
}

/**
 * Error of the SQL layer: a refused statement, an unknown table, a timeout, a row cap.
 *
 * @example
 * ```ts
 * throw new SqlError('SQL_REFUSED', 'Only a single read-only SELECT is allowed; found COPY.', { sql });
 * ```
 */
export class SqlError extends TributaryError {
  /** The statement (truncated), when relevant. */
  readonly sql: string | undefined;
  /** Table involved, when known. */
  readonly table: string | undefined;

  constructor(code: string, message: string, context: SqlErrorContext = {}) {
    super(code, message, context);
    this.sql = context.sql;
    this.table = context.table;
  }
}
