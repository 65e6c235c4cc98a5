import { TributaryError } from '@tributary/core';
import type { TributaryErrorOptions } from '@tributary/core';

/** Which tool failed. */
export interface ToolErrorContext extends TributaryErrorOptions {
  /** MCP tool name, e.g. `query_sql`. */
  tool: string;
}

/**
 * Error returned to an agent as a tool error result: refused input, an unknown table, a timeout.
 *
 * @example
 * ```ts
 * throw new ToolError('SQL_REFUSED', 'Only a single SELECT over allowlisted tables is allowed; found COPY.', { tool: 'query_sql' });
 * ```
 */
export class ToolError extends TributaryError {
  /** Tool that failed. */
  readonly tool: string;

  constructor(code: string, message: string, context: ToolErrorContext) {
    super(code, message, context);
    this.tool = context.tool;
  }
}
