import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolCleanup, ToolContext } from '../server/tool-context.js';

/** `redis` section of the server configuration. (Being built: see issue #6.) */
export const redisConfigSchema = z.strictObject({});

/** Registers `redis_lookup` when `redis` is configured. */
export function registerRedisTools(_server: McpServer, _context: ToolContext, _config: z.output<typeof redisConfigSchema> | undefined): ToolCleanup {
  return undefined;
}
