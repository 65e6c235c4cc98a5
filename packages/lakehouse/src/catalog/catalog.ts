import { LakehouseError } from '../errors.js';
import type { LakehouseErrorContext } from '../errors.js';
import type { TableMetadata } from '../metadata/table-metadata.js';
import type { TableRequirement, TableUpdate } from '../metadata/table-update.js';
import type { IcebergSchema } from '../schema/types.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import type { SortOrder } from '../spec/sort-order.js';
import type { FileIO } from './file-io.js';

/**
 * A table's name: its namespace path and its name.
 *
 * @example
 * ```ts
 * const id: TableIdentifier = { namespace: ['silver'], name: 'orders' };
 * ```
 */
export interface TableIdentifier {
  readonly namespace: readonly string[];
  readonly name: string;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

/**
 * Parses `"silver.orders"` (or accepts an identifier object) into a {@link TableIdentifier}. Segments are letters,
 * digits, `_` and `-`, so a name can never escape the warehouse as a path.
 *
 * @example
 * ```ts
 * tableIdentifier('lake.silver.orders'); // { namespace: ['lake', 'silver'], name: 'orders' }
 * ```
 */
export function tableIdentifier(input: string | TableIdentifier): TableIdentifier {
  const parts = typeof input === 'string' ? input.split('.') : [...input.namespace, input.name];
  const bad = parts.find((part) => !SEGMENT.test(part));
  if (parts.length < 2 || bad !== undefined) {
    throw new LakehouseError(
      'INVALID_TABLE_NAME',
      `Table name ${JSON.stringify(typeof input === 'string' ? input : formatIdentifier(input))} is invalid: use ` +
        '"namespace.table" with segments of letters, digits, "_" and "-".',
    );
  }
  return { namespace: parts.slice(0, -1), name: parts.at(-1)! };
}

/**
 * `namespace.table` for messages and logs.
 *
 * @example
 * ```ts
 * formatIdentifier({ namespace: ['silver'], name: 'orders' }); // 'silver.orders'
 * ```
 */
export function formatIdentifier(id: TableIdentifier): string {
  return [...id.namespace, id.name].join('.');
}

/**
 * A table as a catalog hands it out: its current metadata, where that metadata lives, and the IO for its files.
 *
 * @example
 * ```ts
 * const { metadata, metadataLocation } = await catalog.loadTable(tableIdentifier('silver.orders'));
 * ```
 */
export interface LoadedTable {
  readonly identifier: TableIdentifier;
  readonly metadata: TableMetadata;
  readonly metadataLocation: string;
  readonly io: FileIO;
}

/**
 * What a new table is made of. Partition spec and sort order default to unpartitioned and unsorted.
 *
 * @example
 * ```ts
 * await catalog.createTable(tableIdentifier('silver.orders'), { schema, properties: { 'write.parquet.compression-codec': 'zstd' } });
 * ```
 */
export interface CreateTableRequest {
  readonly schema: IcebergSchema;
  readonly partitionSpec?: PartitionSpec | undefined;
  readonly sortOrder?: SortOrder | undefined;
  readonly properties?: Readonly<Record<string, string>> | undefined;
  /** Table location URI; default: chosen by the catalog under its warehouse. */
  readonly location?: string | undefined;
}

/**
 * Where tables are registered and how their commits are arbitrated. Implementations: `storageCatalog` (metadata files
 * on local disk or S3, commit = create the next metadata file only if absent) and `restCatalog` (an Iceberg REST
 * catalog server). Both apply commits as requirements + updates, so concurrent writers are detected the same way.
 *
 * @example
 * ```ts
 * const loaded = await catalog.loadTable(tableIdentifier('silver.orders'));
 * await catalog.commitTable(loaded.identifier, [{ type: 'assert-table-uuid', uuid: loaded.metadata['table-uuid'] }], [
 *   { action: 'set-properties', updates: { owner: 'data-eng' } },
 * ]);
 * ```
 */
export interface Catalog {
  /** Name used in logs and errors. */
  readonly name: string;
  /** Creates a namespace; creating one that exists is not an error. */
  createNamespace(namespace: readonly string[], properties?: Readonly<Record<string, string>>): Promise<void>;
  /** Namespaces (all levels) that hold tables or were created. */
  listNamespaces(): Promise<string[][]>;
  /** Tables of a namespace. */
  listTables(namespace: readonly string[]): Promise<TableIdentifier[]>;
  /** Whether the table exists. */
  tableExists(id: TableIdentifier): Promise<boolean>;
  /** Creates the table (and its namespace); fails with `TABLE_EXISTS` when it exists. */
  createTable(id: TableIdentifier, request: CreateTableRequest): Promise<LoadedTable>;
  /** Loads the current metadata; fails with `TABLE_NOT_FOUND` or `CORRUPT_METADATA` (naming the file). */
  loadTable(id: TableIdentifier): Promise<LoadedTable>;
  /**
   * Applies `updates` if the current metadata meets `requirements`, atomically. Fails with {@link CommitConflictError}
   * (retriable: reload, rebase, retry) when another writer got there first, and {@link CommitStateUnknownError} when
   * the outcome cannot be known (then the caller must not delete the files the commit references).
   */
  commitTable(id: TableIdentifier, requirements: readonly TableRequirement[], updates: readonly TableUpdate[]): Promise<LoadedTable>;
  /** Removes the table from the catalog; with `purge`, also deletes its files. */
  dropTable(id: TableIdentifier, options?: { readonly purge?: boolean }): Promise<void>;
}

/**
 * Another writer committed first: the base metadata is stale. Retriable: reload, rebase the change, commit again.
 *
 * @example
 * ```ts
 * if (error instanceof CommitConflictError) await retryOnNewBase();
 * ```
 */
export class CommitConflictError extends LakehouseError {
  constructor(message: string, context: LakehouseErrorContext = {}) {
    super('COMMIT_CONFLICT', message, { retriable: true, ...context });
  }
}

/**
 * The commit may or may not have been applied (a timeout, a lost response, a 5xx). Files the commit references must
 * not be deleted; reload the table and check whether the snapshot is there.
 *
 * @example
 * ```ts
 * if (error instanceof CommitStateUnknownError) logger.error('commit outcome unknown; keeping files', { table: error.table });
 * ```
 */
export class CommitStateUnknownError extends LakehouseError {
  constructor(message: string, context: LakehouseErrorContext = {}) {
    super('COMMIT_STATE_UNKNOWN', message, { retriable: false, ...context });
  }
}
