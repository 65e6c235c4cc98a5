/**
 * docs/guides/rxjs-in-topologies.md — plain RxJS operators that are safe in a topology, and the Tributary operators
 * to use where a plain one would break progress tracking.
 */
import { asyncScheduler, concatMap, observeOn, tap } from 'rxjs';
import type { Observable } from 'rxjs';
import { branch, dedupe, defineOperator, filter, memorySink, toSink } from '@tributary/core';
import type { Chunk, Operator, StreamRecord } from '@tributary/core';

interface Order {
  readonly id: string;
  readonly amount: number;
}

export const orders = memorySink<Order>({ name: 'orders' });
export const auditTrail = memorySink<Order>({ name: 'audit-trail' });

/** tap sees chunks: look inside data chunks for records. */
export const logged = (input: Observable<Chunk<Order>>): Observable<Chunk<never>> =>
  input.pipe(
    tap((chunk) => {
      if (chunk.kind === 'data') for (const record of chunk.records) console.debug('order', record.value.id, record.position);
      else if (chunk.kind === 'barrier' && chunk.checkpoint !== undefined) console.debug('checkpoint', chunk.checkpoint.id);
    }),
    toSink(orders),
  );

/** observeOn keeps order: it only moves the rest of the pipeline to later macrotasks (e.g. to yield the event loop). */
export const yielding = (input: Observable<Chunk<Order>>): Observable<Chunk<never>> =>
  input.pipe(filter((order) => order.amount > 0, { name: 'positive' }), observeOn(asyncScheduler), toSink(orders));

/**
 * concatMap is safe when it re-emits every chunk exactly once; prefer defineOperator (below), which also gives the
 * step a name, metrics and an error policy.
 */
export const checkedOneAtATime = (input: Observable<Chunk<Order>>, check: (records: readonly StreamRecord<Order>[]) => Promise<void>) =>
  input.pipe(
    concatMap(async (chunk: Chunk<Order>) => {
      if (chunk.kind === 'data') await check(chunk.records);
      return chunk; // control chunks too: never drop, duplicate or reorder them
    }),
    toSink(orders),
  );

/** Instead of mergeMap / concatMap: an asynchronous step. Later chunks wait for the promise, so barriers stay behind. */
export function checked(check: (records: readonly StreamRecord<Order>[]) => Promise<void>): Operator<Order, Order> {
  return defineOperator<Order, Order>('checked', 'checked', () => ({
    async data(records, emit) {
      await check(records);
      emit.data(records);
    },
  }));
}

/** Instead of share() or merge() of two pipelines: branch with mode 'all' joins every barrier across the branches. */
export const toTwoSinks = (input: Observable<Chunk<Order>>): Observable<Chunk<never>> =>
  input.pipe(
    branch(
      [
        { when: () => true, then: (all) => all.pipe(toSink(orders)) },
        { when: (order) => order.amount >= 1_000, then: (large) => large.pipe(toSink(auditTrail)) },
      ],
      { name: 'fan-out', mode: 'all' },
    ),
  );

/** Instead of distinct(): dedupe, whose memory is bounded by a TTL and checkpointed with the positions. */
export const distinctOrders = (input: Observable<Chunk<Order>>): Observable<Chunk<never>> =>
  input.pipe(dedupe({ name: 'distinct-orders', key: (order) => order.id, within: { ttlMs: 3_600_000 } }), toSink(orders));
