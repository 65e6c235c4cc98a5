import type { TableMetadata } from '../metadata/table-metadata.js';
import { validateSchema } from '../schema/schema-utils.js';
import type { IcebergType } from '../schema/types.js';
import type { CreateTableRequest } from './catalog.js';

function maxId(type: IcebergType): number {
  if (typeof type === 'string') return 0;
  if (type.type === 'struct') return Math.max(0, ...type.fields.map((f) => Math.max(f.id, maxId(f.type))));
  if (type.type === 'list') return Math.max(type['element-id'], maxId(type.element));
  return Math.max(type['key-id'], type['value-id'], maxId(type.key), maxId(type.value));
}

/**
 * Metadata of a new, empty format-version 2 table.
 *
 * @example
 * ```ts
 * const metadata = newTableMetadata({ schema }, 'file:///warehouse/silver/orders', randomUUID(), Date.now());
 * ```
 */
export function newTableMetadata(request: CreateTableRequest, location: string, uuid: string, nowMs: number): TableMetadata {
  validateSchema(request.schema);
  const spec = request.partitionSpec ?? { 'spec-id': 0, fields: [] };
  const order = request.sortOrder ?? { 'order-id': 0, fields: [] };
  return {
    'format-version': 2,
    'table-uuid': uuid,
    location: location.replace(/\/+$/, ''),
    'last-sequence-number': 0,
    'last-updated-ms': nowMs,
    'last-column-id': maxId({ type: 'struct', fields: request.schema.fields }),
    schemas: [request.schema],
    'current-schema-id': request.schema['schema-id'],
    'partition-specs': [spec],
    'default-spec-id': spec['spec-id'],
    'last-partition-id': Math.max(999, ...spec.fields.map((f) => f['field-id'])),
    properties: { 'write.parquet.compression-codec': 'zstd', ...request.properties },
    'current-snapshot-id': null,
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    'sort-orders': [order],
    'default-sort-order-id': order['order-id'],
    refs: {},
  };
}
