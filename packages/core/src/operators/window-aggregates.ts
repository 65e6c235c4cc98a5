/**
 * Aggregate specifications for the `window` operator: `count`, `sum`, `avg`, `min`, `max` and custom `reduce`.
 *
 * An aggregate is a description, not a running computation: the window operator keeps one JSON-compatible accumulator
 * per aggregate and window in its state store. Built-ins keep plain numbers (`avg` keeps its sum and count); a
 * custom {@link reduce} keeps whatever its `init`/`add` return, which must therefore be JSON-compatible too.
 *
 * @module
 */

/** Phantom marker carrying the result type of an aggregate; never present at run time. */
declare const aggregateResult: unique symbol;

/**
 * The aggregate families the window operator knows.
 *
 * @example
 * ```ts
 * const isCustom = (aggregate: Aggregate<Order, unknown>) => aggregate.kind === ('reduce' satisfies AggregateKind);
 * ```
 */
export type AggregateKind = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'reduce';

/**
 * A custom aggregation over JSON-compatible accumulators, for {@link reduce}.
 *
 * `add` and `merge` may return a new accumulator or the (mutated) first argument; they must not keep references to
 * their arguments elsewhere, and must not throw after mutating. `merge` is required for `sliding` and `session`
 * windows (sessions merge when a record bridges them; sliding windows are assembled from per-timestamp parts).
 *
 * @example
 * ```ts
 * const distinctProducts: Reducer<Order, string[], number> = {
 *   init: () => [],
 *   add: (seen, order) => (seen.includes(order.productId) ? seen : [...seen, order.productId]),
 *   merge: (a, b) => [...new Set([...a, ...b])],
 *   result: (seen) => seen.length,
 * };
 * ```
 */
export interface Reducer<In, Acc, Out = Acc> {
  /** A fresh, empty accumulator (JSON-compatible). */
  readonly init: () => Acc;
  /** Folds one record value into the accumulator. */
  readonly add: (accumulator: Acc, value: In) => Acc;
  /** Combines two accumulators of disjoint sets of records. Required for sliding and session windows. */
  readonly merge?: ((left: Acc, right: Acc) => Acc) | undefined;
  /** Turns the accumulator into the reported value; the accumulator itself when omitted. */
  readonly result?: ((accumulator: Acc) => Out) | undefined;
}

/**
 * A {@link Reducer} with its accumulator type erased, as the window operator handles it.
 *
 * @internal
 */
export interface ErasedReducer<In> {
  readonly init: () => unknown;
  readonly add: (accumulator: unknown, value: In) => unknown;
  readonly merge: ((left: unknown, right: unknown) => unknown) | undefined;
  readonly result: (accumulator: unknown) => unknown;
}

/**
 * One aggregate column of a window result: records of type `In` in, a value of type `Out` per window out. Create it
 * with {@link count}, {@link sum}, {@link avg}, {@link min}, {@link max} or {@link reduce}; the window operator infers
 * the type of `values` in its results from the aggregates it is given.
 *
 * @example
 * ```ts
 * const total: Aggregate<Order, number> = sum((order) => order.amount);
 * ```
 */
export interface Aggregate<In, Out> {
  /** Which family this aggregate belongs to. */
  readonly kind: AggregateKind;
  /** For `sum`, `avg`, `min`, `max`: the number each record contributes. Must return a finite number. */
  readonly field: ((value: In) => number) | undefined;
  /**
   * For `reduce`: the custom aggregation.
   *
   * @internal
   */
  readonly reducer: ErasedReducer<In> | undefined;
  /**
   * Type-level only: the result type.
   *
   * @internal
   */
  readonly [aggregateResult]?: Out;
}

/**
 * The result values of a map of aggregates: `{ total: sum(...), top: max(...) }` gives `{ total: number; top: number | null }`.
 *
 * @example
 * ```ts
 * type Values = AggregateValues<{ n: Aggregate<Order, number>; top: Aggregate<Order, number | null> }>; // { n: number; top: number | null }
 * ```
 */
export type AggregateValues<A> = { [K in keyof A]: A[K] extends Aggregate<never, infer Out> ? Out : never };

const builtIn = <In, Out>(kind: Exclude<AggregateKind, 'reduce'>, field: ((value: In) => number) | undefined): Aggregate<In, Out> => ({
  kind,
  field,
  reducer: undefined,
});

/**
 * Number of records in the window.
 *
 * @example
 * ```ts
 * orders.pipe(window({ key: (o) => o.merchantId, window: tumbling(60_000), aggregate: { orders: count() } }));
 * ```
 */
