import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, storageCatalog } from '@tributary/lakehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_ENV, runCli } from './run-cli.js';
import type { CliIo } from './run-cli.js';

let dir: string;
let configPath: string;
const table = `ns_${randomUUID().slice(0, 8)}.items`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-mcp-cli-'));
  const catalog = storageCatalog({ store: localObjectStore({ root: join(dir, 'warehouse') }) });
  const created = await Table.create(catalog, table, {
    schema: { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'int' }] },
  });
  await created.append([{ id: 1 }, { id: 2 }]);
  configPath = join(dir, 'mcp.json');
  // The warehouse path is relative to the config file, not to the working directory.
  await writeFile(configPath, JSON.stringify({ warehouse: { path: 'warehouse' }, tables: [table], limits: { maxRows: 50 } }));
});
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function io(env: Record<string, string> = {}): CliIo & { stdinStream: PassThrough; stdoutStream: PassThrough; errors: () => string } {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let errors = '';
  stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  return { stdin, stdout, stderr, env, stdinStream: stdin, stdoutStream: stdout, errors: () => errors };
}

describe('tributary mcp (runCli)', () => {
  it('serves the configured warehouse over stdio', async () => {
    const streams = io();
    const outcome = await runCli(['mcp', '--config', configPath], streams);
    if (!('stop' in outcome)) throw new Error(`did not start: ${streams.errors()}`);
    const request = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} };
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
    const lines: string[] = [];
    streams.stdoutStream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')));
    streams.stdinStream.write(`${JSON.stringify(initialize)}\n`);
    await once(streams.stdoutStream, 'data');
    streams.stdinStream.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n${JSON.stringify(request)}\n`);
    while (!lines.some((line) => line.includes('"id":7'))) await once(streams.stdoutStream, 'data');
    const tools = (JSON.parse(lines.find((line) => line.includes('"id":7')) ?? '{}') as { result: { tools: { name: string }[] } }).result.tools;
    expect(tools.map((tool) => tool.name)).toContain('query_sql');
    await outcome.stop();
  });

  it('serves over HTTP with the token from the environment, and audit-logs to stderr', async () => {
    const token = randomBytes(20).toString('hex');
    const streams = io({ [TOKEN_ENV]: token });
    const outcome = await runCli(['mcp', '--config', configPath, '--http', '--port', '0'], streams);
    if (!('url' in outcome) || outcome.url === undefined) throw new Error(`did not start: ${streams.errors()}`);
    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(outcome.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const result = (await client.callTool({ name: 'query_sql', arguments: { sql: `SELECT sum(id) AS total FROM ${table}` } })) as CallToolResult;
    expect(result.structuredContent?.['rows']).toEqual([{ total: 3 }]);
    await client.close();
    await outcome.stop();
    expect(streams.errors()).toContain('"tool":"query_sql"');
    expect(streams.errors()).not.toContain(token);
  });

  it('fails with a clear message and exit code 2 on bad usage or config', async () => {
    const noConfig = io();
    expect(await runCli(['mcp'], noConfig)).toEqual({ exitCode: 2 });
    expect(noConfig.errors()).toMatch(/--config/);

    const noToken = io();
    expect(await runCli(['mcp', '--config', configPath, '--http'], noToken)).toEqual({ exitCode: 2 });
    expect(noToken.errors()).toMatch(new RegExp(TOKEN_ENV));

    const badPath = join(dir, 'bad.json');
    await writeFile(badPath, JSON.stringify({ warehouse: { path: 'w' }, tables: ['not-qualified'] }));
    const bad = io();
    expect(await runCli(['mcp', '--config', badPath], bad)).toEqual({ exitCode: 2 });
    expect(bad.errors()).toMatch(/tables\.0/);

    const unknownKey = join(dir, 'unknown.json');
    await writeFile(unknownKey, JSON.stringify({ warehouse: { path: 'w' }, password: 'x' }));
    const unknown = io();
    expect(await runCli(['mcp', '--config', unknownKey], unknown)).toEqual({ exitCode: 2 });
    expect(unknown.errors()).toMatch(/password/);
  });
});
