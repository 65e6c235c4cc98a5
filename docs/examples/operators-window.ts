/**
 * docs/reference/operators.md — window, its assigners and aggregates.
 */
import { avg, count, hopping, max, min, reduce, session, sliding, sum, tumbling, window } from '@tributary/core';
import type { Chunk, WindowResult } from '@tributary/core';
import type { Observable } from 'rxjs';

interface Order {
  readonly merchantId: string;
  readonly customerId: string;
  readonly amount: number;
}

interface Click {
  readonly userId: string;
  readonly page: string;
}

/** One result per merchant and minute, once the watermark passes the minute (emit: 'close', the default). */
export const merchantMinutes = (orders: Observable<Chunk<Order>>) =>
  orders.pipe(
    window({
      name: 'merchant-minute',
      key: (order) => order.merchantId,
      window: tumbling(60_000),
      aggregate: {
        orders: count(),
        revenue: sum((order) => order.amount),
        average: avg((order) => order.amount),
        smallest: min((order) => order.amount),
        largest: max((order) => order.amount),
        customers: reduce({
          init: (): string[] => [],
          add: (ids, order: Order) => (ids.includes(order.customerId) ? ids : [...ids, order.customerId]),
          result: (ids) => ids.length,
        }),
      },
      allowedLateness: 10_000,
    }),
  );

// The result type is inferred from the aggregates.
export type MerchantMinute = WindowResult<{
  orders: number;
  revenue: number;
  average: number;
  smallest: number | null;
  largest: number | null;
  customers: number;
}>;
export const merchantMinutesTyped: (orders: Observable<Chunk<Order>>) => Observable<Chunk<MerchantMinute>> = merchantMinutes;

/** A five-minute revenue, updated every minute, re-emitted after every batch that changes it. */
export const rollingRevenue = (orders: Observable<Chunk<Order>>) =>
  orders.pipe(
    window({
      name: 'five-minute-revenue',
      key: (order) => order.merchantId,
      window: hopping(300_000, 60_000),
      aggregate: { revenue: sum((order) => order.amount) },
      emit: 'update',
    }),
  );

/** For every order: the customer's order count over the ten minutes up to and including it. */
export const recentOrders = (orders: Observable<Chunk<Order>>) =>
  orders.pipe(window({ name: 'recent-orders', key: (order) => order.customerId, window: sliding(600_000), aggregate: { recent: count() } }));

/** Sessions of clicks separated by 30 minutes of inactivity; a custom reducer needs `merge` here. */
export const visits = (clicks: Observable<Chunk<Click>>) =>
  clicks.pipe(
    window({
      name: 'visits',
      key: (click) => click.userId,
      window: session(30 * 60_000),
      aggregate: {
        clicks: count(),
        pages: reduce({
          init: (): string[] => [],
          add: (pages, click: Click) => (pages.includes(click.page) ? pages : [...pages, click.page]),
          merge: (left, right) => [...new Set([...left, ...right])],
        }),
      },
    }),
  );
