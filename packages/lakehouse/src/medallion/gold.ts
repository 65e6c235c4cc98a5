import type { Sink, StreamRecord, WindowResult } from '@tributary/core';
import type { Catalog } from '../catalog/catalog.js';
import type { IcebergSchema, PrimitiveType, Row } from '../schema/types.js';
import { buildPartitionSpec } from '../spec/partition-spec.js';
import { icebergSink } from '../sink/iceberg-sink.js';
import type { IcebergSinkOptions, RowChange } from '../sink/iceberg-sink.js';

/**
 * Schema of a gold table of windowed aggregates: the group key, the window bounds, the revision, then one column per
 * aggregate. The primary key is (key, window_start), so a re-emitted window replaces its earlier row.
 *
 * @example
 * ```ts
 * const schema = goldSchema('merchant_id', { orders: 'long', revenue: 'double' });
 * ```
 */
export function goldSchema(keyColumn: string, aggregates: Readonly<Record<string, PrimitiveType>>): IcebergSchema {
  const base = [
    { id: 1, name: keyColumn, required: true, type: 'string' as const },
    { id: 2, name: 'window_start', required: true, type: 'timestamptz' as const },
    { id: 3, name: 'window_end', required: true, type: 'timestamptz' as const },
    { id: 4, name: 'revision', required: true, type: 'int' as const },
  ];
  const values = Object.entries(aggregates).map(([name, type], i) => ({ id: 5 + i, name, required: false, type }));
  return { type: 'struct', 'schema-id': 0, 'identifier-field-ids': [1, 2], fields: [...base, ...values] };
}

/**
 * The row changes of a window result: upsert its row, and delete the rows of sessions it supersedes.
 *
 * @example
 * ```ts
 * const changes = goldRowChanges(result, 'merchant_id');
 * ```
 */
export function goldRowChanges<A extends object>(result: WindowResult<A>, keyColumn: string): RowChange[] {
  const row: Row = {
    [keyColumn]: result.key,
    window_start: new Date(result.start),
    window_end: new Date(result.end),
    revision: result.revision,
    ...(result.values as Row),
  };
  const changes: RowChange[] = (result.supersedes ?? []).map((bounds) => ({
    op: 'delete' as const,
    row: { [keyColumn]: result.key, window_start: new Date(bounds.start) },
  }));
  changes.push({ op: 'upsert', row });
  return changes;
}

/**
 * Options of {@link goldSink}.
 *
 * @example
 * ```ts
 * const options: GoldSinkOptions = { catalog, table: 'gold.merchant_minutes', keyColumn: 'merchant_id', aggregates: { orders: 'long' } };
 * ```
 */
export interface GoldSinkOptions extends Omit<IcebergSinkOptions<unknown>, 'mode' | 'toChange' | 'catalog' | 'table' | 'create'> {
  readonly catalog: Catalog;
  /** `namespace.table`; created with {@link goldSchema} (partitioned by day of window start) when missing. */
  readonly table: string;
  /** Column holding the window's group key. */
  readonly keyColumn: string;
  /** Aggregate columns and their Iceberg types, named as in the window's `aggregate` option. */
  readonly aggregates: Readonly<Record<string, PrimitiveType>>;
}

/**
 * Gold: windowed aggregates (the `window` operator's results) upserted into an Iceberg table by (key, window start),
 * so late updates replace the earlier revision instead of adding a second row.
 *
 * @example
 * ```ts
 * orders.pipe(window({ key: (o) => o.merchant_id, window: tumbling(60_000), aggregate: { orders: count() } }),
 *   toSink(goldSink({ catalog, table: 'gold.merchant_minutes', keyColumn: 'merchant_id', aggregates: { orders: 'long' } })));
 * ```
 */
export function goldSink<A extends object>(options: GoldSinkOptions): Sink<WindowResult<A>> {
  const { keyColumn, aggregates, ...rest } = options;
  const schema = goldSchema(keyColumn, aggregates);
  return icebergSink<WindowResult<A>>({
    ...rest,
    mode: 'upsert',
    create: { schema, partitionSpec: buildPartitionSpec(schema, [{ column: 'window_start', transform: 'day' }]) },
    toChange: (record: StreamRecord<WindowResult<A>>) => goldRowChanges(record.value, keyColumn),
  });
}
