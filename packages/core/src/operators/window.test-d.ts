import type { Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import type { Chunk } from '../record/chunk.js';
import type { Operator } from './define-operator.js';
import { window } from './window.js';
import type { WindowBounds, WindowResult } from './window.js';
import { avg, count, max, min, reduce, sum } from './window-aggregates.js';
import { hopping, session, sliding, tumbling } from './window-assigners.js';

type Order = { merchantId: string; amount: number; sku: string };
declare const orders: Observable<Chunk<Order>>;

/** The value type of a chunk stream. */
type ValueOf<O> = O extends Observable<Chunk<infer V>> ? V : never;

describe('window types', () => {
  it('infers the record type from the pipe and the values from the aggregate object', () => {
    const perMinute = orders.pipe(
      window({
        name: 'per-merchant-minute',
        key: (order) => order.merchantId,
        window: tumbling(60_000),
        aggregate: {
          count: count(),
          total: sum((o) => o.amount),
          avg: avg((o) => o.amount),
          min: min((o) => o.amount),
          max: max((o) => o.amount),
          custom: reduce({ init: () => 0, add: (acc, _o: Order) => acc + 1, merge: (a, b) => a + b, result: (acc) => acc }),
          skus: reduce({ init: (): string[] => [], add: (skus, o: Order) => [...skus, o.sku] }),
        },
        allowedLateness: 5_000,
        emit: 'close',
      }),
    );
    type Expected = WindowResult<{
      count: number;
      total: number;
      avg: number;
      min: number | null;
      max: number | null;
      custom: number;
      skus: string[];
    }>;
    expectTypeOf(perMinute).toEqualTypeOf<Observable<Chunk<Expected>>>();
    type Result = ValueOf<typeof perMinute>;
    expectTypeOf<Result['values']['total']>().toEqualTypeOf<number>();
    expectTypeOf<Result['values']['min']>().toEqualTypeOf<number | null>();
    expectTypeOf<Result['key']>().toEqualTypeOf<string>();
    expectTypeOf<Result['supersedes']>().toEqualTypeOf<readonly WindowBounds[] | undefined>();
  });

  it('works outside a pipe when the record type is annotated', () => {
    const op = window({ key: (order: Order) => order.merchantId, window: session(30_000), aggregate: { n: count(), top: max((o: Order) => o.amount) } });
    expectTypeOf(op).toEqualTypeOf<Operator<Order, WindowResult<{ n: number; top: number | null }>>>();
  });

  it('rejects aggregates and keys that do not fit the record type', () => {
    orders.pipe(
      window({
        key: (order) => order.merchantId,
        window: hopping(10_000, 5_000),
        // @ts-expect-error sku is a string, sum needs a number
        aggregate: { total: sum((o) => o.sku) },
      }),
    );
    orders.pipe(
      window({
        // @ts-expect-error the key must be a string
        key: (order) => order.amount,
        window: sliding(10_000),
        aggregate: { n: count() },
      }),
    );
    orders.pipe(
      window({
        key: (order) => order.merchantId,
        window: tumbling(1_000),
        // @ts-expect-error no such field on Order
        aggregate: { total: sum((o) => o.price) },
      }),
    );
    // @ts-expect-error emit is 'close' or 'update'
    window({ key: (order: Order) => order.sku, window: tumbling(1_000), aggregate: { n: count() }, emit: 'sometimes' });
  });
});
