import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolCleanup, ToolContext } from '../server/tool-context.js';

/** `topologies` section of the server configuration. (Being built: see issue #6.) */
export const topologiesConfigSchema = z.array(z.never());
/** `deadLetters` section of the server configuration. (Being built: see issue #6.) */
export const deadLettersConfigSchema = z.strictObject({});

/** Registers `describe_topology`, `read_dead_letters` and (writes enabled) `replay_dead_letters`. */
export function registerTopologyTools(
  _server: McpServer,
  _context: ToolContext,
  _topologies: z.output<typeof topologiesConfigSchema> | undefined,
  _deadLetters: z.output<typeof deadLettersConfigSchema> | undefined,
): ToolCleanup {
  return undefined;
}
