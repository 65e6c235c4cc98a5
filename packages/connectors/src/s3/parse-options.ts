/**
 * Options parsing for the object-store factories: a copy of core's internal `parseOptions` (core does not export it
 * and its internals may not be imported by deep path). Invalid options throw `InvalidOptionsError` naming every bad
 * field as `path: problem`; values are never echoed, so a bad `credentials` object cannot leak into a message.
 *
 * @internal
 */
import { InvalidOptionsError } from '@tributary/core';
import type { z } from 'zod';

export function parseOptions<S extends z.ZodType>(schema: S, subject: string, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)';
    return `${path}: ${issue.message}`;
  });
  throw new InvalidOptionsError(subject, issues);
}
