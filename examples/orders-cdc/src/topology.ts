import { avg, branch, count, createRuntime, dedupe, defineTopology, mask, max, memorySink, memorySource, min, PrometheusMetrics, route, sum, toSink, tumbling, validate, window } from '@tributary/core';
import type { Chunk, DeadLetter, LateRecord, Operator, Runtime, WindowResult } from '@tributary/core';
import type { Observable } from 'rxjs';
import { goldSink, silverSink } from '@tributary/lakehouse';
import type { Catalog, IcebergSchema } from '@tributary/lakehouse';
import { z } from 'zod';

const OrderRow = z.object({
  order_id: z.string().min(1),
  merchant_id: z.string().min(1),
  customer_email: z.string(),
  amount: z.number().nonnegative(),
  status: z.enum(['placed', 'paid', 'refunded']),
  created_at: z.number().int(),
});

/** A Debezium change event of the orders table, as the job accepts it. */
export const OrderChange = z
  .object({
    op: z.enum(['c', 'u', 'd']),
    ts_ms: z.number().int(),
    source: z.looseObject({ table: z.literal('orders'), lsn: z.number().int().nonnegative(), ts_ms: z.number().int() }),
    before: OrderRow.nullable(),
    after: OrderRow.nullable(),
  })
  .refine((event) => (event.op === 'd' ? event.before !== null : event.after !== null), {
    message: 'a create or update needs `after`, a delete needs `before`',
  });
export type OrderChange = z.output<typeof OrderChange>;

export interface MerchantMinute {
  orders: number;
  revenue: number;
  average: number;
  smallest: number | null;
  largest: number | null;
}

/** The silver table: the orders table as the source database holds it, e-mail addresses hashed. */
export const SILVER_ORDERS_SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'string' },
    { id: 2, name: 'merchant_id', required: true, type: 'string' },
    { id: 3, name: 'customer_email_hash', required: false, type: 'string' },
    { id: 4, name: 'amount', required: true, type: 'decimal(12, 2)' },
    { id: 5, name: 'status', required: true, type: 'string' },
    { id: 6, name: 'created_at', required: true, type: 'timestamptz' },
  ],
};

/** Table names the job writes when given a catalog. */
export const TABLES = { silver: 'silver.orders', gold: 'gold.merchant_minutes' } as const;

export interface OrdersJob {
  runtime: Runtime;
  metrics: PrometheusMetrics;
  windows: ReturnType<typeof memorySink<WindowResult<MerchantMinute>>>;
  deletes: ReturnType<typeof memorySink<OrderChange>>;
  deadLetters: ReturnType<typeof memorySink<DeadLetter>>;
  late: ReturnType<typeof memorySink<LateRecord>>;
}

/**
 * validate -> mask -> dedupe -> route by op: inserts and updates into 1-minute tumbling windows per merchant
 * (count / sum / avg / min / max of the amount), deletes into their own sink. Invalid events reach the dead letters
 * (masked, because they pass the mask step too), events later than the allowed lateness reach the late output.
 */
