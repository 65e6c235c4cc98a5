/**
 * docs/reference/operators.md — enrich.
 */
import { enrich } from '@tributary/core';
import type { Chunk, LookupResult } from '@tributary/core';
import type { Observable } from 'rxjs';

interface Order {
  readonly id: string;
  readonly customerId: string | null;
  readonly amount: number;
}

interface Customer {
  readonly id: string;
  readonly tier: 'free' | 'gold';
}

/** A batched lookup API: one request for many ids, cancellable. */
export type CustomersApi = (ids: readonly string[], signal: AbortSignal) => Promise<readonly Customer[]>;

export const withTier = (orders: Observable<Chunk<Order>>, customersById: CustomersApi) =>
  orders.pipe(
    enrich({
      name: 'customer-tier',
      key: (order) => order.customerId, // null: no lookup, `merge` gets undefined
      lookup: async (ids, signal): Promise<LookupResult<Customer>> => {
        const found = await customersById(ids, signal);
        return new Map(found.map((customer) => [customer.id, customer]));
      },
      merge: (order, customer) => ({ ...order, tier: customer?.tier ?? 'guest' }),
      cache: { ttlMs: 60_000, maxEntries: 10_000 }, // misses are cached too (cacheMisses: true)
      maxBatchKeys: 200,
      concurrency: 4,
      timeoutMs: 2_000,
      onError: 'dlq', // failed or timed-out calls: dead letters
      onMissing: 'pass', // unknown customers: merged with `undefined`
    }),
  );
