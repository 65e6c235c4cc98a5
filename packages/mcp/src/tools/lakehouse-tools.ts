import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { Table, formatIdentifier } from '@tributary/lakehouse';
import type { Catalog, Snapshot } from '@tributary/lakehouse';
import { sqlEngine } from '@tributary/sql';
import type { AsOf, SqlEngine } from '@tributary/sql';
import { ToolError } from '../errors.js';
import type { ToolRunner } from '../server/run-tool.js';
import { capItems, dataResult, toJson } from '../server/tool-result.js';
import type { JsonValue } from '../server/tool-result.js';

/** What the lakehouse tools need from the server configuration. */
export interface LakehouseToolsContext {
  readonly catalog: Catalog;
  /** Allowlisted tables; `undefined` means every table the catalog lists. */
  readonly tables: readonly string[] | undefined;
  readonly run: ToolRunner;
  readonly limits: { readonly maxRows: number; readonly maxBytes: number; readonly timeoutMs: number };
}

const tableName = z
  .string()
  .max(300)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)+$/, 'expected "namespace.table"')
  .describe('Table as "namespace.table" (see list_tables).');
const snapshotId = z.string().regex(/^-?\d{1,20}$/, 'expected a decimal snapshot id (see table_history)');
const timestamp = z
  .union([z.number().int().min(0).max(8.64e15), z.iso.datetime({ offset: true })])
  .describe('ms since the epoch, or an ISO-8601 date-time with zone, e.g. "2026-11-22T10:00:00Z".');

const toMs = (value: number | string): number => (typeof value === 'number' ? value : Date.parse(value));

export async function visibleTables(context: LakehouseToolsContext): Promise<string[]> {
  if (context.tables !== undefined) return [...context.tables].sort();
  const names: string[] = [];
  for (const namespace of await context.catalog.listNamespaces()) {
    for (const id of await context.catalog.listTables(namespace)) names.push(formatIdentifier(id));
  }
  return [...new Set(names)].sort();
}

export async function loadAllowed(context: LakehouseToolsContext, tool: string, name: string): Promise<Table> {
  const allowed = await visibleTables(context);
  // The same answer for "exists but not allowlisted" and "does not exist", so the tool cannot probe the catalog.
  if (!allowed.includes(name)) {
    throw new ToolError('UNKNOWN_TABLE', `Table ${JSON.stringify(name)} is not available. Call list_tables for the tables you may use.`, { tool });
  }
  return Table.load(context.catalog, name);
}

const snapshotJson = (snapshot: Snapshot): Record<string, JsonValue> => ({
  snapshot_id: snapshot['snapshot-id'].toString(),
  parent_snapshot_id: snapshot['parent-snapshot-id']?.toString() ?? null,
  sequence_number: snapshot['sequence-number'],
  committed_at: new Date(snapshot['timestamp-ms']).toISOString(),
  operation: snapshot.summary.operation,
  summary: toJson(snapshot.summary),
});

