import { createHash } from 'node:crypto';
import type { Sink, StreamRecord } from '@tributary/core';
import type { Catalog } from '../catalog/catalog.js';
import type { IcebergSchema, Row } from '../schema/types.js';
import { buildPartitionSpec } from '../spec/partition-spec.js';
import { icebergSink } from '../sink/iceberg-sink.js';
import type { IcebergSinkOptions } from '../sink/iceberg-sink.js';

/**
 * The bronze layer's fixed schema: the raw payload exactly as received, when it was ingested, where it came from,
 * and a hash of the payload (for audits and downstream deduplication). Partitioned by day of ingestion.
 *
 * @example
 * ```ts
 * const columns = BRONZE_SCHEMA.fields.map((f) => f.name);
 * ```
 */
export const BRONZE_SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'ingested_at', required: true, type: 'timestamptz', doc: 'When Tributary received the record' },
    { id: 2, name: 'source_partition', required: true, type: 'string', doc: 'Source partition, e.g. orders:3' },
    { id: 3, name: 'source_offset', required: true, type: 'long', doc: 'Offset of the record in its source partition' },
    { id: 4, name: 'record_key', required: false, type: 'string' },
    { id: 5, name: 'event_time', required: false, type: 'timestamptz' },
    { id: 6, name: 'payload', required: true, type: 'string', doc: 'The value as received, serialized as JSON' },
    { id: 7, name: 'record_hash', required: true, type: 'string', doc: 'SHA-256 (hex) of payload' },
    { id: 8, name: 'headers', required: false, type: 'string', doc: 'Record headers as a JSON object' },
  ],
};

/**
 * The bronze row of a record: raw payload, ingestion time, source position, record hash.
 *
 * @example
 * ```ts
 * const row = bronzeRow(record, Date.now());
 * ```
 */
export function bronzeRow(record: StreamRecord<unknown>, ingestedAtMs: number, serialize: (value: unknown) => string = JSON.stringify): Row {
  const payload = typeof record.value === 'string' ? record.value : (serialize(record.value) ?? 'null');
  return {
    ingested_at: new Date(ingestedAtMs),
    source_partition: record.position.partition,
    source_offset: record.position.offset,
    record_key: record.key,
    event_time: Number.isFinite(record.eventTime) ? new Date(record.eventTime) : null,
    payload,
    record_hash: createHash('sha256').update(payload).digest('hex'),
    headers: Object.keys(record.headers).length === 0 ? null : JSON.stringify(record.headers),
  };
}

/**
 * Options of {@link bronzeSink}: where the bronze table is, plus the commit options of `icebergSink`.
 *
 * @example
 * ```ts
 * const options: BronzeSinkOptions = { catalog, table: 'bronze.orders_raw' };
 * ```
 */
export interface BronzeSinkOptions
  extends Omit<IcebergSinkOptions<unknown>, 'mode' | 'toChange' | 'create' | 'catalog' | 'table'> {
  /** Catalog of the bronze table. */
  readonly catalog: Catalog;
  /** `namespace.table`; created with {@link BRONZE_SCHEMA} (partitioned by day of ingestion) when missing. */
  readonly table: string;
  /** How a non-string value becomes the payload. Default `JSON.stringify`. */
  readonly serialize?: ((value: unknown) => string) | undefined;
}

/**
 * Bronze: an append-only Iceberg sink that keeps every record as received (payload, ingestion time, source position,
 * record hash), exactly once. Put it first, before any validation, so nothing is ever lost.
 *
 * @example
 * ```ts
 * pipeline: (raw) => raw.pipe(branch({ bronze: (s) => s.pipe(toSink(bronzeSink({ catalog, table: 'bronze.orders' }))), ... }))
 * ```
 */
export function bronzeSink<V>(options: BronzeSinkOptions): Sink<V> {
  const { serialize, ...rest } = options;
  return icebergSink<V>({
    ...rest,
    mode: 'append',
    create: { schema: BRONZE_SCHEMA, partitionSpec: buildPartitionSpec(BRONZE_SCHEMA, [{ column: 'ingested_at', transform: 'day' }]) },
    toChange: (record) => ({ op: 'append', row: bronzeRow(record, Date.now(), serialize) }),
  });
}
