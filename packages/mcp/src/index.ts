/**
 * `@tributary/mcp`: an MCP server over Tributary's streams, tables and running topologies. Anything exported here is
 * public API.
 *
 * @packageDocumentation
 */
export { ToolError } from './errors.js';
export type { ToolErrorContext } from './errors.js';
