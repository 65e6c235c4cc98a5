import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, storageCatalog } from '@tributary/lakehouse';
import type { Catalog, IcebergSchema, Row } from '@tributary/lakehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTributaryMcpServer } from '../server/create-tributary-mcp-server.js';
import type { TributaryMcpConfig } from '../server/create-tributary-mcp-server.js';
import { pngStats } from './chart/png-stats.test-support.js';
import { callTool, resultText } from '../../test/support/tool-calls.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'region', required: false, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'double' },
    { id: 4, name: 'day', required: false, type: 'date' },
  ],
};
const regions = ['north', 'south', 'east'];
const firstRows: Row[] = Array.from({ length: 12 }, (_, i) => ({
  id: BigInt(i),
  region: regions[i % 3],
  amount: 10 + i * 2.5,
  day: `2026-11-${String(i + 1).padStart(2, '0')}`,
}));

let root: string;
let catalog: Catalog;
let ns: string;
let firstSnapshot: bigint;
const clients: Client[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-mcp-chart-'));
  catalog = storageCatalog({ store: localObjectStore({ root }) });
  ns = `chart_${randomUUID().slice(0, 8)}`;
  const sales = await Table.create(catalog, `${ns}.sales`, { schema });
  firstSnapshot = (await sales.append(firstRows))['snapshot-id'];
  await sales.append([{ id: 100n, region: 'west', amount: 99, day: '2026-11-20' }]);
  await Table.create(catalog, `${ns}.hidden`, { schema });
});

afterAll(async () => {
  for (const client of clients) await client.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

async function connect(config: Partial<TributaryMcpConfig>): Promise<Client> {
  const server = createTributaryMcpServer({ catalog, tables: [`${ns}.sales`], ...config });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'chart-test', version: '1.0.0' });
  await client.connect(clientTransport);
  clients.push(client);
  return client;
}

const call = (client: Client, args: Record<string, unknown>): Promise<CallToolResult> => callTool(client, 'create_chart', args);
const text = resultText;
/** A JSON tree to index into in assertions. */
interface Tree {
  readonly [key: string]: Tree;
}
const ok = (result: CallToolResult): { data: Tree; png: Buffer } => {
  expect(result.isError, text(result)).not.toBe(true);
  const images = result.content.filter((c) => c.type === 'image');
  expect(images).toHaveLength(1);
  const image = images[0] as { data: string; mimeType: string };
  expect(image.mimeType).toBe('image/png');
  return { data: result.structuredContent as unknown as Tree, png: Buffer.from(image.data, 'base64') };
};
const refused = async (client: Client, args: Record<string, unknown>): Promise<string> => {
  const result = await call(client, args);
  expect(result.isError, text(result)).toBe(true);
  expect(result.content.some((c) => c.type === 'image')).toBe(false);
  return text(result);
};

