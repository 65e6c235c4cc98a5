import { z } from 'zod';
import { InvalidOptionsError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';

const mapOptionsSchema = z.strictObject({
  name: stepNameSchema,
  onError: errorPolicySchema.default('dlq'),
});

/** Options of {@link map}.
 *
 * @interface
 */
export type MapOptions = z.input<typeof mapOptionsSchema>;

/**
 * Transforms each record's value. Key, event time, position and headers stay. A `project` that throws sends the record
 * to the step's error policy (default `dlq`).
 *
 * @param project new value from the old value (and the whole record, if needed)
 * @param options `name` — step name (default `map-<n>`); `onError` — `dlq` (default) | `skip` | `fail`
 *
 * @example
 * ```ts
 * orders.pipe(map((order) => ({ ...order, total: order.quantity * order.price }), { name: 'add-total' }));
 * ```
 */
export function map<In, Out>(project: (value: In, record: StreamRecord<In>) => Out, options: MapOptions = {}): Operator<In, Out> {
  if (typeof project !== 'function') throw new InvalidOptionsError('map', ['project: must be a function']);
  const { name, onError } = parseOptions(mapOptionsSchema, 'map', options);
  return defineOperator<In, Out>('map', name, (context) => ({
    data(records, emit) {
      const out: StreamRecord<Out>[] = new Array<StreamRecord<Out>>(records.length);
      let length = 0;
      let letters: DeadLetter[] | undefined;
      for (const record of records) {
        try {
          out[length++] = { ...record, value: project(record.value, record) };
        } catch (error) {
          length--;
          const letter = handleRecordError(onError, context, record, error);
          if (letter) (letters ??= []).push(letter);
        }
      }
      out.length = length;
      emit.data(out);
      if (letters) emit.deadLetters(letters);
    },
  }));
}
