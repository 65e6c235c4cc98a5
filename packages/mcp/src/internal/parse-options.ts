import type { z } from 'zod';
import { InvalidOptionsError } from '@tributary/core';

/**
 * Parses factory options once, at construction. Invalid options throw {@link InvalidOptionsError} naming every bad
 * field as `path: problem`.
 */
export function parseOptions<S extends z.ZodType>(schema: S, subject: string, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)';
    return `${path}: ${issue.message}`;
  });
  throw new InvalidOptionsError(subject, issues);
}
