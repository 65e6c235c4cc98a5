import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { describe, expect, it } from 'vitest';
import { serveStdio } from './serve-stdio.js';

describe('serveStdio', () => {
  it('answers newline-delimited JSON-RPC on the given streams', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const server = new McpServer({ name: 'stdio-test', version: '1.0.0' });
    const stop = await serveStdio(server, { stdin, stdout });
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
    stdin.write(`${JSON.stringify(initialize)}\n`);
    const [chunk] = (await once(stdout, 'data')) as [Buffer];
    const line = chunk.toString('utf8');
    expect(line.endsWith('\n')).toBe(true);
    const response = JSON.parse(line) as { id: number; result: { serverInfo: { name: string } } };
    expect(response.id).toBe(1);
    expect(response.result.serverInfo.name).toBe('stdio-test');
    await stop();
  });
});
