import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ToolCleanup, ToolContext } from '../server/tool-context.js';

/** Registers `profile` and `check` when a catalog is configured. (Being built: see issue #6.) */
export function registerQualityTools(_server: McpServer, _context: ToolContext): ToolCleanup {
  return undefined;
}
