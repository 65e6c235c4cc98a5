import type { Observable } from 'rxjs';
import { z } from 'zod';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { fanOut, functionSchema } from '../internal/fan-out.js';
import { parseOptions } from '../internal/parse-options.js';
import type { Chunk, DataChunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';

const routeOptionsSchema = z.strictObject({
  /** Step name in metrics, logs and dead letters. Default `route-<n>`. */
  name: stepNameSchema,
  /**
   * Records for which `select` returns `undefined` or a key without a branch: `dlq` (default) sends them to the dead
   * letters, `skip` drops them silently (for records you mean to ignore), `fail` stops the topology.
   */
  unmatched: errorPolicySchema.default('dlq'),
  /** Records whose `select` throws: `dlq` (default), `skip` or `fail`. */
  onError: errorPolicySchema.default('dlq'),
});

const routeArgumentsSchema = z.strictObject({
  branches: z
    .record(z.string(), functionSchema)
    .refine((branches) => Object.keys(branches).length > 0, 'must have at least one branch'),
});

/** Options of {@link route}.
 *
 * @interface
 */
export type RouteOptions = z.input<typeof routeOptionsSchema>;

/**
 * A sub-pipeline of {@link route} or {@link branch}: receives its share of the records and every watermark and
 * barrier, and returns what it emits (typically ending in a sink). It must pass each watermark and barrier through.
 *
 * @example
 * ```ts
 * const toLedger: BranchPipeline<Payment, never> = (payments) => payments.pipe(map(toEntry), toSink(ledger));
 * ```
 */
export type BranchPipeline<V, R> = (branch: Observable<Chunk<V>>) => Observable<Chunk<R>>;

/**
 * The value type of the records a branch pipeline emits (`never` for a branch ending in a sink). For a union of
 * pipelines, the union of their outputs: the output type of {@link route} and {@link branch}.
 *
 * @example
 * ```ts
 * type Out = BranchOutput<BranchPipeline<Order, string> | BranchPipeline<Order, number>>; // string | number
 * ```
 */
export type BranchOutput<F> = F extends (branch: never) => Observable<infer C> ? (C extends DataChunk<infer R> ? R : never) : never;

/**
 * The sub-pipelines of a {@link route}, by key.
 *
 * @example
 * ```ts
 * const byOp: RouteBranches<Change> = { c: (s) => s.pipe(toSink(inserts)), d: (s) => s.pipe(toSink(deletes)) };
 * ```
 */
export type RouteBranches<V> = Readonly<Record<string, BranchPipeline<V, unknown>>>;

/**
 * Fans records out to sub-pipelines by a key computed from each record — typically the event type, such as a
 * Debezium `op` — and merges what the sub-pipelines emit. The output type is the union of the branches' outputs.
 *
 * Each branch receives only its records (one batch per input batch, in order) plus every watermark and barrier. A
 * watermark or barrier leaves the route once, after every branch has emitted it, so a barrier downstream of a route
 * still means that every branch — including asynchronous sinks inside them — has handled everything before it. What
 * branches emit (records, dead letters, late records) is forwarded as it comes, except that nothing a branch emits
 * after a barrier or watermark overtakes it while slower branches still hold it back. Dead letters and late records
 * from upstream are forwarded once, in their place between barriers. The branches are subscribed while the route is,
 * so steps and sinks inside them register with the runtime.
 *
 * Branches must pass every watermark and barrier through, once and in order (Tributary operators and sinks do); a
 * branch that breaks this errors the topology. A branch that completes early stops receiving records.
 *
 * @param select the key of the branch for a record, or `undefined` for none; keys without a branch follow `unmatched`
 * @param branches one sub-pipeline per key
 * @param options `name` (default `route-<n>`); `unmatched` — `dlq` (default) | `skip` | `fail`; `onError` — `dlq`
 *   (default) | `skip` | `fail`
 *
 * @example
 * ```ts
 * changes.pipe(
 *   route((change) => change.op, {
 *     c: (inserts) => inserts.pipe(toSink(insertSink)),
 *     u: (updates) => updates.pipe(toSink(upsertSink)),
 *     d: (deletes) => deletes.pipe(toSink(deleteSink)),
 *   }, { name: 'by-op', unmatched: 'skip' }), // snapshot reads ('r') and truncates ('t') are dropped
 * );
 * ```
 */
export function route<V, const B extends RouteBranches<V>>(
  select: (value: V, record: StreamRecord<V>) => string | undefined,
  branches: B,
  options: RouteOptions = {},
): Operator<V, BranchOutput<B[keyof B]>> {
  if (typeof select !== 'function') throw new InvalidOptionsError('route', ['select: must be a function']);
  parseOptions(routeArgumentsSchema, 'route', { branches });
  const { name, unmatched, onError } = parseOptions(routeOptionsSchema, 'route', options);
  const keys = Object.keys(branches);
  const indexOf = new Map<string, number>(keys.map((key, index) => [key, index]));
  const named = keys.map((key) => ({ label: key, pipeline: branches[key]! }));

  return fanOut<V, BranchOutput<B[keyof B]>>('route', name, named, (context) => (records, batches, letters) => {
    for (const record of records) {
      let key: string | undefined;
      try {
        key = select(record.value, record);
      } catch (error) {
        const letter = handleRecordError(onError, context, record, error);
        if (letter) letters.push(letter);
        continue;
      }
      const index = key === undefined ? undefined : indexOf.get(key);
      if (index !== undefined) {
        (batches[index] ??= []).push(record);
      } else if (unmatched !== 'skip') {
        const reason = key === undefined ? 'the selector returned undefined' : `there is no branch for key "${key}"`;
        const error = new TributaryError(
          'UNMATCHED_RECORD',
          `Step "${context.stepName}" could not route the record: ${reason} (branches: ${keys.join(', ')}). ` +
            "Add a branch for it, or set unmatched: 'skip' if such records are meant to be dropped.",
        );
        const letter = handleRecordError(unmatched, context, record, error);
        if (letter) letters.push(letter);
      }
    }
  });
}
