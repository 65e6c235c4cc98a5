/**
 * `tributary mcp` from a config file naming an S3 warehouse (credentials from the AWS default chain, here the
 * environment), served over Streamable HTTP and queried with the SDK's client; rows checked against pyiceberg.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Table, storageCatalog } from '@tributary/lakehouse';
import type { Row } from '@tributary/lakehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_ENV, runCli } from '../../src/index.js';
import { pyS3Properties, pyicebergRead, sortRows } from '../../../lakehouse/test/support/pyiceberg.js';
import { TestBucket } from '../../../lakehouse/test/support/s3-bucket.js';
import { services } from '../../../../test/support/services.js';

const bucket = new TestBucket('mcp-cli');
const tableName = `mcp_${randomUUID().slice(0, 8)}.readings`;
const savedEnv = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };
let dir: string;
let table: Table;
let firstSnapshot: bigint;

beforeAll(async () => {
  await bucket.create();
  const catalog = storageCatalog({ store: bucket.store('warehouse') });
  table = await Table.create(catalog, tableName, {
    schema: {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'sensor', required: true, type: 'string' },
        { id: 2, name: 'value', required: false, type: 'double' },
      ],
    },
  });
  const rows: Row[] = Array.from({ length: 12 }, (_, i) => ({ sensor: `s${String(i).padStart(2, '0')}`, value: i / 4 }));
  firstSnapshot = (await table.append(rows.slice(0, 8)))['snapshot-id'];
  await table.append(rows.slice(8));
  dir = await mkdtemp(join(tmpdir(), 'tributary-mcp-cli-s3-'));
  process.env['AWS_ACCESS_KEY_ID'] = services.s3Credentials.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = services.s3Credentials.secretAccessKey;
});

afterAll(async () => {
  for (const [name, value] of [
    ['AWS_ACCESS_KEY_ID', savedEnv.id],
    ['AWS_SECRET_ACCESS_KEY', savedEnv.secret],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await bucket.destroy();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('tributary mcp with an S3 warehouse', () => {
  it('serves query_sql over HTTP with the rows pyiceberg reads, now and at an older snapshot', async () => {
    const configPath = join(dir, 'mcp.json');
    await writeFile(
      configPath,
      JSON.stringify({
        warehouse: { s3: { bucket: bucket.name, prefix: 'warehouse', region: services.s3Region, endpoint: services.s3Endpoint, forcePathStyle: true } },
        tables: [tableName],
      }),
    );
    const token = randomBytes(20).toString('hex');
    const stderr = new PassThrough();
    let errors = '';
    stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    const outcome = await runCli(['mcp', '--config', configPath, '--http'], { stdin: new PassThrough(), stdout: new PassThrough(), stderr, env: { [TOKEN_ENV]: token } });
    if (!('url' in outcome) || outcome.url === undefined) throw new Error(`did not start: ${errors}`);
    const client = new Client({ name: 'cli-s3', version: '1.0.0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(outcome.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      const query = async (args: Record<string, unknown>): Promise<Record<string, unknown>[]> => {
        const result = (await client.callTool({ name: 'query_sql', arguments: { sql: `SELECT sensor, value FROM ${tableName}`, ...args } })) as CallToolResult;
        expect(result.isError, JSON.stringify(result.content)).not.toBe(true);
        return sortRows(result.structuredContent?.['rows'] as Record<string, unknown>[], 'sensor');
      };
      const now = await pyicebergRead(table.metadataLocation, { properties: pyS3Properties });
      const before = await pyicebergRead(table.metadataLocation, { snapshotId: firstSnapshot, properties: pyS3Properties });
      expect(now.rows).toHaveLength(12);
      expect(before.rows).toHaveLength(8);
      expect(await query({})).toEqual(sortRows(now.rows, 'sensor'));
      expect(await query({ as_of_snapshot_id: firstSnapshot.toString() })).toEqual(sortRows(before.rows, 'sensor'));
    } finally {
      await client.close();
      await outcome.stop();
    }
  });
});