export function ordersJob(events: readonly unknown[], salt: string, lakehouse?: { catalog: Catalog }): OrdersJob {
  const metrics = new PrometheusMetrics();
  const windows = memorySink<WindowResult<MerchantMinute>>({ name: 'merchant-minutes' });
  const deletes = memorySink<OrderChange>({ name: 'deleted-orders' });
  const deadLetters = memorySink<DeadLetter>({ name: 'dead-letters' });
  const late = memorySink<LateRecord>({ name: 'late-orders' });
  const eventTimeOf = (event: unknown): number => {
    const time = (event as { source?: { ts_ms?: unknown } }).source?.ts_ms;
    return typeof time === 'number' ? time : 0;
  };

  // With a catalog, every validated, masked, deduplicated change is also applied to the silver table by order id.
  const toSilver: Operator<OrderChange, OrderChange> =
    lakehouse === undefined
      ? (changes) => changes
      : branch(
          [
            {
              when: () => true,
              then: (all) =>
                all.pipe(
                  toSink(
                    silverSink<OrderChange, z.output<typeof OrderRow>>({
                      name: 'silver-orders',
                      catalog: lakehouse.catalog,
                      table: TABLES.silver,
                      create: { schema: SILVER_ORDERS_SCHEMA },
                      project: (row) => ({
                        order_id: row.order_id,
                        merchant_id: row.merchant_id,
                        customer_email_hash: row.customer_email,
                        amount: row.amount,
                        status: row.status,
                        created_at: new Date(row.created_at),
                      }),
                    }),
                  ),
                ),
            },
            { when: () => true, then: (all: Observable<Chunk<OrderChange>>) => all },
          ],
          { name: 'to-silver', mode: 'all' },
        );

  // Window results go to the in-memory sink, and with a catalog also to the gold table (upserted by merchant and window).
  const toWindowSinks: Operator<WindowResult<MerchantMinute>, never> =
    lakehouse === undefined
      ? toSink(windows)
      : branch(
          [
            { when: () => true, then: (results: Observable<Chunk<WindowResult<MerchantMinute>>>) => results.pipe(toSink(windows)) },
            {
              when: () => true,
              then: (results: Observable<Chunk<WindowResult<MerchantMinute>>>) =>
                results.pipe(
                  toSink(
                    goldSink<MerchantMinute>({
                      name: 'gold-merchant-minutes',
                      catalog: lakehouse.catalog,
                      table: TABLES.gold,
                      keyColumn: 'merchant_id',
                      aggregates: { orders: 'long', revenue: 'double', average: 'double', smallest: 'double', largest: 'double' },
                    }),
                  ),
                ),
            },
          ],
          { name: 'to-gold', mode: 'all' },
        );

  // Partition by merchant, deletes included (their merchant is in `before`), so every change of an order stays in order.
  const merchantOf = (event: unknown): string => {
    const change = event as { after?: { merchant_id?: string } | null; before?: { merchant_id?: string } | null };
    return String(change.after?.merchant_id ?? change.before?.merchant_id ?? '');
  };

  const job = defineTopology({
    name: 'orders-cdc',
    source: memorySource(events, { eventTime: eventTimeOf, partitions: 3, key: merchantOf }),
    pipeline: (changes) =>
      changes.pipe(
        validate(OrderChange, { name: 'validate-orders' }),
        mask({
          name: 'mask-pii',
          fields: {
            'after.customer_email': { hash: 'sha256', salt },
            'before.customer_email': { hash: 'sha256', salt },
          },
        }),
        dedupe({ name: 'dedupe-orders', key: (event) => String(event.source.lsn), within: { ttlMs: 10 * 60_000 } }),
        toSilver,
        route((event) => (event.op === 'd' ? 'deleted' : 'changed'), {
          changed: (orders) =>
            orders.pipe(
              window({
                name: 'merchant-minute',
                key: (event) => event.after!.merchant_id,
                window: tumbling(60_000),
                allowedLateness: 10_000,
                aggregate: {
                  orders: count(),
                  revenue: sum((event: OrderChange) => event.after!.amount),
                  average: avg((event: OrderChange) => event.after!.amount),
                  smallest: min((event: OrderChange) => event.after!.amount),
                  largest: max((event: OrderChange) => event.after!.amount),
                },
              }),
              toWindowSinks,
            ),
          deleted: (orders) => orders.pipe(toSink(deletes)),
        }),
      ),
  });
  const runtime = createRuntime(job, {
    metrics,
    deadLetters,
    late,
    maxBatch: 1_000,
    checkpointIntervalMs: 1_000,
    watermark: { outOfOrdernessMs: 5_000, idleTimeoutMs: 30_000 },
  });
  return { runtime, metrics, windows, deletes, deadLetters, late };
}
