import type { Sink, StreamRecord } from '@tributary/core';
import type { Catalog, CreateTableRequest } from '../catalog/catalog.js';
import type { Row } from '../schema/types.js';
import { icebergSink } from '../sink/iceberg-sink.js';
import type { IcebergSinkOptions, RowChange } from '../sink/iceberg-sink.js';

/**
 * A change event in the shape Debezium emits (after decoding): operation, row before, row after.
 *
 * @example
 * ```ts
 * const change: CdcChange<Order> = { op: 'u', before: oldOrder, after: newOrder };
 * ```
 */
export interface CdcChange<R> {
  /** `c` create, `u` update, `r` snapshot read, `d` delete (`t` truncate is not a row change). */
  readonly op: 'c' | 'u' | 'r' | 'd';
  readonly before: R | null;
  readonly after: R | null;
}

/**
 * The row change a CDC event asks of a table keyed like its source: creates, updates and snapshot reads upsert the
 * `after` row; deletes delete by the `before` row's key.
 *
 * @example
 * ```ts
 * cdcRowChange({ op: 'd', before: { id: 7 }, after: null }); // { op: 'delete', row: { id: 7 } }
 * ```
 */
export function cdcRowChange<R extends Row>(change: CdcChange<R>, project: (row: R) => Row = (row) => row): RowChange {
  if (change.op === 'd') {
    if (change.before === null) throw new TypeError('a delete event needs `before` (enable REPLICA IDENTITY or full before images)');
    return { op: 'delete', row: project(change.before) };
  }
  if (change.after === null) throw new TypeError(`a "${change.op}" event needs \`after\``);
  return { op: 'upsert', row: project(change.after) };
}

/**
 * Options of {@link silverSink}.
 *
 * @example
 * ```ts
 * const options: SilverSinkOptions<OrderChange, Order> = { catalog, table: 'silver.orders', create: { schema } };
 * ```
 */
export interface SilverSinkOptions<V extends CdcChange<R>, R extends Row>
  extends Omit<IcebergSinkOptions<V>, 'mode' | 'toChange' | 'catalog' | 'table' | 'create'> {
  readonly catalog: Catalog;
  /** `namespace.table`. Its schema needs identifier fields (the primary key). */
  readonly table: string;
  /** Create the table when missing. */
  readonly create?: CreateTableRequest | undefined;
  /** Maps a source row to the table row (rename, drop, convert columns). Default: as is. */
  readonly project?: ((row: R) => Row) | undefined;
}

/**
 * Silver: applies CDC events to an Iceberg table by primary key — inserts and updates upsert, deletes delete — so
 * the table equals the source table. Validate, mask and dedupe upstream (the `validate`, `mask` and `dedupe`
 * operators); events that do not fit the table's schema go to the dead letters with their source position.
 *
 * @example
 * ```ts
 * changes.pipe(validate(OrderChange), dedupe({ key: (e) => String(e.source.lsn), within: { ttlMs: 600_000 } }),
 *   toSink(silverSink({ catalog, table: 'silver.orders', create: { schema } })));
 * ```
 */
export function silverSink<V extends CdcChange<R>, R extends Row>(options: SilverSinkOptions<V, R>): Sink<V> {
  const { project, ...rest } = options;
  return icebergSink<V>({
    ...rest,
    mode: 'upsert',
    toChange: (record: StreamRecord<V>) => cdcRowChange(record.value, project),
  });
}
