/**
 * The `tributary mcp` executable as a desktop MCP client starts it: a child process speaking MCP over stdio, driven
 * by the SDK's own `StdioClientTransport`. Lakehouse answers are checked against pyiceberg (now and at an older
 * snapshot), Kafka answers against what kafkajs produced. The executable is the built one (`npm run build`).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, storageCatalog } from '@tributary/lakehouse';
import type { Row } from '@tributary/lakehouse';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pyicebergRead, sortRows } from '../../../lakehouse/test/support/pyiceberg.js';
import { services } from '../../../../test/support/services.js';
import { callData } from '../support/tool-calls.js';

const cli = resolve(import.meta.dirname, '../../dist/cli.js');
const suffix = randomUUID().slice(0, 8);
const tableName = `stdio_${suffix}.events`;
const topic = `mcp-stdio-${suffix}`;
const produceBase = Date.now() - 30_000;

let dir: string;
let table: Table;
let firstSnapshot: bigint;
let admin: Admin;
let client: Client;
let stderr = '';

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does).`);
  dir = await mkdtemp(join(tmpdir(), 'tributary-mcp-stdio-'));
  const catalog = storageCatalog({ store: localObjectStore({ root: join(dir, 'warehouse') }) });
  table = await Table.create(catalog, tableName, {
    schema: {
      type: 'struct',
      'schema-id': 0,
      'identifier-field-ids': [1],
      fields: [
        { id: 1, name: 'id', required: true, type: 'long' },
        { id: 2, name: 'label', required: false, type: 'string' },
      ],
    },
  });
  const rows: Row[] = Array.from({ length: 15 }, (_, i) => ({ id: BigInt(i), label: `label-${i}` }));
  firstSnapshot = (await table.append(rows))['snapshot-id'];
  await table.upsert([{ id: 4n, label: 'relabelled' }]);
  await table.delete([{ id: 9n }]);

  const kafka = new Kafka({ clientId: 'mcp-stdio-test', brokers: [...services.kafkaBrokers], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, timestamp: String(produceBase + i * 1000), value: JSON.stringify({ n: i }) })),
  });
  await producer.disconnect();

  const configPath = join(dir, 'mcp.json');
  await writeFile(
    configPath,
    JSON.stringify({ warehouse: { path: './warehouse' }, tables: [tableName], kafka: { brokers: services.kafkaBrokers }, topics: [topic] }),
  );
  const transport = new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', '--config', configPath], stderr: 'pipe' });
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  client = new Client({ name: 'stdio-test', version: '1.0.0' });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  if (admin !== undefined) {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const call = (name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> => callData(client, name, args);

const canonical = (rows: unknown): Record<string, unknown>[] =>
  sortRows(
    (rows as { id: number | string; label: string | null }[]).map((row) => ({ id: String(row.id), label: row.label })),
    'id',
  );

describe('tributary mcp over stdio (child process, SDK client)', () => {
  it('lists exactly the configured table and topic', async () => {
    expect(await call('list_tables')).toEqual({ tables: [tableName] });
    expect(await call('list_topics')).toEqual({ topics: [topic] });
  });

  it('query_sql equals pyiceberg now and at the first snapshot', async () => {
    const sql = `SELECT id, label FROM ${tableName}`;
    const [now, then] = await Promise.all([pyicebergRead(table.metadataLocation), pyicebergRead(table.metadataLocation, { snapshotId: firstSnapshot })]);
    expect(now.rows).toHaveLength(14);
    expect(then.rows).toHaveLength(15);
    expect(canonical((await call('query_sql', { sql }))['rows'])).toEqual(sortRows(now.rows, 'id'));
    expect(canonical((await call('query_sql', { sql, as_of_snapshot_id: firstSnapshot.toString() }))['rows'])).toEqual(sortRows(then.rows, 'id'));
  });

  it('read_topic returns what kafkajs produced', async () => {
    const read = await call('read_topic', { topic, from: produceBase + 1000, to: produceBase + 4000 });
    const records = read['records'] as { key: string; value: { n: number } }[];
    expect(records.map((r) => [r.key, r.value.n])).toEqual([
      ['k1', 1],
      ['k2', 2],
      ['k3', 3],
    ]);
  });

  it('writes MCP to stdout only: audit lines go to stderr', async () => {
    await call('list_tables');
    expect(stderr).toMatch(/"tool":"list_tables"/);
    expect(stderr).not.toMatch(/"jsonrpc"/);
  });
});

describe('tributary mcp over stdio: every section of the config file', () => {
  const prefix = `stdio-${suffix}:`;
  let full: Client | undefined;
  let redis: Redis | undefined;

  const start = async (config: Record<string, unknown>): Promise<Client> => {
    const path = join(dir, `mcp-${randomUUID().slice(0, 8)}.json`);
    await writeFile(path, JSON.stringify(config));
    const started = new Client({ name: 'stdio-full', version: '1.0.0' });
    await started.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp', '--config', path], stderr: 'ignore' }));
    return started;
  };
  const sections = {
    warehouse: { path: './warehouse' },
    tables: [tableName],
    kafka: { brokers: services.kafkaBrokers },
    topics: [topic],
    redis: { url: services.redisUrl, keyPrefixes: [prefix] },
    deadLetters: { topics: [topic], maxReplay: 10 },
    alerts: { topic, rulesTopic: `${topic}-rules` },
  };

  afterAll(async () => {
    await full?.close();
    if (redis !== undefined) {
      await redis.del(`${prefix}customer:1`, `${prefix}scores`);
      redis.disconnect();
    }
  });

  it('registers the write tools only with writesEnabled, and serves redis_lookup as ioredis reads it', async () => {
    const readOnly = await start(sections);
    const readOnlyTools = (await readOnly.listTools()).tools.map((tool) => tool.name);
    await readOnly.close();
    expect(readOnlyTools).toEqual(expect.arrayContaining(['redis_lookup', 'read_dead_letters', 'list_alerts', 'list_alert_rules', 'profile', 'check', 'create_chart']));
    for (const write of ['replay_dead_letters', 'create_alert_rule', 'delete_alert_rule']) expect(readOnlyTools).not.toContain(write);

    full = await start({ ...sections, writesEnabled: true });
    const tools = (await full.listTools()).tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining([...readOnlyTools, 'replay_dead_letters', 'create_alert_rule', 'delete_alert_rule']));

    redis = new Redis(services.redisUrl);
    await redis.hset(`${prefix}customer:1`, { name: 'Ada', tier: 'gold' });
    await redis.zadd(`${prefix}scores`, 3, 'c', 1, 'a', 2, 'b');
    const result = (await full.callTool({ name: 'redis_lookup', arguments: { keys: [`${prefix}customer:1`] } })) as CallToolResult;
    expect(result.isError).not.toBe(true);
    const keys = (result.structuredContent as { keys: { key: string; type: string; value: unknown }[] }).keys;
    expect(keys.map((k) => [k.key, k.type, k.value])).toEqual([[`${prefix}customer:1`, 'hash', await redis.hgetall(`${prefix}customer:1`)]]);
    const refused = (await full.callTool({ name: 'redis_lookup', arguments: { pattern: '*' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
  });
});
