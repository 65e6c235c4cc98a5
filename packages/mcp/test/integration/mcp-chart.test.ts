/**
 * `create_chart` driven by the SDK's own client over Streamable HTTP, on a table Tributary wrote (local warehouse):
 * the charted values are checked against pyiceberg, the independent reader (current snapshot and time travel), and
 * the returned PNG is decoded with pngjs — size, and the candle colours actually drawn.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, storageCatalog } from '@tributary/lakehouse';
import type { IcebergSchema, Row } from '@tributary/lakehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTributaryMcpServer, serveHttp } from '../../src/index.js';
import type { HttpEndpoint } from '../../src/index.js';
import { pngStats } from '../../src/tools/chart/png-stats.test-support.js';
import { pyicebergRead } from '../../../lakehouse/test/support/pyiceberg.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'day', required: false, type: 'date' },
    { id: 3, name: 'seq', required: false, type: 'int' },
    { id: 4, name: 'price', required: false, type: 'double' },
    { id: 5, name: 'sym', required: false, type: 'string' },
  ],
};

const token = randomBytes(24).toString('hex');
const tableName = `chart_${randomUUID().slice(0, 8)}.ticks`;
const days = ['2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06'];

let root: string;
let table: Table;
let firstSnapshot: bigint;
let endpoint: HttpEndpoint;
let client: Client;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-mcp-chart-it-'));
  const catalog = storageCatalog({ store: localObjectStore({ root }) });
  table = await Table.create(catalog, tableName, { schema });
  // Six ticks a day; even days close above their open, odd days below, so both candle colours appear.
  const rows: Row[] = days.flatMap((day, d) =>
    Array.from({ length: 6 }, (_, seq) => ({
      id: BigInt(d * 10 + seq),
      day,
      seq,
      price: 100 + d * 3 + (d % 2 === 0 ? seq : -seq) + (seq === 2 ? 4 : 0),
      sym: seq % 2 === 0 ? 'ACME' : 'BOLT',
    })),
  );
  firstSnapshot = (await table.append(rows))['snapshot-id'];
  await table.upsert([{ id: 5n, day: days[0], seq: 5, price: 80, sym: 'CORE' }]);
  endpoint = await serveHttp(() => createTributaryMcpServer({ catalog, tables: [tableName], limits: { maxRows: 500, timeoutMs: 20_000 } }), { token });
  client = new Client({ name: 'mcp-chart-it', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
});

afterAll(async () => {
  await client?.close();
  await endpoint?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

const chart = async (args: Record<string, unknown>): Promise<{ values: Record<string, unknown>[]; png: Buffer; text: string }> => {
  const result = (await client.callTool({ name: 'create_chart', arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
  expect(result.isError, text).not.toBe(true);
  const image = result.content.find((c) => c.type === 'image') as { data: string; mimeType: string } | undefined;
  expect(image?.mimeType).toBe('image/png');
  const spec = (result.structuredContent as { spec: { data: { values: Record<string, unknown>[] } } }).spec;
  return { values: spec.data.values, png: Buffer.from(image?.data ?? '', 'base64'), text };
};

type Tick = { day: string; seq: number; price: number; sym: string };

describe('create_chart over Streamable HTTP', () => {
  it('a candlestick of daily OHLC computed in SQL equals OHLC computed from pyiceberg rows, and both candle colours are drawn', async () => {
    const { values, png, text } = await chart({
      type: 'candlestick',
      sql:
        `SELECT day, arg_min(price, seq) AS open, max(price) AS high, min(price) AS low, arg_max(price, seq) AS close ` +
        `FROM ${tableName} GROUP BY day ORDER BY day`,
      x: 'day',
      open: 'open',
      high: 'high',
      low: 'low',
      close: 'close',
      title: 'Daily OHLC',
      width: 720,
      height: 360,
    });
    const ticks = (await pyicebergRead(table.metadataLocation)).rows as Tick[];
    const expected = days.map((day) => {
      const today = ticks.filter((t) => t.day === day).sort((a, b) => a.seq - b.seq);
      const prices = today.map((t) => t.price);
      const open = prices[0]!;
      const close = prices[prices.length - 1]!;
      return { day, open, high: Math.max(...prices), low: Math.min(...prices), close, direction: close < open ? 'down' : 'up' };
    });
    expect(values).toEqual(expected);
    expect(new Set(expected.map((e) => e.direction))).toEqual(new Set(['up', 'down']));
    expect(text).toContain('candlestick chart of 5 row(s)');

    const stats = pngStats(png);
    expect([stats.width, stats.height]).toEqual([720, 360]);
    const pixels = (rgb: [number, number, number]): number => stats.columnCounts(rgb).reduce((sum, n) => sum + n, 0);
    expect(pixels([0x2e, 0x7d, 0x32])).toBeGreaterThan(50); // up candles
    expect(pixels([0xc6, 0x28, 0x28])).toBeGreaterThan(50); // down candles
  });

  it('time travel: a bar chart as of the first snapshot equals pyiceberg at that snapshot, and differs from now', async () => {
    const sql = `SELECT sym, count(*) AS n FROM ${tableName} GROUP BY sym ORDER BY sym`;
    const then = await chart({ type: 'bar', sql, x: 'sym', y: 'n', as_of_snapshot_id: firstSnapshot.toString(), width: 300, height: 200, scale: 2 });
    const count = (rows: Tick[]): { sym: string; n: number }[] => {
      const counts = new Map<string, number>();
      for (const row of rows) counts.set(row.sym, (counts.get(row.sym) ?? 0) + 1);
      return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([sym, n]) => ({ sym, n }));
    };
    const old = (await pyicebergRead(table.metadataLocation, { snapshotId: firstSnapshot })).rows as Tick[];
    expect(then.values).toEqual(count(old));
    const stats = pngStats(then.png);
    expect([stats.width, stats.height]).toEqual([600, 400]);
    expect(stats.colours).toBeGreaterThan(20);

    const now = await chart({ type: 'bar', sql, x: 'sym', y: 'n' });
    expect(now.values).toEqual(count((await pyicebergRead(table.metadataLocation)).rows as Tick[]));
    expect(now.values).not.toEqual(then.values);
  });
});
