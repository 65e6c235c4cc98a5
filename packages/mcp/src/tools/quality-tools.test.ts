import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { localObjectStore } from '@tributary/connectors/s3';
import { Table, storageCatalog } from '@tributary/lakehouse';
import type { Catalog, IcebergSchema, TableIdentifier } from '@tributary/lakehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTributaryMcpServer } from '../server/create-tributary-mcp-server.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'amount', required: false, type: 'double' },
  ],
};

let root: string;
let inner: Catalog;
let ns: string;
const clients: Client[] = [];

/**
 * Holds the `hold`-th `loadTable` of table `name` until `release()`; `reached` resolves when it is held. The first load
 * of a table in `profile` is the tool's own (pinning the snapshot); the second is the SQL engine's, inside a query.
 */
function gate(name: string, hold: number) {
  let loads = 0;
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const isReached = new Promise<void>((resolve) => (reached = resolve));
  const catalog: Catalog = {
    name: inner.name,
    createNamespace: (namespace, properties) => inner.createNamespace(namespace, properties),
    listNamespaces: () => inner.listNamespaces(),
    listTables: (namespace) => inner.listTables(namespace),
    tableExists: (id) => inner.tableExists(id),
    createTable: (id, request) => inner.createTable(id, request),
    loadTable: async (id: TableIdentifier) => {
      if (`${id.namespace.join('.')}.${id.name}` === name && ++loads === hold) {
        reached();
        await released;
      }
      return inner.loadTable(id);
    },
    commitTable: (id, requirements, updates) => inner.commitTable(id, requirements, updates),
    dropTable: (id, options) => inner.dropTable(id, options),
  };
  return { catalog, reached: isReached, release };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-mcp-quality-'));
  inner = storageCatalog({ store: localObjectStore({ root }) });
  ns = `quality_${randomUUID().slice(0, 8)}`;
  const table = await Table.create(inner, `${ns}.first`, { schema });
  await table.append(Array.from({ length: 20 }, (_, i) => ({ id: BigInt(i), amount: i * 1.5 })));
});

afterAll(async () => {
  for (const client of clients) await client.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

async function connect(catalog: Catalog): Promise<Client> {
  // No allowlist: every table the catalog lists is visible, so creating a table changes the visible list.
  const server = createTributaryMcpServer({ catalog });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'quality-test', version: '1.0.0' });
  await client.connect(clientTransport);
  clients.push(client);
  return client;
}

const text = (result: CallToolResult): string => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('quality tools: SQL engines', () => {
  it('a call keeps its engine when the visible table list changes under it (review L2)', async () => {
    const held = gate(`${ns}.first`, 2);
    const client = await connect(held.catalog);
    // profile runs two queries (statistics, then histograms): A is held inside the first.
    const a = client.callTool({ name: 'profile', arguments: { table: `${ns}.first`, bins: 4 } }) as Promise<CallToolResult>;
    await held.reached;

    // A table appears and another call runs over the new table list, to completion, while A is still running.
    const second = await Table.create(inner, `${ns}.second_${randomUUID().slice(0, 8)}`, { schema });
    await second.append([{ id: 1n, amount: 2 }]);
    const b = (await client.callTool({ name: 'check', arguments: { table: second.name, checks: [{ kind: 'not_null', column: 'amount' }] } })) as CallToolResult;
    expect(b.isError, text(b)).not.toBe(true);
    expect((b.structuredContent as { status: string }).status).toBe('passed');

    held.release();
    const result = await a;
    // Before the fix, B's call closed the shared engine and A's histogram query failed with ENGINE_CLOSED.
    expect(result.isError, text(result)).not.toBe(true);
    const data = result.structuredContent as { row_count: number; columns: { name: string; histogram?: unknown[] }[] };
    expect(data.row_count).toBe(20);
    const amount = data.columns.find((column) => column.name === 'amount');
    expect(amount?.histogram).toHaveLength(4);
  });
});