/** Registers `list_tables`, `describe_table`, `table_history`, `query_sql` and `table_changes`. */
export function registerLakehouseTools(server: McpServer, context: LakehouseToolsContext): () => void {
  const { run, limits } = context;
  const readOnly = { readOnlyHint: true, destructiveHint: false, openWorldHint: false } as const;
  let engine: SqlEngine | undefined;
  let engineTables: string | undefined;
  const engineFor = (tables: string[]): SqlEngine => {
    const key = tables.join('\n');
    if (engine === undefined || engineTables !== key) {
      engine?.close();
      engine = sqlEngine({ catalog: context.catalog, tables, maxRows: limits.maxRows, timeoutMs: limits.timeoutMs });
      engineTables = key;
    }
    return engine;
  };

  server.registerTool(
    'list_tables',
    { description: 'Lists the Iceberg tables this server lets you read, as "namespace.table".', inputSchema: {}, annotations: readOnly },
    (args) =>
      run('list_tables', args, async () => {
        const tables = await visibleTables(context);
        return dataResult(`${tables.length} table(s).`, `the catalog ${context.catalog.name}`, { tables });
      }),
  );

  server.registerTool(
    'describe_table',
    {
      description: 'Schema, partition spec, properties and snapshots of a table.',
      inputSchema: { table: tableName, max_snapshots: z.number().int().min(1).max(1000).default(20).describe('Most recent snapshots listed. Default 20.') },
      annotations: readOnly,
    },
    (args) =>
      run('describe_table', args, async () => {
        const table = await loadAllowed(context, 'describe_table', args.table);
        const history = table.history();
        const current = table.currentSnapshot();
        const data: Record<string, JsonValue> = {
          table: table.name,
          location: table.metadata.location,
          format_version: table.metadata['format-version'],
          current_snapshot_id: current?.['snapshot-id'].toString() ?? null,
          schema: toJson(table.schema),
          partition_spec: toJson(table.spec),
          properties: toJson(table.metadata.properties),
          snapshot_count: history.length,
          snapshots: history.slice(-args.max_snapshots).map(snapshotJson),
        };
        return dataResult(
          `Table ${table.name}: ${table.schema.fields.length} column(s), ${history.length} snapshot(s).`,
          `the metadata of table ${table.name}`,
          data,
        );
      }),
  );

  server.registerTool(
    'table_history',
    {
      description: 'Snapshots of a table (oldest first): ids, commit times, operations and summaries. Use the ids for time travel.',
      inputSchema: { table: tableName, limit: z.number().int().min(1).max(10_000).default(100).describe('Most recent snapshots returned. Default 100.') },
      annotations: readOnly,
    },
    (args) =>
      run('table_history', args, async () => {
        const table = await loadAllowed(context, 'table_history', args.table);
        const history = table.history();
        const { kept, truncated } = capItems(history.slice(-args.limit).map(snapshotJson), limits.maxBytes);
        return dataResult(
          `${history.length} snapshot(s) in ${table.name}; ${kept.length} shown${truncated ? ' (cut to the output size cap)' : ''}.`,
          `the history of table ${table.name}`,
          { table: table.name, snapshots: kept, truncated: truncated || kept.length < history.length },
        );
      }),
  );

  server.registerTool(
    'query_sql',
    {
      description:
        'Runs one read-only SQL SELECT (DuckDB dialect) over the allowlisted tables, named "namespace.table". ' +
        'Time travel: as_of_snapshot_id (single-table queries) or as_of_timestamp. Pass values via params ($1, $2...).',
      inputSchema: {
        sql: z.string().min(1).max(100_000),
        params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).max(1000).optional().describe('Values for $1, $2...'),
        as_of_snapshot_id: snapshotId.optional(),
        as_of_timestamp: timestamp.optional(),
        max_rows: z.number().int().min(1).max(limits.maxRows).optional().describe(`Row cap, at most ${limits.maxRows} (the default).`),
      },
      annotations: readOnly,
    },
    (args) =>
      run('query_sql', args, async (signal) => {
        if (args.as_of_snapshot_id !== undefined && args.as_of_timestamp !== undefined) {
          throw new ToolError('INVALID_AS_OF', 'Give as_of_snapshot_id or as_of_timestamp, not both.', { tool: 'query_sql' });
        }
        const tables = await visibleTables(context);
        if (tables.length === 0) throw new ToolError('UNKNOWN_TABLE', 'No tables are available to query.', { tool: 'query_sql' });
        let asOf: AsOf | undefined;
        if (args.as_of_snapshot_id !== undefined) asOf = { snapshotId: args.as_of_snapshot_id };
        if (args.as_of_timestamp !== undefined) asOf = { timestampMs: toMs(args.as_of_timestamp) };
        const result = await engineFor(tables).query(args.sql, {
          signal,
          ...(asOf === undefined ? {} : { asOf }),
          ...(args.params === undefined ? {} : { params: args.params }),
          ...(args.max_rows === undefined ? {} : { maxRows: args.max_rows }),
        });
        const { kept, truncated } = capItems(result.rows, limits.maxBytes);
        const cut = result.truncated || truncated;
        const data: Record<string, JsonValue> = {
          columns: result.columns.map((column) => ({ name: column.name, type: column.type })),
          rows: kept,
          row_count: kept.length,
          truncated: cut,
          snapshots: result.snapshots,
        };
        const read = Object.entries(result.snapshots)
          .map(([name, id]) => `${name}@${id ?? 'empty'}`)
          .join(', ');
        return dataResult(`${kept.length} row(s)${cut ? ' (truncated: more rows exist)' : ''} from ${read}.`, `the tables ${read}`, data);
      }),
  );

  server.registerTool(
    'table_changes',
    {
      description:
        'Incremental read: rows added and deleted between two snapshots of a table (an update shows as a delete of the ' +
        'old row and an add of the new one). from_snapshot_id omitted = from the empty table; to_snapshot_id omitted = current.',
      inputSchema: {
        table: tableName,
        from_snapshot_id: snapshotId.optional(),
        to_snapshot_id: snapshotId.optional(),
        limit: z.number().int().min(1).max(limits.maxRows).optional().describe(`Most rows per side, at most ${limits.maxRows} (the default).`),
      },
      annotations: readOnly,
    },
    (args) =>
      run('table_changes', args, async () => {
        const table = await loadAllowed(context, 'table_changes', args.table);
        const known = new Set(table.history().map((snapshot) => snapshot['snapshot-id'].toString()));
        for (const id of [args.from_snapshot_id, args.to_snapshot_id]) {
          if (id !== undefined && !known.has(BigInt(id).toString())) {
            throw new ToolError('SNAPSHOT_NOT_FOUND', `Snapshot ${id} is not in the history of ${table.name}. Call table_history for valid ids.`, {
              tool: 'table_changes',
            });
          }
        }
        const from = args.from_snapshot_id === undefined ? undefined : BigInt(args.from_snapshot_id);
        const to = args.to_snapshot_id === undefined ? undefined : BigInt(args.to_snapshot_id);
        const changes = await table.changes(from, to);
        const limit = args.limit ?? limits.maxRows;
        const added = capItems(changes.added.slice(0, limit).map(toJson), limits.maxBytes / 2);
        const deleted = capItems(changes.deleted.slice(0, limit).map(toJson), limits.maxBytes / 2);
        const truncated = added.truncated || deleted.truncated || changes.added.length > limit || changes.deleted.length > limit;
        const data: Record<string, JsonValue> = {
          table: table.name,
          from_snapshot_id: changes.fromSnapshotId?.toString() ?? null,
          to_snapshot_id: changes.toSnapshotId?.toString() ?? null,
          added_count: changes.added.length,
          deleted_count: changes.deleted.length,
          added: added.kept,
          deleted: deleted.kept,
          truncated,
        };
        return dataResult(
          `${changes.added.length} row(s) added, ${changes.deleted.length} deleted in ${table.name}${truncated ? ' (lists truncated)' : ''}.`,
          `table ${table.name}`,
          data,
        );
      }),
  );

  return () => engine?.close();
}
