import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { parseOptions } from '../internal/parse-options.js';

const serveHttpSchema = z.strictObject({
  /** Interface to listen on. Default `"127.0.0.1"` (loopback only); anything else exposes the tools to the network. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port. Default `0` (a free port; read it from the returned `url`). */
  port: z.number().int().min(0).max(65_535).default(0),
  /** Bearer token every request must carry (`Authorization: Bearer <token>`). Required; at least 16 characters. */
  token: z.string().min(16, 'must be at least 16 characters (use a random secret)'),
  /**
   * Origins allowed to call the server from a browser, e.g. `["http://localhost:5173"]`. A request with any other
   * `Origin` header is refused with 403 (DNS-rebinding defence). Requests without `Origin` (non-browser clients) pass.
   * Default: none.
   */
  allowedOrigins: z.array(z.url()).default([]),
  /** Path of the MCP endpoint. Default `"/mcp"`. */
  path: z.string().regex(/^\/[A-Za-z0-9/_-]*$/).default('/mcp'),
  /** Most concurrent sessions; more are refused with 503. Default 100. */
  maxSessions: z.number().int().min(1).max(10_000).default(100),
  /** Largest request body, in bytes; larger ones get 413. Default 4 MiB. */
  maxBodyBytes: z.number().int().min(1_024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
});

/**
 * Options of {@link serveHttp}.
 *
 * @interface
 * @example
 * ```ts
 * const options: ServeHttpOptions = { port: 8765, token: process.env.TRIBUTARY_MCP_TOKEN ?? '' };
 * ```
 */
export type ServeHttpOptions = z.input<typeof serveHttpSchema>;

/**
 * A running HTTP endpoint.
 *
 * @example
 * ```ts
 * const { url, close } = await serveHttp(factory, { token });
 * ```
 */
export interface HttpEndpoint {
  /** The MCP endpoint, e.g. `http://127.0.0.1:8765/mcp`. */
  readonly url: string;
  /** Stops accepting requests, closes every session and the servers they use. */
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32_000, message }, id: null }));
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Serves MCP over Streamable HTTP on `node:http`: one `McpServer` per session (made by `serverFactory`), session
 * ids from `crypto.randomUUID()`. Every request must carry the bearer token (compared in constant time; 401
 * otherwise) and, when it has an `Origin` header, come from an allowed origin (403 otherwise). Bound to 127.0.0.1
 * by default, where the `Host` header must name the loopback too (403 otherwise). Sessions are not credentials:
 * the token is checked on every request.
 *
 * @example
 * ```ts
 * const endpoint = await serveHttp(() => createTributaryMcpServer({ catalog }), { port: 8765, token: process.env.MCP_TOKEN ?? '' });
 * console.log(`MCP at ${endpoint.url}`);
 * ```
 */
export async function serveHttp(serverFactory: () => McpServer, options: ServeHttpOptions): Promise<HttpEndpoint> {
  const config = parseOptions(serveHttpSchema, 'serveHttp', options);
  const expected = digest(`Bearer ${config.token}`);
  const allowedOrigins = new Set(config.allowedOrigins.map((origin) => new URL(origin).origin));
  const loopbackOnly = LOOPBACK_HOSTS.has(config.host);
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== config.path) return reply(res, 404, 'Not found.');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin)) return reply(res, 403, 'Origin not allowed.');
    if (loopbackOnly) {
      const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (!LOOPBACK_HOSTS.has(hostname)) return reply(res, 403, 'Host not allowed.');
    }
    // Hashing both sides gives equal lengths, so the comparison time does not depend on the token's content.
    const authorization = req.headers.authorization ?? '';
    if (!timingSafeEqual(digest(authorization), expected)) {
      return reply(res, 401, 'Missing or invalid bearer token.', { 'www-authenticate': 'Bearer' });
    }

    const sessionId = req.headers['mcp-session-id'];
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, config.maxBodyBytes);
      if (raw === 'too-large') return reply(res, 413, `Request body larger than ${config.maxBodyBytes} bytes.`);
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return reply(res, 400, 'Request body is not JSON.');
      }
    }
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      if (session === undefined) return reply(res, 404, 'Unknown or expired session; initialize a new one.');
      return session.transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) return reply(res, 400, 'No session: send an initialize request first.');
    if (sessions.size >= config.maxSessions) return reply(res, 503, 'Too many sessions.');

    const server = serverFactory();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
      void server.close().catch(() => {});
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500, 'Internal error.');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${hostForUrl}:${port}${config.path}`,
    close: async () => {
      const closing = new Promise<void>((resolve) => http.close(() => resolve()));
      for (const { transport } of [...sessions.values()]) await transport.close().catch(() => {});
      sessions.clear();
      http.closeAllConnections();
      await closing;
    },
  };
}
