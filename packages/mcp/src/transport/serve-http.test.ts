import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InvalidOptionsError } from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serveHttp } from './serve-http.js';
import type { HttpEndpoint } from './serve-http.js';

const token = randomBytes(24).toString('hex');
let endpoint: HttpEndpoint;
let serversMade = 0;

function factory(): McpServer {
  serversMade += 1;
  const server = new McpServer({ name: 'test', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, ({ text }) => ({ content: [{ type: 'text', text }] }));
  return server;
}

beforeAll(async () => {
  endpoint = await serveHttp(factory, { token, allowedOrigins: ['http://localhost:5173'] });
});
afterAll(async () => {
  await endpoint?.close();
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const post = (headers: Record<string, string>, body: unknown = initialize): Promise<Response> =>
  fetch(endpoint.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });

describe('serveHttp', () => {
  it('binds to 127.0.0.1 by default', () => {
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });

  it('serves the SDK client with the bearer token, with random UUID session ids', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(transport);
    expect(transport.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(result.content).toEqual([{ type: 'text', text: 'hi' }]);
    await client.close();
  });

  it('answers 401 without a token or with a wrong one', async () => {
    const before = serversMade;
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: `Bearer ${token}x` })).status).toBe(401);
    expect((await post({ authorization: token })).status).toBe(401);
    expect(serversMade).toBe(before);
  });

  it('answers 403 for a disallowed Origin, even with the token', async () => {
    expect((await post({ authorization: `Bearer ${token}`, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ authorization: `Bearer ${token}`, origin: 'http://localhost:5173' })).status).toBe(200);
  });

  it('refuses an unknown session id and requests without a session', async () => {
    const unknown = await post({ authorization: `Bearer ${token}`, 'mcp-session-id': 'not-a-session' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(unknown.status).toBe(404);
    const none = await post({ authorization: `Bearer ${token}` }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(none.status).toBe(400);
  });

  it('requires a token of at least 16 characters', async () => {
    await expect(serveHttp(factory, { token: 'short' })).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});
