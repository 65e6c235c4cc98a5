/**
 * `@tributary/mcp`: an MCP server over Tributary's streams, tables and running topologies. Anything exported here is
 * public API.
 *
 * @packageDocumentation
 */
export { ToolError } from './errors.js';
export type { ToolErrorContext } from './errors.js';
export { createTributaryMcpServer } from './server/create-tributary-mcp-server.js';
export type { TributaryMcpConfig } from './server/create-tributary-mcp-server.js';
export type { KafkaAdminLike } from './tools/kafka-tools.js';
export type { RedisToolsConfig } from './tools/redis-tools.js';
export { REDIS_READ_COMMANDS } from './tools/redis-tools.js';
export { REPLAY_HEADERS } from './tools/topology-tools.js';
export { serveStdio } from './transport/serve-stdio.js';
export { serveHttp } from './transport/serve-http.js';
export type { ServeHttpOptions, HttpEndpoint } from './transport/serve-http.js';
export { runCli, TOKEN_ENV } from './cli/run-cli.js';
export type { McpConfigFile, CliIo } from './cli/run-cli.js';
