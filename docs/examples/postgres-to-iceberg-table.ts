/**
 * docs/guides/postgres-to-iceberg.md — defining the Iceberg table.
 *
 * The silver table mirrors this PostgreSQL table, column for column:
 *
 *   CREATE TABLE public.orders (
 *     id          bigint PRIMARY KEY,
 *     customer_id bigint NOT NULL,
 *     status      text NOT NULL,
 *     amount      numeric(12,2),
 *     created_at  timestamptz NOT NULL,
 *     updated_at  timestamptz
 *   );
 *
 * Two ways to say the same thing: an `IcebergSchema` written out (field ids are yours to choose, once and for all), or
 * a zod schema that also validates the rows Debezium delivers, turned into the table schema by `icebergSchemaFromZod`.
 */
import { buildPartitionSpec, icebergSchemaFromZod } from '@tributary/lakehouse';
import type { CreateTableRequest, IcebergSchema } from '@tributary/lakehouse';
import { z } from 'zod';

export const ordersSchema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1], // the primary key: upserts and deletes find the live row by it
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'customer_id', required: true, type: 'long' },
    { id: 3, name: 'status', required: true, type: 'string' },
    { id: 4, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 5, name: 'created_at', required: true, type: 'timestamptz' },
    { id: 6, name: 'updated_at', required: false, type: 'timestamptz' },
  ],
};

/** What the sink creates when the table does not exist yet: schema, partitioning, table properties. */
export const ordersTable: CreateTableRequest = {
  schema: ordersSchema,
  // One partition per month of creation: a row never changes partition, and a month of orders is a useful unit to prune.
  partitionSpec: buildPartitionSpec(ordersSchema, [{ column: 'created_at', transform: 'month' }]),
  properties: { 'write.parquet.compression-codec': 'zstd' },
};

/**
 * The same columns as a zod schema, in the JavaScript values the Debezium decoder produces: `bigint` columns as a
 * number (a `bigint` beyond 2^53), `numeric` as an exact decimal string, `timestamptz` as an ISO-8601 string.
 */
const int64 = z.union([z.number().int(), z.bigint()]);

export const OrderRow = z.object({
  id: int64,
  customer_id: int64,
  status: z.string(),
  amount: z.string().nullable(), // "1234.50": decimal.handling.mode=precise keeps the scale
  created_at: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }).nullable(),
});
export type OrderRow = z.output<typeof OrderRow>;

// Field ids 1..6 in declaration order, `id` required and the identifier; equal to `ordersSchema` above.
export const ordersSchemaFromZod: IcebergSchema = icebergSchemaFromZod(OrderRow, {
  identifierFields: ['id'],
  // No zod type says "long" for number | bigint, or precision and scale for a string: name the Iceberg types.
  types: { id: 'long', customer_id: 'long', amount: 'decimal(12, 2)' },
});