export function count(): Aggregate<unknown, number> {
  return builtIn('count', undefined);
}

/**
 * Sum of `field` over the records of the window. A record whose `field` is not a finite number goes to the step's
 * error policy (dead letters by default).
 *
 * @param field the number each record contributes
 *
 * @example
 * ```ts
 * aggregate: { revenue: sum((order) => order.amount) }
 * ```
 */
export function sum<In>(field: (value: In) => number): Aggregate<In, number> {
  return builtIn('sum', field);
}

/**
 * Arithmetic mean of `field` over the records of the window (its accumulator is `{ sum, count }`).
 *
 * @param field the number each record contributes
 *
 * @example
 * ```ts
 * aggregate: { averageBasket: avg((order) => order.amount) }
 * ```
 */
export function avg<In>(field: (value: In) => number): Aggregate<In, number> {
  return builtIn('avg', field);
}

/**
 * Smallest `field` in the window. Typed `number | null` (the value of an empty window), although windows only exist
 * once they hold a record, so results carry a number in practice.
 *
 * @param field the number each record contributes
 *
 * @example
 * ```ts
 * aggregate: { cheapest: min((order) => order.amount) }
 * ```
 */
export function min<In>(field: (value: In) => number): Aggregate<In, number | null> {
  return builtIn('min', field);
}

/**
 * Largest `field` in the window. Typed `number | null` like {@link min}.
 *
 * @param field the number each record contributes
 *
 * @example
 * ```ts
 * aggregate: { largest: max((order) => order.amount) }
 * ```
 */
export function max<In>(field: (value: In) => number): Aggregate<In, number | null> {
  return builtIn('max', field);
}

/**
 * A custom aggregate (see {@link Reducer}). The accumulator lives in the state store, so it must be JSON-compatible
 * (plain objects, arrays, numbers, strings, booleans, null). `merge` is required for `sliding` and `session` windows;
 * the window operator rejects a reducer without one at construction.
 *
 * @param reducer `init`, `add`, optional `merge`, optional `result`
 *
 * @example
 * ```ts
 * aggregate: {
 *   customers: reduce({
 *     init: (): string[] => [],
 *     add: (ids, order: Order) => (ids.includes(order.customerId) ? ids : [...ids, order.customerId]),
 *     merge: (a, b) => [...new Set([...a, ...b])],
 *     result: (ids) => ids.length,
 *   }),
 * }
 * ```
 */
export function reduce<In, Acc, Out>(reducer: Reducer<In, Acc, Out> & { readonly result: (accumulator: Acc) => Out }): Aggregate<In, Out>;
/**
 * A custom aggregate without `result`: the accumulator itself is reported.
 *
 * @param reducer `init`, `add`, optional `merge`
 *
 * @example
 * ```ts
 * aggregate: { skus: reduce({ init: (): string[] => [], add: (skus, order: Order) => [...skus, order.sku], merge: (a, b) => [...a, ...b] }) }
 * ```
 */
export function reduce<In, Acc>(reducer: Reducer<In, Acc, Acc> & { readonly result?: undefined }): Aggregate<In, Acc>;
export function reduce<In, Acc, Out>(reducer: Reducer<In, Acc, Out>): Aggregate<In, Out> {
  const erased: ErasedReducer<In> = {
    init: reducer.init,
    add: reducer.add as ErasedReducer<In>['add'],
    merge: reducer.merge as ErasedReducer<In>['merge'],
    result: (reducer.result ?? ((accumulator: Acc) => accumulator)) as ErasedReducer<In>['result'],
  };
  return { kind: 'reduce', field: undefined, reducer: erased };
}

const kinds: ReadonlySet<unknown> = new Set<AggregateKind>(['count', 'sum', 'avg', 'min', 'max', 'reduce']);

/** Whether `value` is an aggregate made by this module (or shaped like one). Internal. */
export function isAggregate(value: unknown): value is Aggregate<unknown, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Aggregate<unknown, unknown>>;
  if (!kinds.has(candidate.kind)) return false;
  if (candidate.kind === 'count') return true;
  if (candidate.kind === 'reduce') {
    const reducer = candidate.reducer;
    return (
      typeof reducer === 'object' &&
      reducer !== null &&
      typeof reducer.init === 'function' &&
      typeof reducer.add === 'function' &&
      typeof reducer.result === 'function' &&
      (reducer.merge === undefined || typeof reducer.merge === 'function')
    );
  }
  return typeof candidate.field === 'function';
}
