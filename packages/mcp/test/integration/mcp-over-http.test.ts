/**
 * The MCP server driven by the SDK's own client over real Streamable HTTP: lakehouse tools on tables Tributary wrote
 * (local warehouse) checked against pyiceberg, the independent reader — current snapshot and time travel — and the
 * Kafka tools against the real broker, checked against what kafkajs produced and reports.
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
import type { Catalog, IcebergSchema, Row } from '@tributary/lakehouse';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTributaryMcpServer, serveHttp } from '../../src/index.js';
import type { HttpEndpoint } from '../../src/index.js';
import { pyicebergRead, sortRows } from '../../../lakehouse/test/support/pyiceberg.js';
import { services } from '../../../../test/support/services.js';
import { callData } from '../support/tool-calls.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'customer', required: false, type: 'string' },
    { id: 3, name: 'quantity', required: false, type: 'int' },
  ],
};

const token = randomBytes(24).toString('hex');
const suffix = randomUUID().slice(0, 8);
const tableName = `mcp_${suffix}.orders`;
const topic = `mcp-it-${suffix}`;
const produceBase = Date.now() - 60_000;

let root: string;
let catalog: Catalog;
let table: Table;
let firstSnapshot: bigint;
let endpoint: HttpEndpoint;
let client: Client;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-mcp-it-'));
  catalog = storageCatalog({ store: localObjectStore({ root }) });
  table = await Table.create(catalog, tableName, { schema });
  const rows: Row[] = Array.from({ length: 40 }, (_, i) => ({ order_id: BigInt(i), customer: `c${i % 4}`, quantity: i }));
  firstSnapshot = (await table.append(rows))['snapshot-id'];
  await table.upsert([{ order_id: 3n, customer: 'changed', quantity: 300 }]);
  await table.delete([{ order_id: 7n }]);

  kafka = new Kafka({ clientId: 'mcp-it', brokers: [...services.kafkaBrokers], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: 10 }, (_, i) => ({
      key: `k${i}`,
      partition: i % 2,
      timestamp: String(produceBase + i * 1000),
      value: JSON.stringify({ payload: { op: i % 2 === 0 ? 'c' : 'u', before: null, after: { id: i }, source: { table: 'orders' }, ts_ms: produceBase + i * 1000 } }),
    })),
  });

  endpoint = await serveHttp(
    () =>
      createTributaryMcpServer({
        catalog,
        tables: [tableName],
        kafka: { brokers: [...services.kafkaBrokers], clientId: 'mcp-it-server' },
        topics: [topic],
        limits: { maxRows: 500, timeoutMs: 20_000 },
      }),
    { token },
  );
  client = new Client({ name: 'mcp-it', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
});

afterAll(async () => {
  await client?.close();
  await endpoint?.close();
  await producer?.disconnect();
  if (admin !== undefined) {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

const call = (name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> => callData(client, name, args);

/** MCP rows (JSON: small longs as numbers) in pyiceberg's canonical form (longs as strings). */
const canonical = (rows: unknown): Record<string, unknown>[] =>
  sortRows(
    (rows as { order_id: number | string; customer: string | null; quantity: number | null }[]).map((row) => ({
      order_id: String(row.order_id),
      customer: row.customer,
      quantity: row.quantity,
    })),
    'order_id',
  );

describe('MCP over Streamable HTTP: access control', () => {
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const post = (headers: Record<string, string>): Promise<Response> =>
    fetch(endpoint.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(initialize) });

  it('answers 401 without or with a wrong token and 403 for a foreign Origin', async () => {
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await post({ authorization: `Bearer ${token}`, origin: 'https://attacker.example' })).status).toBe(403);
  });

  it('cannot reach tools with a valid session id but no token', async () => {
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': String(sessionId) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'list_tables', arguments: {} } }),
    });
    expect(response.status).toBe(401);
  });
});

