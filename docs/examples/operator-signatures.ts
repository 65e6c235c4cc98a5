/**
 * docs/reference/operators.md — the operator signatures quoted in the reference, checked against the real exports in
 * both directions, so the reference cannot drift from the code without failing the type check.
 */
import type * as core from '@tributary/core';
import type {
  Aggregate,
  Alert,
  AnomaliesOptions,
  ThresholdAlertsOptions,
  AggregateValues,
  BranchCase,
  BranchOptions,
  BranchOutput,
  DeadLetter,
  DedupeOptions,
  EnrichOptions,
  ErrorPolicy,
  FilterOptions,
  FlatMapOptions,
  MapOptions,
  MaskOptions,
  Operator,
  RouteBranches,
  RouteOptions,
  Sink,
  StepContext,
  StepHandlers,
  StreamRecord,
  ToSinkOptions,
  ValidateOptions,
  WindowOptions,
  WindowResult,
} from '@tributary/core';
import type { z } from 'zod';

export declare function map<In, Out>(project: (value: In, record: StreamRecord<In>) => Out, options?: MapOptions): Operator<In, Out>;

export declare function filter<V, S extends V>(predicate: (value: V, record: StreamRecord<V>) => value is S, options?: FilterOptions): Operator<V, S>;
export declare function filter<V>(predicate: (value: V, record: StreamRecord<V>) => boolean, options?: FilterOptions): Operator<V, V>;

export declare function flatMap<In, Out>(project: (value: In, record: StreamRecord<In>) => Iterable<Out>, options?: FlatMapOptions): Operator<In, Out>;

export declare function validate<S extends z.ZodType>(schema: S, options?: ValidateOptions): Operator<unknown, z.output<S>>;

export declare function mask<V>(options: MaskOptions): Operator<V, V>;

export declare function dedupe<V>(options: DedupeOptions<V>): Operator<V, V>;

export declare function window<In, A extends Record<string, Aggregate<In, unknown>>>(options: WindowOptions<In, A>): Operator<In, WindowResult<AggregateValues<A>>>;

export declare function enrich<In, Found, Out>(options: EnrichOptions<In, Found, Out>): Operator<In, Out>;

export declare function route<V, const B extends RouteBranches<V>>(
  select: (value: V, record: StreamRecord<V>) => string | undefined,
  branches: B,
  options?: RouteOptions,
): Operator<V, BranchOutput<B[keyof B]>>;

export declare function branch<V, const C extends readonly BranchCase<V, unknown>[], O = never>(
  cases: C & readonly BranchCase<V, unknown>[],
  options?: BranchOptions<V, O>,
): Operator<V, BranchOutput<C[number]['then']> | O>;

export declare function anomalies<V>(options: AnomaliesOptions<V>): Operator<V, Alert>;

export declare function thresholdAlerts<Values = unknown>(options: ThresholdAlertsOptions): Operator<WindowResult<Values>, Alert>;

export declare function toSink<V>(sink: Sink<V>, options?: ToSinkOptions): Operator<V, never>;

export declare function defineOperator<In, Out>(
  kind: string,
  name: string | undefined,
  setup: (context: StepContext) => StepHandlers<In, Out>,
): Operator<In, Out>;

export declare function handleRecordError(policy: ErrorPolicy, context: StepContext, record: StreamRecord<unknown>, error: unknown): DeadLetter | undefined;

/** Each quoted signature next to the exported one. */
export interface QuotedAndExported {
  map: [typeof map, typeof core.map];
  filter: [typeof filter, typeof core.filter];
  flatMap: [typeof flatMap, typeof core.flatMap];
  validate: [typeof validate, typeof core.validate];
  mask: [typeof mask, typeof core.mask];
  dedupe: [typeof dedupe, typeof core.dedupe];
  window: [typeof window, typeof core.window];
  enrich: [typeof enrich, typeof core.enrich];
  route: [typeof route, typeof core.route];
  branch: [typeof branch, typeof core.branch];
  anomalies: [typeof anomalies, typeof core.anomalies];
  thresholdAlerts: [typeof thresholdAlerts, typeof core.thresholdAlerts];
  toSink: [typeof toSink, typeof core.toSink];
  defineOperator: [typeof defineOperator, typeof core.defineOperator];
  handleRecordError: [typeof handleRecordError, typeof core.handleRecordError];
}

/** Whether two types are identical (not merely assignable: Observable-based types are assignable in both directions). */
type Identical<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;

/** The names whose quoted signature differs from the export; `never` when the reference is up to date. */
export type Drifted = { [K in keyof QuotedAndExported]: Identical<QuotedAndExported[K][0], QuotedAndExported[K][1]> extends true ? never : K }[keyof QuotedAndExported];

/** Fails to compile, naming the operator, when a quoted signature and its export drift apart. */
export const drifted: [Drifted] extends [never] ? 'none' : Drifted = 'none';
