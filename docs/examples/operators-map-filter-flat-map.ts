/**
 * docs/reference/operators.md — map, filter, flatMap.
 */
import { filter, flatMap, map, memorySink, toSink } from '@tributary/core';
import type { Chunk } from '@tributary/core';
import type { Observable } from 'rxjs';

interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
  readonly unitPrice: number;
}

interface Order {
  readonly id: string;
  readonly status: 'placed' | 'cancelled';
  readonly lines: readonly OrderLine[];
}

type Change = { readonly op: 'c' | 'u' | 'd'; readonly after: Order | null };

export const lineTotals = memorySink<{ orderId: string; sku: string; total: number }>({ name: 'line-totals' });

export function lines(changes: Observable<Chunk<Change>>): Observable<Chunk<never>> {
  return changes.pipe(
    // A type guard narrows the output: `after` is an Order from here on.
    filter((change): change is Change & { after: Order } => change.after !== null, { name: 'has-after' }),
    map((change) => change.after, { name: 'after-image' }),
    filter((order) => order.status !== 'cancelled', { name: 'not-cancelled' }),
    // One output record per order line; each keeps the order's key, event time, position and headers.
    flatMap((order) => order.lines.map((line) => ({ orderId: order.id, sku: line.sku, total: line.quantity * line.unitPrice })), {
      name: 'explode-lines',
    }),
    toSink(lineTotals),
  );
}