describe('create_chart: registration', () => {
  it('exists only when a catalog is configured, and is annotated read-only', async () => {
    const withCatalog = (await (await connect({})).listTools()).tools.find((tool) => tool.name === 'create_chart');
    expect(withCatalog?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    const server = createTributaryMcpServer({ redis: undefined });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    const bare = new Client({ name: 'chart-test', version: '1.0.0' });
    await bare.connect(clientTransport);
    clients.push(bare);
    const tools = await bare.listTools().then((list) => list.tools.map((tool) => tool.name), () => [] as string[]);
    expect(tools).not.toContain('create_chart');
  });
});

describe('create_chart: column names (review L1)', () => {
  it('charts SQL aliases holding quotes, a backslash before a quote, dots and brackets, titled with the names as given', async () => {
    const client = await connect({});
    const region = `customer's "region".a[0]\\"x`;
    const total = `a"b'c.d[0]\\e`;
    const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
    for (const type of ['bar', 'scatter', 'pie'] as const) {
      const fields = type === 'pie' ? { theta: total, color: region } : { x: region, y: total };
      const result = await call(client, {
        type,
        sql: `SELECT region AS ${quote(region)}, sum(amount) AS ${quote(total)} FROM ${ns}.sales GROUP BY region ORDER BY region`,
        ...fields,
      });
      const { data, png } = ok(result);
      const values = data['spec']!['data']!['values'] as unknown as Record<string, unknown>[];
      expect(values).toHaveLength(4);
      expect(Object.keys(values[0]!).every((key) => /^[A-Za-z][A-Za-z0-9_]*$/.test(key))).toBe(true);
      expect(data['spec']!['usermeta']!['fields']).toEqual({ [Object.keys(values[0]!)[0]!]: region, [Object.keys(values[0]!)[1]!]: total });
      expect(pngStats(png).colours).toBeGreaterThan(20);
    }
  });
});

describe('create_chart: from SQL', () => {
  it('charts a query result: the spec holds the query rows, and a valid PNG of the asked size is attached', async () => {
    const client = await connect({});
    const result = await call(client, {
      type: 'bar',
      sql: `SELECT region, sum(amount) AS total FROM ${ns}.sales GROUP BY region ORDER BY region`,
      x: 'region',
      y: 'total',
      title: 'Sales by region',
      width: 500,
      height: 300,
    });
    const { data, png } = ok(result);
    const expected = new Map<string, number>();
    for (const row of [...firstRows, { region: 'west', amount: 99 }]) expected.set(String(row['region']), (expected.get(String(row['region'])) ?? 0) + Number(row['amount']));
    expect(data['spec']!['data']!['values']).toEqual([...expected.entries()].sort().map(([region, total]) => ({ region, total })));
    expect(data['spec']).toMatchObject({ mark: { type: 'bar' }, title: 'Sales by region', width: 500, height: 300 });
    expect(data['image']).toMatchObject({ mime_type: 'image/png', width: 500, height: 300, bytes: png.byteLength });
    expect(data['rows_drawn']).toBe(4);
    expect(data['truncated']).toBe(false);
    const stats = pngStats(png);
    expect([stats.width, stats.height]).toEqual([500, 300]);
    expect(stats.colours).toBeGreaterThan(20);
    // The spec is fenced as untrusted data in the text, as every data result is.
    expect(text(result)).toMatch(/^bar chart of 4 row\(s\) from the tables .*sales@\d+, 500×300 px PNG attached\./);
    expect(text(result)).toContain('untrusted content');
  });

  it('time travel: as_of_snapshot_id charts the table as it was', async () => {
    const client = await connect({});
    const { data } = ok(await call(client, { type: 'line', sql: `SELECT day, amount FROM ${ns}.sales ORDER BY day`, x: 'day', y: 'amount', as_of_snapshot_id: firstSnapshot.toString() }));
    expect(data['rows_drawn']).toBe(firstRows.length);
    expect(data['spec']!['encoding']!['x']).toMatchObject({ field: 'day', type: 'temporal' });
  });

  it('cuts to maxRows and says so', async () => {
    const client = await connect({ limits: { maxRows: 5 } });
    const result = await call(client, { type: 'scatter', sql: `SELECT id, amount FROM ${ns}.sales`, x: 'id', y: 'amount' });
    const { data } = ok(result);
    expect(data['rows_drawn']).toBe(5);
    expect(data['truncated']).toBe(true);
    expect(text(result)).toContain('cut to the row or size cap');
  });

  it('answers a hidden table exactly like a missing one, and refuses file-reading escapes', async () => {
    const client = await connect({});
    const hidden = await refused(client, { type: 'bar', sql: `SELECT region, amount FROM ${ns}.hidden`, x: 'region', y: 'amount' });
    const missing = await refused(client, { type: 'bar', sql: `SELECT region, amount FROM ${ns}.nothing`, x: 'region', y: 'amount' });
    expect(hidden.replace(`${ns}.hidden`, 'T')).toBe(missing.replace(`${ns}.nothing`, 'T'));
    expect(await refused(client, { type: 'bar', sql: "SELECT * FROM read_csv('/etc/passwd')", x: 'column0', y: 'column1' })).not.toContain('root:');
  });

  it('names the columns when an encoding names one the result does not have', async () => {
    const client = await connect({});
    expect(await refused(client, { type: 'line', sql: `SELECT day, amount FROM ${ns}.sales`, x: 'day', y: 'revenue' })).toMatch(
      /UNKNOWN_FIELD: "y" names the column "revenue", which the data does not have\. Columns: "day", "amount"\./,
    );
  });
});

describe('create_chart: inline data', () => {
  it('charts inline rows at scale 2: the PNG has twice the pixels', async () => {
    const client = await connect({});
    const { data, png } = ok(
      await call(client, { type: 'pie', data: [{ k: 'a', v: 1 }, { k: 'b', v: 2 }, { k: 'c', v: 3 }], theta: 'v', color: 'k', width: 200, height: 150, scale: 2 }),
    );
    expect(data['spec']!['data']!['values']).toEqual([{ v: 1, k: 'a' }, { v: 2, k: 'b' }, { v: 3, k: 'c' }]);
    const stats = pngStats(png);
    expect([stats.width, stats.height]).toEqual([400, 300]);
    expect(data['image']).toMatchObject({ width: 400, height: 300 });
  });

  it('works without a catalog query: histogram of inline numbers', async () => {
    const client = await connect({});
    const { png } = ok(await call(client, { type: 'histogram', data: Array.from({ length: 50 }, (_, i) => ({ v: (i * 17) % 23 })), x: 'v', bins: 5 }));
    expect(pngStats(png)).toMatchObject({ width: 640, height: 400 });
  });
});

describe('create_chart: hostile and invalid input', () => {
  it('wants exactly one of sql and data, and time travel only with sql', async () => {
    const client = await connect({});
    expect(await refused(client, { type: 'bar', x: 'a', y: 'b' })).toContain('INVALID_SOURCE');
    expect(await refused(client, { type: 'bar', x: 'a', y: 'b', sql: `SELECT 1 AS a, 2 AS b`, data: [{ a: 1, b: 2 }] })).toContain('INVALID_SOURCE');
    expect(await refused(client, { type: 'bar', x: 'a', y: 'b', data: [{ a: 1, b: 2 }], as_of_snapshot_id: '1' })).toContain('INVALID_SOURCE');
    expect(
      await refused(client, { type: 'bar', x: 'a', y: 'b', sql: `SELECT 1 AS a, 2 AS b`, as_of_snapshot_id: firstSnapshot.toString(), as_of_timestamp: 0 }),
    ).toContain('INVALID_AS_OF');
  });

  it('refuses absurd sizes, unknown chart types and oversized inline data', async () => {
    const client = await connect({ limits: { maxBytes: 1024 } });
    const data = [{ a: 'x', b: 1 }];
    await refused(client, { type: 'bar', data, x: 'a', y: 'b', width: 50_000 });
    await refused(client, { type: 'bar', data, x: 'a', y: 'b', height: 10 });
    expect(await refused(client, { type: 'bar', data, x: 'a', y: 'b', width: 2000, scale: 3 })).toContain('CHART_TOO_LARGE');
    await refused(client, { type: 'radar', data, x: 'a', y: 'b' });
    const big = Array.from({ length: 100 }, (_, i) => ({ a: `category number ${i}`, b: i }));
    expect(await refused(client, { type: 'bar', data: big, x: 'a', y: 'b' })).toMatch(/DATA_TOO_LARGE: data is \d+ bytes of JSON, over this server's 1024-byte cap/);
  });

  it('refuses a text column where the chart needs numbers, and channels the type does not use', async () => {
    const client = await connect({});
    expect(await refused(client, { type: 'bar', data: [{ a: 'x', b: 'y' }], x: 'a', y: 'b' })).toContain('FIELD_NOT_NUMERIC');
    expect(await refused(client, { type: 'pie', data: [{ a: 'x', b: 1 }], theta: 'b', color: 'a', open: 'b' })).toContain('A pie chart does not use "open"');
  });
});