describe('MCP over Streamable HTTP: lakehouse', () => {
  it('list_tables and describe_table reflect the table Tributary wrote', async () => {
    expect(await call('list_tables')).toEqual({ tables: [tableName] });
    const described = await call('describe_table', { table: tableName });
    await table.refresh();
    expect(described['current_snapshot_id']).toBe(table.currentSnapshot()?.['snapshot-id'].toString());
    expect((described['snapshots'] as unknown[]).length).toBe(3);
  });

  it('query_sql SELECT * equals pyiceberg at the current snapshot (upsert and delete applied)', async () => {
    const result = await call('query_sql', { sql: `SELECT order_id, customer, quantity FROM ${tableName}` });
    const py = await pyicebergRead(table.metadataLocation);
    expect(py.rows).toHaveLength(39);
    expect(canonical(result['rows'])).toEqual(sortRows(py.rows, 'order_id'));
  });

  it('query_sql with as_of_snapshot_id equals pyiceberg at that older snapshot', async () => {
    const result = await call('query_sql', { sql: `SELECT order_id, customer, quantity FROM ${tableName}`, as_of_snapshot_id: firstSnapshot.toString() });
    const py = await pyicebergRead(table.metadataLocation, { snapshotId: firstSnapshot });
    expect(py.rows).toHaveLength(40);
    expect(canonical(result['rows'])).toEqual(sortRows(py.rows, 'order_id'));
    expect(canonical(result['rows'])).not.toEqual(canonical((await call('query_sql', { sql: `SELECT order_id, customer, quantity FROM ${tableName}` }))['rows']));
  });

  it('table_changes equals the difference of pyiceberg reads of the two snapshots', async () => {
    await table.refresh();
    const current = table.currentSnapshot()?.['snapshot-id'];
    if (current === undefined) throw new Error('no current snapshot');
    const changes = await call('table_changes', { table: tableName, from_snapshot_id: firstSnapshot.toString(), to_snapshot_id: current.toString() });
    const [before, after] = await Promise.all([pyicebergRead(table.metadataLocation, { snapshotId: firstSnapshot }), pyicebergRead(table.metadataLocation)]);
    const key = (row: Record<string, unknown>): string => JSON.stringify(row);
    const beforeKeys = new Set(before.rows.map(key));
    const afterKeys = new Set(after.rows.map(key));
    const added = after.rows.filter((row) => !beforeKeys.has(key(row)));
    const deleted = before.rows.filter((row) => !afterKeys.has(key(row)));
    expect(added).toHaveLength(1);
    expect(deleted).toHaveLength(2);
    expect(canonical(changes['added'])).toEqual(sortRows(added, 'order_id'));
    expect(canonical(changes['deleted'])).toEqual(sortRows(deleted, 'order_id'));
  });

  it('refuses a file-reading escape over HTTP too', async () => {
    const result = (await client.callTool({ name: 'query_sql', arguments: { sql: "SELECT * FROM read_csv('/etc/passwd')" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).not.toContain('root:');
  });
});

describe('MCP over Streamable HTTP: Kafka', () => {
  it('list_topics and describe_topic agree with kafkajs', async () => {
    expect(await call('list_topics')).toEqual({ topics: [topic] });
    const described = await call('describe_topic', { topic });
    const offsets = await admin.fetchTopicOffsets(topic);
    const partitions = described['partitions'] as { partition: number; earliestOffset: number; latestOffset: number }[];
    expect(partitions.map((p) => [p.partition, p.latestOffset]).sort()).toEqual(offsets.map((o) => [o.partition, Number(o.high)]).sort());
    expect(described['records']).toBe(10);
  });

  it('describe_topic with group_id reports the lag kafkajs committed', async () => {
    const groupId = `mcp-it-group-${suffix}`;
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }, { partition: 1, offset: '5' }] });
    const described = await call('describe_topic', { topic, group_id: groupId });
    const group = described['consumer_group'] as { totalLag: number; partitions: { partition: number; committedOffset: number | null; lag: number }[] };
    const ends = Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    const byPartition = Object.fromEntries(group.partitions.map((p) => [p.partition, [p.committedOffset, p.lag]]));
    expect(byPartition).toEqual({ 0: [2, (ends[0] ?? 0) - 2], 1: [5, (ends[1] ?? 0) - 5] });
    expect(group.totalLag).toBe((ends[0] ?? 0) - 2 + (ends[1] ?? 0) - 5);
    await admin.deleteGroups([groupId]).catch(() => {});
  });

  it('read_topic returns the produced records of a time range, decoded as Debezium', async () => {
    const read = await call('read_topic', { topic, from: produceBase + 2000, to: produceBase + 6000, decoding: 'debezium' });
    const records = read['records'] as { key: string; timestamp: string; value: { op: string; after: { id: number } } }[];
    expect(records.map((r) => r.key)).toEqual(['k2', 'k3', 'k4', 'k5']);
    expect(records.map((r) => r.value.after.id)).toEqual([2, 3, 4, 5]);
    expect(records.map((r) => r.value.op)).toEqual(['c', 'u', 'c', 'u']);
    expect(records[0]?.timestamp).toBe(new Date(produceBase + 2000).toISOString());
  });

  it('sample_schema describes the produced Debezium values', async () => {
    const sample = await call('sample_schema', { topic, decoding: 'debezium' });
    const fields = Object.fromEntries((sample['fields'] as { path: string; types: string[]; present: number }[]).map((f) => [f.path, [f.types, f.present]]));
    expect(sample['sampled']).toBe(10);
    expect(fields['after.id']).toEqual([['integer'], 10]);
    expect(fields['op']).toEqual([['string'], 10]);
    expect(fields['before']).toEqual([['null'], 10]);
    expect(fields['source.table']).toEqual([['string'], 10]);
  });

  it('refuses an inverted range and a topic outside the allowlist', async () => {
    const inverted = (await client.callTool({ name: 'read_topic', arguments: { topic, from: produceBase + 5000, to: produceBase } })) as CallToolResult;
    expect(inverted.isError).toBe(true);
    const other = (await client.callTool({ name: 'describe_topic', arguments: { topic: '__consumer_offsets' } })) as CallToolResult;
    expect(other.isError).toBe(true);
  });
});
