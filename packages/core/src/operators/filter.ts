import { z } from 'zod';
import { InvalidOptionsError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';

const filterOptionsSchema = z.strictObject({
  /** Step name in metrics, logs and dead letters. Default `filter-<n>`. */
  name: stepNameSchema,
  /** What to do with a record whose predicate throws: `dlq` (default), `skip` or `fail`. */
  onError: errorPolicySchema.default('dlq'),
});

/** Options of {@link filter}.
 *
 * @interface
 */
export type FilterOptions = z.input<typeof filterOptionsSchema>;

/**
 * Keeps the records whose value satisfies `predicate`; records are passed on unchanged. With a type-guard predicate
 * the output type narrows to the guarded type. A predicate that throws sends the record to the step's error policy
 * (default `dlq`).
 *
 * @param predicate `true` to keep the record
 * @param options `name` — step name (default `filter-<n>`); `onError` — `dlq` (default) | `skip` | `fail`
 *
 * @example
 * ```ts
 * type Change = { op: 'c' | 'u' | 'd'; after: Order | null };
 * changes.pipe(
 *   filter((change): change is Change & { after: Order } => change.after !== null, { name: 'has-after' }),
 *   map((change) => change.after.amount), // `after` is non-null here
 * );
 * ```
 */
export function filter<V, S extends V>(
  predicate: (value: V, record: StreamRecord<V>) => value is S,
  options?: FilterOptions,
): Operator<V, S>;
/**
 * Keeps the records whose value satisfies `predicate`; records are passed on unchanged.
 *
 * @example
 * ```ts
 * orders.pipe(filter((order) => order.amount > 0, { name: 'positive-amounts' }));
 * ```
 */
export function filter<V>(predicate: (value: V, record: StreamRecord<V>) => boolean, options?: FilterOptions): Operator<V, V>;
export function filter<V>(predicate: (value: V, record: StreamRecord<V>) => boolean, options: FilterOptions = {}): Operator<V, V> {
  if (typeof predicate !== 'function') throw new InvalidOptionsError('filter', ['predicate: must be a function']);
  const { name, onError } = parseOptions(filterOptionsSchema, 'filter', options);
  return defineOperator<V, V>('filter', name, (context) => ({
    data(records, emit) {
      // Most batches keep most records: copy nothing until the first record is dropped.
      let kept: StreamRecord<V>[] | undefined;
      let letters: DeadLetter[] | undefined;
      for (let index = 0; index < records.length; index++) {
        const record = records[index]!;
        let keep: boolean;
        try {
          keep = predicate(record.value, record);
        } catch (error) {
          keep = false;
          const letter = handleRecordError(onError, context, record, error);
          if (letter) (letters ??= []).push(letter);
        }
        if (keep) {
          if (kept) kept.push(record);
        } else {
          kept ??= records.slice(0, index);
        }
      }
      emit.data(kept ?? records);
      if (letters) emit.deadLetters(letters);
    },
  }));
}
