import { TributaryError } from '@tributary/core';
import type { TributaryErrorOptions } from '@tributary/core';

/** Which table, file and snapshot an error concerns: any subset may be known. */
export interface LakehouseErrorContext extends TributaryErrorOptions {
  /** Table identifier, e.g. `silver.orders`. */
  table?: string;
  /** Data, manifest or metadata file location involved. */
  file?: string;
  /** Snapshot id involved, as a decimal string (Java writers use ids beyond 2^53). */
  snapshotId?: string;
}

/**
 * Error raised while reading or writing an Iceberg table; names the table and file so the operator can act.
 *
 * @example
 * ```ts
 * throw new LakehouseError('CORRUPT_METADATA', 'Metadata file is not valid JSON; the table stays at its last good version.', {
 *   table: 'silver.orders',
 *   file: 'file:///lake/silver/orders/metadata/v7.metadata.json',
 * });
 * ```
 */
export class LakehouseError extends TributaryError {
  /** Table involved, when known. */
  readonly table: string | undefined;
  /** File involved, when known. */
  readonly file: string | undefined;
  /** Snapshot involved, when known. */
  readonly snapshotId: string | undefined;

  constructor(code: string, message: string, context: LakehouseErrorContext = {}) {
    super(code, message, context);
    this.table = context.table;
    this.file = context.file;
    this.snapshotId = context.snapshotId;
  }
}
