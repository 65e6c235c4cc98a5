import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolCleanup, ToolContext } from '../server/tool-context.js';

/** `alerts` section of the server configuration. (Being built: see issue #6.) */
export const alertsConfigSchema = z.strictObject({});

/** Registers `list_alerts` and (writes enabled) `create_alert_rule` / `delete_alert_rule`. */
export function registerAlertTools(_server: McpServer, _context: ToolContext, _config: z.output<typeof alertsConfigSchema> | undefined): ToolCleanup {
  return undefined;
}
