import { z } from 'zod';
import { InvalidOptionsError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import { withValue } from '../internal/with-value.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';

const flatMapOptionsSchema = z.strictObject({
  /** Step name in metrics, logs and dead letters. Default `flatMap-<n>`. */
  name: stepNameSchema,
  /** What to do with a record whose `project` throws (also while iterating): `dlq` (default), `skip` or `fail`. */
  onError: errorPolicySchema.default('dlq'),
});

/** Options of {@link flatMap}.
 *
 * @interface
 */
export type FlatMapOptions = z.input<typeof flatMapOptionsSchema>;

/**
 * Turns each record into zero or more records. Every output keeps the input's key, event time, source position and
 * headers, so progress tracking and dead letters still point at the source record. A `project` that throws — or whose
 * iterable throws while being read — sends the input record to the error policy (default `dlq`), and none of that
 * record's outputs are emitted.
 *
 * @param project the values to emit for one input value (an array, a generator, any iterable)
 * @param options `name` — step name (default `flatMap-<n>`); `onError` — `dlq` (default) | `skip` | `fail`
 *
 * @example
 * ```ts
 * // One record per order line.
 * orders.pipe(flatMap((order) => order.lines.map((line) => ({ orderId: order.id, ...line })), { name: 'explode-lines' }));
 * ```
 */
export function flatMap<In, Out>(
  project: (value: In, record: StreamRecord<In>) => Iterable<Out>,
  options: FlatMapOptions = {},
): Operator<In, Out> {
  if (typeof project !== 'function') throw new InvalidOptionsError('flatMap', ['project: must be a function']);
  const { name, onError } = parseOptions(flatMapOptionsSchema, 'flatMap', options);
  return defineOperator<In, Out>('flatMap', name, (context) => ({
    data(records, emit) {
      const out: StreamRecord<Out>[] = [];
      let letters: DeadLetter[] | undefined;
      for (const record of records) {
        const mark = out.length;
        try {
          const values = project(record.value, record);
          if (Array.isArray(values)) {
            const array = values as readonly Out[];
            for (let index = 0; index < array.length; index++) out.push(withValue(record, array[index]!));
          } else {
            for (const value of values) out.push(withValue(record, value));
          }
        } catch (error) {
          // All or nothing per input record: drop what a half-read iterable already produced.
          out.length = mark;
          const letter = handleRecordError(onError, context, record, error);
          if (letter) (letters ??= []).push(letter);
        }
      }
      emit.data(out);
      if (letters) emit.deadLetters(letters);
    },
  }));
}
