import { TributaryError } from '../errors.js';
import type { TributaryErrorOptions } from '../errors.js';

/**
 * A record's value did not match the schema of a {@link validate} step. It reaches the dead letters (policy `dlq`, the
 * default) with code `VALIDATION_FAILED` and a message listing every issue as `path: problem`.
 *
 * @example
 * ```ts
 * for (const letter of driver.deadLetters) {
 *   if (letter.error.code === 'VALIDATION_FAILED') console.log(letter.error.message);
 *   // Value failed validation: amount: Invalid input: expected number, received string
 * }
 * ```
 */
export class ValidationError extends TributaryError {
  /** One entry per problem, as `path: message` (`(value)` for the value itself). */
  readonly issues: readonly string[];

  constructor(issues: readonly string[], options: TributaryErrorOptions = {}) {
    super(
      'VALIDATION_FAILED',
      `Value failed validation: ${issues.join('; ')}. Fix the producer, or widen the schema if such values are legitimate.`,
      options,
    );
    this.issues = issues;
  }
}
