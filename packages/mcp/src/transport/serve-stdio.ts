import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Readable, Writable } from 'node:stream';

/**
 * Serves MCP over stdio (what desktop MCP clients launch): JSON-RPC on stdin/stdout, so nothing else may write to
 * stdout — send logs to stderr. No authentication: whoever can start the process already has its rights. Resolves
 * once connected; the returned function disconnects and closes the server.
 *
 * @example
 * ```ts
 * const stop = await serveStdio(createTributaryMcpServer({ catalog, tables: ['silver.orders'] }));
 * process.once('SIGTERM', () => void stop());
 * ```
 */
export async function serveStdio(server: McpServer, streams: { stdin?: Readable; stdout?: Writable } = {}): Promise<() => Promise<void>> {
  const transport = new StdioServerTransport(streams.stdin ?? process.stdin, streams.stdout ?? process.stdout);
  await server.connect(transport);
  return () => server.close();
}
