import { z } from 'zod';
import { InvalidOptionsError } from '../errors.js';
import { stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { Sink } from '../sinks/sink.js';
import { defineOperatorNamed } from './define-operator.js';
import type { Operator } from './define-operator.js';

const toSinkOptionsSchema = z.strictObject({ name: stepNameSchema });

/** Options of {@link toSink}.
 *
 * @interface
 */
export type ToSinkOptions = z.input<typeof toSinkOptionsSchema>;

/**
 * Writes records to a sink and ends the branch: nothing but control chunks comes out, so a pipeline whose every
 * branch ends in `toSink` has the type `Observable<Chunk<never>>` that a topology requires — forgetting a sink is a
 * compile error. The runtime opens the sink, commits it at every checkpoint before committing source positions, and,
 * for an exactly-once sink, drops replayed records the sink already holds.
 *
 * @param sink where the records go
 * @param options `name` — step name (default: the sink's name, suffixed `-2`, `-3`, ... when another step has it)
 *
 * @example
 * ```ts
 * const orders = memorySink<Order>();
 * const job = defineTopology({ name: 'orders', source, pipeline: (s) => s.pipe(validate(Order), toSink(orders)) });
 * ```
 */
export function toSink<V>(sink: Sink<V>, options: ToSinkOptions = {}): Operator<V, never> {
  if (typeof sink !== 'object' || sink === null || typeof sink.write !== 'function' || typeof sink.commit !== 'function') {
    throw new InvalidOptionsError('toSink', ['sink: must be a Sink with write() and commit()']);
  }
  const { name } = parseOptions(toSinkOptionsSchema, 'toSink', options);
  return defineOperatorNamed<V, never>('sink', name, sink.name, (context, host) => {
    const registration = host.registerSink(context.stepName, sink);
    return {
      async data(records, emit) {
        const skip = registration.skip();
        let batch: readonly StreamRecord<V>[] = records;
        if (skip !== undefined) {
          batch = records.filter((record) => {
            const range = skip[record.position.partition];
            return range === undefined || record.position.offset < range[0] || record.position.offset >= range[1];
          });
        }
        if (batch.length === 0) return;
        const result = await sink.write(batch);
        if (result !== undefined && result.rejected.length > 0) {
          emit.deadLetters(result.rejected.map(({ record, error }) => context.deadLetter(record, error)));
        }
      },
    };
  });
}
