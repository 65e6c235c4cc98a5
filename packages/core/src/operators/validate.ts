import { z } from 'zod';
import { InvalidOptionsError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import { withValue } from '../internal/with-value.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';
import { ValidationError } from './validation-error.js';

const validateOptionsSchema = z.strictObject({
  /** Step name in metrics, logs and dead letters. Default `validate-<n>`. */
  name: stepNameSchema,
  /** What to do with a value that fails the schema: `dlq` (default), `skip` or `fail`. */
  onError: errorPolicySchema.default('dlq'),
});

/** Options of {@link validate}.
 *
 * @interface
 */
export type ValidateOptions = z.input<typeof validateOptionsSchema>;

/**
 * Checks each value against a zod schema and passes on what the schema outputs (defaults applied, transforms run,
 * unknown keys stripped as the schema says); the output type is `z.output<typeof schema>`. A value that fails goes to
 * the error policy (default `dlq`) as a {@link ValidationError} listing every issue as `path: message`.
 *
 * Uses `schema.safeParse`, so a failing record costs no exception. Asynchronous refinements are not supported (zod
 * throws on them with `safeParse`; the record then goes to the error policy too).
 *
 * @param schema any zod schema
 * @param options `name` — step name (default `validate-<n>`); `onError` — `dlq` (default) | `skip` | `fail`
 *
 * @example
 * ```ts
 * const Order = z.object({ id: z.string(), amount: z.number().positive(), currency: z.string().default('EUR') });
 * rawOrders.pipe(validate(Order, { name: 'order-schema' })); // Operator<unknown, { id: string; amount: number; currency: string }>
 * ```
 */
export function validate<S extends z.ZodType>(schema: S, options: ValidateOptions = {}): Operator<unknown, z.output<S>> {
  if (typeof (schema as { safeParse?: unknown } | null)?.safeParse !== 'function') throw new InvalidOptionsError('validate', ['schema: must be a zod schema']);
  const { name, onError } = parseOptions(validateOptionsSchema, 'validate', options);
  return defineOperator<unknown, z.output<S>>('validate', name, (context) => ({
    data(records, emit) {
      const out = new Array<StreamRecord<z.output<S>>>(records.length);
      let length = 0;
      let letters: DeadLetter[] | undefined;
      for (const record of records) {
        let error: unknown;
        try {
          const result = schema.safeParse(record.value);
          if (result.success) {
            const data = result.data;
            // Primitives and pass-through schemas return the input itself: keep the record object too.
            out[length++] = Object.is(data, record.value) ? (record as StreamRecord<z.output<S>>) : withValue(record, data);
            continue;
          }
          error = new ValidationError(describeIssues(result.error.issues), { cause: result.error });
        } catch (thrown) {
          // Only a refinement or transform that throws, or an async schema, gets here.
          error = thrown;
        }
        const letter = handleRecordError(onError, context, record, error);
        if (letter) (letters ??= []).push(letter);
      }
      out.length = length;
      emit.data(out);
      if (letters) emit.deadLetters(letters);
    },
  }));
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(value)'}: ${issue.message}`);
}
