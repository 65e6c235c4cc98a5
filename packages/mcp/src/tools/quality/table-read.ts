import { currentSnapshot, snapshotAsOf, snapshotById } from '@tributary/lakehouse';
import type { IcebergSchema, NestedField, Snapshot, Table } from '@tributary/lakehouse';
import type { QueryOptions } from '@tributary/sql';
import { ToolError } from '../../errors.js';
import { loadAllowed } from '../lakehouse-tools.js';
import type { LakehouseToolsContext } from '../lakehouse-tools.js';

/**
 * Which snapshot a quality tool reads, as the agent asked for it.
 *
 * @example
 * ```ts
 * const asOf: AsOfArgs = { as_of_timestamp: '2026-11-01T00:00:00Z' };
 * ```
 */
export interface AsOfArgs {
  readonly as_of_snapshot_id?: string | undefined;
  readonly as_of_timestamp?: number | string | undefined;
}

/**
 * A table pinned to one snapshot, with the schema of that snapshot.
 *
 * @example
 * ```ts
 * const { table, snapshot, schema } = await pinTable(context, 'check', 'silver.orders', {});
 * ```
 */
export interface PinnedTable {
  readonly table: Table;
  readonly snapshot: Snapshot | undefined;
  readonly schema: IcebergSchema;
  /** Pins the table for every query of one tool call, so they all read the same snapshot. */
  readonly asOf: QueryOptions['asOf'];
}

/**
 * Loads an allowlisted table and resolves the snapshot to read (current, by id or as of a time) once, so the several
 * queries of one profile or check see the same data even when a commit lands in between.
 *
 * @example
 * ```ts
 * const pinned = await pinTable(context, 'profile', 'silver.orders', { as_of_snapshot_id: '3051729675574597004' });
 * ```
 */
export async function pinTable(context: LakehouseToolsContext, tool: string, name: string, args: AsOfArgs): Promise<PinnedTable> {
  if (args.as_of_snapshot_id !== undefined && args.as_of_timestamp !== undefined) {
    throw new ToolError('INVALID_AS_OF', 'Give as_of_snapshot_id or as_of_timestamp, not both.', { tool });
  }
  const table = await loadAllowed(context, tool, name);
  const metadata = table.metadata;
  let snapshot: Snapshot | undefined;
  if (args.as_of_snapshot_id !== undefined) snapshot = snapshotById(metadata, BigInt(args.as_of_snapshot_id));
  else if (args.as_of_timestamp !== undefined) {
    const ms = typeof args.as_of_timestamp === 'number' ? args.as_of_timestamp : Date.parse(args.as_of_timestamp);
    snapshot = snapshotAsOf(metadata, ms);
  } else snapshot = currentSnapshot(metadata);
  const schemaId = snapshot?.['schema-id'] ?? metadata['current-schema-id'];
  const schema = metadata.schemas.find((s) => s['schema-id'] === schemaId) ?? table.schema;
  const asOf = snapshot === undefined ? undefined : { [name]: { snapshotId: snapshot['snapshot-id'].toString() } };
  return { table, snapshot, schema, asOf };
}

/**
 * The field named exactly `name` in `schema`, or a ToolError naming the columns there are.
 *
 * @example
 * ```ts
 * const field = fieldOf(pinned.schema, 'customer', 'check', 'silver.orders');
 * ```
 */
export function fieldOf(schema: IcebergSchema, name: string, tool: string, tableName: string): NestedField {
  const field = schema.fields.find((f) => f.name === name);
  if (field !== undefined) return field;
  const names = schema.fields.map((f) => f.name);
  const shown = names.slice(0, 50).map((n) => JSON.stringify(n)).join(', ');
  throw new ToolError(
    'UNKNOWN_COLUMN',
    `Column ${JSON.stringify(name.slice(0, 200))} is not in ${tableName}. Columns: ${shown}${names.length > 50 ? `, and ${names.length - 50} more` : ''}.`,
    { tool },
  );
}

/**
 * `table@snapshot` for summaries.
 *
 * @example
 * ```ts
 * describeRead(pinned); // 'silver.orders@3051729675574597004'
 * ```
 */
export function describeRead(pinned: PinnedTable): string {
  return `${pinned.table.name}@${pinned.snapshot?.['snapshot-id'].toString() ?? 'empty'}`;
}
