import { z } from 'zod';
import { TributaryError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { fanOut, functionSchema } from '../internal/fan-out.js';
import type { NamedBranch } from '../internal/fan-out.js';
import { parseOptions } from '../internal/parse-options.js';
import type { StreamRecord } from '../record/stream-record.js';
import { handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';
import type { BranchOutput, BranchPipeline } from './route.js';

const branchOptionsSchema = z.strictObject({
  /** Step name in metrics, logs and dead letters. Default `branch-<n>`. */
  name: stepNameSchema,
  /** Sub-pipeline for records that match no case. Default: none (such records follow `unmatched`). */
  otherwise: functionSchema.optional(),
  /** `first` (default): a record goes to the first case it matches. `all`: to every case it matches. */
  mode: z.enum(['first', 'all']).default('first'),
  /**
   * Records that match no case when there is no `otherwise`: `dlq` (default) sends them to the dead letters, `skip`
   * drops them silently, `fail` stops the topology.
   */
  unmatched: errorPolicySchema.default('dlq'),
  /** Records for which a `when` throws: `dlq` (default), `skip` or `fail`. The record then goes to no branch. */
  onError: errorPolicySchema.default('dlq'),
});

const branchArgumentsSchema = z.strictObject({
  cases: z.array(z.strictObject({ when: functionSchema, then: functionSchema })).min(1, 'must have at least one case'),
});

/**
 * One case of a {@link branch}: records for which `when` holds go to the `then` sub-pipeline.
 *
 * @example
 * ```ts
 * const large: BranchCase<Payment, never> = { when: (p) => p.amount >= 10_000, then: (s) => s.pipe(toSink(review)) };
 * ```
 */
export interface BranchCase<V, R> {
  readonly when: (value: V, record: StreamRecord<V>) => boolean;
  readonly then: BranchPipeline<V, R>;
}

/**
 * Options of {@link branch}. The plain options are `z.input` of the options schema; `otherwise` is typed here because
 * its type depends on the stream's value type.
 *
 * @example
 * ```ts
 * const options: BranchOptions<Payment, never> = { name: 'by-kind', mode: 'all', otherwise: (rest) => rest.pipe(toSink(ledger)) };
 * ```
 *
 * @interface
 */
export type BranchOptions<V = unknown, O = unknown> = Omit<z.input<typeof branchOptionsSchema>, 'otherwise'> & {
  /** Sub-pipeline for records that match no case. Default: none (such records follow `unmatched`). */
  otherwise?: BranchPipeline<V, O>;
};

/**
 * Fans records out to sub-pipelines by predicate and merges what they emit; the output type is the union of the
 * branches' outputs. With `mode: 'first'` (default) a record goes to the first case whose `when` holds, with
 * `mode: 'all'` to every such case; a record matching none goes to `otherwise`, or else follows `unmatched`.
 *
 * Watermarks, barriers, dead letters and completion behave as in {@link route}: each branch sees every watermark and
 * barrier, and the merged output emits each once, after every branch has emitted it.
 *
 * @param cases predicates and their sub-pipelines, in priority order
 * @param options `name` (default `branch-<n>`); `otherwise`; `mode` — `first` (default) | `all`; `unmatched` — `dlq`
 *   (default) | `skip` | `fail`; `onError` — `dlq` (default) | `skip` | `fail`
 *
 * @example
 * ```ts
 * payments.pipe(
 *   branch(
 *     [
 *       { when: (payment) => payment.amount >= 10_000, then: (large) => large.pipe(toSink(reviewQueue)) },
 *       { when: (payment) => payment.currency !== 'EUR', then: (foreign) => foreign.pipe(map(convert), toSink(ledger)) },
 *     ],
 *     { name: 'payment-kind', otherwise: (rest) => rest.pipe(toSink(ledger)) },
 *   ),
 * );
 * ```
 */
export function branch<V, const C extends readonly BranchCase<V, unknown>[], O = never>(
  cases: C & readonly BranchCase<V, unknown>[],
  options: BranchOptions<V, O> = {},
): Operator<V, BranchOutput<C[number]['then']> | O> {
  parseOptions(branchArgumentsSchema, 'branch', { cases });
  const { name, otherwise, mode, unmatched, onError } = parseOptions(branchOptionsSchema, 'branch', options);
  const predicates = cases.map((entry) => entry.when);
  const named: NamedBranch<V>[] = cases.map((entry, index) => ({ label: `case ${index}`, pipeline: entry.then }));
  if (otherwise) named.push({ label: 'otherwise', pipeline: otherwise as BranchPipeline<V, unknown> });
  const otherwiseIndex = otherwise ? cases.length : -1;
  const caseCount = predicates.length;

  return fanOut<V, BranchOutput<C[number]['then']> | O>('branch', name, named, (context) => {
    const matches = new Int32Array(caseCount);
    return (records, batches, letters) => {
      for (const record of records) {
        let matched = 0;
        try {
          for (let index = 0; index < caseCount; index++) {
            if (predicates[index]!(record.value, record)) {
              matches[matched++] = index;
              if (mode === 'first') break;
            }
          }
        } catch (error) {
          // Nothing was routed yet, so a record is never half-delivered in `all` mode.
          const letter = handleRecordError(onError, context, record, error);
          if (letter) letters.push(letter);
          continue;
        }
        if (matched > 0) {
          for (let at = 0; at < matched; at++) (batches[matches[at]!] ??= []).push(record);
        } else if (otherwiseIndex >= 0) {
          (batches[otherwiseIndex] ??= []).push(record);
        } else if (unmatched !== 'skip') {
          const error = new TributaryError(
            'UNMATCHED_RECORD',
            `Step "${context.stepName}": the record matched none of its ${caseCount} cases and there is no otherwise branch. ` +
              "Add an otherwise branch, or set unmatched: 'skip' if such records are meant to be dropped.",
          );
          const letter = handleRecordError(unmatched, context, record, error);
          if (letter) letters.push(letter);
        }
      }
    };
  });
}
