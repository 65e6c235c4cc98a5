/**
 * docs/guides/postgres-to-iceberg.md — the topology, the catalogs and running it.
 *
 * Kafka (Debezium's JSON, as raw bytes) -> decodeDebezium -> changesToIntents -> RowChange -> icebergSink in upsert
 * mode, on a storage catalog over S3. The same pipeline as the CDC integration test
 * (packages/lakehouse/test/integration/cdc-vertical-slice.test.ts), with the table of postgres-to-iceberg-table.ts.
 */
import { createRuntime, defineTopology, map, toSink } from '@tributary/core';
import type { Runtime, Source } from '@tributary/core';
import { changesToIntents, decodeDebezium } from '@tributary/connectors/debezium';
import type { ChangeIntent, DebeziumRow } from '@tributary/connectors/debezium';
import { kafkaDeadLetterSink, kafkaSource } from '@tributary/connectors/kafka';
import { localObjectStore, s3ObjectStore } from '@tributary/connectors/s3';
import { icebergSink, restCatalog, storageCatalog } from '@tributary/lakehouse';
import type { Catalog, Row, RowChange } from '@tributary/lakehouse';
import { ordersTopic } from './postgres-to-iceberg-connector.ts';
import { OrderRow, ordersTable } from './postgres-to-iceberg-table.ts';

// ---- Catalogs: where the table's files and metadata live.

/** Production: metadata and data files in S3, commits by conditional create (If-None-Match: *). */
export const s3Catalog: Catalog = storageCatalog({
  name: 'lake',
  store: s3ObjectStore({ bucket: 'acme-lake', prefix: 'warehouse', region: 'eu-west-1' }), // credentials: the AWS SDK chain
});

/** Development: the same layout on local disk, readable by pyiceberg and DuckDB. */
export const localCatalog: Catalog = storageCatalog({ store: localObjectStore({ root: './warehouse' }) });

/** With an Iceberg REST catalog: the server arbitrates commits; Tributary writes the data and manifest files itself. */
export const restCatalogOnS3: Catalog = restCatalog({
  uri: 'https://catalog.internal/api/catalog',
  warehouse: 'lake',
  token: process.env.CATALOG_TOKEN,
  io: s3ObjectStore({ bucket: 'acme-lake', region: 'eu-west-1' }),
});

// ---- From a change intent to what the table must do.

/** `{"id":9007199254740993}` -> `{ id: 9007199254740993n }`: integers beyond 2^53 stay exact (JSON.parse source text). */
export function parseKey(key: string): Row {
  return JSON.parse(key, (_name, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source)
      ? BigInt(context.source)
      : value,
  ) as Row;
}

/** The Iceberg columns of a Debezium row image: the decoder's values are already what the table writer takes. */
function orderRow(image: DebeziumRow): Row {
  const { id, customer_id, status, amount, created_at, updated_at } = image;
  return { id, customer_id, status, amount, created_at, updated_at };
}

export function toRowChange(intent: ChangeIntent): RowChange {
  if (intent.kind === 'upsert') {
    // An upsert replaces the whole row: a column PostgreSQL did not send (an unchanged TOASTed value) would become null.
    if (intent.unavailable.length > 0) throw new Error(`columns ${intent.unavailable.join(', ')} unavailable for ${intent.key}`);
    return { op: 'upsert', row: orderRow(intent.row) };
  }
  // The key of a delete is the canonical JSON of the key columns, `{"id":42}`: exactly the key row a delete needs.
  if (intent.kind === 'delete') return { op: 'delete', row: parseKey(intent.key) };
  throw new Error(`a truncate of ${intent.table.table ?? 'the table'} cannot be applied row by row`);
}

// ---- The topology.

export function ordersToIceberg<V>(source: Source<V>, catalog: Catalog) {
  return defineTopology({
    name: 'orders-to-iceberg', // keep it stable: state, logs and metrics are keyed by it
    source,
    pipeline: (messages) =>
      messages.pipe(
        decodeDebezium({ name: 'decode', kinds: ['change'], onError: 'fail' }), // tombstones, heartbeats: dropped
        changesToIntents({ name: 'intents', key: ['id'], onError: 'fail' }), // a primary key change: delete + upsert
        map(toRowChange, { name: 'to-row-change', onError: 'fail' }),
        toSink(
          icebergSink<RowChange>({
            name: 'silver-orders', // also the writer id in snapshot summaries: tributary.silver-orders.positions
            catalog,
            table: 'silver.orders',
            create: ordersTable, // created on first start; without `create` a missing table fails with TABLE_NOT_FOUND
            mode: 'upsert',
            toChange: (record) => record.value,
          }),
        ),
      ),
  });
}

/** The Kafka side: raw bytes, so the decoder parses them itself and keeps int64 beyond 2^53 exact. */
export function ordersSource(brokers: string[]) {
  return kafkaSource<Buffer | null>({
    brokers,
    topics: [ordersTopic],
    groupId: 'orders-to-iceberg',
    deserializer: 'bytes',
    startFrom: 'earliest', // only for a group without committed offsets and a table without recorded positions
  });
}

// ---- Running it.

export async function runOrdersToIceberg(brokers: string[]): Promise<void> {
  const runtime: Runtime = createRuntime(ordersToIceberg(ordersSource(brokers), s3Catalog), {
    checkpointIntervalMs: 60_000, // at most one snapshot a minute, unless the sink asks for one earlier
    deadLetters: kafkaDeadLetterSink({ brokers, topic: 'shop.public.orders.dlq' }),
  });
  await runtime.start(); // opens the sink (loads or creates the table), joins the group, seeks to the table's positions
  const stop = () => void runtime.stop(); // finish in-flight batches, commit a last snapshot, commit offsets, close
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await runtime.done; // resolves after stop(); rejects when a step with onError 'fail' (or a commit) failed
}

// ---- Validating rows with the zod schema instead: failures name the column, `after` rows are typed.

export function validatedOrders<V>(source: Source<V>, catalog: Catalog) {
  return defineTopology({
    name: 'orders-to-iceberg',
    source,
    pipeline: (messages) =>
      messages.pipe(
        decodeDebezium({ name: 'decode', kinds: ['change'], row: OrderRow, onError: 'fail' }), // after: OrderRow
        changesToIntents<OrderRow>({ name: 'intents', key: ['id'], onError: 'fail' }),
        map(toRowChange, { name: 'to-row-change', onError: 'fail' }),
        toSink(icebergSink<RowChange>({ name: 'silver-orders', catalog, table: 'silver.orders', create: ordersTable, mode: 'upsert', toChange: (record) => record.value })),
      ),
  });
}
