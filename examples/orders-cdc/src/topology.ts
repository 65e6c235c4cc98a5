import { avg, count, createRuntime, dedupe, defineTopology, mask, max, memorySink, memorySource, min, PrometheusMetrics, route, sum, toSink, tumbling, validate, window } from '@tributary/core';
import type { DeadLetter, LateRecord, Runtime, WindowResult } from '@tributary/core';
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
export function ordersJob(events: readonly unknown[], salt: string): OrdersJob {
  const metrics = new PrometheusMetrics();
  const windows = memorySink<WindowResult<MerchantMinute>>({ name: 'merchant-minutes' });
  const deletes = memorySink<OrderChange>({ name: 'deleted-orders' });
  const deadLetters = memorySink<DeadLetter>({ name: 'dead-letters' });
  const late = memorySink<LateRecord>({ name: 'late-orders' });
  const eventTimeOf = (event: unknown): number => {
    const time = (event as { source?: { ts_ms?: unknown } }).source?.ts_ms;
    return typeof time === 'number' ? time : 0;
  };

  const job = defineTopology({
    name: 'orders-cdc',
    source: memorySource(events, { eventTime: eventTimeOf, partitions: 3, key: (event) => String((event as { after?: { merchant_id?: string } }).after?.merchant_id ?? '') }),
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
              toSink(windows),
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
