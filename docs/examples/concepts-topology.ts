/**
 * docs/guides/concepts.md — defining and running a topology.
 *
 * A bounded in-memory source of raw order events, validated into typed orders, turned into cents and written to an
 * in-memory sink. Invalid events go to the runtime's dead-letter sink.
 */
import { createRuntime, defineTopology, map, memorySink, memorySource, toSink, validate } from '@tributary/core';
import { z } from 'zod';

const Order = z.object({
  id: z.string(),
  merchantId: z.string(),
  amount: z.number().positive(),
  createdAt: z.number().int(),
});
type Order = z.output<typeof Order>;

export const rawOrders: unknown[] = [
  { id: 'o-1', merchantId: 'm-1', amount: 12.5, createdAt: Date.UTC(2026, 0, 1, 10, 0, 0) },
  { id: 'o-2', merchantId: 'm-2', amount: -3, createdAt: Date.UTC(2026, 0, 1, 10, 0, 5) }, // invalid: a dead letter
  { id: 'o-3', merchantId: 'm-1', amount: 7, createdAt: Date.UTC(2026, 0, 1, 10, 0, 9) },
];

export const cents = memorySink<{ id: string; cents: number }>({ name: 'order-cents' });

export const ordersJob = defineTopology({
  name: 'orders-to-cents',
  source: memorySource(rawOrders, {
    eventTime: (event) => (event as Order).createdAt,
    key: (event) => (event as Order).merchantId,
    partitions: 2,
  }),
  pipeline: (events) =>
    events.pipe(
      validate(Order, { name: 'order-schema' }), // Operator<unknown, Order>
      map((order) => ({ id: order.id, cents: Math.round(order.amount * 100) }), { name: 'to-cents' }),
      toSink(cents), // Operator<{ id: string; cents: number }, never>
    ),
});

export async function runOrdersJob(): Promise<void> {
  const runtime = createRuntime(ordersJob, { checkpointIntervalMs: 1_000 });
  await runtime.start();
  await runtime.done; // a bounded source: settles once the input is exhausted and its results are committed
  const { committed, deadLetters, checkpoints } = runtime.status();
  console.log(cents.values, committed, deadLetters, checkpoints);
}

/** A pipeline whose branch does not end in a sink is a compile error. */
export function forgottenSink(): void {
  defineTopology({
    name: 'forgot-the-sink',
    source: memorySource([1, 2, 3]),
    // @ts-expect-error Observable<Chunk<number>> is not Observable<Chunk<never>>: end every branch with toSink(...)
    pipeline: (numbers) => numbers.pipe(map((n) => n * 2)),
  });
}
